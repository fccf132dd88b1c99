package dtlslink

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v4"
	"github.com/pion/dtls/v4/pkg/protocol"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
)

// tapConn records every datagram a pion peer sends and receives.
type tapConn struct {
	net.PacketConn
	mu         sync.Mutex
	sent, recv [][]byte
}

func (c *tapConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(b)
	if err == nil {
		c.mu.Lock()
		c.recv = append(c.recv, bytes.Clone(b[:n]))
		c.mu.Unlock()
	}
	return n, a, err
}

func (c *tapConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.mu.Lock()
	c.sent = append(c.sent, bytes.Clone(b))
	c.mu.Unlock()
	return c.PacketConn.WriteTo(b, a)
}

func (c *tapConn) lastSent() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[len(c.sent)-1]
}

// epochOneSeqs lists the sequence numbers of the epoch 1 records in
// datagrams.
func epochOneSeqs(ds [][]byte, cidLen int) []uint64 {
	var out []uint64
	for _, d := range ds {
		for len(d) > 0 {
			rec, rest, ok := splitRecord(d, cidLen)
			if !ok {
				break
			}
			d = rest
			if binary.BigEndian.Uint16(rec[3:5]) == 1 {
				out = append(out, binary.BigEndian.Uint64(rec[3:11])&maxSequence)
			}
		}
	}
	return out
}

func payload(i int) []byte {
	b := make([]byte, 1+(i*97)%1400)
	for j := range b {
		b[j] = byte(i + j)
	}
	return b
}

// TestRecordLayerWithPionClient: the link's own record layer against
// pion's, both ways, with and without connection IDs: every record a pion
// client seals is opened and delivered intact once; every packet the link
// seals is opened by pion intact; a replayed or altered record is
// discarded and counted; the epoch's records on the wire, the link's own
// and those pion made after the handover (the close_notify), never reuse
// a sequence number (the AES-GCM explicit nonce); the peer's close_notify
// ends the session, naming it.
func TestRecordLayerWithPionClient(t *testing.T) {
	for _, withCID := range []bool{true, false} {
		t.Run(fmt.Sprintf("cid=%v", withCID), func(t *testing.T) {
			ca := testlab.NewCA(t, "lab")
			corePeer := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
			core := newLinkT(t, Config{Listen: corePeer, Credentials: creds(t, certFiles(t, ca, "core.lab", ca))})
			r := startReader(core)
			f := certFiles(t, ca, "edge.lab", ca)
			cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			opts := []dtls.ClientOption{
				dtls.WithMinVersion(protocol.Version1_2), dtls.WithMaxVersion(protocol.Version1_2),
				dtls.WithCipherSuites(certSuites...), dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
				dtls.WithCertificates(cert), dtls.WithInsecureSkipVerify(true),
			}
			if withCID {
				opts = append(opts, dtls.WithConnectionID(dtls.RandomCIDGenerator(CIDLength), dtls.CIDPathMigrationRRC))
			}
			sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			tap := &tapConn{PacketConn: sock}
			conn, err := dtls.Client(tap, net.UDPAddrFromAddrPort(corePeer), opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := conn.HandshakeContext(ctx); err != nil {
				t.Fatal(err)
			}
			from := sock.LocalAddr().(*net.UDPAddr).AddrPort()
			path := link.Path{Remote: from.Addr(), RemotePort: from.Port()}

			// pion seals, the link opens.
			const n = 200
			for i := range n {
				if _, err := conn.Write(payload(i)); err != nil {
					t.Fatal(err)
				}
			}
			got := r.waitData(t, string(payload(n-1)), 5*time.Second)
			if len(got) != n {
				t.Fatalf("delivered %d records, want %d", len(got), n)
			}
			for i, p := range got {
				if !bytes.Equal(p.Buf, payload(i)) || p.Path.Remote != path.Remote || p.Path.RemotePort != path.RemotePort {
					t.Fatalf("record %d: %d bytes from %v, want %d bytes from %v", i, len(p.Buf), p.Path, len(payload(i)), path)
				}
			}

			// A replay of the last record, and an altered copy of it.
			last := tap.lastSent()
			altered := bytes.Clone(last)
			altered[len(altered)-20] ^= 1
			for _, d := range [][]byte{last, altered} {
				if _, err := sock.WriteToUDPAddrPort(d, corePeer); err != nil {
					t.Fatal(err)
				}
			}
			testlab.WaitFor(t, 5*time.Second, "the replay and the forgery discarded", func() bool {
				return core.Stats().RxDiscarded == 2
			})

			// The link seals, pion opens: batches of 20, which the client's
			// socket buffer holds.
			buf := make([]byte, 1<<16)
			for i := range n {
				if i%20 == 0 {
					pkts := make([]link.Packet, 20)
					for j := range pkts {
						pkts[j] = link.Packet{Path: path, Buf: payload(n + i + j)}
					}
					if _, err := core.WriteBatch(pkts); err != nil {
						t.Fatal(err)
					}
				}
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				m, err := conn.Read(buf)
				if err != nil {
					t.Fatalf("pion reading record %d: %v", i, err)
				}
				if !bytes.Equal(buf[:m], payload(n+i)) {
					t.Fatalf("pion read record %d: %d bytes, want %d", i, m, len(payload(n+i)))
				}
			}
			if len(r.snapshot()) != n {
				t.Fatalf("the replay was delivered: %d items", len(r.snapshot()))
			}

			// The peer closes: its close_notify (opened by the link, passed
			// to pion) ends the session.
			conn.Close()
			testlab.WaitFor(t, 5*time.Second, "the session ended by the peer", func() bool {
				for _, p := range r.snapshot() {
					if p.Notice == link.NoticeDown {
						t.Logf("down: %v", p.Err)
						return true
					}
				}
				return false
			})
			cidLen := 0
			if withCID {
				cidLen = CIDLength
			}
			tap.mu.Lock()
			seqs := epochOneSeqs(tap.recv, cidLen)
			tap.mu.Unlock()
			if len(seqs) < n+1 {
				t.Fatalf("the client received %d records of epoch 1, want the Finished and %d more", len(seqs), n)
			}
			seen := map[uint64]bool{}
			for _, s := range seqs {
				if seen[s] {
					t.Fatalf("sequence number %d (the AES-GCM nonce) used twice in epoch 1: %v", s, seqs)
				}
				seen[s] = true
			}
		})
	}
}

// TestRecordLayerWithPionServer: the dialling side against a pion server:
// the handshake's queued packets and later ones sealed by the link, the
// server's records opened by it, and the link's close reaching pion as a
// close_notify it can open.
func TestRecordLayerWithPionServer(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	sf := certFiles(t, ca, "core.lab", ca)
	cert, err := tls.LoadX509KeyPair(sf.CertFile, sf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	srvAddr := sock.LocalAddr().(*net.UDPAddr).AddrPort()
	edge := newLinkT(t, Config{Peers: map[netip.AddrPort]*Credentials{srvAddr: creds(t, certFiles(t, ca, "edge.lab", ca))}})
	r := startReader(edge)
	path := link.Path{Remote: srvAddr.Addr(), RemotePort: srvAddr.Port()}
	// The first packets wait for the handshake; the server is made once
	// the first ClientHello is there.
	if _, err := edge.WriteBatch([]link.Packet{{Path: path, Buf: payload(0)}, {Path: path, Buf: payload(1)}}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	sock.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, from, err := sock.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dtls.Server(&firstThen{PacketConn: sock, first: bytes.Clone(buf[:m]), from: net.UDPAddrFromAddrPort(from)},
		net.UDPAddrFromAddrPort(from),
		dtls.WithMinVersion(protocol.Version1_2), dtls.WithMaxVersion(protocol.Version1_2), dtls.WithCipherSuites(certSuites...),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret), dtls.WithCertificates(cert),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithConnectionID(dtls.RandomCIDGenerator(CIDLength), dtls.CIDPathMigrationRRC))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sock.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, err := conn.Read(buf)
		if err != nil || !bytes.Equal(buf[:m], payload(i)) {
			t.Fatalf("server reading queued packet %d: %d bytes, %v", i, m, err)
		}
	}
	for i := 2; i < 50; i++ {
		if _, err := conn.Write(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := r.waitData(t, string(payload(49)), 5*time.Second)
	if len(got) != 48 || !bytes.Equal(got[0].Buf, payload(2)) {
		t.Fatalf("edge delivered %d records", len(got))
	}
	edge.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(buf); err != io.EOF {
		t.Fatalf("server after the link's close: %v, want io.EOF (close_notify)", err)
	}
}

// firstThen hands pion a datagram read before it existed, then reads on.
type firstThen struct {
	net.PacketConn
	first []byte
	from  net.Addr
	once  sync.Once
}

func (c *firstThen) ReadFrom(b []byte) (int, net.Addr, error) {
	var n int
	done := false
	c.once.Do(func() { n, done = copy(b, c.first), true })
	if done {
		return n, c.from, nil
	}
	return c.PacketConn.ReadFrom(b)
}

// movingConn is a client's socket pair: it sends from one, then from the
// other (a NAT that remapped the client), and receives on both.
type movingConn struct {
	a, b  *net.UDPConn
	moved atomic.Bool
	in    chan datagram
	done  chan struct{} // closed when the test ends
	tap   tapConn
}

type datagram struct {
	b    []byte
	from net.Addr
}

func newMovingConn(t *testing.T) *movingConn {
	c := &movingConn{in: make(chan datagram, 1024), done: make(chan struct{})}
	for _, p := range []**net.UDPConn{&c.a, &c.b} {
		s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		*p = s
		go func() {
			buf := make([]byte, 1<<16)
			for {
				n, from, err := s.ReadFrom(buf)
				if err != nil {
					return
				}
				c.tap.mu.Lock()
				c.tap.recv = append(c.tap.recv, bytes.Clone(buf[:n]))
				c.tap.mu.Unlock()
				select {
				case c.in <- datagram{bytes.Clone(buf[:n]), from}:
				case <-c.done:
					return
				}
			}
		}()
	}
	t.Cleanup(func() { close(c.done); c.a.Close(); c.b.Close() })
	return c
}

func (c *movingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(p, d.b), d.from, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}

func (c *movingConn) WriteTo(p []byte, to net.Addr) (int, error) {
	if c.moved.Load() {
		return c.b.WriteTo(p, to)
	}
	return c.a.WriteTo(p, to)
}

func (c *movingConn) Close() error                     { return nil }
func (c *movingConn) LocalAddr() net.Addr              { return c.a.LocalAddr() }
func (c *movingConn) SetDeadline(time.Time) error      { return nil }
func (c *movingConn) SetReadDeadline(time.Time) error  { return nil }
func (c *movingConn) SetWriteDeadline(time.Time) error { return nil }
func (c *movingConn) addr(second bool) netip.AddrPort {
	s := c.a
	if second {
		s = c.b
	}
	return s.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestRecordLayerPathMove: a pion client whose address changes mid-session
// (RFC 9146 connection IDs): the link hands its records from the new
// address to pion, which checks the path (RFC 9853) with a challenge the
// link seals under its own sequence numbers; the link moves the session
// once the answer comes from there, and its data follows. No sequence
// number of the epoch repeats on the wire, pion's records included.
func TestRecordLayerPathMove(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	corePeer := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	core := newLinkT(t, Config{Listen: corePeer, Credentials: creds(t, certFiles(t, ca, "core.lab", ca))})
	r := startReader(core)
	mc := newMovingConn(t)
	conn, err := dtls.Client(mc, net.UDPAddrFromAddrPort(corePeer), clientOpts(t, certFiles(t, ca, "edge.lab", ca))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	first := mc.addr(false)
	path := link.Path{Remote: first.Addr(), RemotePort: first.Port()}
	exchange := func(i int) {
		t.Helper()
		if _, err := conn.Write(payload(i)); err != nil {
			t.Fatal(err)
		}
		r.waitData(t, string(payload(i)), 5*time.Second)
		if _, err := core.WriteBatch([]link.Packet{{Path: path, Buf: payload(1000 + i)}}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<16)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, err := conn.Read(buf)
		if err != nil || !bytes.Equal(buf[:m], payload(1000+i)) {
			t.Fatalf("exchange %d: pion read %d bytes: %v", i, m, err)
		}
	}
	exchange(1)
	mc.moved.Store(true)
	if _, err := conn.Write(payload(2)); err != nil {
		t.Fatal(err)
	}
	r.waitData(t, string(payload(2)), 5*time.Second)
	second := mc.addr(true)
	testlab.WaitFor(t, 5*time.Second, "the session moved to the client's new address", func() bool {
		si := core.Sessions()
		return len(si) == 1 && si[0].Remote == second
	})
	exchange(3)
	if si := core.Sessions(); si[0].Path != first {
		t.Fatalf("the engine's path changed: %v", si[0].Path)
	}
	mc.tap.mu.Lock()
	seqs := epochOneSeqs(mc.tap.recv, CIDLength)
	mc.tap.mu.Unlock()
	seen := map[uint64]bool{}
	for _, s := range seqs {
		if seen[s] {
			t.Fatalf("sequence number %d (the AES-GCM nonce) used twice in epoch 1: %v", s, seqs)
		}
		seen[s] = true
	}
	t.Logf("epoch 1 records to the client: %v", seqs)
}
