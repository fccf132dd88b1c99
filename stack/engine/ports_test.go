package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
)

// portLog records a node's PortUse calls for one port and fails the test on
// a call that does not change the port's state.
type portLog struct {
	t     *testing.T
	calls []string
	open  map[uint16]bool
}

func watchPorts(t *testing.T, l *lab, nd *simNode) *portLog {
	pl := &portLog{t: t, open: map[uint16]bool{}}
	nd.PortUse = func(_ int, port uint16, on bool) {
		at := l.net.Now().Sub(sim.Epoch).Round(time.Second)
		pl.calls = append(pl.calls, fmt.Sprintf("%v:%d@%v", map[bool]string{true: "on", false: "off"}[on], port, at))
		if pl.open[port] == on {
			t.Errorf("PortUse(%d, %v) at %v: the port is already in that state", port, on, at)
		}
		pl.open[port] = on
	}
	return pl
}

// newFilteringLab is newLab on native links that filter by port
// (sim.Iface.FilterPorts), as stack/rawip does.
func newFilteringLab(t *testing.T, seed uint64) *lab {
	t.Helper()
	l := &lab{t: t, net: sim.New(seed)}
	l.cn = l.net.AddMultiNode(sim.Iface{Addr: netipAddr("198.18.0.1"), Kind: link.Native, FilterPorts: true})
	l.sn = l.net.AddMultiNode(sim.Iface{Addr: netipAddr("198.18.0.2"), Kind: link.Native, FilterPorts: true})
	if err := l.sn.Host.Listen(serverPort, engine.Config{}, engine.AcceptFunc(l.accept)); err != nil {
		t.Fatal(err)
	}
	return l
}

// dialFrom dials the lab's server from a fixed local port.
func (l *lab) dialFrom(port uint16, cfg engine.Config) (*engine.Association, *recorder) {
	l.t.Helper()
	rec := &recorder{net: l.net}
	a, err := l.cn.Host.Dial(0, l.cn.PathTo(l.sn), port, serverPort, cfg, rec, l.net.Now())
	if err != nil {
		l.t.Fatal(err)
	}
	rec.assoc = a
	return a, rec
}

// TestPortReusedWhileLingering is issue 13's sequence: port 50000 used and
// ended, used and ended again a minute later, and used a third time just
// after the first use's linger ran out while the second's still runs. The
// port must stay open on the (filtering) link for as long as an
// association uses it, and PortUse hear of it once on and once off.
func TestPortReusedWhileLingering(t *testing.T) {
	const port = 50000
	l := newFilteringLab(t, 130)
	pl := watchPorts(t, l, l.cn)
	start := l.net.Now()
	cycle := func(at time.Duration) (*engine.Association, *recorder) {
		t.Helper()
		l.net.RunFor(start.Add(at).Sub(l.net.Now()))
		a, rec := l.dialFrom(port, engine.Config{})
		if !l.net.RunUntil(func() bool { return rec.has(engine.CommUp) || rec.ended() }, time.Minute) || !rec.has(engine.CommUp) {
			t.Fatalf("association at %v did not come up: %s (PortUse calls %v, %d packets filtered)", at, rec.types(), pl.calls, l.net.Filtered)
		}
		return a, rec
	}
	end := func(a *engine.Association, rec *recorder) {
		t.Helper()
		a.Shutdown(l.net.Now())
		if !l.net.RunUntil(rec.ended, time.Minute) || !rec.has(engine.ShutdownComp) {
			t.Fatalf("shutdown: %s", rec.types())
		}
	}
	end(cycle(0))
	end(cycle(time.Minute))
	a, rec := cycle(5*time.Minute + 2*time.Second)
	// Past both lingers, the association still hears its peer.
	l.net.RunFor(start.Add(7 * time.Minute).Sub(l.net.Now()))
	if !l.cn.Serves(0, port) {
		t.Fatalf("an association uses port %d but the link was told to close it (PortUse calls %v)", port, pl.calls)
	}
	if err := l.srv.assoc.Send(l.net.Now(), []byte("still there"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	l.net.RunFor(time.Second)
	if len(rec.msgs) != 1 {
		t.Fatalf("client got %d messages after 7 min, want 1 (PortUse calls %v)", len(rec.msgs), pl.calls)
	}
	end(a, rec)
	ended := l.net.Now()
	l.net.RunFor(5*time.Minute - time.Second)
	if !l.cn.Serves(0, port) {
		t.Fatalf("port released before its linger ended: %v", pl.calls)
	}
	l.net.RunFor(2 * time.Second)
	if l.cn.Serves(0, port) {
		t.Fatalf("port still served %v after its last association ended: %v", l.net.Now().Sub(ended), pl.calls)
	}
	if len(pl.calls) != 2 {
		t.Fatalf("PortUse calls %v, want one on and one off", pl.calls)
	}
	if _, ok := l.cn.Host.NextDeadline(); ok {
		t.Fatal("timers left after the release")
	}
}
