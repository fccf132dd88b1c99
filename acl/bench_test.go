package acl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// benchRules builds n distinct rules of the shapes a lab writes: /16-/32
// IPv4 and /32-/64 IPv6 prefixes, served ports, source-port ranges, links.
// None matches benchMiss, so it walks every word of the bitsets.
func benchRules(n int) []Rule {
	rng := rand.New(rand.NewPCG(7, 7))
	rules := make([]Rule, n)
	for i := range rules {
		r := Rule{Action: Action(1 + i%3)}
		if i%2 == 0 {
			a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(rng.IntN(256))})
			r.From = netip.PrefixFrom(a, 16+rng.IntN(17)).Masked()
		} else {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i), 6: byte(rng.IntN(256))})
			r.From = netip.PrefixFrom(a, 32+rng.IntN(33)).Masked()
		}
		if rng.IntN(2) == 0 {
			p := uint16(36412 + rng.IntN(8))
			r.Port = PortRange{p, p}
		}
		if rng.IntN(3) == 0 {
			r.SPort = PortRange{1024, 65535}
		}
		r.Link = LinkKind(rng.IntN(3))
		rules[i] = r
	}
	return rules
}

var (
	benchMiss = Request{Src: netip.MustParseAddrPort("198.18.3.4:40000"), DstPort: 36412, Link: LinkNative}
	benchSink Decision
)

func benchPolicy(b *testing.B, c Config) *Policy {
	b.Helper()
	p, err := Compile(c)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkEvaluate1000 is the figure: a decision against 1,000
// rules. The cases are the worst (no rule matches: every word is ANDed)
// and a match of the last rule, for IPv4 and IPv6 sources.
func BenchmarkEvaluate1000(b *testing.B) {
	rules := benchRules(1000)
	last := rules[999].From.Addr() // an IPv6 rule; make a v4 one too
	rules[998] = Rule{Action: Allow, From: netip.MustParsePrefix("198.51.100.0/24"), Port: PortRange{36412, 36412}}
	p := benchPolicy(b, Config{Default: Deny, Rules: rules})
	cases := []struct {
		name string
		req  Request
		want int
	}{
		{"miss-v4", benchMiss, -1},
		{"miss-v6", Request{Src: netip.MustParseAddrPort("[2001:db9::1]:40000"), DstPort: 36412, Link: LinkNative}, -1},
		{"rule999-v4", Request{Src: netip.MustParseAddrPort("198.51.100.9:40000"), DstPort: 36412, Link: LinkUDP}, 998},
		{"rule1000-v6", Request{Src: netip.AddrPortFrom(last, 40000), DstPort: rules[999].Port.Lo, Link: LinkNative}, -2},
	}
	for _, tc := range cases {
		if tc.want == -2 {
			tc.want = naive(rules, tc.req)
		}
		if got := p.Evaluate(tc.req).Rule; got != tc.want {
			b.Fatalf("%s: rule %d, want %d", tc.name, got, tc.want)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchSink = p.Evaluate(tc.req)
			}
		})
	}
}

// BenchmarkScreen1000 is Evaluate plus the hit counter the INIT filter
// bumps for a refusal: the miss meets the default deny and is counted.
func BenchmarkScreen1000(b *testing.B) {
	p := benchPolicy(b, Config{Default: Deny, Rules: benchRules(1000)})
	b.ReportAllocs()
	for b.Loop() {
		benchSink = p.Screen(benchMiss)
	}
	if benchSink.Allowed() || p.Stats().DefaultHits == 0 {
		b.Fatalf("%s, %d default hits", benchSink.Reason(), p.Stats().DefaultHits)
	}
}

// BenchmarkLinearScan1000 is the peer the compiled matcher is measured
// against in the same run: the reference first-match scan.
func BenchmarkLinearScan1000(b *testing.B) {
	rules := benchRules(1000)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n += naive(rules, benchMiss)
	}
	_ = n
}

// BenchmarkDecide1000 adds the rate limits: one source bucket and the
// total bucket per attempt.
func BenchmarkDecide1000(b *testing.B) {
	rules := append(benchRules(1000), Rule{Action: Allow})
	p := benchPolicy(b, Config{
		Default:   Deny,
		Rules:     rules,
		PerSource: &SourceRate{Rate: Rate{PerSecond: 1e12, Burst: 1 << 30}},
		Total:     &Rate{PerSecond: 1e12, Burst: 1 << 30},
	})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		benchSink = p.Decide(benchMiss, t0.Add(time.Duration(i)*time.Microsecond))
	}
	if !benchSink.Allowed() {
		b.Fatal(benchSink.Reason())
	}
}

// BenchmarkAcquireRelease is a whole pair's life in the policy: rules,
// both buckets, both pair caps, release.
func BenchmarkAcquireRelease(b *testing.B) {
	p := benchPolicy(b, Config{
		Default:           Deny,
		Rules:             append(benchRules(1000), Rule{Action: Allow}),
		PerSource:         &SourceRate{Rate: Rate{PerSecond: 1e12, Burst: 1 << 30}},
		Total:             &Rate{PerSecond: 1e12, Burst: 1 << 30},
		MaxPairs:          1 << 20,
		MaxPairsPerSource: 1 << 20,
	})
	b.ReportAllocs()
	for b.Loop() {
		s, d := p.Acquire(benchMiss, t0)
		if !d.Allowed() {
			b.Fatal(d.Reason())
		}
		s.Release()
	}
}

// BenchmarkDecideParallel shows contention when every core decides at once
// for distinct sources.
func BenchmarkDecideParallel(b *testing.B) {
	p := benchPolicy(b, Config{
		Default:   Deny,
		Rules:     append(benchRules(1000), Rule{Action: Allow}),
		PerSource: &SourceRate{Rate: Rate{PerSecond: 1e12, Burst: 1 << 30}},
		Total:     &Rate{PerSecond: 1e12, Burst: 1 << 30},
	})
	b.ReportAllocs()
	var id atomic.Int32
	b.RunParallel(func(pb *testing.PB) {
		g := id.Add(1)
		r := Request{Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(g), 1}), 40000), DstPort: 36412, Link: LinkNative}
		for pb.Next() {
			if !p.Decide(r, t0).Allowed() {
				b.Error("refused")
				return
			}
		}
	})
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{10, 1000, MaxRules} {
		rules := benchRules(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			var p *Policy
			for b.Loop() {
				p = benchPolicy(b, Config{Default: Deny, Rules: rules})
			}
			b.ReportMetric(float64(p.Stats().MatcherBytes), "matcher-bytes")
		})
	}
}
