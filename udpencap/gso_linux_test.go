//go:build linux

package udpencap

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

func TestGSORun(t *testing.T) {
	p1 := link.Path{Remote: lo4, RemotePort: 1}
	p2 := link.Path{Remote: lo4, RemotePort: 2}
	pk := func(p link.Path, n int) link.Packet { return link.Packet{Path: p, Buf: make([]byte, n)} }
	many := make([]link.Packet, 100)
	for i := range many {
		many[i] = pk(p1, 1000)
	}
	frag := pk(p1, 1000)
	frag.Fragment = true
	for _, c := range []struct {
		name string
		pkts []link.Packet
		i    int
		want int
	}{
		{"equal", []link.Packet{pk(p1, 1000), pk(p1, 1000), pk(p1, 1000)}, 0, 3},
		{"a shorter last", []link.Packet{pk(p1, 1000), pk(p1, 1000), pk(p1, 300), pk(p1, 1000)}, 0, 3},
		{"a larger one ends it", []link.Packet{pk(p1, 500), pk(p1, 500), pk(p1, 600)}, 0, 2},
		{"another path ends it", []link.Packet{pk(p1, 1000), pk(p1, 1000), pk(p2, 1000)}, 0, 2},
		{"a fragment ends it", []link.Packet{pk(p1, 1000), frag, pk(p1, 1000)}, 0, 1},
		{"a fragment goes alone", []link.Packet{frag, pk(p1, 1000)}, 0, 1},
		{"from the middle", []link.Packet{pk(p2, 10), pk(p1, 1000), pk(p1, 1000)}, 1, 2},
		{"at most gsoMaxSegs", many, 0, gsoMaxSegs},
		{"at most gsoMaxBytes", []link.Packet{pk(p1, 30000), pk(p1, 30000), pk(p1, 30000)}, 0, 2},
	} {
		if got := gsoRun(c.pkts, c.i); got != c.want {
			t.Errorf("%s: gsoRun %d, want %d", c.name, got, c.want)
		}
	}
}

// sendMixed sends, in one WriteBatch from a to the links in to, runs of
// equal packets, shorter packets that end runs and packets to another
// link, and checks that every one arrives intact, in order per receiver,
// with the kernel's receive time (a GRO segment its datagram's).
func sendMixed(t *testing.T, a *Link, to []*Link, paths []link.Path) {
	t.Helper()
	pumps := make([]*pump, len(to))
	for i, l := range to {
		pumps[i] = startPump(t, l)
	}
	src := a.LocalPort()
	var batch []link.Packet
	sizes := map[uint32]int{}
	var order [2][]uint32
	seq := uint32(1)
	add := func(dst, size int) {
		buf := dataPacket(make([]byte, 0, 2048), src, uint16(5000+dst), seq, size)
		batch = append(batch, link.Packet{Path: paths[dst], Buf: buf})
		sizes[seq] = size
		order[dst] = append(order[dst], seq)
		seq++
	}
	for range 3 {
		for range 20 {
			add(0, 1000)
		}
		add(0, 400) // ends a run
		for range 5 {
			add(1, 1000)
		}
		add(0, 1000)
		add(0, 1000)
	}
	before := time.Now().UnixNano()
	n, err := a.WriteBatch(batch)
	if err != nil || n != len(batch) {
		t.Fatalf("WriteBatch: %d of %d, %v", n, len(batch), err)
	}
	for dst := range to {
		for _, want := range order[dst] {
			p, ok := pumps[dst].next(10*time.Second, func(p *link.Packet) bool { return p.Notice == link.NoticeNone })
			if !ok {
				t.Fatalf("receiver %d: packet %d never arrived", dst, want)
			}
			got, err := checkData(p.Buf, src, uint16(5000+dst), sizes[want])
			if err != nil || got != want {
				t.Fatalf("receiver %d: got packet %d (%v), want %d", dst, got, err, want)
			}
			if now := time.Now().UnixNano(); p.Arrived < before || p.Arrived > now {
				t.Fatalf("receiver %d: packet %d arrived at %d, want between %d and %d", dst, got, p.Arrived, before, now)
			}
		}
	}
}

// TestLoopbackGSO: equal packets to one peer leave as UDP GSO
// super-datagrams (Stats.TxGSO), and everything arrives as the datagrams
// it was: intact, in order, runs cut where a packet is shorter or goes
// elsewhere.
func TestLoopbackGSO(t *testing.T) {
	ca := ephemeral("127.0.0.1")
	ca.GSO = true
	a := listenT(t, ca)
	b, c := listenT(t, ephemeral("127.0.0.1")), listenT(t, ephemeral("127.0.0.1"))
	if !a.io.(*batchIO).gso.Load() {
		testlab.Missing(t, "the kernel refused UDP_SEGMENT (Linux 4.18 has it)")
		return
	}
	sendMixed(t, a, []*Link{b, c}, []link.Path{{Remote: lo4, RemotePort: b.LocalPort()}, {Remote: lo4, RemotePort: c.LocalPort()}})
	st := a.Stats()
	if st.TxGSO < 60 || st.TxGSOOff != 0 {
		t.Fatalf("stats %+v: want runs of equal packets sent as GSO super-datagrams", st)
	}
	t.Logf("%d of %d datagrams sent as GSO segments", st.TxGSO, st.TxPackets)
}

// TestGSOOverMTU: a super-datagram whose segments exceed the route's MTU
// is refused by the kernel without the local error carrying the MTU that
// the engine's path MTU discovery needs: the link sends the packets one
// datagram each, so the caller sees EMSGSIZE for the first and the reader
// a NoticeFragNeeded with the MTU; GSO stays on for the packets that fit.
func TestGSOOverMTU(t *testing.T) {
	r := testlab.NewRouter(t, "sgwgso", testlab.RouterNets{ClientV4: "198.18.41", ServerV4: "198.18.42", ServerRoute: true})
	testlab.Cmd(t, true, "ip", "-n", r.C, "link", "set", "c0", "mtu", "900")
	cli, srv := netip.MustParseAddr("198.18.41.2"), netip.MustParseAddr("198.18.42.2")
	a := listenIn(t, r.C, Config{Addr: netip.AddrPortFrom(cli, 0), EphemeralPort: true, GSO: true})
	b := listenIn(t, r.S, Config{Addr: netip.AddrPortFrom(srv, 0), EphemeralPort: true})
	if !a.io.(*batchIO).gso.Load() {
		testlab.Missing(t, "the kernel refused UDP_SEGMENT (Linux 4.18 has it)")
		return
	}
	pa := startPump(t, a)
	to := link.Path{Remote: srv, RemotePort: b.LocalPort()}
	batch := make([]link.Packet, 10)
	for i := range batch {
		batch[i] = link.Packet{Path: to, Buf: dataPacket(nil, a.LocalPort(), 5000, uint32(i), 1000)}
	}
	n, err := a.WriteBatch(batch)
	if n != 0 || !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("WriteBatch of packets over the MTU: %d sent, %v; want 0 and EMSGSIZE", n, err)
	}
	if _, ok := pa.next(5*time.Second, func(p *link.Packet) bool { return p.Notice == link.NoticeFragNeeded && p.MTU == 900 }); !ok {
		t.Fatal("no NoticeFragNeeded with MTU 900")
	}
	if !a.io.(*batchIO).gso.Load() {
		t.Fatal("GSO turned off by a packet over the MTU")
	}
	pb := startPump(t, b)
	for i := range batch {
		batch[i].Buf = dataPacket(nil, a.LocalPort(), 5000, uint32(i), 700)
	}
	if n, err := a.WriteBatch(batch); n != len(batch) || err != nil {
		t.Fatalf("WriteBatch of packets that fit: %d of %d, %v", n, len(batch), err)
	}
	for i := range batch {
		p, ok := pb.next(5*time.Second, nil)
		if !ok {
			t.Fatalf("packet %d never arrived", i)
		}
		if got, err := checkData(p.Buf, a.LocalPort(), 5000, 700); err != nil || got != uint32(i) {
			t.Fatalf("got packet %d (%v), want %d", got, err, i)
		}
	}
	if st := a.Stats(); st.TxGSO != uint64(len(batch)) {
		t.Fatalf("stats %+v: the packets that fit did not go as one super-datagram", st)
	}
}

// TestGSORefusedTurnsItOff: EIO or EOPNOTSUPP for a super-datagram (a
// device that cannot checksum it, a kernel without the feature) turns GSO
// off for good, counted once; EINVAL or EMSGSIZE (a segment over the MTU)
// does not.
func TestGSORefusedTurnsItOff(t *testing.T) {
	b := &batchIO{stats: &counters{}}
	b.gso.Store(true)
	for _, e := range []unix.Errno{unix.EINVAL, unix.EMSGSIZE} {
		if !b.gsoRefused(e) || !b.gso.Load() {
			t.Fatalf("%v: want a retry one datagram each, GSO still on", e)
		}
	}
	if b.gsoRefused(unix.ECONNREFUSED) {
		t.Fatal("ECONNREFUSED taken for a GSO refusal")
	}
	for range 2 {
		if !b.gsoRefused(unix.EIO) || b.gso.Load() {
			t.Fatal("EIO: want a retry and GSO off")
		}
	}
	if n := b.stats.txGSOOff.Load(); n != 1 {
		t.Fatalf("TxGSOOff %d, want 1", n)
	}
}

// TestGSOOff: without Config.GSO every packet is a datagram of its own.
func TestGSOOff(t *testing.T) {
	a := listenT(t, ephemeral("127.0.0.1"))
	b, c := listenT(t, ephemeral("127.0.0.1")), listenT(t, ephemeral("127.0.0.1"))
	sendMixed(t, a, []*Link{b, c}, []link.Path{{Remote: lo4, RemotePort: b.LocalPort()}, {Remote: lo4, RemotePort: c.LocalPort()}})
	if st := a.Stats(); st.TxGSO != 0 {
		t.Fatalf("stats %+v: GSO used without Config.GSO", st)
	}
}
