package engine_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
)

// gatewayDefaults is what a gateway route runs with by default (the
// gateway grants every stream a peer asks for, signalling wants no Nagle):
// the configuration whose memory issue 13 part 3 measures.
func gatewayDefaults() engine.Config {
	return engine.Config{InitMsg: engine.InitMsg{OutStreams: 65535, MaxInStreams: 65535}, NoDelay: true}
}

// quietHandler reads and drops every message: an association's memory
// without a recorder's.
type quietHandler struct{ net *sim.Network }

func (q quietHandler) HandleEvent(*engine.Association, engine.Event) {}

func (q quietHandler) HandleSignal(a *engine.Association, s engine.Signal) {
	if s.Type == engine.Readable {
		for i := 0; i < 1000; i++ {
			if _, ok := a.Read(q.net.Now()); !ok {
				return
			}
		}
	}
}

func (q quietHandler) Accept(r *engine.AcceptRequest) { _ = r.Accept(q.net.Now(), q) }

// heapPerIdleAssoc brings n associations up between two hosts with cfg on
// both sides, sends a message each way on stream 1 of each, lets them go
// idle, and returns the live heap they added per association end (each
// association counts twice: its client and its server side).
func heapPerIdleAssoc(tb testing.TB, n int, kind link.Kind, cfg engine.Config) float64 {
	tb.Helper()
	net := sim.New(7)
	cn := net.AddNode("198.18.0.1", kind)
	sn := net.AddNode("198.18.0.2", kind)
	if kind == link.UDP {
		cn.UDPPort = 40001
	}
	q := quietHandler{net}
	if err := sn.Host.Listen(serverPort, cfg, q); err != nil {
		tb.Fatal(err)
	}
	// Warm up: one association up and ended, so one-off allocations (the
	// cookie jar's keys, buffer pools) are not counted per association.
	assocs := make([]*engine.Association, 0, n+1)
	dial := func() {
		a, err := cn.Host.Dial(0, cn.PathTo(sn), 0, serverPort, cfg, q, net.Now())
		if err != nil {
			tb.Fatal(err)
		}
		assocs = append(assocs, a)
	}
	dial()
	net.RunFor(time.Second)
	assocs[0].Shutdown(net.Now())
	net.RunFor(time.Second)
	assocs = assocs[:0]

	before := liveHeap()
	for i := 0; i < n; i++ {
		dial()
	}
	net.RunFor(time.Second)
	for _, a := range assocs {
		if a.State() != engine.StateEstablished {
			tb.Fatalf("association in %v", a.State())
		}
		if err := a.Send(net.Now(), []byte("hello"), engine.SndInfo{Stream: 1}); err != nil {
			tb.Fatal(err)
		}
	}
	net.RunFor(time.Second)
	sn.Host.Associations(func(a *engine.Association) {
		_ = a.Send(net.Now(), []byte("hello back"), engine.SndInfo{Stream: 1})
	})
	net.RunFor(10 * time.Second) // SACKs sent, nothing in flight
	after := liveHeap()
	runtime.KeepAlive(assocs)
	runtime.KeepAlive(net)
	return float64(after-before) / float64(2*n)
}

// liveHeap is the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestHeapPerIdleAssociation bounds the heap an idle association holds
// with the gateway's default configuration (65535 streams each way granted),
// loosely: issue 13 part 3 aims at 16 KiB, the bound is 64 KiB so the
// test does not flake; the figure is printed.
func TestHeapPerIdleAssociation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory distorts heap figures; measured without -race in make test")
	}
	for _, kind := range []link.Kind{link.Native, link.UDP} {
		per := heapPerIdleAssoc(t, 500, kind, gatewayDefaults())
		fmt.Printf("heap per idle association, engine, %v link, gateway defaults: %.0f B\n", kind, per)
		if per > 64<<10 {
			t.Errorf("%v: %.0f bytes per idle association, want well under 64 KiB (goal 16 KiB)", kind, per)
		}
	}
}

// BenchmarkHeapPerIdleAssociation reports the same figure as a metric.
func BenchmarkHeapPerIdleAssociation(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.ReportMetric(heapPerIdleAssoc(b, 500, link.Native, gatewayDefaults()), "B/assoc")
	}
}

// TestClosedAssociationsAreFreed: once an association has ended and its
// user let go of it, nothing in the Host keeps it: not the list of
// associations a burst of timers made dirty (seen holding thousands of
// closed associations' memory in a gateway after they all closed).
func TestClosedAssociationsAreFreed(t *testing.T) {
	const n = 200
	net := sim.New(9)
	cn := net.AddNode("198.18.0.1", link.Native)
	sn := net.AddNode("198.18.0.2", link.Native)
	q := quietHandler{net}
	if err := sn.Host.Listen(serverPort, engine.Config{}, q); err != nil {
		t.Fatal(err)
	}
	weaks := make([]weak.Pointer[engine.Association], n)
	func() {
		as := make([]*engine.Association, n)
		for i := range as {
			a, err := cn.Host.Dial(0, cn.PathTo(sn), 0, serverPort, engine.Config{}, q, net.Now())
			if err != nil {
				t.Fatal(err)
			}
			as[i], weaks[i] = a, weak.Make(a)
		}
		net.RunFor(time.Second)
		// Every heartbeat due at once: one flush for all of them.
		cn.Host.HandleTimeout(net.Now().Add(2 * time.Minute))
		for _, a := range as {
			a.Abort(net.Now())
		}
		net.RunFor(time.Second)
	}()
	runtime.GC()
	runtime.GC()
	kept := 0
	for _, w := range weaks {
		if w.Value() != nil {
			kept++
		}
	}
	if kept > 0 {
		t.Fatalf("%d of %d closed associations still reachable", kept, n)
	}
	runtime.KeepAlive(cn)
}

// TestIdleAssociationGivesBurstBack: the outstanding-chunk array a burst
// grew stays while the association is busy and goes once it is idle (at
// its next heartbeat).
func TestIdleAssociationGivesBurstBack(t *testing.T) {
	l := newLab(t, 11, link.Native, engine.Config{})
	a, _ := l.up(engine.Config{NoDelay: true})
	for i := 0; i < 2000; i++ {
		if err := a.Send(l.net.Now(), []byte("burst"), engine.SndInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	l.net.RunFor(time.Second)
	if a.Status().Unacked != 0 {
		t.Fatalf("%d chunks still outstanding", a.Status().Unacked)
	}
	busy := a.OutstandingSlots()
	if busy <= 64 {
		t.Fatalf("the burst grew the array to only %d slots", busy)
	}
	l.net.RunFor(2 * time.Minute)
	if n := a.OutstandingSlots(); n > 64 {
		t.Fatalf("idle for 2 min, the association keeps %d slots (%d after the burst)", n, busy)
	}
}
