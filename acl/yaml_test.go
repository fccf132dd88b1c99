package acl

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const exampleYAML = `# a route's acl block, as in the package doc
acl:
  default: deny
  rules:
    - allow from 198.18.0.0/15 port 36412
    - {action: allow, from: "2001:db8::/32", sport: 1024-65535, port: 38412, link: udp}
    - action: deny
      from: 203.0.113.0/24
    - drop from 0.0.0.0/0
  rate:
    per_source: {rate: 50/s, burst: 100, prefix_v4: 32, prefix_v6: 64}
    total: {rate: 1000/s, burst: 2000}
  max_pairs: 10000
  max_pairs_per_source: 100
`

func TestParsePolicyYAML(t *testing.T) {
	p, err := ParsePolicyYAML([]byte(exampleYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"allow from 198.18.0.0/15 port 36412",
		"allow from 2001:db8::/32 sport 1024-65535 port 38412 link udp",
		"deny from 203.0.113.0/24",
		"drop from 0.0.0.0/0",
	}
	rules := p.Rules()
	if len(rules) != len(want) {
		t.Fatalf("%d rules", len(rules))
	}
	for i := range want {
		if rules[i].String() != want[i] {
			t.Errorf("rule %d = %q, want %q", i+1, rules[i], want[i])
		}
	}
	if p.Default() != Deny || p.pairs.max != 10000 || p.pairs.perSource != 100 || p.v4Bits != 32 || p.v6Bits != 64 {
		t.Errorf("policy fields: %+v", p)
	}
	if p.src == nil || p.src.perNs*1e9 != 50 || p.src.burst != 100 || p.total.perNs*1e9 != 1000 || p.total.burst != 2000 {
		t.Errorf("rates: %+v %+v", p.src, p.total)
	}
	if d := p.Evaluate(req("[2001:db8::5]:2000", 38412, LinkUDP)); d.Rule != 1 || !d.Allowed() {
		t.Errorf("decision %+v", d)
	}
	// The block's content alone parses too, and so does the gateway's way:
	// a route struct with an acl.Config field.
	inner := strings.ReplaceAll(strings.SplitN(exampleYAML, "acl:\n", 2)[1], "\n  ", "\n")
	if _, err := ParsePolicyYAML([]byte(inner)); err != nil {
		t.Errorf("block content: %v", err)
	}
	var route struct {
		Name string `yaml:"name"`
		ACL  Config `yaml:"acl"`
	}
	if err := yaml.Unmarshal([]byte("name: s1ap\n"+exampleYAML), &route); err != nil {
		t.Fatal(err)
	}
	if len(route.ACL.Rules) != 4 || route.ACL.MaxPairs != 10000 || route.ACL.PerSource.PrefixV6 != 64 {
		t.Errorf("embedded config %+v", route.ACL)
	}
	if _, err := Compile(route.ACL); err != nil {
		t.Error(err)
	}
}

func TestYAMLDefaultsAndOptional(t *testing.T) {
	p, err := ParsePolicyYAML([]byte("rules: [allow port 2905]\non_limit: drop\nrate: {per_source: {rate: 3000/min}}"))
	if err != nil {
		t.Fatal(err)
	}
	// No default: deny. No prefixes: /32 and /64. No burst: the rate per
	// second rounded up.
	if p.Default() != Deny || p.onLimit != Drop || p.v4Bits != 32 || p.v6Bits != 64 || p.src.burst != 50 || p.total != nil {
		t.Errorf("defaults: %+v", p)
	}
	p, err = ParsePolicyYAML([]byte("default: allow\nrules:\nrate:\n"))
	if err != nil || p.Default() != Allow || len(p.Rules()) != 0 || p.src != nil {
		t.Errorf("empty lists: %v %+v", err, p)
	}
	// Anchors and aliases work as YAML users expect.
	p, err = ParsePolicyYAML([]byte("lab: &lab 198.18.0.0/15\nacl:\n  default: deny\n  rules:\n    - {action: allow, from: *lab}\n"))
	if err != nil || len(p.Rules()) != 1 || p.Rules()[0].From != netip.MustParsePrefix("198.18.0.0/15") {
		t.Errorf("alias: %v %v", err, p.Rules())
	}
}

func TestYAMLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"default: deny\nrules:\n  - allow from 198.18.0.0/15\n  - allow from 10.1.2.3/8 port 1\n",
			`line 4: rule 2 "allow from 10.1.2.3/8 port 1": prefix 10.1.2.3/8 has host bits set (did you mean 10.0.0.0/8?)`},
		{"default: deny\nrules:\n  - allow from 198.18.0.0/15\n\n  - permit any\n",
			`line 5: rule 2 "permit any": unknown action "permit" (want allow, deny or drop)`},
		{"default: deny\nrules:\n  - action: allow\n    port: 0\n", "line 4: rule 1: port: port 0 is not a valid SCTP port"},
		{"default: deny\nrules:\n  - from: 10.0.0.0/8\n", "line 3: rule 1: action is required"},
		{"default: deny\nrules:\n  - {action: allow, to: 10.0.0.0/8}\n", `line 3: rule 1: unknown key "to"`},
		{"default: deny\nrules:\n  - {action: allow, port: 1, dport: 2}\n", "line 3: rule 1: port given twice"},
		{"default: deny\nrules:\n  - {action: allow, port: [1, 2]}\n", "line 3: rule 1: port: want a single value"},
		{"default: deny\nrules:\n  - deny from fe80:: port 5\n", `line 3: rule 1: YAML read this as a mapping because it contains ": "; quote the rule`},
		{"default: deny\nrules:\n  - [allow]\n", "line 3: rule 1: want a rule"},
		{"default: deny\nrules: allow\n", "line 2: acl: rules: want a list"},
		{"default: maybe\n", `line 1: acl: default: unknown action "maybe"`},
		{"default: deny\ndefault: allow\n", "line 2: acl: default given twice"},
		{"default: deny\nmax_pair: 10\n", `line 2: acl: unknown key "max_pair" (want default, rules, rate, max_pairs, max_pairs_per_source, on_limit)`},
		{"default: deny\nmax_pairs: -1\n", `line 2: acl: max_pairs: "-1": want an integer`},
		{"default: deny\nmax_pairs_per_source: lots\n", "line 2: acl: max_pairs_per_source"},
		{"default: deny\non_limit: allow\n", "line 2: acl: on_limit: want deny or drop"},
		{"default: deny\nrate:\n  per_source: {rate: 50/d}\n", `line 3: acl: rate.per_source: rate "50/d": unknown unit "d"`},
		{"default: deny\nrate:\n  per_source: {burst: 5}\n", "line 3: acl: rate.per_source: rate is required"},
		{"default: deny\nrate:\n  per_source: {rate: 5, prefix_v4: 33}\n", "line 3: acl: rate.per_source.prefix_v4"},
		{"default: deny\nrate:\n  total:\n    rate: 5\n    prefix_v4: 24\n", `line 5: acl: rate.total: unknown key "prefix_v4" (want rate, burst)`},
		{"default: deny\nrate:\n  total: {rate: 5, burst: 0}\n", "line 3: acl: rate.total.burst"},
		{"default: deny\nrate:\n  sum: {rate: 5}\n", `line 3: acl: rate: unknown key "sum"`},
		{"default: deny\nrate: 5/s\n", "line 2: acl: rate: want a mapping"},
		{"acl:\n", "acl: empty block"},
		{"- allow\n", "acl: want a mapping"},
		{"default: [deny\n", "yaml:"},
	}
	for _, tc := range tests {
		_, err := ParsePolicyYAML([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.in, err, tc.want)
		}
	}
	// Errors are *Error with the line for the gateway to prefix a file name.
	_, err := ParsePolicyYAML([]byte("default: deny\nrules:\n  - nope\n"))
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 {
		t.Errorf("error %#v", err)
	}
}

func TestYAMLShadowWarning(t *testing.T) {
	p, err := ParsePolicyYAML([]byte("default: deny\nrules:\n  - drop from 0.0.0.0/0\n  - allow from 198.18.0.0/15 port 36412\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := p.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], `rule 2 (line 4) "allow from 198.18.0.0/15 port 36412" is never reached: rule 1 (line 3)`) {
		t.Errorf("warnings %q", w)
	}
}
