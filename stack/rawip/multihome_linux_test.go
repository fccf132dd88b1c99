//go:build linux

package rawip

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// The multi-homed lab: namespaces A and B joined by two veth pairs, one
// per network, IPv6 off (so the only addresses usrsctp lists are these).
var (
	mhA = [2]netip.Addr{netip.MustParseAddr("198.18.20.1"), netip.MustParseAddr("198.18.21.1")}
	mhB = [2]netip.Addr{netip.MustParseAddr("198.18.20.2"), netip.MustParseAddr("198.18.21.2")}
)

// mhDevA names A's end of network i's veth; mhDevB B's.
func mhDevA(i int) string { return fmt.Sprintf("mha%d", i) }
func mhDevB(i int) string { return fmt.Sprintf("mhb%d", i) }

func mhNewLab(t *testing.T) *fsLab {
	t.Helper()
	l := fsNamespaces(t)
	for i := range 2 {
		l.veth(t, mhDevA(i), mhA[i], mhDevB(i), mhB[i])
	}
	return l
}

// mhOpts: fsEchoOpts with both of A's addresses listed in the INIT,
// heartbeats every 2 s so that a path comes back soon after its network,
// and RTO.Min above usrsctp's delayed SACK (200 ms), or a path that has
// just taken the traffic times out spuriously (and is potentially failed
// for a round trip).
var mhOpts = func() stack.Options {
	o := fsEchoOpts
	o.LocalAddrs = mhA[:]
	o.PeerAddr.HBInterval = 2 * time.Second
	o.RTO.Min = 400 * time.Millisecond
	o.RTO.Initial = time.Second
	return o
}()

// TestMultihomedUsrsctpFailover: our client in A with two addresses, on two
// networks, against usrsctp's echo_server in B, bound to every address of
// B (so its INIT ACK lists both of B's). Both paths are verified; messages
// go out every 20 ms and come back; in the middle, A's veth of our primary
// network goes down (ip link set ... down). Traffic goes on over the
// other network, every echo arrives whole and once, and when the veth is
// up again the primary path is available again.
//
// Our primary path is B's first address, but the INIT leaves from A's
// second one, so usrsctp's primary path toward us is on the network that
// stays up: echo_server has no potentially-failed state (RFC 7829), and
// moving its own new data off a dead primary takes it Path.Max.Retrans
// backed-off timeouts, minutes, which would measure usrsctp rather than
// us. Its retransmissions do come over the other network meanwhile (6.4).
func TestMultihomedUsrsctpFailover(t *testing.T) {
	bin := fsUsrsctpBin(t, "echo_server")
	lab := mhNewLab(t)
	echo := testlab.Start(t, testlab.ProcOptions{NS: lab.b, Limit: 100 * time.Second}, "stdbuf", "-oL", bin, "0")
	testlab.WaitSCTPListening(t, lab.a, mhA[1], mhB[0], 7, echo)
	var cli *fsNode
	err := testlab.InNS(lab.a, func() error {
		l, err := Listen(Config{Addrs: mhA[:], RecvBuffer: 4 << 20, SendBuffer: 4 << 20})
		if err != nil {
			return err
		}
		cli = &fsNode{ns: lab.a, link: l}
		return nil
	})
	if err != nil {
		t.Fatalf("rawip.Listen in %s: %v", lab.a, err)
	}
	t.Cleanup(func() { cli.link.Close() })
	if cli.stack, err = stack.New(stack.Config{Links: []link.Link{cli.link}, PortUse: cli.portUse}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.stack.Close("test over") })
	ctx := testlab.Ctx(t, 90*time.Second)
	const echoPort = 7
	c, err := cli.stack.DialWith(ctx, 0, link.Path{Local: mhA[1], Remote: mhB[0]}, 0, echoPort,
		stack.DialOptions{Options: mhOpts, PeerAddrs: mhB[1:], EventQueue: 1 << 14})
	if err != nil {
		t.Fatalf("dial echo_server: %v", err)
	}
	allActive := func() bool {
		ps := c.Status().Paths
		for _, p := range ps {
			if p.State != stack.PathActive {
				return false
			}
		}
		return len(ps) == 2
	}
	if !testlab.Poll(10*time.Second, allActive) {
		t.Fatalf("paths %+v: want both of echo_server's addresses, verified", c.Status().Paths)
	}
	mhEchoAcrossCut(t, ctx, c, testlab.SmallFlow|7, func() error { return mhLinkSet(lab.a, mhDevA(0), "down") },
		func() string { return pathsLine(c.Status()) })
	st := c.Status()
	if p := pathTo(st, mhB[0]); p.State == stack.PathActive {
		t.Errorf("the path over the downed veth is %v", p.State)
	}
	if p := pathTo(st, mhB[1]); p.State != stack.PathActive || p.Errors != 0 {
		t.Errorf("the path over the other network: %+v", p)
	}
	t.Logf("after the failover: %s", pathsLine(st))
	testlab.Cmd(t, true, "ip", "-n", lab.a, "link", "set", mhDevA(0), "up")
	if !testlab.Poll(30*time.Second, func() bool { return pathTo(c.Status(), mhB[0]).State == stack.PathActive }) {
		t.Fatalf("the primary path did not come back: %s", pathsLine(c.Status()))
	}
	if err := testlab.EchoFlow(ctx, c, testlab.SmallFlow|8, 16, fsMaxMsg); err != nil {
		t.Fatal(err)
	}
	// B's second address was dialled too (connectx), so confirmed from the
	// start (RFC 9260 5.4 rule 1), and never fails. The primary is
	// potentially failed after the cut (unreachable too once Path.Max.Retrans
	// probes went unanswered, which the cut may not last for), available
	// at the end; a spurious timeout under load may add a spell before.
	changes := addrChanges(c)
	for _, ch := range changes {
		if ch == mhB[1].String()+" ADDR_UNREACHABLE" {
			t.Errorf("PEER_ADDR_CHANGEs %v: the path over the network that stayed up failed", changes)
		}
	}
	if n := len(changes); n < 2 || !strings.HasSuffix(changes[n-1], "ADDR_AVAILABLE") ||
		!strings.HasSuffix(changes[n-2], "ADDR_POTENTIALLY_FAILED") && !strings.HasSuffix(changes[n-2], "ADDR_UNREACHABLE") {
		t.Errorf("PEER_ADDR_CHANGEs %v, want the primary failed, then available", changes)
	}
}

// mhEchoAcrossCut sends 400 messages of flow on c to an echo server, one
// every 20 ms, runs cut after the 100th, and checks that every echo comes
// back whole and once. paths describes the association's paths when it
// fails.
func mhEchoAcrossCut(t *testing.T, ctx context.Context, c *stack.Assoc, flow uint32, cut func() error, paths func() string) {
	t.Helper()
	const n, cutAt, gap = 400, 100, 20 * time.Millisecond
	out, _ := c.Streams()
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if i == cutAt {
				if err := cut(); err != nil {
					sent <- fmt.Errorf("cutting the network: %w", err)
					return
				}
			}
			b, info := testlab.Msg(flow, i, out, fsMaxMsg)
			if err := c.SendMsg(ctx, b, info); err != nil {
				sent <- fmt.Errorf("SendMsg %d: %w", i, err)
				return
			}
			time.Sleep(gap)
		}
		sent <- nil
	}()
	chk := testlab.NewChecker(flow, n, out, fsMaxMsg)
	for !chk.Done() {
		m, err := c.RecvMsg(ctx)
		if err != nil {
			t.Fatalf("%d of %d echoes, then %v (paths %s)", chk.Got(), n, err, paths())
		}
		if err := chk.Check(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// mhLinkSet sets dev in namespace ns up or down.
func mhLinkSet(ns, dev, state string) error {
	if out, err := exec.Command("ip", "-n", ns, "link", "set", dev, state).CombinedOutput(); err != nil {
		return fmt.Errorf("ip -n %s link set %s %s: %v: %s", ns, dev, state, err, out)
	}
	return nil
}

func pathTo(st stack.Status, addr netip.Addr) stack.PathStatus {
	for _, p := range st.Paths {
		if p.Path.Remote == addr {
			return p
		}
	}
	return stack.PathStatus{}
}

func pathsLine(st stack.Status) string {
	var s []string
	for _, p := range st.Paths {
		s = append(s, fmt.Sprintf("%v %v srtt %v errors %d", p.Path, p.State, p.SRTT, p.Errors))
	}
	return strings.Join(s, "; ")
}

// addrChanges lists the PEER_ADDR_CHANGEs queued on x, "ADDR CHANGE"
// (it reads the queue, which EchoFlow leaves alone).
func addrChanges(x *stack.Assoc) []string {
	var r []string
	for {
		select {
		case ev, ok := <-x.Events():
			if !ok {
				return r
			}
			if ev.Type == engine.PeerAddrChange {
				r = append(r, ev.Path.Remote.String()+" "+ev.AddrChange.String())
			}
		default:
			return r
		}
	}
}
