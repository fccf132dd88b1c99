package dtlslink

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/udpencap"
)

// udpHeaderLen is the UDP header below every DTLS record.
const udpHeaderLen = 8

// RecordOverhead is what DTLS 1.2 adds to an SCTP packet in one record
// with the cipher suites this link offers (all AEAD): the 13-byte record
// header, the peer's connection ID (up to 16 bytes allowed for; ours are
// CIDLength), the inner content type of a tls12_cid record (RFC 9146 4),
// and at most 24 bytes of explicit nonce and tag (AES-GCM: 8 + 16).
const RecordOverhead = 13 + 16 + 1 + 24

// maxDatagram holds the largest DTLS record (2^14 of plaintext, RFC 6347
// 4.1 via RFC 5246 6.2.1, and its overhead) with room to spare; a larger
// datagram is no record of ours.
const maxDatagram = 1<<14 + 2048

// rxBatch bounds the datagrams read per system call.
const rxBatch = 64

// Link is the RFC 8261 link: SCTP packets as DTLS application data, one
// DTLS session per peer gateway carrying all of its associations, every
// session on one UDP socket. It implements link.Link; see the package
// documentation.
type Link struct {
	cfg   Config
	clock Clock // cfg.Clock
	log   *slog.Logger
	creds atomic.Pointer[Credentials]
	peers atomic.Pointer[map[netip.AddrPort]*Credentials]
	psk   bool // the listener's kind, fixed at New

	sock      *udpencap.Link // every session's datagrams, batched
	local     netip.AddrPort // the listening address; zero when not listening
	listening bool

	// wake makes a ReadBatch blocked on the socket look at the backlog: a
	// datagram of wakeToken to the socket itself.
	wakePath  link.Path
	wakeToken [16]byte

	mu         sync.Mutex
	byAddr     map[netip.AddrPort]*session // the peer's current address -> its session
	byCID      map[string]*session         // the connection ID we gave -> its session
	byPath     map[netip.AddrPort]*session // the engine's path -> its session
	candidates map[netip.AddrPort]*session // a new handshake from a session's address
	unverified []*session                  // accepted, the cookie not returned yet, oldest first (admit.go)
	perSource  map[netip.Addr]int          // accepted sessions handshaking, by the peer's address
	helloRate  *rate.Limiter               // handshakes started (admit.go)
	failed     map[netip.AddrPort]*failure
	nsess      int      // sessions in the maps, handshaking ones and candidates included
	backlog    []rxItem // for ReadBatch, from other goroutines or past its batch
	woken      bool     // a wake-up datagram is on its way

	txMu sync.Mutex // one WriteBatch on the socket at a time

	// ReadBatch's own: one reader at a time (link.Link).
	rxIn  []link.Packet
	rxOut drained

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

// rxItem is a received SCTP packet (buf, owned), or a path notice.
type rxItem struct {
	path   link.Path
	buf    []byte
	notice link.Notice
	mtu    int
	err    error
}

// failure is a peer whose last dial failed: packets to it are dropped,
// and its path reported down, until retry.
type failure struct {
	retry   time.Time
	backoff time.Duration
	err     error
}

// New opens the link's socket: on cfg.Listen when set (sessions are
// accepted there and dialled from there), else on an ephemeral port.
// Sessions to cfg.Peers are dialled on demand, when the engine first sends
// there.
func New(cfg Config) (*Link, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Link{
		cfg: c, clock: c.Clock, log: c.Logger,
		byAddr: map[netip.AddrPort]*session{}, byCID: map[string]*session{}, byPath: map[netip.AddrPort]*session{},
		candidates: map[netip.AddrPort]*session{}, failed: map[netip.AddrPort]*failure{}, perSource: map[netip.Addr]int{},
		done: make(chan struct{}),
	}
	l.helloRate = rate.NewLimiter(rate.Limit(c.HandshakeRate), c.HandshakeRate)
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.creds.Store(c.Credentials)
	peers := c.Peers
	l.peers.Store(&peers)
	l.psk = c.Credentials.IsPSK()
	if err := l.open(); err != nil {
		return nil, err
	}
	l.rxIn = make([]link.Packet, rxBatch)
	for i := range l.rxIn {
		l.rxIn[i].Buf = make([]byte, 0, maxDatagram)
	}
	if _, err := rand.Read(l.wakeToken[:]); err != nil {
		l.sock.Close()
		return nil, fmt.Errorf("dtlslink: %w", err)
	}
	l.wg.Add(1)
	go l.janitor()
	return l, nil
}

// open opens the socket: the listening address, or an ephemeral port of
// the peers' family.
func (l *Link) open() error {
	uc := udpencap.Config{Net: l.cfg.Net, ReadBuffer: 4 << 20, WriteBuffer: 4 << 20, Logger: l.log}
	if l.cfg.Listen.IsValid() {
		uc.Addr = l.cfg.Listen
		l.listening = true
	} else {
		uc.EphemeralPort = true
		uc.Addr = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		for p := range l.cfg.Peers {
			if !p.Addr().Unmap().Is4() {
				uc.Addr = netip.AddrPort{} // dual stack
			}
		}
	}
	sock, err := udpencap.Listen(uc)
	if err != nil {
		return fmt.Errorf("dtlslink: %w", err)
	}
	l.sock = sock
	la := sock.LocalAddr()
	if l.listening {
		l.local = netip.AddrPortFrom(la.Addr().Unmap(), la.Port())
	}
	self := la.Addr().Unmap()
	switch {
	case !self.IsUnspecified():
	case self.Is4() || uc.Addr == (netip.AddrPort{}):
		self = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		self = netip.IPv6Loopback()
	}
	l.wakePath = link.Path{Remote: self, RemotePort: la.Port()}
	l.log.Debug("dtlslink: socket open", "addr", la.String(), "listening", l.listening)
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
	if l.listening {
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

// ReadBatch blocks until a packet or a path notice is there, then fills as
// many of pkts as are ready (link.Link). It reads the socket itself, a
// batch of datagrams per system call, and decrypts each on this goroutine:
// no hand-off between a socket reader and the caller.
func (l *Link) ReadBatch(pkts []link.Packet) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	for {
		if n := l.takeBacklog(pkts); n > 0 {
			return n, nil
		}
		if l.closed.Load() {
			return 0, link.ErrClosed
		}
		// The socket may return records together with an error met after
		// them (link.Link's ReadBatch): they go in first.
		m, err := l.sock.ReadBatch(l.rxIn[:min(len(pkts), len(l.rxIn))])
		n := 0
		if m > 0 {
			o := &l.rxOut
			o.reset()
			o.now = l.clock.Now().UnixNano()
			for i := range l.rxIn[:m] {
				l.receive(&l.rxIn[i], o)
			}
			l.send(o.tx)
			n = l.deliver(pkts, o.rx)
		}
		if err != nil {
			if l.closed.Load() {
				return n, link.ErrClosed
			}
			return n, fmt.Errorf("dtlslink: %w", err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// deliver copies items into pkts and queues what does not fit.
func (l *Link) deliver(pkts []link.Packet, items []rxItem) int {
	n := 0
	var rxPkts, rxBytes uint64
	for i, it := range items {
		if n == len(pkts) {
			rest := owned(items[i:])
			l.mu.Lock()
			l.backlog = append(l.backlog, rest...)
			l.mu.Unlock()
			break
		}
		if l.fill(&pkts[n], it) {
			if it.notice == link.NoticeNone {
				rxPkts++
				rxBytes += uint64(len(it.buf))
			}
			n++
		}
	}
	if n > 0 {
		l.stats.rxBatches.Add(1)
		l.stats.rxPackets.Add(rxPkts)
		l.stats.rxBytes.Add(rxBytes)
	}
	return n
}

// fill puts one item in p; false when it does not fit p's buffer.
func (l *Link) fill(p *link.Packet, it rxItem) bool {
	buf := p.Buf[:cap(p.Buf)]
	if it.notice != link.NoticeNone {
		*p = link.Packet{Path: it.path, Buf: buf[:0], Notice: it.notice, MTU: it.mtu, Err: it.err}
		return true
	}
	if len(it.buf) > len(buf) {
		l.stats.rxTruncated.Add(1)
		return false
	}
	*p = link.Packet{Path: it.path, Buf: buf[:copy(buf, it.buf)]}
	return true
}

// takeBacklog delivers what waits in the backlog.
func (l *Link) takeBacklog(pkts []link.Packet) int {
	l.mu.Lock()
	if len(l.backlog) == 0 {
		l.mu.Unlock()
		return 0
	}
	items := l.backlog
	l.backlog = nil
	l.woken = false
	l.mu.Unlock()
	return l.deliver(pkts, items)
}

// queue hands items to ReadBatch from another goroutine, waking it.
func (l *Link) queue(items ...rxItem) {
	if len(items) == 0 {
		return
	}
	items = owned(items)
	l.mu.Lock()
	l.backlog = append(l.backlog, items...)
	wake := !l.woken
	l.woken = true
	l.mu.Unlock()
	if wake {
		l.send([]link.Packet{{Path: l.wakePath, Buf: l.wakeToken[:]}})
	}
}

// isWake tells our own wake-up datagram.
func (l *Link) isWake(p *link.Packet) bool {
	return p.Path.RemotePort == l.wakePath.RemotePort && bytes.Equal(p.Buf, l.wakeToken[:])
}

// WriteBatch sends each packet as one DTLS record on the session of its
// path, dialling a configured peer on first use, and every record of the
// batch in one system call. It never fails a batch for one path's sake: a
// packet that cannot go (no session and none allowed, a session still
// handshaking with its queue full) is dropped and counted, as IP would
// drop it, and a path that cannot work is reported down through
// ReadBatch.
func (l *Link) WriteBatch(pkts []link.Packet) (int, error) {
	if l.closed.Load() {
		return 0, link.ErrClosed
	}
	o := getDrained()
	o.now = l.clock.Now().UnixNano()
	var txPkts, txBytes uint64
	for i := 0; i < len(pkts); {
		p := &pkts[i]
		key := netip.AddrPortFrom(p.Path.Remote, p.Path.RemotePort)
		s := l.sessionFor(key, p.Path, o)
		// The run of packets to this path goes in under one lock.
		j := i + 1
		for j < len(pkts) && pkts[j].Path.Remote == p.Path.Remote && pkts[j].Path.RemotePort == p.Path.RemotePort {
			j++
		}
		if s == nil {
			l.stats.txDropped.Add(uint64(j - i))
			i = j
			continue
		}
		s.drive.Lock()
		for ; i < j; i++ {
			if s.write(pkts[i].Buf, o) {
				txPkts++
				txBytes += uint64(len(pkts[i].Buf))
			}
		}
		s.drain(o)
		s.drive.Unlock()
		s.lastIO.Store(o.now)
	}
	l.send(o.tx)
	l.queue(o.rx...)
	putDrained(o)
	if txPkts > 0 {
		l.stats.txBatches.Add(1)
		l.stats.txPackets.Add(txPkts)
		l.stats.txBytes.Add(txBytes)
	}
	return len(pkts), nil
}

// send writes datagrams to the socket; one that fails is counted and the
// rest go on.
func (l *Link) send(tx []link.Packet) {
	if len(tx) == 0 {
		return
	}
	l.txMu.Lock()
	defer l.txMu.Unlock()
	for len(tx) > 0 {
		n, err := l.sock.WriteBatch(tx)
		if err == nil {
			return
		}
		if l.closed.Load() {
			return
		}
		l.stats.txErrors.Add(1)
		tx = tx[min(n+1, len(tx)):]
	}
}

// Close ends every session (with close_notify) and the socket; a blocked
// ReadBatch returns link.ErrClosed.
func (l *Link) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		var all []*session
		for _, s := range l.byCID {
			all = append(all, s)
		}
		l.mu.Unlock()
		o := getDrained()
		for _, s := range all {
			s.drive.Lock()
			s.why = whyLinkClosed
			s.closeConn()
			s.drain(o)
			s.drive.Unlock()
		}
		l.send(o.tx)
		l.closed.Store(true)
		l.cancel()
		close(l.done)
		l.sock.Close()
	})
	l.wg.Wait()
	return nil
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
