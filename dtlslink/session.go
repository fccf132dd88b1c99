package dtlslink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v4"
	cryptosuite "github.com/pion/dtls/v4/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v4/pkg/protocol"

	"github.com/sctpgw/sctpgw/stack/link"
)

// maxPending bounds the packets queued on a session still handshaking
// (the first INIT and its retransmissions, typically).
const maxPending = 64

// Dial hold-down after a failed handshake: packets to that peer are
// dropped and its path reported down at once, until the next attempt.
const (
	minRetry = time.Second
	maxRetry = 30 * time.Second
)

// session is one DTLS session with a peer gateway. Its path, the one the
// engine sees, is fixed for its life: the address it was dialled at, or the
// address it was first accepted from. A NAT rebinding moves the peer's
// address under it (RFC 9146 connection IDs, checked by a return
// routability test, RFC 9853) without the engine noticing anything.
type session struct {
	l       *Link
	key     netip.AddrPort
	path    link.Path
	dialled bool
	since   time.Time

	up   atomic.Bool
	conn *dtls.Conn // set before up

	mu      sync.Mutex
	pending [][]byte // while handshaking
	ended   bool
	peer    string // certificate subject or PSK identity

	lastIO atomic.Int64 // unix nanoseconds of the last record either way
}

// sessionFor finds the session of a path, or starts dialling one when the
// path is a configured peer. nil means the packet cannot go.
func (l *Link) sessionFor(key netip.AddrPort, p link.Path) *session {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sessions[key]; s != nil {
		return s
	}
	creds, ok := peerCreds(*l.peers.Load(), l.creds.Load(), key)
	if !ok {
		l.stats.noSession.Add(1)
		go l.report(p, fmt.Errorf("no DTLS session with %s", key))
		return nil
	}
	now := time.Now()
	if f := l.failed[key]; f != nil && now.Before(f.retry) {
		go l.report(p, f.err)
		return nil
	}
	if l.nsess >= l.cfg.MaxSessions {
		l.stats.refused[reasonIndex(ReasonSessionLimit)].Add(1)
		go l.report(p, fmt.Errorf("dtls session to %s: %d sessions already (max_sessions)", key, l.nsess))
		return nil
	}
	s := &session{l: l, key: key, path: link.Path{Remote: key.Addr(), RemotePort: key.Port()}, dialled: true, since: now}
	l.sessions[key] = s
	l.nsess++
	l.wg.Add(1)
	go l.dial(s, creds)
	return s
}

// send hands one SCTP packet to the session: encrypted and sent at once
// when it is up, queued while it handshakes. It reports whether the packet
// went (or was queued).
func (s *session) send(b []byte) bool {
	if !s.up.Load() {
		s.mu.Lock()
		if !s.up.Load() {
			defer s.mu.Unlock()
			if s.ended || len(s.pending) >= maxPending {
				s.l.stats.txDropped.Add(1)
				return false
			}
			s.pending = append(s.pending, append([]byte(nil), b...))
			return true
		}
		s.mu.Unlock()
	}
	s.lastIO.Store(time.Now().UnixNano())
	if _, err := s.conn.Write(b); err != nil {
		s.l.stats.txErrors.Add(1)
		return false
	}
	return true
}

// dial runs a dialled session's handshake on a socket of its own.
func (l *Link) dial(s *session, creds *Credentials) {
	defer l.wg.Done()
	network := "udp4"
	if s.key.Addr().Is6() {
		network = "udp6"
	}
	sock, err := l.cfg.Net.ListenUDP(network, &net.UDPAddr{})
	if err != nil {
		l.dialFailed(s, nil, fmt.Errorf("dtls session to %s: socket: %w", s.key, err), creds.IsPSK())
		return
	}
	cc := &countingConn{PacketConn: sock}
	conn, err := dtls.Client(cc, net.UDPAddrFromAddrPort(s.key), l.clientOptions(creds)...)
	if err != nil {
		sock.Close()
		l.dialFailed(s, nil, fmt.Errorf("dtls session to %s: %w", s.key, err), creds.IsPSK())
		return
	}
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.HandshakeTimeout)
	err = conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		conn.Close()
		sock.Close()
		if creds.IsPSK() && cc.rx.Load() > 0 && reasonOf(err, true) == ReasonTimeout {
			err = errPSKSilence
		}
		l.dialFailed(s, err, fmt.Errorf("dtls session to %s: handshake: %w", s.key, err), creds.IsPSK())
		return
	}
	s.peer = peerOf(conn, creds)
	s.conn = conn
	// Send what waited, in order, before anything newer: send() waits on
	// s.mu while up is still false.
	s.mu.Lock()
	for _, b := range s.pending {
		if _, err := conn.Write(b); err != nil {
			l.stats.txErrors.Add(1)
		}
	}
	s.pending = nil
	s.lastIO.Store(time.Now().UnixNano())
	s.up.Store(true)
	s.mu.Unlock()
	l.mu.Lock()
	delete(l.failed, s.key)
	l.mu.Unlock()
	l.stats.opened.Add(1)
	l.log.Info("dtls session up", "peer", s.key.String(), "dialled", true, "identity", s.peer, "cipher", cipherOf(conn))
	l.readLoop(s, sock)
}

// dialFailed ends a session that never came up: counted by reason,
// logged, the peer held down for a while, and its path reported down so
// the associations waiting on it end now, naming the reason.
func (l *Link) dialFailed(s *session, hsErr, err error, psk bool) {
	reason := ReasonError
	if hsErr != nil {
		reason = reasonOf(hsErr, psk)
	}
	if l.closed.Load() {
		reason = ReasonError
	}
	l.stats.refused[reasonIndex(reason)].Add(1)
	err = &RefusedError{Reason: reason, Err: err}
	s.mu.Lock()
	s.ended = true
	s.pending = nil
	s.mu.Unlock()
	l.mu.Lock()
	if l.sessions[s.key] == s {
		delete(l.sessions, s.key)
		l.nsess--
	}
	f := l.failed[s.key]
	if f == nil {
		f = &failure{backoff: minRetry}
		l.failed[s.key] = f
	} else {
		f.backoff = min(2*f.backoff, maxRetry)
	}
	f.retry, f.err = time.Now().Add(f.backoff), err
	l.mu.Unlock()
	l.logRefusal(s.key, reason, err)
	l.report(s.path, err)
}

// errPSKSilence: with pre-shared keys, a peer that answers but never
// completes the handshake almost always holds another key. DTLS discards
// a record it cannot decrypt without a word (RFC 6347 4.1.2.7), so a
// wrong key shows as a Finished that never comes.
var errPSKSilence = &certError{reason: ReasonPSKMismatch,
	err: errors.New("the peer answered but its Finished never verified: the pre-shared keys differ (or the peer went away mid-handshake)")}

// countingConn counts what a dialled session's socket receives, so a
// handshake that timed out can tell a silent peer from one that answered.
type countingConn struct {
	net.PacketConn
	rx atomic.Int64
}

func (c *countingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(b)
	if err == nil {
		c.rx.Add(1)
	}
	return n, a, err
}

// RefusedError is why a session could not be set up: Reason is one of the
// Reason constants.
type RefusedError struct {
	Reason string
	Err    error
}

func (e *RefusedError) Error() string { return e.Err.Error() + " (" + e.Reason + ")" }
func (e *RefusedError) Unwrap() error { return e.Err }

func (l *Link) logRefusal(from netip.AddrPort, reason string, err error) {
	ok, held := l.refusalLog.admit(time.Now())
	if held > 0 {
		l.log.Info(fmt.Sprintf("%d dtls refusals not logged (more than 10 a second)", held))
	}
	if ok {
		l.log.Info("dtls session refused", "peer", from.String(), "reason", reason, "err", err.Error())
	}
}

// acceptLoop takes new handshakes off the listener; each runs on its own
// goroutine, bounded by MaxSessions.
func (l *Link) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.closed.Load() {
				return
			}
			l.log.Warn("dtlslink: accept", "err", err)
			select {
			case <-l.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		conn := c.(*dtls.Conn)
		l.mu.Lock()
		full := l.nsess >= l.cfg.MaxSessions
		if !full {
			l.nsess++
		}
		l.mu.Unlock()
		if full {
			l.stats.refused[reasonIndex(ReasonSessionLimit)].Add(1)
			l.logRefusal(addrPortOf(conn.RemoteAddr()), ReasonSessionLimit, errors.New("max_sessions reached"))
			conn.Close()
			continue
		}
		l.wg.Add(1)
		go l.handshakeAccepted(conn)
	}
}

// handshakeAccepted completes an accepted session's handshake. Only then
// can the peer's first record reach the engine: an INIT, let alone a dial
// at the far side, needs an authenticated session first.
func (l *Link) handshakeAccepted(conn *dtls.Conn) {
	defer l.wg.Done()
	from := addrPortOf(conn.RemoteAddr())
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.HandshakeTimeout)
	err := conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		conn.Close()
		l.mu.Lock()
		l.nsess--
		l.mu.Unlock()
		if l.psk && reasonOf(err, true) == ReasonTimeout {
			err = errPSKSilence
		}
		reason := reasonOf(err, l.psk)
		l.stats.refused[reasonIndex(reason)].Add(1)
		l.logRefusal(from, reason, fmt.Errorf("dtls session from %s: handshake: %w", from, err))
		return
	}
	s := &session{l: l, key: from, path: link.Path{Local: l.local.Addr(), Remote: from.Addr(), RemotePort: from.Port()},
		since: time.Now(), conn: conn, peer: peerOf(conn, l.creds.Load())}
	if !s.path.Local.IsValid() || s.path.Local.IsUnspecified() {
		s.path.Local = netip.Addr{}
	}
	s.lastIO.Store(time.Now().UnixNano())
	s.up.Store(true)
	l.mu.Lock()
	old := l.sessions[from]
	l.sessions[from] = s
	if old != nil {
		l.nsess--
	}
	l.mu.Unlock()
	if old != nil {
		// The peer came back from the same address and port (it
		// restarted): the associations of the old session are gone with
		// it. Report that before any packet of the new one.
		old.close()
		l.report(old.path, fmt.Errorf("dtls session from %s: replaced by a new session from the same address", from))
		l.stats.closed.Add(1)
	}
	l.stats.opened.Add(1)
	l.log.Info("dtls session up", "peer", from.String(), "dialled", false, "identity", s.peer, "cipher", cipherOf(conn))
	l.readLoop(s, nil)
}

// readLoop delivers the session's records until it ends, then reports its
// path down. sock is a dialled session's own socket.
func (l *Link) readLoop(s *session, sock net.PacketConn) {
	var err error
	for {
		buf := l.getBuf()
		if buf == nil {
			err = link.ErrClosed
			break
		}
		var n int
		n, err = s.conn.Read(buf)
		if err != nil {
			l.putBuf(buf)
			break
		}
		s.lastIO.Store(time.Now().UnixNano())
		select {
		case l.rx <- rxItem{path: s.path, buf: buf[:n]}:
		case <-l.done:
			l.putBuf(buf)
			err = link.ErrClosed
		}
		if err != nil {
			break
		}
	}
	why := s.endReason(err)
	s.close()
	if sock != nil {
		sock.Close()
	}
	l.mu.Lock()
	current := l.sessions[s.key] == s
	if current {
		delete(l.sessions, s.key)
		l.nsess--
	}
	l.mu.Unlock()
	if !current || l.closed.Load() {
		return
	}
	l.stats.closed.Add(1)
	l.log.Info("dtls session ended", "peer", s.key.String(), "identity", s.peer, "reason", why, "lasted", time.Since(s.since).Round(time.Millisecond).String())
	dir := "from"
	if s.dialled {
		dir = "to"
	}
	l.report(s.path, fmt.Errorf("dtls session %s %s: %s", dir, s.key, why))
}

func (s *session) endReason(err error) string {
	s.mu.Lock()
	idle := s.ended
	s.mu.Unlock()
	switch {
	case idle:
		return "closed (idle or replaced)"
	case errors.Is(err, io.EOF):
		return "closed by the peer"
	}
	return err.Error()
}

// close ends the session's DTLS connection (close_notify to the peer).
func (s *session) close() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	if c := s.conn; c != nil {
		c.Close()
	}
}

// janitor closes sessions idle for IdleTimeout.
func (l *Link) janitor() {
	defer l.wg.Done()
	t := time.NewTicker(max(l.cfg.IdleTimeout/4, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case now := <-t.C:
			limit := now.Add(-l.cfg.IdleTimeout).UnixNano()
			var idle []*session
			l.mu.Lock()
			for _, s := range l.sessions {
				if s.up.Load() && s.lastIO.Load() < limit {
					idle = append(idle, s)
				}
			}
			l.mu.Unlock()
			for _, s := range idle {
				s.close()
			}
		}
	}
}

// suites are AEAD only, so RecordOverhead holds: forward secrecy first.
var (
	certSuites = []cryptosuite.ID{
		cryptosuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, cryptosuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		cryptosuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, cryptosuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	}
	pskSuites = []cryptosuite.ID{cryptosuite.TLS_PSK_WITH_AES_128_GCM_SHA256}
)

func (l *Link) common(psk bool) []dtls.Option {
	o := []dtls.Option{
		dtls.WithMinVersion(protocol.Version1_2), dtls.WithMaxVersion(protocol.Version1_2),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithConnectionID(dtls.RandomCIDGenerator(CIDLength), dtls.CIDPathMigrationRRC),
		dtls.WithLoggerFactory(l.cfg.PionLogger),
	}
	if psk {
		return append(o, dtls.WithCipherSuites(pskSuites...))
	}
	return append(o, dtls.WithCipherSuites(certSuites...))
}

// serverOptions read the credentials at each handshake, so a reload
// reaches the sessions accepted after it.
func (l *Link) serverOptions() []dtls.ServerOption {
	var o []dtls.ServerOption
	for _, c := range l.common(l.psk) {
		o = append(o, c)
	}
	if l.psk {
		return append(o, dtls.WithPSK(nil, func(ids [][]byte) (*dtls.PSK, error) {
			c := l.creds.Load()
			for _, id := range ids {
				if string(id) == string(c.PSKIdentity) {
					return &dtls.PSK{Identity: id, Key: c.PSK}, nil
				}
			}
			return nil, nil
		}))
	}
	return append(o,
		dtls.WithGetCertificate(func(*dtls.ClientHelloInfo) (*tls.Certificate, error) { return l.creds.Load().Certificate, nil }),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509Cert) error {
			return verifyPeer(l.creds.Load(), raw, l.cfg.Now())
		}))
}

func (l *Link) clientOptions(c *Credentials) []dtls.ClientOption {
	var o []dtls.ClientOption
	for _, x := range l.common(c.IsPSK()) {
		o = append(o, x)
	}
	if c.IsPSK() {
		return append(o, dtls.WithPSK(func() ([]dtls.PSK, error) {
			return []dtls.PSK{{Identity: c.PSKIdentity, Key: c.PSK}}, nil
		}, nil))
	}
	return append(o,
		dtls.WithCertificates(*c.Certificate),
		// The chain is verified by verifyPeer, against these credentials,
		// with typed errors for the refusal counters.
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509Cert) error {
			return verifyPeer(c, raw, l.cfg.Now())
		}))
}

func peerOf(conn *dtls.Conn, c *Credentials) string {
	st, ok := conn.ConnectionState()
	if !ok {
		return ""
	}
	if len(st.PeerCertificates) > 0 {
		if cert, err := parseCert(st.PeerCertificates[0]); err == nil {
			return cert.Subject.String()
		}
	}
	if c.IsPSK() {
		return "psk:" + string(c.PSKIdentity)
	}
	return ""
}

func cipherOf(conn *dtls.Conn) string {
	st, ok := conn.ConnectionState()
	if !ok {
		return ""
	}
	return st.CipherSuiteID.String()
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
