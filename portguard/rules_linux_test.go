//go:build linux

package portguard

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// These tests need no kernel SCTP: the rule's job is to drop SCTP packets
// leaving from a guarded port without our mark, whoever sends them, and a
// raw socket without the mark stands in for the kernel's control socket.

// twoNS is namespaces a (198.18.0.1, 2001:2::1) and b (.2, ::2) joined by a
// veth pair, deleted when the test ends.
func twoNS(tb testing.TB) (a, b string) {
	tb.Helper()
	testlab.NeedRoot(tb, "the test creates network namespaces and nftables tables and opens raw sockets")
	testlab.NeedTools(tb, "ip", "nft")
	base := testlab.NSName("sgwg")
	a, b = base+"-a", base+"-b"
	testlab.AddNS(tb, a)
	testlab.AddNS(tb, b)
	testlab.Cmd(tb, true, "ip", "-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b)
	for _, c := range []struct{ ns, dev, v4, v6 string }{
		{a, "va", "198.18.0.1/24", "2001:2::1/64"},
		{b, "vb", "198.18.0.2/24", "2001:2::2/64"},
	} {
		testlab.Cmd(tb, true, "ip", "-n", c.ns, "addr", "add", c.v4, "dev", c.dev)
		testlab.Cmd(tb, true, "ip", "-n", c.ns, "-6", "addr", "add", c.v6, "dev", c.dev, "nodad")
		testlab.Cmd(tb, true, "ip", "-n", c.ns, "link", "set", c.dev, "up")
	}
	return a, b
}

func nsFD(tb testing.TB, ns string) int {
	tb.Helper()
	fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return fd
}

func listenIn(tb testing.TB, ns string, cfg rawip.Config) *rawip.Link {
	tb.Helper()
	var l *rawip.Link
	if err := testlab.InNS(ns, func() (err error) { l, err = rawip.Listen(cfg); return err }); err != nil {
		tb.Fatalf("rawip.Listen in %s: %v", ns, err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// probe is an SCTP packet from port src whose verification tag names it.
func probe(src uint16, tag uint32) []byte {
	return wire.AppendPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: 9, VerificationTag: tag},
		&wire.Abort{})
}

type wireLab struct {
	tb            testing.TB
	marked, plain *rawip.Link // senders in a
	recv          *rawip.Link // receiver in b
	dst4, dst6    netip.Addr
	nextTag       uint32
	bufs          []link.Packet
}

func newWireLab(tb testing.TB, a, b string, mark uint32) *wireLab {
	w := &wireLab{tb: tb, dst4: netip.MustParseAddr("198.18.0.2"), dst6: netip.MustParseAddr("2001:2::2"), nextTag: 1}
	w.marked = listenIn(tb, a, rawip.Config{Ports: []uint16{1}, Mark: mark})
	w.plain = listenIn(tb, a, rawip.Config{Ports: []uint16{1}})
	w.recv = listenIn(tb, b, rawip.Config{Ports: []uint16{9}})
	// A reader stuck on a packet that never comes fails the test instead
	// of hanging it.
	t := time.AfterFunc(30*time.Second, func() { w.recv.Close() })
	tb.Cleanup(func() { t.Stop() })
	w.bufs = make([]link.Packet, 8)
	for i := range w.bufs {
		w.bufs[i].Buf = make([]byte, link.MaxPacket)
	}
	return w
}

// passes sends one probe from port src on l to dst and reports whether b
// received it. A marker that always passes (marked, from an unguarded
// port) follows; the veth keeps order, so seeing the marker first means
// the probe was dropped, with no timeout involved.
func (w *wireLab) passes(l *rawip.Link, dst netip.Addr, src uint16) bool {
	w.tb.Helper()
	tag, marker := w.nextTag, w.nextTag+1
	w.nextTag += 2
	// A packet dropped in the output hook fails its send with EPERM; the
	// receiver must not see it either.
	_, err := l.WriteBatch([]link.Packet{{Path: link.Path{Remote: dst}, Buf: probe(src, tag)}})
	refused := errors.Is(err, unix.EPERM)
	if err != nil && !refused {
		w.tb.Fatalf("send from %d to %v: %v", src, dst, err)
	}
	if n, err := w.marked.WriteBatch([]link.Packet{{Path: link.Path{Remote: dst}, Buf: probe(7, marker)}}); err != nil || n != 1 {
		w.tb.Fatalf("send the marker to %v: %d, %v", dst, n, err)
	}
	seen := false
	for {
		n, err := w.recv.ReadBatch(w.bufs)
		if err != nil {
			w.tb.Fatalf("receive: %v", err)
		}
		for _, p := range w.bufs[:n] {
			if p.Notice != link.NoticeNone || len(p.Buf) < 12 {
				continue
			}
			switch got := uint32(p.Buf[4])<<24 | uint32(p.Buf[5])<<16 | uint32(p.Buf[6])<<8 | uint32(p.Buf[7]); got {
			case tag:
				seen = true
			case marker:
				if seen && refused {
					w.tb.Errorf("from %d to %v: the send failed with EPERM, yet the packet arrived", src, dst)
				}
				return seen
			}
		}
	}
}

func TestRulesDropUnmarkedFromGuardedPortsOnly(t *testing.T) {
	a, b := twoNS(t)
	const mark = 0x5c7
	r, err := InstallRules(RulesConfig{Table: "sctpgwtest", Mark: mark, NetNS: nsFD(t, a)}, []uint16{36412, 38412})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Remove()
	w := newWireLab(t, a, b, mark)
	for _, dst := range []netip.Addr{w.dst4, w.dst6} {
		if w.passes(w.plain, dst, 36412) {
			t.Errorf("%v: unmarked packet from guarded port 36412 passed", dst)
		}
		if !w.passes(w.marked, dst, 36412) {
			t.Errorf("%v: marked packet from guarded port 36412 dropped", dst)
		}
		if !w.passes(w.plain, dst, 5000) {
			t.Errorf("%v: unmarked packet from unguarded port 5000 dropped", dst)
		}
	}
	if n, err := r.Dropped(); err != nil || n != 2 {
		t.Errorf("Dropped: %d, %v; want 2 (one per family)", n, err)
	}
	// A port taken into use later (a dialled association), then released.
	if err := r.SetPort(5000, true); err != nil {
		t.Fatal(err)
	}
	if w.passes(w.plain, w.dst4, 5000) {
		t.Error("unmarked packet from port 5000 passed once it was guarded")
	}
	if err := r.SetPort(5000, false); err != nil {
		t.Fatal(err)
	}
	if !w.passes(w.plain, w.dst4, 5000) {
		t.Error("unmarked packet from port 5000 dropped after it was released")
	}
	if err := r.Remove(); err != nil {
		t.Fatal(err)
	}
	if !w.passes(w.plain, w.dst4, 36412) {
		t.Error("unmarked packet from 36412 dropped after Remove")
	}
	if out := testlab.Cmd(t, true, "ip", "netns", "exec", a, "nft", "list", "tables"); strings.Contains(out, "sctpgwtest") {
		t.Errorf("table still there after Remove:\n%s", out)
	}
}

// nft reads the table back as the rule String says it is: what the log
// tells an operator is what the kernel holds.
func TestRulesAsNftListsThem(t *testing.T) {
	a, _ := twoNS(t)
	r, err := InstallRules(RulesConfig{NetNS: nsFD(t, a)}, []uint16{38412, 36412})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Remove()
	out := testlab.Cmd(t, true, "ip", "netns", "exec", a, "nft", "list", "table", "inet", DefaultTable)
	for _, want := range []string{
		"table inet sctpgw",
		"set ports", "type inet_service", "elements = { 36412, 38412 }",
		"chain output", "type filter hook output priority raw; policy accept;",
		// nft leaves out "meta l4proto sctp": "sctp sport" implies it.
		"sctp sport @ports meta mark != 0x000005c7 counter packets 0 bytes 0 drop",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("nft list lacks %q:\n%s", want, out)
		}
	}
	s := r.String()
	for _, want := range []string{"table inet sctpgw", "elements = { 36412, 38412 }", "meta l4proto sctp sctp sport @ports meta mark != 0x5c7 counter drop"} {
		if !strings.Contains(s, want) {
			t.Errorf("String %q lacks %q", s, want)
		}
	}
}

// A table left by a daemon that was killed is replaced, not added to.
func TestRulesReplaceALeftoverTable(t *testing.T) {
	a, _ := twoNS(t)
	fd := nsFD(t, a)
	old, err := InstallRules(RulesConfig{NetNS: fd}, []uint16{1111})
	if err != nil {
		t.Fatal(err)
	}
	_ = old // never removed: the daemon "died"
	r, err := InstallRules(RulesConfig{NetNS: fd}, []uint16{2222})
	if err != nil {
		t.Fatalf("second install over a leftover: %v", err)
	}
	defer r.Remove()
	out := testlab.Cmd(t, true, "ip", "netns", "exec", a, "nft", "list", "ruleset")
	if strings.Count(out, "table inet sctpgw") != 1 || strings.Contains(out, "1111") || !strings.Contains(out, "2222") {
		t.Errorf("want one table with the new port only:\n%s", out)
	}
	if strings.Count(out, "counter packets") != 1 {
		t.Errorf("want one rule:\n%s", out)
	}
}

// Two daemons in one namespace (an edge and a core on one host) each have
// their own table: each drops for its own ports, and removing one leaves
// the other in force.
func TestRulesOfTwoDaemonsCoexist(t *testing.T) {
	a, b := twoNS(t)
	fd := nsFD(t, a)
	edge, err := InstallRules(RulesConfig{Table: "sctpgw_100", NetNS: fd}, []uint16{36412})
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Remove()
	core, err := InstallRules(RulesConfig{Table: "sctpgw_200", NetNS: fd}, []uint16{50000})
	if err != nil {
		t.Fatal(err)
	}
	defer core.Remove()
	if others, err := core.Others(); err != nil || !slices.Contains(others, "sctpgw_100") {
		t.Errorf("Others: %v, %v", others, err)
	}
	w := newWireLab(t, a, b, DefaultMark)
	for _, port := range []uint16{36412, 50000} {
		if w.passes(w.plain, w.dst4, port) {
			t.Errorf("both installed: unmarked from %d passed", port)
		}
	}
	if err := edge.Remove(); err != nil {
		t.Fatal(err)
	}
	if !w.passes(w.plain, w.dst4, 36412) || w.passes(w.plain, w.dst4, 50000) {
		t.Error("after the edge's table went: want 36412 open and 50000 still guarded")
	}
}
