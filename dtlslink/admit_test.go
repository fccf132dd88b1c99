package dtlslink

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// spoofHello feeds the link a ClientHello as if read from its socket from
// address from (which nothing answers from: a spoofed source), at the
// time of the link's clock.
func spoofHello(l *Link, hello []byte, from netip.AddrPort) {
	o := getDrained()
	o.now = l.clock.Now().UnixNano()
	l.receive(&link.Packet{Path: link.Path{Remote: from.Addr(), RemotePort: from.Port()}, Buf: hello}, o)
	l.send(o.tx)
	putDrained(o)
}

func floodSource(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 2, byte(i >> 8), byte(i)}), 40000)
}

// TestClientHelloFlood: ClientHellos from spoofed addresses, a burst of
// three times MaxSessions and then 500 a second, do not keep a real peer
// out: its handshake completes and its packet arrives while the flood
// goes on, the flood's handshakes stay within MaxUnverified (pushed out
// oldest first, counted) and the sessions within MaxSessions. Before,
// the burst filled MaxSessions for HandshakeTimeout and the peer was
// refused (session_limit) until it ended.
func TestClientHelloFlood(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	coreAt := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	const maxSessions = 64
	core := newLinkT(t, Config{Listen: coreAt, Credentials: creds(t, certFiles(t, ca, "core.lab", ca)), MaxSessions: maxSessions})
	coreRx := chanReader(core)
	hello := firstFlight(t, coreAt, clientOpts(t, certFiles(t, ca, "edge.lab", ca)))
	for i := range 3 * maxSessions {
		spoofHello(core, hello, floodSource(i))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 3 * maxSessions; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			spoofHello(core, hello, floodSource(i%60000))
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	edge := newLinkT(t, Config{Peers: map[netip.AddrPort]*Credentials{coreAt: creds(t, certFiles(t, ca, "edge.lab", ca))}})
	_ = chanReader(edge)
	t0 := time.Now()
	if _, err := edge.WriteBatch([]link.Packet{{Path: link.Path{Remote: coreAt.Addr(), RemotePort: coreAt.Port()}, Buf: []byte("through the flood")}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(8 * time.Second)
	for got := false; !got; {
		select {
		case p := <-coreRx:
			got = string(p.Buf) == "through the flood"
		case <-deadline:
			t.Fatalf("the real peer got no session through the flood: core %+v", core.Stats().Refused)
		}
	}
	core.mu.Lock()
	n, unv := core.nsess, len(core.unverified)
	core.mu.Unlock()
	st := core.Stats()
	t.Logf("the real peer's packet arrived %v after it was sent; %d sessions, %d unverified, %d pushed out", time.Since(t0).Round(time.Millisecond), n, unv, st.Refused[ReasonCookieUnanswered])
	if n > maxSessions || unv > maxSessions/4 || st.Refused[ReasonCookieUnanswered] < 2*maxSessions || st.Sessions != 1 {
		t.Fatalf("%d sessions (at most %d), %d unverified (at most %d), stats %+v", n, maxSessions, unv, maxSessions/4, st)
	}
}

// TestHandshakesPerSource: one address gets at most
// MaxHandshakesPerSource handshakes at a time; the rest are refused and
// counted, and its handshakes leave the count as they end. They end at
// HandshakeTimeout on the link's clock, not before, counted as timeouts:
// a minute that the test's clock passes at once (the wait is 5 s of wall
// time, so a timeout on the wall clock fails it).
func TestHandshakesPerSource(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	coreAt := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	clk := newFakeClock()
	const timeout = time.Minute
	core := newLinkT(t, Config{Listen: coreAt, Credentials: creds(t, certFiles(t, ca, "core.lab", ca)),
		MaxHandshakesPerSource: 4, HandshakeTimeout: timeout, Clock: clk})
	_ = chanReader(core)
	hello := firstFlight(t, coreAt, clientOpts(t, certFiles(t, ca, "edge.lab", ca)))
	src := netip.MustParseAddr("127.3.0.1")
	t0 := clk.Now()
	for port := range uint16(10) {
		spoofHello(core, hello, netip.AddrPortFrom(src, 40000+port))
	}
	if st := core.Stats(); st.Handshaking != 4 || st.Refused[ReasonSessionLimit] != 6 {
		t.Fatalf("after 10 ClientHellos from one address: %d handshaking, refused %v; want 4 and 6 session_limit", st.Handshaking, st.Refused)
	}
	want := slices.Repeat([]time.Time{t0.Add(timeout)}, 4)
	if at := clk.deadlines(); !slices.Equal(at, want) {
		t.Fatalf("handshake timers due at %v, want 4 at %v", at, t0.Add(timeout))
	}
	clk.advance(timeout - time.Nanosecond)
	if at, st := clk.deadlines(), core.Stats(); len(at) != 4 || st.Handshaking != 4 {
		t.Fatalf("a nanosecond before the timeout: %d timers armed, %d handshaking; want 4 and 4", len(at), st.Handshaking)
	}
	clk.advance(time.Nanosecond)
	testlab.WaitFor(t, 5*time.Second, "the handshakes timed out", func() bool { return core.Stats().Handshaking == 0 })
	if st := core.Stats(); st.Refused[ReasonTimeout] != 4 {
		t.Fatalf("refused %v after the timeout; want 4 timeout", st.Refused)
	}
	spoofHello(core, hello, netip.AddrPortFrom(src, 41000))
	core.mu.Lock()
	n := core.perSource[src]
	core.mu.Unlock()
	if st := core.Stats(); st.Handshaking != 1 || n != 1 {
		t.Fatalf("after they timed out: %d handshaking, %d counted for the address", st.Handshaking, n)
	}
}

// TestHandshakeRate: ClientHellos from new addresses beyond HandshakeRate
// start nothing and are counted; those within it start handshakes. On
// the link's clock, exactly: a burst of HandshakeRate at one instant, the
// rate's share of an interval after it, and no more than a burst after a
// long pause.
func TestHandshakeRate(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	coreAt := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	const perSecond = 50
	clk := newFakeClock()
	// The handshakes outlast the test's few seconds of clock.
	core := newLinkT(t, Config{Listen: coreAt, Credentials: creds(t, certFiles(t, ca, "core.lab", ca)), HandshakeRate: perSecond, Clock: clk,
		HandshakeTimeout: time.Hour})
	_ = chanReader(core)
	hello := firstFlight(t, coreAt, clientOpts(t, certFiles(t, ca, "edge.lab", ca)))
	next, started := 0, 0
	for _, step := range []struct {
		after       time.Duration // the clock moves by that first
		hellos, new int           // ClientHellos sent, handshakes they start
	}{{0, 400, perSecond}, {100 * time.Millisecond, 20, perSecond / 10}, {2 * time.Second, 3 * perSecond, perSecond}} {
		clk.advance(step.after)
		before := core.Stats()
		for range step.hellos {
			spoofHello(core, hello, floodSource(next))
			next++
		}
		st := core.Stats()
		got := st.Handshaking - before.Handshaking
		if dropped := st.Refused[ReasonHelloRate] - before.Refused[ReasonHelloRate]; got != step.new || int(dropped) != step.hellos-step.new {
			t.Fatalf("%v later, %d ClientHellos started %d handshakes and %d were dropped (hello_rate); want %d and %d",
				step.after, step.hellos, got, dropped, step.new, step.hellos-step.new)
		}
		started += got
	}
	if st := core.Stats(); st.Handshaking != started || st.Refused[ReasonCookieUnanswered] != 0 {
		t.Fatalf("%d started, %d handshaking, %d pushed out", started, st.Handshaking, st.Refused[ReasonCookieUnanswered])
	}
}

// BenchmarkClientHelloFlood prints what a spoofed ClientHello costs the
// core (CPU, heap, goroutines), admitted (HandshakeRate as high as the
// flood) and at the default HandshakeRate, and what MaxUnverified bounds:
// the handshakes a flood of b.N leaves behind.
func BenchmarkClientHelloFlood(b *testing.B) {
	for _, c := range []struct {
		name string
		rate int
	}{{"admitted", 1 << 30}, {"default-rate", 0}} {
		b.Run(c.name, func(b *testing.B) { benchHelloFlood(b, c.rate) })
	}
}

func benchHelloFlood(b *testing.B, helloRate int) {
	ca := testlab.NewCA(b, "lab")
	coreAt := netip.AddrPortFrom(loop, testlab.FreeUDPPort(b))
	core := newLinkT(b, Config{Listen: coreAt, Credentials: creds(b, certFiles(b, ca, "core.lab", ca)), HandshakeRate: helloRate})
	_ = chanReader(core)
	hello := firstFlight(b, coreAt, clientOpts(b, certFiles(b, ca, "edge.lab", ca)))
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	g0 := runtime.NumGoroutine()
	c0, t0 := cpuTime(), time.Now()
	b.ResetTimer()
	for i := range b.N {
		spoofHello(core, hello, floodSource(i%60000))
	}
	b.StopTimer()
	cpu, el := cpuTime()-c0, time.Since(t0)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	st := core.Stats()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/hello")
	fmt.Printf("%d spoofed ClientHellos in %v: %.1f µs of CPU each; %d dropped over the rate; left %d handshakes (MaxUnverified %d), %d goroutines (+%d), heap %+d KiB; %d pushed out\n",
		b.N, el.Round(time.Millisecond), float64(cpu.Microseconds())/float64(b.N), st.Refused[ReasonHelloRate], st.Handshaking, core.cfg.MaxUnverified,
		runtime.NumGoroutine(), runtime.NumGoroutine()-g0, (int64(m1.HeapInuse)-int64(m0.HeapInuse))>>10, st.Refused[ReasonCookieUnanswered])
}
