package acl

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// FuzzParseRule: any text either fails to parse or yields a valid rule that
// survives format and parse unchanged, with a stable canonical text.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"allow from 198.18.0.0/15 sport 1024-65535 port 36412 link native",
		"deny from 2001:db8::/32",
		"drop from 0.0.0.0/0 link udp",
		"ALLOW link encap dport 1-2 from ::1",
		"allow from 198.18.0.0/15 link dtls",
		"deny from any sport any port any link any",
		"allow from ::ffff:1.2.3.4/128",
		"allow from 10.1.2.3/8",
		"allow port 0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			if r != (Rule{}) {
				t.Fatalf("error %v with a non-zero rule %#v", err, r)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRule(%q) = %#v, which does not validate: %v", s, r, err)
		}
		text := r.String()
		r2, err := ParseRule(text)
		if err != nil {
			t.Fatalf("ParseRule(%q) -> %q does not parse: %v", s, text, err)
		}
		if r2 != r {
			t.Fatalf("ParseRule(%q) = %#v, but its text %q parses to %#v", s, r, text, r2)
		}
		if r2.String() != text {
			t.Fatalf("canonical text not stable: %q then %q", text, r2.String())
		}
		if b, err := r.MarshalText(); err != nil || string(b) != text {
			t.Fatalf("MarshalText = %q, %v", b, err)
		}
	})
}

// FuzzDecide: policies built from arbitrary rule text, asked about
// arbitrary requests, never panic, and the compiled matcher always agrees
// with the reference scan.
func FuzzDecide(f *testing.F) {
	f.Add("deny from 198.18.7.0/24\nallow from 198.18.0.0/15 sport 1024-65535 port 36412 link native\ndrop from 0.0.0.0/0 link udp",
		[]byte{198, 18, 7, 1}, uint16(40000), uint16(36412), uint8(1))
	f.Add("allow from 2001:db8:1::/48 port 38412;drop from 2001:db8::/32;allow port 2905",
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}, uint16(5), uint16(38412), uint8(2))
	f.Add("allow from 255.255.255.255/32 port 65535;allow from ::/128",
		[]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 255, 255, 255, 255}, uint16(65535), uint16(65535), uint8(0))
	f.Add("", []byte{}, uint16(0), uint16(0), uint8(9))
	f.Fuzz(func(t *testing.T, text string, addr []byte, sport, dport uint16, link uint8) {
		var rules []Rule
		for _, line := range strings.FieldsFunc(text, func(c rune) bool { return c == '\n' || c == ';' }) {
			if r, err := ParseRule(line); err == nil && len(rules) < 300 {
				rules = append(rules, r)
			}
		}
		p, err := Compile(Config{
			Default:           Action(1 + link%3),
			Rules:             rules,
			PerSource:         &SourceRate{Rate: Rate{PerSecond: 10, Burst: 2}, PrefixV4: 1 + int(sport%32), PrefixV6: 1 + int(dport%128), MaxSources: 16},
			Total:             &Rate{PerSecond: 100, Burst: 5},
			MaxPairs:          3,
			MaxPairsPerSource: 1,
		})
		if err != nil {
			t.Fatalf("rules that parsed do not compile: %v", err)
		}
		var a netip.Addr
		switch len(addr) {
		case 4:
			a = netip.AddrFrom4([4]byte(addr))
		case 16:
			a = netip.AddrFrom16([16]byte(addr))
		}
		r := Request{Src: netip.AddrPortFrom(a, sport), DstPort: dport, Link: LinkKind(link)}
		d := p.Evaluate(r)
		if want := naive(rules, r); d.Rule != want {
			t.Fatalf("matcher says rule %d, scan says %d, for %+v", d.Rule, want, r)
		}
		if d.Reason() == "" || d.Limit != LimitNone {
			t.Fatalf("decision %+v", d)
		}
		var slots []Slot
		for i := range 4 {
			s, d := p.Acquire(r, t0.Add(time.Duration(i)*time.Millisecond))
			if s.Held() != d.Allowed() || d.Reason() == "" {
				t.Fatalf("slot %v for %+v", s.Held(), d)
			}
			if d.Limit == LimitPerSourceRate || d.Limit == LimitMaxPairsPerSource {
				if !d.Source.Contains(r.Src.Addr().Unmap()) && r.Src.Addr().IsValid() {
					t.Fatalf("source %v does not hold %v", d.Source, r.Src.Addr())
				}
			}
			slots = append(slots, s)
		}
		for i := range slots {
			slots[i].Release()
		}
		if st := p.Stats(); st.Pairs != 0 {
			t.Fatalf("%d pairs left", st.Pairs)
		}
	})
}

// FuzzParsePolicyYAML: arbitrary YAML never panics the decoder.
func FuzzParsePolicyYAML(f *testing.F) {
	f.Add([]byte(exampleYAML))
	f.Add([]byte("default: deny\nrules:\n  - {action: allow, port: [1]}\n  - deny from fe80:: port 5\n"))
	f.Add([]byte("a: &a {default: *a}\nacl: *a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicyYAML(b)
		if err == nil {
			p.Evaluate(benchMiss)
		}
	})
}
