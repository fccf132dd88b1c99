//go:build linux

package rawip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// Helpers of the full-stack tests (assoc_linux_test.go): sctpgw's stack
// (stack.New) over this link, in network namespaces. They are
// self-contained, prefixed fs ("full stack"), so that they depend on no
// other test file of the package: netns_linux_test.go and
// interop_linux_test.go keep their own, which may change independently.

// The full-stack lab: two namespaces, A and B, joined by one veth pair
// (fsDevA in A, fsDevB in B), with addresses from 198.18.0.0/15 (RFC 2544,
// set aside for benchmarking) and IPv6 off.
var (
	fsAddrA = netip.MustParseAddr("198.18.6.1")
	fsAddrB = netip.MustParseAddr("198.18.6.2")
)

const (
	fsDevA = "fsa"
	fsDevB = "fsb"
	// fsPortS1AP is the port our server listens on, as an MME would.
	fsPortS1AP = 36412
	// fsNSPrefix starts the name of every namespace these tests make.
	fsNSPrefix = "sgwn"
)

var fsNSSeq atomic.Uint32

type fsLab struct{ a, b string }

// fsNeedRoot skips a test that needs network namespaces and raw sockets.
func fsNeedRoot(t testing.TB) {
	t.Helper()
	testlab.NeedRoot(t, "CAP_SYS_ADMIN and CAP_NET_ADMIN for network namespaces, CAP_NET_RAW for raw SCTP sockets")
	testlab.NeedTools(t, "ip", "sysctl")
}

// fsNewLab makes the two namespaces (fsNamespaces) and one network
// between them, fsAddrA to fsAddrB.
func fsNewLab(t testing.TB) *fsLab {
	t.Helper()
	l := fsNamespaces(t)
	l.veth(t, fsDevA, fsAddrA, fsDevB, fsAddrB)
	return l
}

// fsNamespaces makes the two namespaces, sgwn-<pid>-<n>-a and -b; they are
// deleted when the test ends, failed or not. IPv6 is disabled in both, so
// that the only addresses are those of the veths added (usrsctp would
// otherwise list the veths' link-local addresses in its INIT).
func fsNamespaces(t testing.TB) *fsLab {
	t.Helper()
	fsNeedRoot(t)
	testlab.SweepStaleNS(t, fsNSPrefix)
	n := fsNSSeq.Add(1)
	l := &fsLab{
		a: fmt.Sprintf("%s-%d-%d-a", fsNSPrefix, os.Getpid(), n),
		b: fmt.Sprintf("%s-%d-%d-b", fsNSPrefix, os.Getpid(), n),
	}
	for _, ns := range []string{l.a, l.b} {
		t.Cleanup(func() { testlab.Cmd(t, false, "ip", "netns", "del", ns) })
		testlab.Cmd(t, true, "ip", "netns", "add", ns)
		testlab.Cmd(t, false, "ip", "netns", "exec", ns, "sysctl", "-qw",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		testlab.Cmd(t, true, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	return l
}

// veth joins A's devA, with address addrA, and B's devB, with addrB, on a
// /24 network of their own.
func (l *fsLab) veth(t testing.TB, devA string, addrA netip.Addr, devB string, addrB netip.Addr) {
	t.Helper()
	testlab.Cmd(t, true, "ip", "-n", l.a, "link", "add", devA, "type", "veth", "peer", "name", devB, "netns", l.b)
	for _, c := range []struct {
		ns, dev string
		addr    netip.Addr
	}{{l.a, devA, addrA}, {l.b, devB, addrB}} {
		testlab.Cmd(t, true, "ip", "-n", c.ns, "addr", "add", c.addr.String()+"/24", "dev", c.dev)
		testlab.Cmd(t, true, "ip", "-n", c.ns, "link", "set", c.dev, "up")
	}
}

// fsNode is one SCTP stack over a native link in a namespace, as the
// gateway builds it: the link's port filter follows the engine's ports
// through stack.Config.PortUse.
type fsNode struct {
	ns    string
	link  *Link
	stack *stack.Stack

	statics []uint16 // ports in Config.Ports

	mu       sync.Mutex
	portLog  []string // "+36412", "-50123", in order
	portErrs []error
}

func (n *fsNode) static(p uint16) bool { return slices.Contains(n.statics, p) }

// fsNewNode opens a link serving addr and ports in namespace ns and starts
// a stack on it. The test's cleanup closes the stack, and with it the link.
func fsNewNode(t testing.TB, ns string, addr netip.Addr, ports ...uint16) *fsNode {
	t.Helper()
	n := &fsNode{ns: ns, statics: ports}
	err := testlab.InNS(ns, func() (err error) {
		n.link, err = Listen(Config{Addrs: []netip.Addr{addr}, Ports: ports, RecvBuffer: 4 << 20, SendBuffer: 4 << 20})
		return err
	})
	if err != nil {
		t.Fatalf("rawip.Listen in %s: %v", ns, err)
	}
	t.Cleanup(func() { n.link.Close() })
	n.stack, err = stack.New(stack.Config{Links: []link.Link{n.link}, PortUse: n.portUse})
	if err != nil {
		t.Fatalf("stack.New: %v", err)
	}
	t.Cleanup(func() { n.stack.Close("test over") })
	return n
}

// portUse is the stack's PortUse hook. It runs under the stack's lock,
// possibly in a cleanup, so it records errors instead of reporting them.
func (n *fsNode) portUse(_ int, port uint16, on bool) {
	var err error
	sign := "+"
	if on {
		err = n.link.AddPort(port)
	} else {
		sign = "-"
		err = n.link.RemovePort(port)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.portLog = append(n.portLog, sign+strconv.Itoa(int(port)))
	if err != nil && !errors.Is(err, link.ErrClosed) {
		n.portErrs = append(n.portErrs, fmt.Errorf("PortUse(%d, %v): %w", port, on, err))
	}
}

// checkPorts fails the test if a PortUse call failed, or the link does not
// serve every port of want, or serves a port nobody ever used. Ports of
// associations that ended stay served while the engine lingers on them (5
// minutes, longer than these tests), so that a retransmitted SHUTDOWN ACK
// still gets its answer (RFC 9260 8.4 rule 5): no port may have been
// removed yet.
func (n *fsNode) checkPorts(t testing.TB, what string, want ...uint16) {
	t.Helper()
	n.mu.Lock()
	errs, log := slices.Clone(n.portErrs), slices.Clone(n.portLog)
	n.mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("%s: %v", what, errors.Join(errs...))
	}
	got := n.link.Ports()
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Fatalf("%s: the link serves ports %v, lacking %d (PortUse calls: %v)", what, got, p, log)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) && !slices.Contains(log, "+"+strconv.Itoa(int(p))) && !n.static(p) {
			t.Fatalf("%s: the link serves port %d that nobody used (PortUse calls: %v)", what, p, log)
		}
	}
	for _, e := range log {
		if strings.HasPrefix(e, "-") {
			t.Fatalf("%s: port %s released before its linger ended (PortUse calls: %v)", what, e[1:], log)
		}
	}
}

// fsOpts: fast retransmission (a packet lost to a full socket buffer costs
// tenths of a second, not seconds), a SACK delay below RTO.Min, no
// heartbeats in the way of packet counts, and 64 streams each way.
var fsOpts = stack.Options{
	InitMsg:    stack.InitMsg{OutStreams: 64},
	NoDelay:    true,
	RTO:        stack.RTOInfo{Initial: 300 * time.Millisecond, Min: 200 * time.Millisecond, Max: 2 * time.Second},
	DelayedAck: engine.DelayedAck{Delay: 50 * time.Millisecond},
	PeerAddr:   engine.PeerAddrParams{HBInterval: time.Hour},
}

// fsMaxMsg is the largest message the tests send: 100 KiB (testlab.Msg:
// every 64th message of a flow).
const fsMaxMsg = 100 << 10

// fsExchange moves n messages each way at once: flow a->b, flow+1 b->a.
func fsExchange(t testing.TB, ctx context.Context, a, b *stack.Assoc, flow uint32, n int) {
	t.Helper()
	atB, atA, err := testlab.Exchange(ctx, a, b, flow, n, fsMaxMsg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n >= 64 && flow&testlab.SmallFlow == 0 && (atB != fsMaxMsg || atA != fsMaxMsg) {
		t.Fatalf("largest messages received: %d and %d bytes, want %d", atB, atA, fsMaxMsg)
	}
}

// fsShutdown closes gracefully from x (testlab.Shutdown), and y's events
// must show SHUTDOWN_COMP.
func fsShutdown(t testing.TB, ctx context.Context, x, y *stack.Assoc) {
	t.Helper()
	if err := testlab.Shutdown(ctx, x, y); err != nil {
		t.Fatal(err)
	}
	if !testlab.SawEvent(y, engine.ShutdownComp) {
		t.Fatal("the peer's events lack SHUTDOWN_COMP")
	}
}

// fsUsrsctpBin is the path of one of Debian's libusrsctp-examples
// programs, or skips the test.
func fsUsrsctpBin(t testing.TB, name string) string {
	t.Helper()
	p := testlab.NeedUsrsctp(t, name)
	testlab.NeedTools(t, "timeout", "stdbuf") // to bound and unbuffer usrsctp's programs
	return p
}

// fsClientAbort decodes the ABORT chunk usrsctp's client prints with
// SCTP_COMM_LOST (", ABORT = 0x06 0x00 ...").
func fsClientAbort(out string) []byte {
	_, rest, ok := strings.Cut(out, ", ABORT =")
	if !ok {
		return nil
	}
	rest, _, _ = strings.Cut(rest, ".")
	var b []byte
	for _, f := range strings.Fields(rest) {
		v, err := strconv.ParseUint(strings.TrimPrefix(f, "0x"), 16, 8)
		if err != nil {
			return nil
		}
		b = append(b, byte(v))
	}
	return b
}
