package acl

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func compileCfg(t testing.TB, c Config) *Policy {
	t.Helper()
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func from(addr string) Request { return req(addr, 36412, LinkNative) }

// attempts runs n Decide calls at now and returns how many were allowed.
func attempts(p *Policy, r Request, now time.Time, n int) int {
	ok := 0
	for range n {
		if p.Decide(r, now).Allowed() {
			ok++
		}
	}
	return ok
}

func TestPerSourceBurstAndRefill(t *testing.T) {
	p := compileCfg(t, Config{Default: Allow, PerSource: &SourceRate{Rate: Rate{PerSecond: 10, Burst: 5}, PrefixV4: 24}})
	a := from("198.18.1.7:4000")
	if got := attempts(p, a, t0, 5); got != 5 {
		t.Fatalf("burst: %d of 5 allowed", got)
	}
	d := p.Decide(a, t0)
	if d.Allowed() || d.Verdict != Deny || d.Limit != LimitPerSourceRate || d.Rule != -1 {
		t.Fatalf("6th attempt: %+v", d)
	}
	if d.Source != netip.MustParsePrefix("198.18.1.0/24") {
		t.Errorf("Source = %v", d.Source)
	}
	if got, want := d.Reason(), "sctpgw: refused by policy (rate limit per source 198.18.1.0/24)"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	// 10/s refills one token per 100 ms; 99 ms is not enough.
	if got := attempts(p, a, at(99*time.Millisecond), 1); got != 0 {
		t.Errorf("refilled early")
	}
	if got := attempts(p, a, at(100*time.Millisecond), 2); got != 1 {
		t.Errorf("after 100ms: %d allowed, want 1", got)
	}
	// Refill stops at the burst however long the source was quiet.
	if got := attempts(p, a, at(time.Hour), 10); got != 5 {
		t.Errorf("after an hour: %d allowed, want the burst of 5", got)
	}
	// The same /24 shares the bucket: another host in it is refused now.
	if p.Decide(from("198.18.1.200:1"), at(time.Hour)).Allowed() {
		t.Error("198.18.1.200 shares 198.18.1.0/24's bucket and should be refused")
	}
	st := p.Stats()
	if st.PerSourceRate != 1+1+1+5+1 || st.DefaultHits != 5+1+1+2+10+1 || st.Sources != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestPerSourceIsolation(t *testing.T) {
	p := compileCfg(t, Config{
		Default:   Deny,
		Rules:     []Rule{{Action: Allow}},
		PerSource: &SourceRate{Rate: Rate{PerSecond: 50, Burst: 100}}, // /32 and /64 groups
	})
	flood := from("198.18.0.66:1")
	if got := attempts(p, flood, t0, 10000); got != 100 {
		t.Fatalf("flooding source got %d, want its burst of 100", got)
	}
	for _, peer := range []string{"198.18.0.67:1", "[2001:db8::1]:1", "[2001:db8:0:1::1]:1"} {
		if got := attempts(p, from(peer), t0, 100); got != 100 {
			t.Errorf("%s got %d of its 100 while another source flooded", peer, got)
		}
	}
	// IPv6 groups by /64: another address in the /64 shares the bucket.
	if p.Decide(from("[2001:db8::2]:1"), t0).Allowed() {
		t.Error("2001:db8::2 is in 2001:db8::/64 with an exhausted bucket")
	}
	d := p.Decide(from("[2001:db8::ffff]:1"), t0)
	if d.Source != netip.MustParsePrefix("2001:db8::/64") || d.Rule != 0 || d.Limit != LimitPerSourceRate {
		t.Errorf("v6 decision %+v", d)
	}
	// An IPv4-mapped source is the IPv4 source.
	if p.Decide(from("[::ffff:198.18.0.66]:1"), t0).Allowed() {
		t.Error("::ffff:198.18.0.66 must share 198.18.0.66's bucket")
	}
}

func TestTotalRate(t *testing.T) {
	p := compileCfg(t, Config{
		Default:   Allow,
		PerSource: &SourceRate{Rate: Rate{PerSecond: 1, Burst: 2}},
		Total:     &Rate{PerSecond: 4, Burst: 5},
	})
	ok := 0
	for i := range 10 {
		if p.Decide(from(fmt.Sprintf("192.0.2.%d:1", i+1)), t0).Allowed() {
			ok++
		}
	}
	if ok != 5 {
		t.Fatalf("%d allowed, want the total burst 5", ok)
	}
	d := p.Decide(from("192.0.2.99:1"), t0)
	if d.Limit != LimitTotalRate || d.Reason() != "sctpgw: refused by policy (rate limit total)" {
		t.Errorf("decision %+v %q", d, d.Reason())
	}
	// 4/s: one token per 250 ms.
	if got := attempts(p, from("192.0.2.100:1"), at(250*time.Millisecond), 2); got != 1 {
		t.Errorf("after 250ms: %d, want 1", got)
	}
	// A source refused by its own bucket does not spend the total budget.
	q := compileCfg(t, Config{Default: Allow, PerSource: &SourceRate{Rate: Rate{PerSecond: 1, Burst: 1}}, Total: &Rate{PerSecond: 1, Burst: 3}})
	attempts(q, from("192.0.2.1:1"), t0, 1000)
	if got := attempts(q, from("192.0.2.2:1"), t0, 1) + attempts(q, from("192.0.2.3:1"), t0, 1); got != 2 {
		t.Errorf("total budget was spent by a source already over its own limit: %d of 2", got)
	}
	if st := q.Stats(); st.PerSourceRate != 999 || st.TotalRate != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestDefaultBurstAndFraction(t *testing.T) {
	// Burst defaults to the rate rounded up; a slow rate still admits one.
	p := compileCfg(t, Config{Default: Allow, PerSource: &SourceRate{Rate: Rate{PerSecond: 2.5}}, Total: &Rate{PerSecond: 0.5}})
	if got := attempts(p, from("192.0.2.1:1"), t0, 10); got != 1 {
		t.Errorf("total burst of 1: %d allowed", got)
	}
	if got := attempts(p, from("192.0.2.1:1"), at(1999*time.Millisecond), 1); got != 0 {
		t.Error("0.5/s refilled before 2 s")
	}
	if got := attempts(p, from("192.0.2.1:1"), at(2*time.Second), 10); got != 1 {
		t.Errorf("after 2 s: %d allowed, want 1", got)
	}
	q := compileCfg(t, Config{Default: Allow, PerSource: &SourceRate{Rate: Rate{PerSecond: 2.5}}})
	if got := attempts(q, from("192.0.2.1:1"), t0, 10); got != 3 {
		t.Errorf("burst for 2.5/s: %d, want 3", got)
	}
}

func TestClockStepsBack(t *testing.T) {
	p := compileCfg(t, Config{Default: Allow, PerSource: &SourceRate{Rate: Rate{PerSecond: 1, Burst: 1}}})
	a := from("192.0.2.1:1")
	if attempts(p, a, t0, 2) != 1 {
		t.Fatal("burst 1")
	}
	// Stepping back gives nothing away and does not freeze the bucket.
	if attempts(p, a, at(-time.Hour), 5) != 0 {
		t.Error("refilled on a backward step")
	}
	if attempts(p, a, at(-time.Hour+time.Second), 1) != 1 {
		t.Error("bucket froze after a backward step")
	}
	// A zero time does not panic.
	p.Decide(a, time.Time{})
}

func TestOnLimitDrop(t *testing.T) {
	p := compileCfg(t, Config{Default: Allow, OnLimit: Drop, PerSource: &SourceRate{Rate: Rate{PerSecond: 1, Burst: 1}}})
	a := from("192.0.2.1:1")
	p.Decide(a, t0)
	if d := p.Decide(a, t0); d.Verdict != Drop || d.Limit != LimitPerSourceRate {
		t.Errorf("on_limit drop: %+v", d)
	}
}

func TestRulesBeforeLimits(t *testing.T) {
	// Denied attempts spend no tokens: a denied flood cannot exhaust the
	// total budget that allowed peers draw from.
	p := compileCfg(t, Config{
		Default: Deny,
		Rules:   []Rule{{Action: Allow, From: netip.MustParsePrefix("198.18.0.0/15")}},
		Total:   &Rate{PerSecond: 1, Burst: 2},
	})
	attempts(p, from("203.0.113.1:1"), t0, 1000)
	if got := attempts(p, from("198.18.0.1:1"), t0, 3); got != 2 {
		t.Errorf("allowed peer got %d of 2 after a denied flood", got)
	}
	if st := p.Stats(); st.DefaultHits != 1000 || st.RuleHits[0] != 3 || st.TotalRate != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestMaxPairs(t *testing.T) {
	p := compileCfg(t, Config{Default: Allow, MaxPairs: 3, MaxPairsPerSource: 2, PerSource: &SourceRate{Rate: Rate{PerSecond: 1000, Burst: 1000}, PrefixV4: 24}})
	a, b := from("198.18.1.1:1"), from("198.18.1.2:1") // same /24
	c := from("198.18.2.1:1")
	s1, d := p.Acquire(a, t0)
	s2, _ := p.Acquire(b, t0)
	if !d.Allowed() || !s1.Held() || !s2.Held() {
		t.Fatalf("first two pairs: %+v", d)
	}
	s3, d := p.Acquire(a, t0)
	if d.Allowed() || s3.Held() || d.Limit != LimitMaxPairsPerSource {
		t.Fatalf("third pair from 198.18.1.0/24: %+v", d)
	}
	if got, want := d.Reason(), "sctpgw: refused by policy (max pairs per source 198.18.1.0/24: 2)"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	s3.Release() // an empty slot releases nothing
	s4, d := p.Acquire(c, t0)
	if !d.Allowed() {
		t.Fatalf("pair from another source: %+v", d)
	}
	s5, d := p.Acquire(from("198.18.3.1:1"), t0)
	if d.Allowed() || s5.Held() || d.Limit != LimitMaxPairs || d.Reason() != "sctpgw: refused by policy (max pairs 3)" {
		t.Fatalf("fourth pair: %+v %q", d, d.Reason())
	}
	if st := p.Stats(); st.Pairs != 3 || st.MaxPairs != 1 || st.MaxPairsPerSource != 1 {
		t.Errorf("stats %+v", st)
	}
	s1.Release()
	s1.Release() // the same variable twice: harmless
	if st := p.Stats(); st.Pairs != 2 {
		t.Errorf("after release: %d pairs", st.Pairs)
	}
	s6, d := p.Acquire(a, t0)
	if !d.Allowed() {
		t.Errorf("after release: %+v", d)
	}
	for _, s := range []*Slot{&s2, &s4, &s6} {
		s.Release()
	}
	if st := p.Stats(); st.Pairs != 0 {
		t.Errorf("all released: %d pairs", st.Pairs)
	}
	for i := range p.pairs.shards {
		if n := len(p.pairs.shards[i].m); n != 0 {
			t.Errorf("shard %d keeps %d idle entries", i, n)
		}
	}
	// Decide never takes a pair place.
	q := compileCfg(t, Config{Default: Allow, MaxPairs: 1})
	if attempts(q, a, t0, 5) != 5 {
		t.Error("Decide checked pair caps")
	}
}

func TestSourceTableBounded(t *testing.T) {
	p := compileCfg(t, Config{Default: Allow, PerSource: &SourceRate{Rate: Rate{PerSecond: 1, Burst: 2}, MaxSources: 64}})
	legit := from("198.18.0.1:1")
	for i := range 100000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		p.Decide(Request{Src: netip.AddrPortFrom(a, 1), DstPort: 36412}, at(time.Duration(i)*time.Microsecond))
		if i%1000 == 0 {
			p.Decide(legit, at(time.Duration(i)*time.Microsecond))
		}
	}
	st := p.Stats()
	if st.Sources > 64 || len(p.src.sets)*ways != 64 {
		t.Errorf("table grew to %d sources (%d ways)", st.Sources, len(p.src.sets)*ways)
	}
	if st.SourceEvictions == 0 {
		t.Error("no evictions counted under a flood of 100000 sources")
	}
}

func TestSourceTableEvictsFullFirst(t *testing.T) {
	p := compileCfg(t, Config{Default: Allow, PerSource: &SourceRate{Rate: Rate{PerSecond: 10, Burst: 5}, MaxSources: 8}})
	src := func(i int) Request { return from(fmt.Sprintf("192.0.2.%d:1", i)) }
	for i := range 8 {
		attempts(p, src(i), t0, 5) // drain: not full
	}
	// 10 s later every bucket is full again; newcomers replace them without
	// counting an eviction, since nothing is forgotten.
	for i := 8; i < 16; i++ {
		attempts(p, src(i), at(10*time.Second), 5)
	}
	if st := p.Stats(); st.SourceEvictions != 0 || st.Sources != 8 {
		t.Errorf("stats %+v", st)
	}
	// Now every bucket is drained at this instant: a newcomer evicts the
	// least recently used, and that counts.
	attempts(p, src(8), at(10*time.Second+time.Millisecond), 1)
	attempts(p, src(99), at(10*time.Second+2*time.Millisecond), 1)
	if st := p.Stats(); st.SourceEvictions != 1 {
		t.Errorf("evictions %d, want 1", st.SourceEvictions)
	}
	// The recently used source 8 survived: still drained.
	if attempts(p, src(8), at(10*time.Second+2*time.Millisecond), 1) != 0 {
		t.Error("the most recently used source was evicted")
	}
}

func TestConcurrentAcquire(t *testing.T) {
	p := compileCfg(t, Config{
		Default:           Deny,
		Rules:             []Rule{{Action: Deny, From: netip.MustParsePrefix("10.0.0.0/8")}, {Action: Allow}},
		PerSource:         &SourceRate{Rate: Rate{PerSecond: 1e6, Burst: 1000}, MaxSources: 256},
		Total:             &Rate{PerSecond: 1e9, Burst: 1e6},
		MaxPairs:          50,
		MaxPairsPerSource: 3,
	})
	var live, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []Slot
			for i := range 2000 {
				a := netip.AddrFrom4([4]byte{198, 18, byte(g), byte(i % 40)})
				s, d := p.Acquire(Request{Src: netip.AddrPortFrom(a, 1), DstPort: 1}, at(time.Duration(i)*time.Millisecond))
				if s.Held() != d.Allowed() {
					t.Errorf("slot %v, decision %+v", s.Held(), d)
				}
				if s.Held() {
					n := live.Add(1)
					for {
						pk := peak.Load()
						if n <= pk || peak.CompareAndSwap(pk, n) {
							break
						}
					}
					held = append(held, s)
				}
				if len(held) > 4 || i%3 == 0 && len(held) > 0 {
					live.Add(-1)
					held[0].Release()
					held = held[1:]
				}
				p.Evaluate(Request{Src: netip.AddrPortFrom(a, 1)})
			}
			for i := range held {
				live.Add(-1)
				held[i].Release()
			}
		}()
	}
	wg.Wait()
	if pk := peak.Load(); pk > 50 {
		t.Errorf("peak %d pairs over max_pairs 50", pk)
	}
	if st := p.Stats(); st.Pairs != 0 {
		t.Errorf("%d pairs left after every release", st.Pairs)
	}
}
