package engine_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Engine fuzzing (issue 12): arbitrary packets driven into an engine.Host in
// every association state, not only into the parser. Each target builds a
// simulated client and server, brings them to a state, hands the fuzzed
// packets to one host and runs the network on. The fuzzer writes the packet
// (common header and chunks); the harness fixes what a blind attacker could
// not guess but a peer or an on-path one could, according to the control
// byte, so inputs get past the checks that guard the interesting code:
//
//	bit 0  what an attacker on the path knows: the verification tag of the
//	       association (or 0 toward a listener), the cookie of the
//	       handshake (for a COOKIE ECHO with an empty one) and the TSNs
//	       (small ones in DATA and SACK become offsets from those seen)
//	bit 1  keep the fuzzed ports (else the association's / listener's)
//	bit 2  keep the fuzzed checksum (else a correct CRC32c)
//	bit 3  which host of the pair receives, where the target has two
//	bit 4  arrive from another address of the peer's (another UDP port on
//	       a UDP link)
//	bits 5-6  target-specific variant (the SHUTDOWN state, ...)
//	bit 7  a UDP link (else native)
//
// Every packet a host sends in answer must parse, carry a correct
// checksum, fit the path MTU (only a lone DATA or COOKIE ECHO chunk may
// exceed it, marked for IP fragmentation), and the data path's invariants
// must hold; afterwards both hosts must still set up a new association.

const (
	fzRightTag   = 1 << 0
	fzKeepPorts  = 1 << 1
	fzKeepCRC    = 1 << 2
	fzOtherHost  = 1 << 3
	fzOtherAddr  = 1 << 4
	fzVariantSh  = 5
	fzUDP        = 1 << 7
	fzMaxPackets = 3
)

// fuzzRig is a lab brought to a state, with the host that receives the
// fuzzed packets and what it expects of them.
type fuzzRig struct {
	l *lab
	// to receives the fuzzed packets; from is the peer whose packets they
	// pretend to be.
	to, from *sim.Node
	a        *engine.Association // to's association, nil for a listener
	lport    uint16              // to's port
	rport    uint16              // the peer's port
	seen     *onPath
}

// onPath is what an attacker on the path has seen of the lab's traffic:
// the last COOKIE ECHO, and per host the first TSN it sent and the last
// cumulative TSN it acknowledged.
type onPath struct {
	cookie   []byte
	firstTSN map[*sim.Node]uint32
	cumAck   map[*sim.Node]uint32
}

func newFuzzRig(t *testing.T, ctl byte) (*lab, *onPath) {
	kind := link.Native
	if ctl&fzUDP != 0 {
		kind = link.UDP
	}
	l := newLab(t, 12, kind, engine.Config{})
	seen := &onPath{firstTSN: map[*sim.Node]uint32{}, cumAck: map[*sim.Node]uint32{}}
	l.net.Offered = func(_ time.Time, from *sim.Node, fromLink int, p link.Packet) {
		if err := sim.CheckSent(from, fromLink, p, engine.DefaultPathMTU); err != nil {
			t.Fatal(err)
		}
		seen.watch(from, p.Buf)
	}
	return l, seen
}

func (s *onPath) watch(from *sim.Node, b []byte) {
	var pk wire.Packet
	if pk.Unmarshal(b) != nil {
		return
	}
	for _, c := range pk.Chunks {
		switch c.Type {
		case wire.TypeCookieEcho:
			s.cookie = append(s.cookie[:0], c.Value...)
		case wire.TypeData:
			if _, ok := s.firstTSN[from]; !ok && len(c.Value) >= 4 {
				s.firstTSN[from] = binary.BigEndian.Uint32(c.Value)
			}
		case wire.TypeSack:
			if len(c.Value) >= 4 {
				s.cumAck[from] = binary.BigEndian.Uint32(c.Value)
			}
		}
	}
}

// fixUp makes a fuzzed packet to host to what an attacker on the path
// would send: a COOKIE ECHO with an empty cookie leading the packet gets
// the cookie last seen, and small TSNs (below 0x10000) become offsets from
// what the path showed: a DATA chunk's from the cumulative TSN to has
// acknowledged, a SACK's from the first TSN to sent.
func (s *onPath) fixUp(to *sim.Node, b []byte) []byte {
	const hdr = wire.CommonHeaderLen
	if len(b) >= hdr+4 && b[hdr] == byte(wire.TypeCookieEcho) && binary.BigEndian.Uint16(b[hdr+2:]) == 4 && s.cookie != nil {
		rest := append([]byte(nil), b[hdr+4:]...)
		b = append((&wire.CookieEcho{Cookie: s.cookie}).AppendTo(b[:hdr]), rest...)
	}
	var pk wire.Packet
	_ = pk.UnmarshalUnverified(b) // the whole chunks, views into b
	for _, c := range pk.Chunks {
		if len(c.Value) < 4 {
			continue
		}
		v := binary.BigEndian.Uint32(c.Value)
		if v >= 0x10000 {
			continue
		}
		switch c.Type {
		case wire.TypeData:
			binary.BigEndian.PutUint32(c.Value, s.cumAck[to]+v)
		case wire.TypeSack:
			binary.BigEndian.PutUint32(c.Value, s.firstTSN[to]-1+v)
		}
	}
	return b
}

// inject hands the fuzzed packets to r.to as if from r.from, fixed up as ctl
// says.
func (r *fuzzRig) inject(ctl byte, pkts ...[]byte) {
	path := r.to.PathTo(r.from)
	if ctl&fzOtherAddr != 0 {
		if path.RemotePort != 0 {
			path.RemotePort++
		} else {
			path.Remote = netip.MustParseAddr("198.18.0.77")
		}
	}
	tag := uint32(0)
	if r.a != nil {
		tag, _ = r.a.Tags()
	}
	for _, p := range pkts {
		b := make([]byte, max(len(p), wire.CommonHeaderLen))
		copy(b, p)
		if ctl&fzKeepPorts == 0 {
			binary.BigEndian.PutUint16(b[0:2], r.rport)
			binary.BigEndian.PutUint16(b[2:4], r.lport)
		}
		if ctl&fzRightTag != 0 {
			binary.BigEndian.PutUint32(b[4:8], tag)
			b = r.seen.fixUp(r.to, b)
		}
		if ctl&fzKeepCRC == 0 {
			wire.SetChecksum(b)
		}
		r.to.Host.HandlePacket(0, path, b, r.l.net.Now())
	}
}

// settle runs the network on with every node up, checks every association
// and then that both hosts still set up new associations.
func (r *fuzzRig) settle(t *testing.T) {
	l := r.l
	for _, nd := range []*sim.Node{l.cn, l.sn} {
		nd.Down = false
		nd.Imp = sim.Impairments{Delay: time.Millisecond}
	}
	l.deferAccept = false
	for _, req := range l.reqs {
		if req.Association().State() == engine.StateAcceptPending {
			_ = req.Accept(l.net.Now(), &recorder{net: l.net})
		}
	}
	for i := 0; i < 20; i++ {
		l.net.RunFor(time.Second)
		checkAssocs(t, l.cn, l.sn)
	}
	// A new client from a new address and the old client from a new port
	// both come up with the server.
	fresh := l.net.AddNode("198.18.0.3", l.cn.Kind)
	if fresh.Kind == link.UDP {
		fresh.UDPPort = 40003
	}
	for _, nd := range []*sim.Node{fresh, l.cn} {
		rec := &recorder{net: l.net}
		if _, err := nd.Host.Dial(0, nd.PathTo(l.sn), 0, serverPort, engine.Config{}, rec, l.net.Now()); err != nil {
			t.Fatalf("%v cannot dial after the fuzzed input: %v", nd.Addr, err)
		}
		if !l.net.RunUntil(func() bool { return rec.has(engine.CommUp) || rec.ended() }, time.Minute) || !rec.has(engine.CommUp) {
			t.Fatalf("%v: no new association after the fuzzed input: %s", nd.Addr, rec.types())
		}
	}
}

func checkAssocs(t *testing.T, nodes ...*sim.Node) {
	for _, nd := range nodes {
		n := 0
		nd.Host.Associations(func(a *engine.Association) {
			n++
			if err := a.CheckInvariants(); err != nil {
				t.Fatalf("%v %v: %v", nd.Addr, a.State(), err)
			}
		})
		// The fuzzed packets may make at most one association each (a
		// COOKIE ECHO the harness cannot forge makes none).
		if n > 2+fzMaxPackets {
			t.Fatalf("%v holds %d associations", nd.Addr, n)
		}
	}
}

// fuzzPackets cuts the fuzz input into at most fzMaxPackets packets.
func fuzzPackets(p1, p2, p3 []byte) [][]byte {
	var out [][]byte
	for _, p := range [][]byte{p1, p2, p3} {
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}

func sendBurst(t *testing.T, l *lab, a *engine.Association, n int) {
	for i := 0; i < n; i++ {
		size := 1 + (i*997)%3000
		if err := a.Send(l.net.Now(), make([]byte, size), engine.SndInfo{Stream: uint16(i % 2), PPID: 18, Unordered: i%3 == 0}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

// FuzzListener: a listener with no association (CLOSED): INITs, COOKIE
// ECHOs and everything out of the blue.
func FuzzListener(f *testing.F) {
	f.Fuzz(func(t *testing.T, ctl byte, p1, p2, p3 []byte) {
		l, seen := newFuzzRig(t, ctl)
		r := &fuzzRig{l: l, to: l.sn, from: l.cn, lport: serverPort, rport: 4000, seen: seen}
		r.inject(ctl, fuzzPackets(p1, p2, p3)...)
		r.settle(t)
	})
}

// FuzzCookieWait: a client whose INIT is unanswered (COOKIE-WAIT).
func FuzzCookieWait(f *testing.F) {
	f.Fuzz(func(t *testing.T, ctl byte, p1, p2, p3 []byte) {
		l, seen := newFuzzRig(t, ctl)
		l.sn.Down = true
		a, _ := l.dial(engine.Config{})
		l.net.RunFor(10 * time.Millisecond)
		mustState(t, a, engine.StateCookieWait)
		r := &fuzzRig{l: l, to: l.cn, from: l.sn, a: a, lport: a.LocalPort(), rport: serverPort, seen: seen}
		r.inject(ctl, fuzzPackets(p1, p2, p3)...)
		r.settle(t)
	})
}

// FuzzCookieEchoed: a client whose COOKIE ECHO is unanswered
// (COOKIE-ECHOED) and the server holding it (ACCEPT-PENDING, the COOKIE
// ACK withheld), either receiving.
func FuzzCookieEchoed(f *testing.F) {
	f.Fuzz(func(t *testing.T, ctl byte, p1, p2, p3 []byte) {
		l, seen := newFuzzRig(t, ctl)
		l.deferAccept = true
		a, _ := l.dial(engine.Config{})
		if !l.net.RunUntil(func() bool { return len(l.reqs) > 0 }, time.Minute) {
			t.Fatal("no COOKIE ECHO reached the server")
		}
		mustState(t, a, engine.StateCookieEchoed)
		r := &fuzzRig{l: l, to: l.cn, from: l.sn, a: a, lport: a.LocalPort(), rport: serverPort, seen: seen}
		if ctl&fzOtherHost != 0 {
			sa := l.reqs[0].Association()
			mustState(t, sa, engine.StateAcceptPending)
			r = &fuzzRig{l: l, to: l.sn, from: l.cn, a: sa, lport: serverPort, rport: a.LocalPort(), seen: seen}
		}
		r.inject(ctl, fuzzPackets(p1, p2, p3)...)
		r.settle(t)
	})
}

// FuzzEstablished: an association carrying data both ways, with DATA and
// SACKs in flight, either side receiving.
func FuzzEstablished(f *testing.F) {
	f.Fuzz(func(t *testing.T, ctl byte, p1, p2, p3 []byte) {
		l, seen := newFuzzRig(t, ctl)
		a, _ := l.up(engine.Config{})
		l.cn.Imp.Delay, l.sn.Imp.Delay = 10*time.Millisecond, 10*time.Millisecond
		sendBurst(t, l, a, 20)
		sendBurst(t, l, l.srv.assoc, 5)
		l.net.RunFor(15 * time.Millisecond)
		r := fuzzRigFor(l, seen, a, ctl)
		r.inject(ctl, fuzzPackets(p1, p2, p3)...)
		r.settle(t)
	})
}

// FuzzShutdown: the SHUTDOWN states, by the variant bits: SHUTDOWN-PENDING
// (client, data unacknowledged), SHUTDOWN-SENT (client), SHUTDOWN-RECEIVED
// (server, its data unacknowledged), SHUTDOWN-ACK-SENT (server).
func FuzzShutdown(f *testing.F) {
	f.Fuzz(func(t *testing.T, ctl byte, p1, p2, p3 []byte) {
		l, seen := newFuzzRig(t, ctl)
		a, _ := l.up(engine.Config{})
		sa := l.srv.assoc
		l.cn.Imp.Delay, l.sn.Imp.Delay = 10*time.Millisecond, 10*time.Millisecond
		var r *fuzzRig
		switch (ctl >> fzVariantSh) & 3 {
		case 0:
			sendBurst(t, l, a, 10)
			a.Shutdown(l.net.Now())
			mustState(t, a, engine.StateShutdownPending)
			r = fuzzRigFor(l, seen, a, 0)
		case 1:
			a.Shutdown(l.net.Now())
			mustState(t, a, engine.StateShutdownSent)
			r = fuzzRigFor(l, seen, a, 0)
		case 2:
			sendBurst(t, l, sa, 10)
			a.Shutdown(l.net.Now())
			if !l.net.RunUntil(func() bool { return sa.State() == engine.StateShutdownReceived }, time.Second) {
				t.Fatalf("server in %v, want SHUTDOWN-RECEIVED", sa.State())
			}
			r = fuzzRigFor(l, seen, a, fzOtherHost)
		case 3:
			l.cn.Imp.Drop = func(_ *sim.Node, pkt []byte) bool { return len(pkt) > 12 && pkt[12] == byte(wire.TypeShutdownComplete) }
			a.Shutdown(l.net.Now())
			if !l.net.RunUntil(func() bool { return sa.State() == engine.StateShutdownAckSent }, time.Second) {
				t.Fatalf("server in %v, want SHUTDOWN-ACK-SENT", sa.State())
			}
			r = fuzzRigFor(l, seen, a, fzOtherHost)
		}
		r.inject(ctl, fuzzPackets(p1, p2, p3)...)
		r.settle(t)
	})
}

// fuzzRigFor aims at the client's association a, or with fzOtherHost in
// ctl at the server's.
func fuzzRigFor(l *lab, seen *onPath, a *engine.Association, ctl byte) *fuzzRig {
	if ctl&fzOtherHost != 0 {
		return &fuzzRig{l: l, to: l.sn, from: l.cn, a: l.srv.assoc, lport: serverPort, rport: a.LocalPort(), seen: seen}
	}
	return &fuzzRig{l: l, to: l.cn, from: l.sn, a: a, lport: a.LocalPort(), rport: serverPort, seen: seen}
}

func mustState(t *testing.T, a *engine.Association, s engine.State) {
	t.Helper()
	if a.State() != s {
		t.Fatalf("harness: association in %v, want %v", a.State(), s)
	}
}
