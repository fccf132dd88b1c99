//go:build linux

package rawip

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// multiLab is the lab with more addresses in B: 198.18.0.3 and 2001:2::3,
// which B's link serves with 198.18.0.2, and 198.18.0.4, which it does not
// (nor 2001:2::2, its first IPv6 address).
func multiLab(t *testing.T) (lab *lab, served, unserved []netip.Addr) {
	lab = newLab(t)
	testlab.Cmd(t, true, "ip", "-n", lab.b, "addr", "add", "198.18.0.3/24", "dev", "vb")
	testlab.Cmd(t, true, "ip", "-n", lab.b, "addr", "add", "198.18.0.4/24", "dev", "vb")
	testlab.Cmd(t, true, "ip", "-n", lab.b, "-6", "addr", "add", "2001:2::3/64", "dev", "vb", "nodad")
	served = []netip.Addr{addrB, mustAddr("198.18.0.3"), mustAddr("2001:2::3")}
	unserved = []netip.Addr{mustAddr("198.18.0.4"), addrB6}
	return lab, served, unserved
}

// TestMultipleAddrs: a link with several Config.Addrs delivers a packet to
// any of them with that address as Path.Local (what the engine keys the
// association on, and what a reply leaves from), and drops a packet to an
// address of the namespace it was not given, counting it as filtered. A
// reply sent on each received Path arrives from the address the packet was
// sent to.
func TestMultipleAddrs(t *testing.T) {
	lab, served, unserved := multiLab(t)
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	lb := listenIn(t, lab.b, Config{Addrs: served, Ports: []uint16{5002}})
	watchdog(t, la, 20*time.Second)
	watchdog(t, lb, 20*time.Second)
	if got := lb.LocalAddrs(); !slices.Equal(got, served) {
		t.Fatalf("LocalAddrs %v, want %v", got, served)
	}
	from := func(dst netip.Addr) netip.Addr {
		if dst.Is4() {
			return addrA
		}
		return addrA6
	}
	// Per family, each unserved address goes before a served one, so by
	// the time the served packets are read the unserved ones have been.
	order := []netip.Addr{unserved[0], served[0], unserved[1], served[1], served[2]}
	want := map[string]link.Path{}
	for i, dst := range order {
		payload := []byte("to " + dst.String())
		send(t, la, link.Path{Local: from(dst), Remote: dst}, dataPacket(5001, 5002, 0x51, uint32(i), payload))
		if slices.Contains(served, dst) {
			want[string(payload)] = link.Path{Local: dst, Remote: from(dst)}
		}
	}
	pkts := newBufs(len(served))
	var got []link.Packet
	for len(got) < len(served) {
		n, err := lb.ReadBatch(pkts[len(got):])
		if err != nil {
			t.Fatalf("ReadBatch after %d packets: %v", len(got), err)
		}
		got = append(got, pkts[len(got):len(got)+n]...)
	}
	for _, p := range got {
		// After the common and DATA chunk headers, without the padding.
		payload := string(bytes.TrimRight(p.Buf[28:], "\x00"))
		w, ok := want[payload]
		if !ok {
			t.Fatalf("delivered %q on %v: not a packet to a served address", payload, p.Path)
		}
		delete(want, payload)
		if p.Path != w || p.Notice != link.NoticeNone {
			t.Errorf("%q came on %v (notice %v), want %v", payload, p.Path, p.Notice, w)
		}
	}
	// A packet to an unserved address is counted only when B reads it, and
	// may come after the served ones (A resolves each address's MAC on its
	// own, and CPUs may reorder): sentinels to served addresses, one per
	// family, go until both were read (the flake seen under load: 1
	// filtered of 2).
	sentinels := 0
	for i := 0; lb.Stats().Filtered < uint64(len(unserved)) && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		for _, dst := range []netip.Addr{served[0], served[2]} {
			send(t, la, link.Path{Local: from(dst), Remote: dst}, dataPacket(5001, 5002, 0x51, 99, []byte("sentinel")))
			if r := readOne(t, lb); !bytes.HasPrefix(r.Buf[28:], []byte("sentinel")) {
				t.Fatalf("read %q on %v, want a sentinel", r.Buf[28:], r.Path)
			}
			sentinels++
		}
	}
	if st := lb.Stats(); st.Received != uint64(len(served)+sentinels) || st.Filtered != uint64(len(unserved)) {
		t.Errorf("B stats %+v, want %d received and %d filtered", st, len(served)+sentinels, len(unserved))
	}

	// Replies on the received paths: each leaves from the served address
	// it answers, which A sees as the remote.
	for _, p := range got {
		send(t, lb, p.Path, dataPacket(5002, 5001, 0x52, 1, []byte("from "+p.Path.Local.String())))
	}
	back := map[netip.Addr]bool{}
	for range got {
		r := readOne(t, la)
		if want := []byte("from " + r.Path.Remote.String()); !bytes.Equal(bytes.TrimRight(r.Buf[28:], "\x00"), want) {
			t.Errorf("reply %q came from %v", r.Buf[28:], r.Path.Remote)
		}
		back[r.Path.Remote] = true
	}
	for _, a := range served {
		if !back[a] {
			t.Errorf("no reply from %v; replies came from %v", a, back)
		}
	}
}

// tapNode is a stack over one link in a namespace, remembering the path of
// every packet it received.
type tapNode struct {
	link  *Link
	stack *stack.Stack

	mu sync.Mutex
	in []link.Path
}

// tapStackIn starts a stack on a link opened in ns with cfg; the link's
// port filter follows the engine's ports. Cleanup closes the stack, then the
// link.
func tapStackIn(t *testing.T, ns string, cfg Config) *tapNode {
	t.Helper()
	n := &tapNode{link: listenIn(t, ns, cfg)}
	var err error
	n.stack, err = stack.New(stack.Config{
		Links: []link.Link{n.link},
		PortUse: func(_ int, port uint16, on bool) {
			// Only ErrClosed can come back here (the ports are in range),
			// at the end; TestMultipleAddrs covers the filter itself.
			if on {
				_ = n.link.AddPort(port)
			} else {
				_ = n.link.RemovePort(port)
			}
		},
		Tap: func(in bool, _ int, p link.Path, _ []byte) {
			if in {
				n.mu.Lock()
				n.in = append(n.in, p)
				n.mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatalf("stack.New: %v", err)
	}
	t.Cleanup(func() { n.stack.Close("test over") })
	return n
}

// received counts the packets received on a path that f picks.
func (n *tapNode) received(f func(link.Path) bool) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, p := range n.in {
		if f(p) {
			k++
		}
	}
	return k
}

func toLocal(a netip.Addr) func(link.Path) bool {
	return func(p link.Path) bool { return p.Local == a }
}
func fromRemote(a netip.Addr) func(link.Path) bool {
	return func(p link.Path) bool { return p.Remote == a }
}

// TestMultipleAddrsAssoc: through the engine, an association dialled to
// each served address is accepted with that address as its local one and
// carries a message, and a dial to an address of the namespace the link does
// not serve gets no answer at all: the INIT never reaches the engine, so
// neither an INIT ACK nor an ABORT comes back, and the dial gives up after
// its INIT attempts.
func TestMultipleAddrsAssoc(t *testing.T) {
	lab, served, unserved := multiLab(t)
	client := tapStackIn(t, lab.a, Config{})
	server := tapStackIn(t, lab.b, Config{Addrs: served, Ports: []uint16{fsPortS1AP}})
	ln, err := server.stack.Listen(fsPortS1AP, fsOpts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testlab.Ctx(t, 30*time.Second)
	srcFor := func(dst netip.Addr) netip.Addr {
		if dst.Is4() {
			return addrA
		}
		return addrA6
	}
	for _, dst := range served {
		src := srcFor(dst)
		c, s := testlab.DialAccept(t, ctx, client.stack, link.Path{Local: src, Remote: dst}, 0, fsPortS1AP, fsOpts, ln)
		if got := s.Status().Primary.Path; got.Local != dst || got.Remote != src {
			t.Errorf("dialled %v: the server's association is on %v, want %v -> %v", dst, got, dst, src)
		}
		if got := c.Status().Primary.Path; got.Local != src || got.Remote != dst {
			t.Errorf("dialled %v: the client's association is on %v, want %v -> %v", dst, got, src, dst)
		}
		if err := c.SendMsg(ctx, []byte("to "+dst.String()), stack.SndInfo{PPID: 18}); err != nil {
			t.Fatal(err)
		}
		if m, err := s.RecvMsg(ctx); err != nil || string(m.Data) != "to "+dst.String() {
			t.Fatalf("dialled %v: the server received %q, %v", dst, m.Data, err)
		}
		if server.received(toLocal(dst)) == 0 {
			t.Errorf("the server engine saw no packet to %v", dst)
		}
	}
	opts := fsOpts
	opts.InitMsg.MaxAttempts = 2
	for _, dst := range unserved {
		_, err := client.stack.Dial(ctx, 0, link.Path{Local: srcFor(dst), Remote: dst}, 0, fsPortS1AP, opts)
		var ae *stack.AssocError
		if !errors.As(err, &ae) || ae.Event.Type != engine.CantStartAssoc {
			t.Errorf("dial to unserved %v: %v, want CANT_START_ASSOC after %d INITs", dst, err, opts.InitMsg.MaxAttempts)
		}
		if n := server.received(toLocal(dst)); n != 0 {
			t.Errorf("the server engine got %d packets to unserved %v", n, dst)
		}
		if n := client.received(fromRemote(dst)); n != 0 {
			t.Errorf("the client got %d packets from unserved %v, want no answer", n, dst)
		}
	}
	if st := server.link.Stats(); st.Filtered < uint64(len(unserved)*opts.InitMsg.MaxAttempts) {
		t.Errorf("server link stats %+v: want at least %d filtered INITs", st, len(unserved)*opts.InitMsg.MaxAttempts)
	}
}
