package dtlslink

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// forgeryPair is an edge and a core link with a session up between them
// over loopback, and what each delivers.
type forgeryPair struct {
	core, edge       *Link
	coreRx, edgeRx   chan link.Packet
	coreAt, edgeAt   netip.AddrPort // each link's socket
	toCore, toEdge   link.Path
	coreSess, edgeSs *session
	n                int
}

func newForgeryPair(t testing.TB) *forgeryPair {
	ca := testlab.NewCA(t, "lab")
	p := &forgeryPair{coreAt: netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))}
	p.core = newLinkT(t, Config{Listen: p.coreAt, Credentials: creds(t, certFiles(t, ca, "core.lab", ca)), HandshakeTimeout: time.Second})
	p.edge = newLinkT(t, Config{Peers: map[netip.AddrPort]*Credentials{p.coreAt: creds(t, certFiles(t, ca, "edge.lab", ca))}})
	p.toCore = link.Path{Remote: p.coreAt.Addr(), RemotePort: p.coreAt.Port()}
	p.coreRx, p.edgeRx = chanReader(p.core), chanReader(p.edge)
	if _, err := p.edge.WriteBatch([]link.Packet{{Path: p.toCore, Buf: []byte("hello core")}}); err != nil {
		t.Fatal(err)
	}
	select {
	case pk := <-p.coreRx:
		if string(pk.Buf) != "hello core" {
			t.Fatalf("core delivered %q (notice %v, %v)", pk.Buf, pk.Notice, pk.Err)
		}
		p.toEdge = pk.Path
	case <-time.After(10 * time.Second):
		t.Fatal("no session between edge and core")
	}
	p.edgeAt = netip.AddrPortFrom(p.toEdge.Remote, p.toEdge.RemotePort)
	p.core.mu.Lock()
	p.coreSess = p.core.byPath[p.edgeAt]
	p.core.mu.Unlock()
	p.edge.mu.Lock()
	p.edgeSs = p.edge.byPath[p.coreAt]
	p.edge.mu.Unlock()
	if p.coreSess == nil || p.edgeSs == nil || len(p.coreSess.rec.ourCID) != CIDLength {
		t.Fatal("sessions not found, or without connection IDs")
	}
	return p
}

// chanReader delivers what a link reads, copied, on a channel.
func chanReader(l *Link) chan link.Packet {
	ch := make(chan link.Packet, 1024)
	go func() {
		pkts := make([]link.Packet, 8)
		for i := range pkts {
			pkts[i].Buf = make([]byte, 0, link.MaxPacket)
		}
		for {
			n, err := l.ReadBatch(pkts)
			if err != nil {
				close(ch)
				return
			}
			for _, p := range pkts[:n] {
				p.Buf = bytes.Clone(p.Buf)
				select {
				case ch <- p:
				default:
				}
			}
		}
	}()
	return ch
}

// alive checks that the session still carries a packet each way, and
// nothing else arrived meanwhile.
func (p *forgeryPair) alive(t testing.TB) {
	p.n++
	for _, d := range []struct {
		from *Link
		path link.Path
		rx   chan link.Packet
	}{{p.edge, p.toCore, p.coreRx}, {p.core, p.toEdge, p.edgeRx}} {
		want := fmt.Sprintf("probe %d", p.n)
		if _, err := d.from.WriteBatch([]link.Packet{{Path: d.path, Buf: []byte(want)}}); err != nil {
			t.Fatal(err)
		}
		select {
		case pk, ok := <-d.rx:
			if !ok || string(pk.Buf) != want {
				t.Fatalf("after the forgery the session delivered %q (notice %v: %v), want %q", pk.Buf, pk.Notice, pk.Err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("after the forgery %q did not arrive", want)
		}
	}
}

// forge builds a datagram from the fuzzer's fields: a record header of
// type typ (with the session's real connection ID when cid), the epoch and
// sequence number given, and body; raw sends body alone.
func forge(typ byte, epoch uint16, seq uint64, body []byte, cid []byte, withCID, raw bool) []byte {
	if raw {
		return body
	}
	if withCID {
		typ = contentTLS12CID
	}
	b := []byte{typ, dtls12Major, dtls12Minor}
	b = binary.BigEndian.AppendUint64(b, uint64(epoch)<<48|seq&maxSequence)
	if typ == contentTLS12CID {
		b = append(b, cid...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// FuzzSessionIgnoresForgeries: a datagram that is not a record the peer
// sealed, fed to either end of a live session as if read from its socket
// (from the peer's own address and port, a spoofed source, or another
// address, with or without the session's connection ID), changes nothing:
// no packet or notice reaches the engine, the session stays up at the
// same address and keeps its receive clock, and it carries packets both
// ways afterwards. Much of it reaches pion (records of epoch 0, alerts,
// handshake messages after the handshake), which must drop it too.
func FuzzSessionIgnoresForgeries(f *testing.F) {
	p := newForgeryPair(f)
	ca := testlab.NewCA(f, "other")
	hello := firstFlight(f, p.coreAt, clientOpts(f, certFiles(f, ca, "stranger", ca)))
	if len(hello) > recordHeaderLen {
		f.Add(hello[0], uint16(0), uint64(0), hello[recordHeaderLen:], byte(1)) // from the peer's address
		f.Add(hello[0], uint16(0), uint64(0), hello[recordHeaderLen:], byte(5)) // to the edge
		f.Add(hello[0], uint16(0), uint64(0), hello[recordHeaderLen:], byte(0)) // a new address
	}
	f.Add(byte(22), uint16(0), uint64(0), []byte{1, 0, 0, 0x30, 0, 0, 0, 0, 0, 0, 0, 0x30}, byte(0))
	f.Add(byte(21), uint16(0), uint64(9), []byte{2, 40}, byte(1))                   // a fatal alert, in the clear
	f.Add(byte(21), uint16(1), uint64(1<<40), bytes.Repeat([]byte{7}, 40), byte(2)) // an alert of epoch 1 that will not open
	f.Add(byte(20), uint16(0), uint64(3), []byte{1}, byte(1))                       // ChangeCipherSpec
	f.Add(byte(25), uint16(0), uint64(3), []byte{21, 2, 0}, byte(3))                // tls12_cid of epoch 0
	f.Add(byte(23), uint16(2), uint64(5), bytes.Repeat([]byte{1}, 60), byte(1))
	f.Add(byte(27), uint16(1), uint64(5), bytes.Repeat([]byte{1}, 33), byte(3)) // a path response that does not open
	f.Add(byte(22), uint16(0), uint64(1), []byte{11, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0}, byte(4))
	f.Fuzz(func(t *testing.T, typ byte, epoch uint16, seq uint64, body []byte, flags byte) {
		spoofed, withCID, atEdge, raw := flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
		target, s, peer := p.core, p.coreSess, p.edgeAt
		if atEdge {
			target, s, peer = p.edge, p.edgeSs, p.coreAt
		}
		from := netip.AddrPortFrom(loop, 1)
		if spoofed {
			from = peer
		}
		d := forge(typ, epoch, seq, body, s.rec.ourCID, withCID, raw)
		remote, rx, io := *s.remote.Load(), s.lastRx.Load(), s.lastIO.Load()
		o := getDrained()
		o.now = target.clock.Now().UnixNano()
		target.receive(&link.Packet{Path: link.Path{Remote: from.Addr(), RemotePort: from.Port()}, Buf: d}, o)
		for _, it := range o.rx {
			t.Fatalf("a forgery delivered %d bytes, notice %v (%v) on %v", len(it.buf), it.notice, it.err, it.path)
		}
		target.send(o.tx)
		putDrained(o)
		s.drive.Lock()
		ended := s.ended
		s.drive.Unlock()
		target.mu.Lock()
		cur := target.byPath[peer]
		n := target.nsess
		target.mu.Unlock()
		switch {
		case ended || !s.up.Load() || cur != s:
			t.Fatalf("a forgery ended or replaced the session (ended %v, up %v, still the path's %v)", ended, s.up.Load(), cur == s)
		case *s.remote.Load() != remote:
			t.Fatalf("a forgery moved the session from %v to %v", remote, *s.remote.Load())
		case s.lastRx.Load() != rx || s.lastIO.Load() != io:
			t.Fatal("a forgery counted as hearing from the peer (its idle and silence clocks moved)")
		case n > 4:
			t.Fatalf("%d sessions after forgeries from two addresses", n)
		}
		p.alive(t)
	})
}

// TestForgeriesKeepNoClock: datagrams that do not authenticate, sent to a
// quiet session, neither keep it from idling out nor make it look silent:
// before, each one counted as traffic (and so did the last flight pion
// sends again when a handshake record of epoch 0 comes from the peer's
// address), so a session that had nothing to say was closed at
// SilenceTimeout as if its peer were gone, by anyone who could send it a
// datagram: junk with its connection ID (what an onlooker saw on the
// wire) from anywhere, or a handshake record from the peer's address and
// port (a spoofed source).
func TestForgeriesKeepNoClock(t *testing.T) {
	for _, spoofed := range []bool{false, true} {
		t.Run(fmt.Sprintf("spoofed=%v", spoofed), func(t *testing.T) { forgeriesKeepNoClock(t, spoofed) })
	}
}

func forgeriesKeepNoClock(t *testing.T, spoofed bool) {
	ca := testlab.NewCA(t, "lab")
	coreAt := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	const silence = 600 * time.Millisecond
	core := newLinkT(t, Config{Listen: coreAt, Credentials: creds(t, certFiles(t, ca, "core.lab", ca)), SilenceTimeout: silence, IdleTimeout: time.Hour})
	edge := newLinkT(t, Config{Peers: map[netip.AddrPort]*Credentials{coreAt: creds(t, certFiles(t, ca, "edge.lab", ca))}})
	coreRx, _ := chanReader(core), chanReader(edge)
	toCore := link.Path{Remote: coreAt.Addr(), RemotePort: coreAt.Port()}
	if _, err := edge.WriteBatch([]link.Packet{{Path: toCore, Buf: []byte("up")}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-coreRx:
	case <-time.After(10 * time.Second):
		t.Fatal("no session")
	}
	core.mu.Lock()
	var cid []byte
	for _, s := range core.byPath {
		cid = s.rec.ourCID
	}
	core.mu.Unlock()
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	junk := forge(contentAppData, 1, 1<<30, bytes.Repeat([]byte{0xa5}, 48), cid, true, false)
	// A Certificate message header of epoch 0, as the edge's own socket
	// would send it.
	hs := forge(contentHandshake, 0, 1<<20, []byte{11, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0}, nil, false, false)
	for end := time.Now().Add(3 * silence); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if spoofed {
			edge.send([]link.Packet{{Path: toCore, Buf: hs}}) // the edge's socket, under its lock
		} else if _, err := stranger.WriteToUDPAddrPort(junk, coreAt); err != nil {
			t.Fatal(err)
		}
	}
	if st := core.Stats(); st.Sessions != 1 || st.Closed != 0 {
		t.Fatalf("core after %v of forgeries to a quiet session: %+v; want it up", 3*silence, st)
	}
}

// TestConcurrentSealersNeverReuseANonce: packets sealed by several
// goroutines at once both ways, while forged handshake records from the
// edge's address keep making pion send its last flight again (records the
// link opens and seals anew under the same counter), all arrive once: a
// sequence number (the AES-GCM nonce) used twice would be discarded as a
// replay by the receiver, and counted.
func TestConcurrentSealersNeverReuseANonce(t *testing.T) {
	p := newForgeryPair(t)
	const writers, batches, per = 4, 50, 5
	hs := forge(contentHandshake, 0, 1<<20, []byte{11, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0}, nil, false, false)
	var wg sync.WaitGroup
	for w := range writers {
		for _, d := range []struct {
			from *Link
			path link.Path
		}{{p.edge, p.toCore}, {p.core, p.toEdge}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range batches {
					pkts := make([]link.Packet, per)
					for i := range pkts {
						pkts[i] = link.Packet{Path: d.path, Buf: []byte(fmt.Sprintf("w%d b%d p%d", w, b, i))}
					}
					if _, err := d.from.WriteBatch(pkts); err != nil {
						t.Error(err)
						return
					}
					if b%5 == 0 {
						spoofAt(p.core, hs, p.edgeAt)
					}
				}
			}()
		}
	}
	count := func(rx chan link.Packet) map[string]int {
		got := map[string]int{}
		for n := 0; n < writers*batches*per; {
			select {
			case pk := <-rx:
				if pk.Notice != link.NoticeNone {
					t.Fatalf("notice %v: %v", pk.Notice, pk.Err)
				}
				got[string(pk.Buf)]++
				n++
			case <-time.After(5 * time.Second):
				t.Fatalf("%d of %d packets arrived", n, writers*batches*per)
			}
		}
		return got
	}
	var atCore, atEdge map[string]int
	var cw sync.WaitGroup
	cw.Add(2)
	go func() { defer cw.Done(); atCore = count(p.coreRx) }()
	go func() { defer cw.Done(); atEdge = count(p.edgeRx) }()
	wg.Wait()
	cw.Wait()
	for _, got := range []map[string]int{atCore, atEdge} {
		for k, n := range got {
			if n != 1 {
				t.Fatalf("%q arrived %d times", k, n)
			}
		}
	}
	if ce, ee := p.core.Stats().RxDiscarded, p.edge.Stats().RxDiscarded; ce != 0 || ee != 0 {
		t.Fatalf("records discarded: %d at the core, %d at the edge (a reused sequence number is one)", ce, ee)
	}
}

// spoofAt feeds l a datagram as if read from its socket from from, at
// the time of its clock.
func spoofAt(l *Link, d []byte, from netip.AddrPort) {
	o := getDrained()
	o.now = l.clock.Now().UnixNano()
	l.receive(&link.Packet{Path: link.Path{Remote: from.Addr(), RemotePort: from.Port()}, Buf: d}, o)
	l.send(o.tx)
	putDrained(o)
}

// TestCredentialsPrintNoSecret: whatever verb formats credentials, alone
// or inside a struct, neither the pre-shared key nor the private key
// shows.
func TestCredentialsPrintNoSecret(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	psk := &Credentials{PSK: bytes.Repeat([]byte{0xab}, 32), PSKIdentity: []byte("edge1")}
	cert := creds(t, certFiles(t, ca, "edge.lab", ca))
	key := cert.Certificate.PrivateKey
	for _, c := range []*Credentials{psk, cert} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			for _, v := range []any{c, struct{ C *Credentials }{c}, []*Credentials{c}} {
				out := fmt.Sprintf(verb, v)
				if strings.Contains(strings.ToLower(out), "ab ab") || strings.Contains(out, "[171 171") || strings.Contains(out, "abab") ||
					strings.Contains(out, "PrivateKey") || strings.Contains(out, fmt.Sprint(key)) {
					t.Fatalf("%s of %T prints a secret: %s", verb, v, out)
				}
			}
		}
	}
}

// TestRecordFromElsewhere: an authentic record that arrives from an
// address the session is not at (a NAT that rebound, or an onlooker that
// caught it on the way and sends it on) is delivered once, authentic and
// fresh as it is, and draws pion's path challenge to that address, but
// moves nothing: the session stays where it was until the challenge is
// answered from there. The same record again, from a third address, is a
// replay and is discarded.
func TestRecordFromElsewhere(t *testing.T) {
	p := newForgeryPair(t)
	s := p.edgeSs
	s.drive.Lock()
	rec := make([]byte, s.rec.sealedLen(5))
	err := s.rec.sealTo(rec, contentAppData, []byte("moved"))
	s.drive.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	at := *p.coreSess.remote.Load()
	for i, from := range []netip.AddrPort{netip.AddrPortFrom(loop, 1), netip.AddrPortFrom(loop, 2)} {
		o := getDrained()
		o.now = p.core.clock.Now().UnixNano()
		p.core.receive(&link.Packet{Path: link.Path{Remote: from.Addr(), RemotePort: from.Port()}, Buf: rec}, o)
		var got []string
		for _, it := range o.rx {
			got = append(got, string(it.buf))
		}
		tx := len(o.tx)
		p.core.send(o.tx)
		putDrained(o)
		if want := 1 - i; len(got) != want || (want == 1 && (got[0] != "moved" || tx != 1)) {
			t.Fatalf("from %v: delivered %q, sent %d datagrams; want %d delivery and a path challenge the first time only", from, got, tx, want)
		}
	}
	if now := *p.coreSess.remote.Load(); now != at {
		t.Fatalf("the session moved from %v to %v without an answer to its challenge", at, now)
	}
	if n := p.core.Stats().RxDiscarded; n != 1 {
		t.Fatalf("%d records discarded, want the replay", n)
	}
	p.alive(t)
}
