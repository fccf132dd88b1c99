package dtlslink

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// spoofHello feeds the link a ClientHello from address from, which
// nothing answers from: a spoofed source.
func spoofHello(l *Link, hello []byte, from netip.AddrPort) { feed(l, hello, from) }

// feed hands the link a datagram as if read from its socket from from, at
// the time of the link's clock, as ReadBatch would: what it sends goes
// out, what it delivers waits for ReadBatch.
func feed(l *Link, d []byte, from netip.AddrPort) {
	o := getDrained()
	o.now = l.clock.Now().UnixNano()
	l.receive(&link.Packet{Path: link.Path{Remote: from.Addr(), RemotePort: from.Port()}, Buf: d}, o)
	l.send(o.tx)
	l.queue(o.rx...)
	putDrained(o)
}

func floodSource(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 2, byte(i >> 8), byte(i)}), 40000)
}

// relay is a UDP socket between a real peer and a core at core: what the
// peer sends to it comes out of the channel, for the test to feed to the
// core when it chooses; what the core sends to it goes on to the peer.
func relay(t *testing.T, core netip.AddrPort) (netip.AddrPort, <-chan []byte) {
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	fromPeer, stop, done := make(chan []byte, 64), make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); sock.Close(); <-done })
	go func() {
		defer close(done)
		var peer netip.AddrPort
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := sock.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			switch from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port()); {
			case from == core && peer.IsValid():
				sock.WriteToUDPAddrPort(buf[:n], peer)
			case from != core:
				peer = from
				select {
				case fromPeer <- bytes.Clone(buf[:n]):
				case <-stop:
					return
				}
			}
		}
	}()
	la := sock.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(la.Addr().Unmap(), la.Port()), fromPeer
}

// TestClientHelloFlood: ClientHellos from spoofed addresses do not keep a
// real peer out. A burst of three times MaxSessions, then
// MaxUnverified-1 after each datagram of the peer's handshake (the most
// that lets its cookie come back before it is pushed out, admit.go), 500
// a second on the core's clock: the peer's handshake completes and its
// packet arrives; every spoofed hello beyond MaxUnverified pushed exactly
// one out, oldest first, never the peer; the pool holds the newest
// MaxUnverified and nothing else is refused. The peer's datagrams reach
// the core through a relay that the test feeds in line with the flood, so
// the interleaving, and every count, is the same on every run. Before the
// pool, the burst filled MaxSessions for HandshakeTimeout and the peer
// was refused (session_limit) until it ended.
func TestClientHelloFlood(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	coreAt := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	const maxSessions = 64
	clk := newFakeClock()
	core := newLinkT(t, Config{Listen: coreAt, Credentials: creds(t, certFiles(t, ca, "core.lab", ca)), MaxSessions: maxSessions, Clock: clk})
	coreRx := chanReader(core)
	hello := firstFlight(t, coreAt, clientOpts(t, certFiles(t, ca, "edge.lab", ca)))
	pool, spoofed := core.cfg.MaxUnverified, 0
	flood := func(n int) {
		for range n {
			spoofHello(core, hello, floodSource(spoofed))
			spoofed++
			clk.Advance(2 * time.Millisecond)
		}
	}
	flood(3 * maxSessions)

	relayAt, fromEdge := relay(t, coreAt)
	edge := newLinkT(t, Config{Peers: map[netip.AddrPort]*Credentials{relayAt: creds(t, certFiles(t, ca, "edge.lab", ca))}})
	_ = chanReader(edge)
	t0 := time.Now()
	if _, err := edge.WriteBatch([]link.Packet{{Path: link.Path{Remote: relayAt.Addr(), RemotePort: relayAt.Port()}, Buf: []byte("through the flood")}}); err != nil {
		t.Fatal(err)
	}
	deadline, rounds := time.After(10*time.Second), 0
	for got := false; !got; {
		select {
		case d := <-fromEdge:
			feed(core, d, relayAt)
			flood(pool - 1)
			rounds++
		case p := <-coreRx:
			got = string(p.Buf) == "through the flood"
		case <-deadline:
			t.Fatalf("the real peer got no session through the flood: core %+v", core.Stats())
		}
	}
	checkFlooded(t, core, relayAt, spoofed)
	t.Logf("the real peer's packet arrived %v after it was sent, through %d of its datagrams and %d spoofed ClientHellos",
		time.Since(t0).Round(time.Millisecond), rounds, spoofed)
}

// checkFlooded checks a core after spoofed ClientHellos from floodSource(0)
// to floodSource(spoofed-1) and a real peer's handshake from peer.
func checkFlooded(t *testing.T, core *Link, peer netip.AddrPort, spoofed int) {
	t.Helper()
	pool := core.cfg.MaxUnverified
	var want, pooled []netip.AddrPort
	for i := spoofed - pool; i < spoofed; i++ {
		want = append(want, floodSource(i))
	}
	core.mu.Lock()
	for _, s := range core.unverified {
		pooled = append(pooled, s.key)
	}
	n, up := core.nsess, core.byPath[peer] != nil && core.byPath[peer].up.Load()
	core.mu.Unlock()
	if !slices.Equal(pooled, want) {
		t.Fatalf("the unverified pool holds %v; want the newest %d spoofed sources, oldest first: %v", pooled, pool, want)
	}
	st := core.Stats()
	if pushed := st.Refused[ReasonCookieUnanswered]; !up || pushed != uint64(spoofed-pool) {
		t.Fatalf("the peer's session up: %v; %d pushed out, want %d (one per spoofed ClientHello beyond the pool, never the peer)", up, pushed, spoofed-pool)
	}
	if n != pool+1 || st.Sessions != 1 || st.Handshaking != pool || st.Refused[ReasonHelloRate] != 0 || st.Refused[ReasonSessionLimit] != 0 {
		t.Fatalf("%d sessions, want the peer's and the pool's %d; stats %+v", n, pool+1, st)
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
	if at := clk.Deadlines(); !slices.Equal(at, want) {
		t.Fatalf("handshake timers due at %v, want 4 at %v", at, t0.Add(timeout))
	}
	clk.Advance(timeout - time.Nanosecond)
	if at, st := clk.Deadlines(), core.Stats(); len(at) != 4 || st.Handshaking != 4 {
		t.Fatalf("a nanosecond before the timeout: %d timers armed, %d handshaking; want 4 and 4", len(at), st.Handshaking)
	}
	clk.Advance(time.Nanosecond)
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
		clk.Advance(step.after)
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
