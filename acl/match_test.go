package acl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func mustPolicy(t testing.TB, def Action, rules ...string) *Policy {
	t.Helper()
	c := Config{Default: def}
	for _, s := range rules {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", s, err)
		}
		c.Rules = append(c.Rules, r)
	}
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func req(src string, port uint16, link LinkKind) Request {
	return Request{Src: netip.MustParseAddrPort(src), DstPort: port, Link: link}
}

// naive is the reference: the first rule whose Matches holds.
func naive(rules []Rule, r Request) int {
	for i := range rules {
		if rules[i].Matches(r) {
			return i
		}
	}
	return -1
}

func TestEvaluateTable(t *testing.T) {
	p := mustPolicy(t, Deny,
		"deny from 198.18.7.0/24", // 0: a hole in the allow below
		"allow from 198.18.0.0/15 sport 1024-65535 port 36412 link native", // 1
		"allow from 2001:db8:1::/48 port 38412",                            // 2
		"drop from 2001:db8::/32",                                          // 3
		"allow from 192.0.2.1 port 3868-3869 link udp",                     // 4
		"drop from 0.0.0.0/0 link udp",                                     // 5
		"allow port 2905",                                                  // 6: any source, either family
	)
	tests := []struct {
		name    string
		req     Request
		rule    int
		verdict Action
	}{
		{"v4 in prefix, all fields match", req("198.19.255.254:40000", 36412, LinkNative), 1, Allow},
		{"v4 first match wins over later allow", req("198.18.7.9:40000", 36412, LinkNative), 0, Deny},
		{"v4 sport below range", req("198.18.1.1:1023", 36412, LinkNative), -1, Deny},
		{"v4 sport at low edge", req("198.18.1.1:1024", 36412, LinkNative), 1, Allow},
		{"v4 sport at high edge", req("198.18.1.1:65535", 36412, LinkNative), 1, Allow},
		{"v4 wrong served port", req("198.18.1.1:40000", 36413, LinkNative), -1, Deny},
		{"v4 wrong link falls through to drop", req("198.18.1.1:40000", 36412, LinkUDP), 5, Drop},
		{"v4 just outside prefix", req("198.20.0.0:40000", 36412, LinkNative), -1, Deny},
		{"v4 just below prefix", req("198.17.255.255:40000", 36412, LinkNative), -1, Deny},
		{"v4 host prefix, port range edge", req("192.0.2.1:9", 3869, LinkUDP), 4, Allow},
		{"v4 host prefix, neighbour address", req("192.0.2.2:9", 3869, LinkUDP), 5, Drop},
		{"v4-mapped v6 source is matched as v4", req("[::ffff:198.18.0.1]:2000", 36412, LinkNative), 1, Allow},
		{"v6 in /48 allow before /32 drop", req("[2001:db8:1:ffff::1]:5", 38412, LinkNative), 2, Allow},
		{"v6 in /32 outside /48", req("[2001:db8:2::1]:5", 38412, LinkNative), 3, Drop},
		{"v6 any-source rule", req("[2001:db9::1]:5", 2905, LinkUDP), 6, Allow},
		{"v6 v4 rule does not match", req("[2001:db9::1]:5", 36412, LinkUDP), -1, Deny},
		{"v4 link drop covers any port", req("203.0.113.5:5", 1, LinkUDP), 5, Drop},
		{"unknown link matches only link-free rules", req("198.18.1.1:40000", 2905, LinkAny), 6, Allow},
		{"unknown link skips link rules", req("198.18.1.1:40000", 36412, LinkAny), -1, Deny},
		{"invalid source matches only from-free rules", Request{DstPort: 2905}, 6, Allow},
		{"invalid source, from rules skipped", Request{DstPort: 36412, Link: LinkNative}, -1, Deny},
		// link udp is plain RFC 6951 only: the DTLS link is a kind of its own.
		{"dtls is not udp", req("192.0.2.1:9", 3869, LinkDTLS), -1, Deny},
		{"dtls skips the udp drop", req("203.0.113.5:5", 1, LinkDTLS), -1, Deny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Evaluate(tc.req)
			if d.Rule != tc.rule || d.Verdict != tc.verdict || d.Limit != LimitNone {
				t.Errorf("Evaluate = rule %d %v (%s), want rule %d %v", d.Rule, d.Verdict, d.Reason(), tc.rule, tc.verdict)
			}
			if n := naive(p.rules, tc.req); n != tc.rule {
				t.Errorf("reference scan = %d, want %d", n, tc.rule)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	r := req("203.0.113.1:1000", 36412, LinkNative)
	for _, tc := range []struct {
		def  Action
		want Action
		text string
	}{
		{0, Deny, "sctpgw: refused by policy (default deny)"}, // unset: fail closed
		{Deny, Deny, "sctpgw: refused by policy (default deny)"},
		{Allow, Allow, "sctpgw: allowed by policy (default allow)"},
		{Drop, Drop, "sctpgw: refused by policy (default drop)"},
	} {
		p := mustPolicy(t, tc.def, "allow from 198.18.0.0/15")
		d := p.Evaluate(r)
		if d.Verdict != tc.want || d.Rule != -1 || d.Reason() != tc.text || d.RuleText != "default "+tc.want.String() {
			t.Errorf("default %v: got %v rule %d %q %q", tc.def, d.Verdict, d.Rule, d.Reason(), d.RuleText)
		}
		if p.Default() != tc.want {
			t.Errorf("Default() = %v", p.Default())
		}
	}
	// No rules at all.
	if d := mustPolicy(t, Allow).Evaluate(r); d.Verdict != Allow || d.Rule != -1 {
		t.Errorf("empty allow policy: %v", d)
	}
	if d := mustPolicy(t, Deny).Evaluate(r); d.Verdict != Deny || d.Rule != -1 {
		t.Errorf("empty deny policy: %v", d)
	}
	// A nil policy is a route without an acl block: everyone is let in.
	var p *Policy
	s, d := p.Acquire(r, t0)
	if d.Verdict != Allow || d.Rule != -1 || s.Held() || p.Decide(r, t0).Verdict != Allow || p.Evaluate(r).Verdict != Allow {
		t.Errorf("nil policy: %v", d)
	}
	s.Release()
	if p.Default() != Allow || p.Rules() != nil || p.Warnings() != nil || p.Stats().Pairs != 0 {
		t.Error("nil policy accessors")
	}
}

func TestReasonText(t *testing.T) {
	p := mustPolicy(t, Deny, "allow from 10.0.0.0/8", "allow from 10.1.0.0/16", "deny from 198.18.0.0/16")
	d := p.Evaluate(req("198.18.3.4:5", 1, LinkNative))
	if got, want := d.Reason(), "sctpgw: refused by policy (rule 3: deny from 198.18.0.0/16)"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	if got := string(d.AppendReason([]byte("x "))); got != "x "+d.Reason() {
		t.Errorf("AppendReason = %q", got)
	}
	if d.RuleText != "deny from 198.18.0.0/16" || d.Rule != 2 || d.Allowed() {
		t.Errorf("decision %+v", d)
	}
	d = p.Evaluate(req("10.9.9.9:5", 1, LinkNative))
	if got, want := d.Reason(), "sctpgw: allowed by policy (rule 1: allow from 10.0.0.0/8)"; got != want || !d.Allowed() {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	if w := p.Warnings(); len(w) != 1 || !strings.Contains(w[0], `rule 2 "allow from 10.1.0.0/16" is never reached: rule 1`) {
		t.Errorf("Warnings = %q", w)
	}
	if (Decision{}).Reason() != "sctpgw: no decision" || (Decision{}).Allowed() {
		t.Error("zero Decision must not read as allowed")
	}
}

// randRule draws rules whose boundaries cluster, so that nesting,
// overlap and shared edges are common.
func randRule(rng *rand.Rand) Rule {
	r := Rule{Action: Action(1 + rng.IntN(3))}
	switch rng.IntN(4) {
	case 0:
	case 1:
		a := netip.AddrFrom4([4]byte{198, byte(18 + rng.IntN(2)), byte(rng.IntN(4)), byte(rng.IntN(4))})
		r.From = netip.PrefixFrom(a, 14+rng.IntN(19)).Masked()
	default:
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(rng.IntN(3)), 15: byte(rng.IntN(4))})
		r.From = netip.PrefixFrom(a, 28+rng.IntN(101)).Masked()
	}
	pr := func() PortRange {
		if rng.IntN(3) == 0 {
			return AnyPort
		}
		lo := uint16(1 + rng.IntN(10))
		if rng.IntN(2) == 0 {
			return PortRange{lo, lo}
		}
		return PortRange{lo, lo + uint16(rng.IntN(10))}
	}
	r.SPort, r.Port = pr(), pr()
	if rng.IntN(2) == 0 {
		r.Link = LinkKind(rng.IntN(3))
	}
	return r
}

func randReq(rng *rand.Rand) Request {
	var a netip.Addr
	switch rng.IntN(5) {
	case 0:
	case 1, 2:
		a = netip.AddrFrom4([4]byte{198, byte(16 + rng.IntN(5)), byte(rng.IntN(5)), byte(rng.IntN(256))})
	case 3:
		a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(rng.IntN(4)), 7: byte(rng.IntN(2)), 15: byte(rng.IntN(5))})
	case 4:
		a = netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 198, 13: 18, 14: byte(rng.IntN(3)), 15: byte(rng.IntN(3))})
	}
	return Request{Src: netip.AddrPortFrom(a, uint16(rng.IntN(22))), DstPort: uint16(rng.IntN(22)), Link: LinkKind(rng.IntN(4))}
}

// TestMatcherAgreesWithScan checks the compiled matcher against the
// reference scan on random policies, across the 64-rule word boundaries.
func TestMatcherAgreesWithScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, 63, 64, 65, 130, 400} {
		for round := 0; round < 20; round++ {
			rules := make([]Rule, n)
			for i := range rules {
				rules[i] = randRule(rng)
			}
			p, err := Compile(Config{Default: Deny, Rules: rules})
			if err != nil {
				t.Fatal(err)
			}
			for q := 0; q < 500; q++ {
				r := randReq(rng)
				want := naive(rules, r)
				if got := p.m.first(&r); got != want {
					t.Fatalf("%d rules: request %+v: matcher says %d, scan says %d (%v)", n, r, got, want, ruleAt(rules, want))
				}
			}
		}
	}
}

func ruleAt(rules []Rule, i int) string {
	if i < 0 {
		return "default"
	}
	return fmt.Sprint(rules[i])
}

func TestMatcherEdges(t *testing.T) {
	// Prefixes that touch the ends of the address spaces, and ports at 1
	// and 65535, exercise the sweep's wrap-around handling.
	p := mustPolicy(t, Deny,
		"allow from 255.255.255.255/32 port 65535",
		"allow from ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128 sport 65535",
		"allow from 0.0.0.0/32 port 1",
		"allow from ::/128",
		"allow from 128.0.0.0/1 sport 1",
		"allow from 8000::/1 port 1-65535",
		"allow from ::/64 sport 2",
		"allow from 0:0:0:1::/64 sport 3",
	)
	tests := []struct {
		r    Request
		want int
	}{
		{req("255.255.255.255:9", 65535, LinkNative), 0},
		{req("255.255.255.255:1", 65534, LinkNative), 4},
		{req("255.255.255.254:9", 65535, LinkNative), -1},
		{req("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", 5, LinkUDP), 1},
		{req("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535", 5, LinkUDP), 5},
		{req("0.0.0.0:9", 1, LinkNative), 2},
		{req("[::]:9", 2, LinkNative), 3},
		{req("[::1]:2", 2, LinkNative), 6},
		{req("[::1]:3", 2, LinkNative), -1},
		{req("[0:0:0:1::ffff]:3", 2, LinkNative), 7},
		{req("[0:0:0:1::ffff]:2", 2, LinkNative), -1},
		{req("127.0.0.1:1", 2, LinkNative), -1},
	}
	for _, tc := range tests {
		if got := p.Evaluate(tc.r).Rule; got != tc.want {
			t.Errorf("%v: rule %d, want %d", tc.r, got, tc.want)
		}
		if got := naive(p.rules, tc.r); got != tc.want {
			t.Errorf("%v: scan %d, want %d", tc.r, got, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	ok := Rule{Action: Allow}
	tests := []struct {
		c    Config
		want string
	}{
		{Config{Default: 7}, "default: invalid action"},
		{Config{OnLimit: Allow}, "on_limit: allow (want deny or drop)"},
		{Config{Rules: []Rule{ok, {Action: Deny, SPort: PortRange{9, 3}}}}, `rule 2 "deny sport 9-3": sport: port range 9-3 is empty`},
		{Config{MaxPairs: -1}, "max_pairs"},
		{Config{PerSource: &SourceRate{Rate: Rate{PerSecond: 0}}}, "rate.per_source: rate 0 must be a positive number"},
		{Config{PerSource: &SourceRate{Rate: Rate{PerSecond: 1}, PrefixV4: 33}}, "prefix_v4 must be 1-32"},
		{Config{PerSource: &SourceRate{Rate: Rate{PerSecond: 1}, MaxSources: -1}}, "max_sources"},
		{Config{Total: &Rate{PerSecond: 1, Burst: -1}}, "rate.total: burst -1"},
		{Config{Rules: make([]Rule, MaxRules+1)}, "more than"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}

// TestLinkDTLS: link dtls matches only the DTLS link, link udp only plain
// RFC 6951, link encap either encapsulated kind and never native; the
// compiled matcher and the reference scan agree on each.
func TestLinkDTLS(t *testing.T) {
	p := mustPolicy(t, Deny,
		"allow from 198.18.0.0/15 link dtls", // 0: encrypted tunnels from the lab
		"drop link udp",                      // 1: no plain tunnel at all
		"allow port 36412 link encap",        // 2
		"allow link native",                  // 3
	)
	rules := []string{"allow from 198.18.0.0/15 link dtls", "drop link udp", "allow port 36412 link encap", "allow link native"}
	tests := []struct {
		req     Request
		rule    int
		verdict Action
	}{
		{req("198.18.1.1:4740", 36412, LinkDTLS), 0, Allow},
		{req("198.18.1.1:9899", 36412, LinkUDP), 1, Drop},
		{req("203.0.113.1:4740", 36412, LinkDTLS), 2, Allow},
		{req("203.0.113.1:4740", 38412, LinkDTLS), -1, Deny},
		{req("203.0.113.1:40000", 38412, LinkNative), 3, Allow},
		{req("203.0.113.1:40000", 36412, LinkAny), -1, Deny},
	}
	var parsed []Rule
	for _, s := range rules {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, r)
	}
	for _, tc := range tests {
		d := p.Evaluate(tc.req)
		if d.Rule != tc.rule || d.Verdict != tc.verdict {
			t.Errorf("%+v: rule %d %v, want rule %d %v", tc.req, d.Rule, d.Verdict, tc.rule, tc.verdict)
		}
		if want := naive(parsed, tc.req); want != tc.rule {
			t.Errorf("%+v: reference scan says rule %d, want %d", tc.req, want, tc.rule)
		}
	}
}
