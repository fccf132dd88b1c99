package acl

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// Screen counts what it refuses, per rule and for the default, and leaves
// what it allows to the Acquire that follows, so an attempt allowed at its
// INIT and admitted at its COOKIE ECHO is counted once.
func TestScreenCountsRefusalsOnce(t *testing.T) {
	p, err := Compile(Config{Default: Drop, Rules: []Rule{
		mustRule(t, "deny from 198.18.1.0/24"),
		mustRule(t, "allow from 198.18.2.0/24"),
		mustRule(t, "drop from 198.18.3.0/24"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	req := func(a string) Request {
		return Request{Src: netip.AddrPortFrom(netip.MustParseAddr(a), 40000), DstPort: 36412, Link: LinkNative}
	}
	for i := 0; i < 3; i++ {
		if d := p.Screen(req("198.18.1.7")); d.Verdict != Deny || d.Rule != 0 {
			t.Fatalf("deny rule: %+v", d)
		}
	}
	if d := p.Screen(req("198.18.3.7")); d.Verdict != Drop || d.Rule != 2 {
		t.Fatalf("drop rule: %+v", d)
	}
	if d := p.Screen(req("192.0.2.1")); d.Verdict != Drop || d.Rule != -1 {
		t.Fatalf("default: %+v", d)
	}
	if d := p.Screen(req("198.18.2.7")); !d.Allowed() || d.Rule != 1 {
		t.Fatalf("allow rule: %+v", d)
	}
	if _, d := p.Acquire(req("198.18.2.7"), time.Unix(0, 0)); !d.Allowed() {
		t.Fatalf("acquire: %+v", d)
	}
	st := p.Stats()
	if want := []uint64{3, 1, 1}; !slices.Equal(st.RuleHits, want) || st.DefaultHits != 1 {
		t.Fatalf("rule hits %v default %d, want %v and 1", st.RuleHits, st.DefaultHits, want)
	}
	// Evaluate stays a pure look.
	p.Evaluate(req("198.18.1.7"))
	if got := p.Stats().RuleHits[0]; got != 3 {
		t.Fatalf("Evaluate counted: rule 1 has %d hits", got)
	}
}

func TestScreenAllocs(t *testing.T) {
	p, err := Compile(Config{Default: Deny, Rules: benchRules(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { benchSink = p.Screen(benchMiss) }); n != 0 {
		t.Fatalf("%v allocations per Screen", n)
	}
}

func TestLimitsDescribed(t *testing.T) {
	p, err := ParsePolicyYAML([]byte(`default: allow
rate:
  per_source: {rate: 1/h, burst: 2, prefix_v4: 24}
  total: {rate: 50/s}
max_pairs: 100
max_pairs_per_source: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []LimitInfo{
		{LimitPerSourceRate, "rate 1/h burst 2 per source (/24 IPv4, /64 IPv6)"},
		{LimitTotalRate, "rate 50/s burst 50"},
		{LimitMaxPairs, "100"},
		{LimitMaxPairsPerSource, "4 per source (/24 IPv4, /64 IPv6)"},
	}
	if got := p.Limits(); !slices.Equal(got, want) {
		t.Fatalf("limits\n%q\nwant\n%q", got, want)
	}
	q, _ := Compile(Config{Default: Allow, Total: &Rate{PerSecond: 0.3}})
	if got := q.Limits(); len(got) != 1 || got[0].Text != "rate 18/min burst 1" {
		t.Fatalf("limits %q", got)
	}
	q, _ = Compile(Config{Default: Allow, Total: &Rate{PerSecond: 0.123456}})
	if got := q.Limits(); len(got) != 1 || got[0].Text != "rate 0.123456/s burst 1" {
		t.Fatalf("limits %q", got)
	}
	var st Stats
	st.MaxPairs = 7
	if st.Refused(LimitMaxPairs) != 7 || st.Refused(LimitTotalRate) != 0 {
		t.Fatal("Stats.Refused reads the wrong counter")
	}
}

func mustRule(t *testing.T, s string) Rule {
	t.Helper()
	r, err := ParseRule(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
