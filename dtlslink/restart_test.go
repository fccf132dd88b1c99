package dtlslink

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v4"
	"github.com/pion/dtls/v4/pkg/protocol"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// peerClient is a DTLS client on its own UDP socket, as a peer gateway
// dials: our cipher suites, connection IDs and certificate.
type peerClient struct {
	sock *net.UDPConn
	conn *dtls.Conn
}

func clientOpts(t testing.TB, f Files) []dtls.ClientOption {
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return []dtls.ClientOption{
		dtls.WithMinVersion(protocol.Version1_2), dtls.WithMaxVersion(protocol.Version1_2),
		dtls.WithCipherSuites(certSuites...), dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithConnectionID(dtls.RandomCIDGenerator(CIDLength), dtls.CIDPathMigrationRRC),
		dtls.WithCertificates(cert), dtls.WithInsecureSkipVerify(true),
	}
}

// dialFrom handshakes with to from the local address from.
func dialFrom(t *testing.T, from, to netip.AddrPort, opts []dtls.ClientOption) (*peerClient, error) {
	t.Helper()
	sock, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(from))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dtls.Client(sock, net.UDPAddrFromAddrPort(to), opts...)
	if err != nil {
		sock.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		conn.Close()
		sock.Close()
		return nil, err
	}
	return &peerClient{sock: sock, conn: conn}, nil
}

// crash ends the client as a killed process would: the socket goes, no
// close_notify is sent.
func (c *peerClient) crash() {
	c.sock.Close()
	c.conn.Close()
}

// reader collects what a link's ReadBatch delivers.
type reader struct {
	mu   sync.Mutex
	pkts []link.Packet
}

func startReader(l *Link) *reader {
	r := &reader{}
	go func() {
		pkts := make([]link.Packet, 8)
		for i := range pkts {
			pkts[i].Buf = make([]byte, 0, link.MaxPacket)
		}
		for {
			n, err := l.ReadBatch(pkts)
			if err != nil {
				return
			}
			r.mu.Lock()
			for _, p := range pkts[:n] {
				p.Buf = bytes.Clone(p.Buf)
				r.pkts = append(r.pkts, p)
			}
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *reader) snapshot() []link.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]link.Packet(nil), r.pkts...)
}

// waitData waits for a packet carrying payload and returns everything
// delivered up to it.
func (r *reader) waitData(t *testing.T, payload string, d time.Duration) []link.Packet {
	t.Helper()
	var got []link.Packet
	testlab.WaitFor(t, d, "the core delivering "+payload, func() bool {
		got = r.snapshot()
		for _, p := range got {
			if string(p.Buf) == payload {
				return true
			}
		}
		return false
	})
	return got
}

// TestPeerRestartSameAddress: a peer gateway that restarts and dials again
// from the same address and port, while the core still holds its old
// session, gets its new session at once: the new handshake replaces the
// old session once it has authenticated, the old session's path is
// reported down before any packet of the new one, and the new session's
// records are delivered.
func TestPeerRestartSameAddress(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	corePeer := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	core := newLinkT(t, Config{Listen: corePeer, Credentials: creds(t, certFiles(t, ca, "core.lab", ca)), HandshakeTimeout: 2 * time.Second})
	r := startReader(core)
	from := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	opts := clientOpts(t, certFiles(t, ca, "edge.lab", ca))

	c1, err := dialFrom(t, from, corePeer, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.conn.Write([]byte("first life")); err != nil {
		t.Fatal(err)
	}
	r.waitData(t, "first life", 5*time.Second)
	c1.crash()

	t0 := time.Now()
	c2, err := dialFrom(t, from, corePeer, opts)
	if err != nil {
		t.Fatalf("the restarted peer's handshake from %s: %v (after %v)", from, err, time.Since(t0).Round(time.Millisecond))
	}
	defer c2.crash()
	if _, err := c2.conn.Write([]byte("second life")); err != nil {
		t.Fatal(err)
	}
	got := r.waitData(t, "second life", 5*time.Second)
	t.Logf("new session up and delivering %v after the restart", time.Since(t0).Round(time.Millisecond))
	down := -1
	for i, p := range got {
		if p.Notice == link.NoticeDown && p.Path.Remote == from.Addr() && p.Path.RemotePort == from.Port() {
			down = i
			t.Logf("old session reported down: %v", p.Err)
		}
	}
	if down < 0 || string(got[len(got)-1].Buf) != "second life" || down > len(got)-1 {
		t.Fatalf("delivered %d items, old path down at %d: want the down notice before the new session's data", len(got), down)
	}
	if s := core.Stats(); s.Sessions != 1 || s.Opened != 2 {
		t.Fatalf("core stats %+v: want one session up, two opened", s)
	}
}

// TestSpoofedClientHelloReplacesNothing: a ClientHello on a live session's
// address and port (a spoofer's, or a stale retransmission) does not touch
// the session: it goes on delivering both ways, before and after the
// would-be handshake times out: on the core's clock, which the test moves
// (30 s, within SilenceTimeout, and beyond the 5 s the test waits on the
// wall clock).
func TestSpoofedClientHelloReplacesNothing(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	corePeer := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	clk := newFakeClock()
	const timeout = 30 * time.Second
	core := newLinkT(t, Config{Listen: corePeer, Credentials: creds(t, certFiles(t, ca, "core.lab", ca)), HandshakeTimeout: timeout, Clock: clk})
	r := startReader(core)
	from := netip.AddrPortFrom(loop, testlab.FreeUDPPort(t))
	opts := clientOpts(t, certFiles(t, ca, "edge.lab", ca))
	c, err := dialFrom(t, from, corePeer, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.crash()
	hello := firstFlight(t, corePeer, opts)
	// The spoofer's datagram leaves from the live session's own socket:
	// the same address and port, as a spoofed source would be.
	if _, err := c.sock.WriteToUDPAddrPort(hello, corePeer); err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	r.waitData(t, "still here", 5*time.Second)
	// The ClientHello, read before "still here", did start a handshake,
	// which goes nowhere: its timer is the only one armed.
	if at := clk.Deadlines(); len(at) != 1 || at[0] != clk.Now().Add(timeout) {
		t.Fatalf("handshake timers due at %v; want the spoofed one's alone, %v from now", at, timeout)
	}
	clk.Advance(timeout)
	testlab.WaitFor(t, 5*time.Second, "the spoofed handshake timed out", func() bool {
		return core.Stats().Refused[ReasonTimeout] == 1
	})
	if _, err := c.conn.Write([]byte("and after")); err != nil {
		t.Fatal(err)
	}
	for _, p := range r.waitData(t, "and after", 5*time.Second) {
		if p.Notice != link.NoticeNone {
			t.Fatalf("the live session's path got notice %v: %v", p.Notice, p.Err)
		}
	}
	if s := core.Stats(); s.Sessions != 1 || s.Opened != 1 || s.Closed != 0 {
		t.Fatalf("core stats %+v: want the one session untouched", s)
	}
}

// firstFlight returns the ClientHello a client with opts sends to to.
func firstFlight(t testing.TB, to netip.AddrPort, opts []dtls.ClientOption) []byte {
	pc := &captureConn{got: make(chan []byte, 4), closed: make(chan struct{})}
	conn, err := dtls.Client(pc, net.UDPAddrFromAddrPort(to), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go conn.HandshakeContext(ctx)
	var b []byte
	select {
	case b = <-pc.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no ClientHello")
	}
	cancel()
	conn.Close()
	return b
}

// captureConn records what is written to it and never receives.
type captureConn struct {
	got    chan []byte
	closed chan struct{}
	once   sync.Once
}

func (c *captureConn) ReadFrom([]byte) (int, net.Addr, error) {
	<-c.closed
	return 0, nil, net.ErrClosed
}

func (c *captureConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case c.got <- bytes.Clone(b):
	default:
	}
	return len(b), nil
}

func (c *captureConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *captureConn) LocalAddr() net.Addr              { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *captureConn) SetDeadline(time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }

// TestCoreRestartEdgeRedials: a core that restarts (no close_notify: the
// process died) knows none of the edge's records any more and drops them.
// The edge's session, which keeps sending and hears nothing back, is
// closed after SilenceTimeout; its associations end naming it, and the
// next association dials a new session to the new core.
func TestCoreRestartEdgeRedials(t *testing.T) {
	l := newLab(t, 1)
	ca := testlab.NewCA(t, "lab")
	coreCreds := creds(t, certFiles(t, ca, "core.lab", ca))
	core1, err := New(Config{Net: l.core, Listen: corePeer, Credentials: coreCreds})
	if err != nil {
		t.Fatal(err)
	}
	edge := newLinkT(t, Config{Net: l.edges[0], Peers: peersOf(creds(t, certFiles(t, ca, "edge.lab", ca))), SilenceTimeout: 2 * time.Second})
	cs1, es := newStackT(t, core1), newStackT(t, edge)
	ln1 := listenS(t, cs1, portS1AP, fastOpts)
	ctx := testlab.Ctx(t, 30*time.Second)
	c1, s1 := testlab.DialAccept(t, ctx, es, toCore, 0, portS1AP, fastOpts, ln1)
	exchangeT(t, ctx, c1, s1, 1, 10)

	core1.crash()
	cs1.Close("")
	core2 := coreLink(t, l.core, coreCreds)
	ln2 := listenS(t, newStackT(t, core2), portS1AP, fastOpts)
	// The old association keeps sending into the dead session.
	go c1.SendMsg(ctx, []byte("into the void"), stack.SndInfo{})
	_, err = c1.RecvMsg(ctx)
	if !errors.Is(err, engine.ErrLinkDown) || !strings.Contains(err.Error(), "nothing received") {
		t.Fatalf("the association on the dead session: %v; want the link down, the silence named", err)
	}
	c2, s2 := testlab.DialAccept(t, ctx, es, toCore, 0, portS1AP, fastOpts, ln2)
	exchangeT(t, ctx, c2, s2, 3, 10)
	if st := edge.Stats(); st.Opened != 2 || st.Closed != 1 {
		t.Fatalf("edge sessions opened %d closed %d; want 2 and 1", st.Opened, st.Closed)
	}
}
