package dtlslink

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v4"

	"github.com/sctpgw/sctpgw/stack/link"
)

// udpHeaderLen is the UDP header below every DTLS record.
const udpHeaderLen = 8

// RecordOverhead is what DTLS 1.2 adds to an SCTP packet in one record
// with the cipher suites this link offers (all AEAD): the 13-byte record
// header, the peer's connection ID (up to 16 bytes allowed for; ours are
// CIDLength), the inner content type of a tls12_cid record (RFC 9146 4),
// and at most 24 bytes of explicit nonce and tag (AES-GCM: 8 + 16).
const RecordOverhead = 13 + 16 + 1 + 24

// bufSize holds the largest DTLS plaintext (2^14, RFC 6347 4.1 via RFC
// 5246 6.2.1) with room to spare.
const bufSize = 1<<14 + 256

// rxQueue and rxBuffers bound what waits between the sessions' readers and
// ReadBatch; a full queue stops the readers, and DTLS's own buffers then
// drop, as a socket's receive buffer would.
const (
	rxQueue   = 1024
	rxBuffers = 512
)

// Link is the RFC 8261 link: SCTP packets as DTLS application data, one
// DTLS session per peer gateway carrying all of its associations. It
// implements link.Link; see the package documentation.
type Link struct {
	cfg   Config
	log   *slog.Logger
	creds atomic.Pointer[Credentials]
	peers atomic.Pointer[map[netip.AddrPort]*Credentials]
	psk   bool // the listener's kind, fixed at Listen

	sock  net.PacketConn // the listening socket; nil when not listening
	ln    net.Listener
	local netip.AddrPort

	mu       sync.Mutex
	sessions map[netip.AddrPort]*session
	failed   map[netip.AddrPort]*failure
	nsess    int // sessions in the map, handshaking ones included, plus accepted handshakes

	rx        chan rxItem
	free      chan []byte
	allocated atomic.Int32

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once
	wg     sync.WaitGroup

	refusalLog logLimit
	stats      counters
}

var _ link.Link = (*Link)(nil)

// rxItem is a received SCTP packet, or a path gone down (err set).
type rxItem struct {
	path link.Path
	buf  []byte
	err  error
}

// failure is a peer whose last dial failed: packets to it are dropped,
// and its path reported down, until retry.
type failure struct {
	retry   time.Time
	backoff time.Duration
	err     error
}

// New opens the link: the listening socket when cfg.Listen is set. Sessions
// to cfg.Peers are dialled on demand, when the engine first sends there.
func New(cfg Config) (*Link, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Link{
		cfg: c, log: c.Logger,
		sessions: map[netip.AddrPort]*session{}, failed: map[netip.AddrPort]*failure{},
		rx: make(chan rxItem, rxQueue), free: make(chan []byte, rxBuffers), done: make(chan struct{}),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.creds.Store(c.Credentials)
	peers := c.Peers
	l.peers.Store(&peers)
	if c.Listen.IsValid() {
		if err := l.listen(); err != nil {
			return nil, err
		}
	}
	l.wg.Add(1)
	go l.janitor()
	return l, nil
}

func (l *Link) listen() error {
	a := l.cfg.Listen
	network := "udp4"
	if a.Addr().Is6() && !a.Addr().Is4In6() {
		network = "udp6"
	}
	conn, err := l.cfg.Net.ListenUDP(network, net.UDPAddrFromAddrPort(a))
	if err != nil {
		return fmt.Errorf("dtlslink: listen %s: %w", a, err)
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		// A burst of records from many associations overflows the default
		// receive buffer quickly; raise it where the system lets us.
		_ = uc.SetReadBuffer(4 << 20)
		_ = uc.SetWriteBuffer(4 << 20)
	}
	l.psk = l.cfg.Credentials.IsPSK()
	ln, err := dtls.Listen(conn, l.serverOptions()...)
	if err != nil {
		conn.Close()
		return fmt.Errorf("dtlslink: listen %s: %w", a, err)
	}
	l.sock, l.ln = conn, ln
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		l.local = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	l.wg.Add(1)
	go l.acceptLoop()
	l.log.Debug("dtlslink: listening", "addr", l.local.String())
	return nil
}

// Kind reports link.DTLS.
func (l *Link) Kind() link.Kind { return link.DTLS }

// LocalAddr is the listening socket's address (zero when not listening).
func (l *Link) LocalAddr() netip.AddrPort { return l.local }

// Overhead is the IP and UDP headers and RecordOverhead: the SCTP packet
// and its record must fit the path MTU together.
func (l *Link) Overhead(remote netip.Addr) int {
	return link.IPOverhead(remote) + udpHeaderLen + RecordOverhead
}

// LocalAddrs lists the listening address when it is a specific one. An
// encapsulating link's addresses are never put in an INIT (RFC 6951 5.7).
func (l *Link) LocalAddrs() []netip.Addr {
	if a := l.local.Addr(); a.IsValid() && !a.IsUnspecified() {
		return []netip.Addr{a}
	}
	return nil
}

// SetCredentials replaces the credentials: sessions established from now
// on (accepted or dialled) use the new ones; sessions up keep theirs, and
// so do their associations. peers replaces Config.Peers when not nil. A
// listener keeps its kind (certificates or a pre-shared key).
func (l *Link) SetCredentials(c *Credentials, peers map[netip.AddrPort]*Credentials) error {
	if l.ln != nil {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("dtlslink: credentials: %w", err)
		}
		if c.IsPSK() != l.psk {
			return fmt.Errorf("dtlslink: credentials: the listener was started with %s and cannot change kind", kindWord(l.psk))
		}
	}
	if peers != nil {
		for p, cr := range peers {
			if cr == nil {
				cr = c
			}
			if err := cr.Validate(); err != nil {
				return fmt.Errorf("dtlslink: peer %s: %w", p, err)
			}
		}
		l.peers.Store(&peers)
	}
	l.creds.Store(c)
	l.log.Info("dtlslink: credentials replaced; new sessions use them")
	return nil
}

func kindWord(psk bool) string {
	if psk {
		return "a pre-shared key"
	}
	return "certificates"
}

// ReadBatch blocks until a packet or a path-down notice is there, then
// fills as many of pkts as are ready (link.Link). Each packet is copied
// into the caller's buffer.
func (l *Link) ReadBatch(pkts []link.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	var it rxItem
	select {
	case it = <-l.rx:
	case <-l.done:
		return 0, link.ErrClosed
	}
	n := 0
	var rxPkts, rxBytes uint64
	for {
		p := &pkts[n]
		buf := p.Buf[:cap(p.Buf)]
		if it.err != nil {
			*p = link.Packet{Path: it.path, Buf: buf[:0], Notice: link.NoticeDown, Err: it.err}
		} else {
			m := copy(buf, it.buf)
			if m < len(it.buf) {
				l.stats.rxTruncated.Add(1)
				m = 0
			}
			*p = link.Packet{Path: it.path, Buf: buf[:m]}
			rxPkts++
			rxBytes += uint64(m)
			l.putBuf(it.buf)
		}
		n++
		if n == len(pkts) {
			break
		}
		select {
		case it = <-l.rx:
			continue
		default:
		}
		break
	}
	l.stats.rxBatches.Add(1)
	l.stats.rxPackets.Add(rxPkts)
	l.stats.rxBytes.Add(rxBytes)
	return n, nil
}

// WriteBatch sends each packet as one DTLS record on the session of its
// path, dialling a configured peer on first use. It never fails a batch
// for one path's sake: a packet that cannot go (no session and none
// allowed, a session still handshaking with its queue full) is dropped and
// counted, as IP would drop it, and a path that cannot work is reported
// down through ReadBatch.
func (l *Link) WriteBatch(pkts []link.Packet) (int, error) {
	if l.closed.Load() {
		return 0, link.ErrClosed
	}
	var s *session
	var key netip.AddrPort
	var txPkts, txBytes uint64
	for i := range pkts {
		p := &pkts[i]
		k := netip.AddrPortFrom(p.Path.Remote, p.Path.RemotePort)
		if s == nil || k != key {
			s, key = l.sessionFor(k, p.Path), k
		}
		if s == nil {
			l.stats.txDropped.Add(1)
			continue
		}
		if s.send(p.Buf) {
			txPkts++
			txBytes += uint64(len(p.Buf))
		}
	}
	if txPkts > 0 {
		l.stats.txBatches.Add(1)
		l.stats.txPackets.Add(txPkts)
		l.stats.txBytes.Add(txBytes)
	}
	return len(pkts), nil
}

// Close ends every session (with close_notify) and the listener; a blocked
// ReadBatch returns link.ErrClosed.
func (l *Link) Close() error {
	l.once.Do(func() {
		l.closed.Store(true)
		l.cancel()
		close(l.done)
		if l.ln != nil {
			l.ln.Close()
		}
		l.mu.Lock()
		var all []*session
		for _, s := range l.sessions {
			all = append(all, s)
		}
		l.mu.Unlock()
		for _, s := range all {
			s.close()
		}
		if l.sock != nil {
			l.sock.Close()
		}
	})
	l.wg.Wait()
	return nil
}

// report queues a path-down notice for ReadBatch.
func (l *Link) report(p link.Path, err error) {
	select {
	case l.rx <- rxItem{path: p, err: err}:
	case <-l.done:
	}
}

// getBuf takes a receive buffer, allocating up to rxBuffers of them; nil
// once the link is closed.
func (l *Link) getBuf() []byte {
	select {
	case b := <-l.free:
		return b
	default:
	}
	if l.allocated.Add(1) <= rxBuffers {
		return make([]byte, bufSize)
	}
	l.allocated.Add(-1)
	select {
	case b := <-l.free:
		return b
	case <-l.done:
		return nil
	}
}

func (l *Link) putBuf(b []byte) {
	select {
	case l.free <- b[:cap(b)]:
	default:
	}
}

// logLimit lets at most 10 lines a second through, and says how many it
// held back: a flood of bad handshakes costs a counter each, not a line.
type logLimit struct {
	mu         sync.Mutex
	window     time.Time
	lines      int
	suppressed int
}

func (ll *logLimit) admit(now time.Time) (bool, int) {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	held := 0
	if now.Sub(ll.window) >= time.Second || now.Before(ll.window) {
		held = ll.suppressed
		ll.window, ll.lines, ll.suppressed = now, 0, 0
	}
	if ll.lines < 10 {
		ll.lines++
		return true, held
	}
	ll.suppressed++
	return false, held
}
