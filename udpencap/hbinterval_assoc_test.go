package udpencap

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/clock/clocktest"
	"github.com/sctpgw/sctpgw/internal/stackhost"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// nativeLook presents a UDP link to the engine as a native one (no UDP
// header in the overhead, no encapsulation port in paths), sending
// everything to the peer's fixed UDP port: the engine's choice of defaults
// by link kind is then compared over the same sockets.
type nativeLook struct {
	*Link
	peerPort uint16
}

func (n *nativeLook) Kind() link.Kind { return link.Native }

func (n *nativeLook) Overhead(remote netip.Addr) int { return link.IPOverhead(remote) }

func (n *nativeLook) ReadBatch(pkts []link.Packet) (int, error) {
	k, err := n.Link.ReadBatch(pkts)
	for i := range k {
		pkts[i].Path.RemotePort = 0
	}
	return k, err
}

func (n *nativeLook) WriteBatch(pkts []link.Packet) (int, error) {
	for i := range pkts {
		pkts[i].Path.RemotePort = n.peerPort
	}
	return n.Link.WriteBatch(pkts)
}

// hbTap records when (on the fake clock) a stack sends each HEARTBEAT.
type hbTap struct {
	clk *clocktest.Fake
	mu  sync.Mutex
	at  []time.Time
}

func (h *hbTap) tap(in bool, _ int, _ link.Path, pkt []byte) {
	if in {
		return
	}
	var p wire.Packet
	if p.UnmarshalUnverified(slices.Clone(pkt)) != nil {
		return
	}
	for _, c := range p.Chunks {
		if c.Type == wire.TypeHeartbeat {
			h.mu.Lock()
			h.at = append(h.at, h.clk.Now())
			h.mu.Unlock()
			return
		}
	}
}

// firstAfter is the first HEARTBEAT sent after start. The side that
// accepted an association also sends one at COMM_UP to measure its RTT
// (engine: probeRTT), which is not the periodic heartbeat timed here.
func (h *hbTap) firstAfter(start time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, at := range h.at {
		if at.After(start) {
			return at, true
		}
	}
	return time.Time{}, false
}

// countAt is how many HEARTBEATs were sent at t.
func (h *hbTap) countAt(t time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, at := range h.at {
		if at.Equal(t) {
			n++
		}
	}
	return n
}

// nextDeadline is the earliest timer of the stacks, read under their locks.
func nextDeadline(t *testing.T, ss ...*stack.Stack) (time.Time, bool) {
	var next time.Time
	for _, s := range ss {
		err := stackhost.Do(s, func(h *engine.Host, _ time.Time) {
			if d, ok := h.NextDeadline(); ok && (next.IsZero() || d.Before(next)) {
				next = d
			}
		})
		if err != nil {
			t.Fatalf("stackhost.Do: %v", err)
		}
	}
	return next, !next.IsZero()
}

// TestAssocHeartbeatIntervalDefault: on an idle association with no
// HB.interval set, the first HEARTBEAT on an encapsulated path goes out
// DefaultHBIntervalUDP (15 s: draft-tuexen-tsvwg-sctp-udp-encaps-cons
// section 5, short enough for common UDP NAT timeouts) plus the RTO, with
// the RTO's +/- 50% jitter, after COMM_UP (RFC 9260 8.3); on a native path
// the same settings give the RFC 9260 section 16 default of 30 s. Each end's
// first HEARTBEAT must fall in [up + interval + RTO/2, up + interval +
// 3 RTO/2), with the RTO each end had at COMM_UP, and none before.
//
// Time is a fake clock advanced from one engine deadline to the next, while
// the packets cross real UDP sockets on loopback: the handshake takes no
// virtual time, so the RTO is RTO.Min.
func TestAssocHeartbeatIntervalDefault(t *testing.T) {
	for _, c := range []struct {
		name   string
		native bool
		want   time.Duration
	}{
		{"udp", false, engine.DefaultHBIntervalUDP},
		{"native", true, engine.DefaultHBInterval},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Time moves only when the test says, so a heartbeat due after
			// 15 s of idleness is reached at once, at an exact virtual
			// time, while the packets still cross real sockets. The
			// stack arms its timer with ResetAt (stack.TimerAt), so a
			// deadline it computed before the test's Set is not late.
			clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			la, lb := listenT(t, ephemeral("127.0.0.1")), listenT(t, ephemeral("127.0.0.1"))
			var links [2]link.Link = [2]link.Link{la, lb}
			if c.native {
				links = [2]link.Link{&nativeLook{la, lb.LocalPort()}, &nativeLook{lb, la.LocalPort()}}
			}
			var taps [2]*hbTap
			var stacks [2]*stack.Stack
			for i := range stacks {
				taps[i] = &hbTap{clk: clk}
				// No timer slack: the clock is moved to each engine deadline
				// exactly, and a stack rounding its wake-up to the next 10 ms
				// would wait for a time that never comes.
				s, err := stack.New(stack.Config{Links: []link.Link{links[i]}, Clock: clk, Tap: taps[i].tap, TimerSlack: -1})
				if err != nil {
					t.Fatalf("stack.New: %v", err)
				}
				t.Cleanup(func() { s.Close("test over") })
				stacks[i] = s
			}
			opts := stack.Options{} // every default, HB.interval included
			ln := listenS(t, stacks[1], portS1AP, opts)
			ctx := testlab.Ctx(t, 30*time.Second)
			p := link.Path{Remote: lo4, RemotePort: lb.LocalPort()}
			if c.native {
				p.RemotePort = 0
			}
			cli, srv := testlab.DialAccept(t, ctx, stacks[0], p, 0, portS1AP, opts, ln)
			up := clk.Now()
			rtos := [2]time.Duration{cli.Status().Primary.RTO, srv.Status().Primary.RTO}
			for i, r := range rtos {
				if r != engine.DefaultRTOMin {
					t.Fatalf("end %d: RTO %v at COMM_UP, want RTO.Min %v (no virtual time passed)", i, r, engine.DefaultRTOMin)
				}
			}
			if kind := srv.Status().Primary.Path.RemotePort != 0; kind == c.native {
				t.Fatalf("server path %v: not the link kind under test", srv.Status().Primary.Path)
			}

			limit := up.Add(c.want + 2*max(rtos[0], rtos[1]))
			for {
				_, ok0 := taps[0].firstAfter(up)
				_, ok1 := taps[1].firstAfter(up)
				if ok0 && ok1 {
					break
				}
				d, ok := nextDeadline(t, stacks[:]...)
				if !ok || d.After(limit) {
					t.Fatalf("no HEARTBEAT from both ends by %v after COMM_UP (next deadline %v)", limit.Sub(up), d.Sub(up))
				}
				clk.Set(d)
				// Wait until the stacks have run the timers due at d.
				wall := time.Now()
				for {
					n, ok := nextDeadline(t, stacks[:]...)
					if !ok || n.After(d) {
						break
					}
					if time.Since(wall) > 5*time.Second {
						t.Fatalf("the stacks did not run their timers due at %v", d.Sub(up))
					}
					time.Sleep(time.Millisecond)
				}
			}
			if c, s := taps[0].countAt(up), taps[1].countAt(up); c != 0 || s != 1 {
				t.Errorf("HEARTBEATs at COMM_UP: client %d, server %d; want only the server's RTT probe", c, s)
			}
			for i, name := range []string{"client", "server"} {
				at, _ := taps[i].firstAfter(up)
				lo, hi := up.Add(c.want+rtos[i]/2), up.Add(c.want+rtos[i]+rtos[i]/2)
				t.Logf("%s: first HEARTBEAT %v after COMM_UP", name, at.Sub(up))
				if at.Before(lo) || !at.Before(hi) {
					t.Errorf("%s: first HEARTBEAT %v after COMM_UP, want in [%v, %v): HB.interval %v + RTO %v +/- 50%%",
						name, at.Sub(up), lo.Sub(up), hi.Sub(up), c.want, rtos[i])
				}
			}
			testlab.WantEstablished(t, "after the heartbeats", cli, srv)
		})
	}
}
