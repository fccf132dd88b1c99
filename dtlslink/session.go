package dtlslink

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v4"

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

// session is one DTLS session with a peer gateway: a pion DetachedConn
// whose datagrams the link moves itself. Its path, the one the engine
// sees, is fixed for its life: the address it was dialled at, or the
// address it was first accepted from. A NAT rebinding moves the peer's
// address under it (RFC 9146 connection IDs, checked by a return
// routability test, RFC 9853) without the engine noticing anything.
type session struct {
	l       *Link
	key     netip.AddrPort // the engine's path, as a map key
	path    link.Path
	local   netip.Addr // the address we send from (accepted: the one the peer reached)
	cid     string     // the connection ID we gave the peer
	dialled bool
	since   time.Time
	creds   *Credentials // what the handshake used

	// drive serialises everything that drives dc (Start, HandleDatagram,
	// Write, Close) with the draining of its events; the fields below it
	// are the driver's.
	drive      sync.Mutex
	dc         *dtls.DetachedConn
	started    bool
	pending    [][]byte // dialled, while handshaking
	ended      bool     // no more records either way
	finished   bool     // its closed event was handled
	why        string   // set when we end it: idle, replaced, link closed
	replaces   *session // a candidate: the session it replaces once authenticated
	hsRx       int      // datagrams received while handshaking
	hsCtx      context.Context
	hsCancel   context.CancelCauseFunc
	hsTimer    Timer         // HandshakeTimeout on l.clock (watch)
	settled    chan struct{} // closed once up or ended: the handshake watcher stops
	lastTo     net.Addr      // the last destination pion named, and as AddrPort
	lastToAP   netip.AddrPort
	answered   bool         // accepted: the peer returned pion's cookie (admit.go)
	rec        *recordLayer // ours once up (record.go)
	challenges []challenge  // path checks pion sent, to follow its move

	// In the handshakes' accounts (admit.go; l.mu held): in the
	// unverified pool, counted against its address.
	unverified, counted bool

	up     atomic.Bool
	remote atomic.Pointer[netip.AddrPort] // where the peer is now
	peer   string                         // identity, set before up
	cipher string

	lastIO atomic.Int64 // unix nanoseconds of the last record either way
	lastRx atomic.Int64 // and of the last datagram received
}

func newCID() string {
	b := make([]byte, CIDLength)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return string(b)
}

func (l *Link) newSession(key netip.AddrPort, dialled bool, creds *Credentials) *session {
	now := l.clock.Now()
	s := &session{l: l, key: key, dialled: dialled, since: now, creds: creds, cid: newCID(), settled: make(chan struct{})}
	s.path = link.Path{Remote: key.Addr(), RemotePort: key.Port()}
	if !dialled {
		if a := l.local.Addr(); a.IsValid() && !a.IsUnspecified() {
			s.path.Local = a
		}
	}
	s.remote.Store(&key)
	s.lastTo, s.lastToAP = net.UDPAddrFromAddrPort(key), key
	s.lastIO.Store(now.UnixNano())
	s.lastRx.Store(now.UnixNano())
	return s
}

// sessionFor finds the session of a path, or starts dialling one when the
// path is a configured peer. nil means the packet cannot go; the path is
// then reported down through o.
func (l *Link) sessionFor(key netip.AddrPort, p link.Path, o *drained) *session {
	l.mu.Lock()
	if s := l.byPath[key]; s != nil {
		l.mu.Unlock()
		return s
	}
	creds, ok := peerCreds(*l.peers.Load(), l.creds.Load(), key)
	var refusal error
	now := l.clock.Now()
	switch f := l.failed[key]; {
	case !ok:
		l.stats.noSession.Add(1)
		refusal = fmt.Errorf("no DTLS session with %s", key)
	case f != nil && now.Before(f.retry):
		refusal = f.err
	case l.nsess >= l.cfg.MaxSessions:
		l.stats.refused[reasonIndex(ReasonSessionLimit)].Add(1)
		refusal = fmt.Errorf("dtls session to %s: %d sessions already (max_sessions)", key, l.nsess)
	}
	if refusal != nil {
		l.mu.Unlock()
		o.rx = append(o.rx, rxItem{path: p, notice: link.NoticeDown, err: refusal})
		return nil
	}
	s := l.newSession(key, true, creds)
	dc, err := dtls.DetachedClient(net.UDPAddrFromAddrPort(key), l.clientOptions(creds, s.cid)...)
	if err != nil {
		l.mu.Unlock()
		o.rx = append(o.rx, rxItem{path: p, notice: link.NoticeDown, err: fmt.Errorf("dtls session to %s: %w", key, err)})
		return nil
	}
	s.dc = dc
	l.byPath[key], l.byAddr[key], l.byCID[s.cid] = s, s, s
	l.nsess++
	l.mu.Unlock()
	s.drive.Lock()
	s.start(o)
	s.drive.Unlock()
	return s
}

// newAccepted makes a session for a ClientHello from an address: a new
// peer, or a candidate to replace old (the peer restarted from the same
// address and port). The candidate replaces old only once its handshake
// has authenticated the peer, so a spoofed ClientHello changes nothing.
// Called with l.mu held; nil when refused. victim is a session admit
// pushed out for it, for the caller to evict (admit.go).
func (l *Link) newAccepted(from netip.AddrPort, local netip.Addr, old *session, now int64) (s, victim *session) {
	if !l.listening {
		return nil, nil
	}
	victim, ok := l.admit(from, now)
	if !ok {
		return nil, nil
	}
	creds := l.creds.Load()
	s = l.newSession(from, false, creds)
	s.local, s.replaces = local, old
	dc, err := dtls.DetachedServer(net.UDPAddrFromAddrPort(from), l.serverOptions(s.cid)...)
	if err != nil {
		l.log.Warn("dtlslink: new session", "peer", from.String(), "err", err)
		return nil, victim
	}
	s.dc = dc
	l.byCID[s.cid] = s
	if old != nil {
		l.candidates[from] = s
	} else {
		l.byAddr[from] = s
	}
	l.nsess++
	l.admitted(s)
	return s, victim
}

// start begins the handshake (drive held), bounded by HandshakeTimeout,
// with a watcher that sends its retransmissions until it settles. The
// timeout is a timer of l.clock that the watcher turns into the context's
// cancellation: a context deadline would be on the wall clock.
func (s *session) start(o *drained) {
	l := s.l
	s.hsCtx, s.hsCancel = context.WithCancelCause(l.ctx)
	s.hsTimer = l.clock.NewTimer(l.cfg.HandshakeTimeout)
	s.started = true
	if err := s.dc.Start(s.hsCtx); err != nil && !errors.Is(err, context.Canceled) {
		l.log.Debug("dtlslink: handshake start", "peer", s.key.String(), "err", err)
	}
	s.drain(o)
	l.wg.Add(1)
	go l.watch(s)
}

// watch drains a handshaking session's events that no datagram of ours
// drove: retransmissions, the handshake's end. It ends the handshake when
// its timer fires; pion then closes the session, an event like the rest.
// After the handshake the janitor picks up such events.
func (l *Link) watch(s *session) {
	defer l.wg.Done()
	for {
		select {
		case <-s.dc.EventReady():
		case <-s.hsTimer.C():
			s.hsCancel(fmt.Errorf("no handshake within %v: %w", l.cfg.HandshakeTimeout, context.DeadlineExceeded))
			continue
		case <-s.settled:
			return
		case <-l.done:
			return
		}
		l.drainFrom(s, false)
	}
}

// timedOut is the handshake's own timeout when that is what ended it:
// pion reports its context's Err (Canceled), the cause says why (watch).
func (s *session) timedOut(hsErr error) error {
	if s.hsCtx == nil || !errors.Is(hsErr, context.Canceled) {
		return nil
	}
	if cause := context.Cause(s.hsCtx); errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	return nil
}

// drainFrom drains s on a goroutine other than ReadBatch's: what it sends
// goes out, what it delivers waits for ReadBatch.
func (l *Link) drainFrom(s *session, try bool) {
	o := getDrained()
	if try {
		if !s.drive.TryLock() {
			putDrained(o)
			return
		}
	} else {
		s.drive.Lock()
	}
	s.drain(o)
	s.drive.Unlock()
	l.send(o.tx)
	l.queue(o.rx...)
	putDrained(o)
}

// write encrypts one SCTP packet into a record (drive held), or queues it
// while the session handshakes. It reports whether the packet went (or
// was queued).
func (s *session) write(b []byte, o *drained) bool {
	if s.ended {
		s.l.stats.txDropped.Add(1)
		return false
	}
	if !s.up.Load() {
		if len(s.pending) >= maxPending {
			s.l.stats.txDropped.Add(1)
			return false
		}
		s.pending = append(s.pending, append([]byte(nil), b...))
		return true
	}
	return s.sealData(b, o)
}

// handle feeds one datagram from the peer to DTLS (drive held).
func (s *session) handle(b []byte, from netip.AddrPort, o *drained) {
	if s.ended {
		return
	}
	if !s.started {
		s.start(o)
	}
	if s.rec != nil {
		s.receiveRecords(b, from, o)
		s.drain(o)
		return
	}
	if !s.up.Load() {
		s.hsRx++
	}
	var addr net.Addr // nil: where the session is now (no allocation)
	if cur := s.remote.Load(); *cur != from {
		addr = net.UDPAddrFromAddrPort(from)
	}
	if err := s.dc.HandleDatagram(b, addr); err != nil && s.up.Load() {
		s.l.stats.rxErrors.Add(1)
	}
	s.drain(o)
}

// drain takes every event DTLS produced (drive held): datagrams to send,
// records to deliver, the handshake's end either way.
func (s *session) drain(o *drained) {
	io := false
	for {
		ev := s.dc.NextEvent()
		switch ev.Kind {
		case dtls.DetachedNoEvent:
			if io {
				s.lastIO.Store(s.l.clock.Now().UnixNano())
			}
			return
		case dtls.DetachedWriteDatagrams:
			to := s.addrOf(ev.Addr)
			if s.rec == nil {
				s.cookieReturned(ev.Datagrams)
			}
			for _, d := range ev.Datagrams {
				if s.rec != nil {
					s.reseal(d, to, o)
					continue
				}
				o.tx = append(o.tx, link.Packet{Path: link.Path{Local: s.local, Remote: to.Addr(), RemotePort: to.Port()}, Buf: d})
			}
			// What pion sends is no traffic of ours: a forged record of
			// the handshake's epoch makes it send its last flight again,
			// and that must not keep the session from idling out or make
			// it look as if it sent into silence (janitor).
		case dtls.DetachedApplicationData:
			if s.up.Load() && !s.ended {
				o.rx = append(o.rx, rxItem{path: s.path, buf: ev.Data})
				io = true
			}
		case dtls.DetachedHandshakeDone:
			s.l.established(s, o)
		case dtls.DetachedClosed:
			s.l.ended(s, ev.Err, o)
		}
	}
}

// addrOf converts the destination pion names, caching the last one: it
// names the same address every time until the peer moves.
func (s *session) addrOf(a net.Addr) netip.AddrPort {
	if a == nil {
		return *s.remote.Load()
	}
	if a == s.lastTo {
		return s.lastToAP
	}
	ap := addrPortOf(a)
	s.lastTo, s.lastToAP = a, ap
	return ap
}

// moved re-keys the session under the peer's new address.
func (l *Link) moved(s *session, from, to netip.AddrPort) {
	l.mu.Lock()
	if l.byAddr[from] == s {
		delete(l.byAddr, from)
	}
	if l.byAddr[to] == nil {
		l.byAddr[to] = s
	}
	l.mu.Unlock()
	s.remote.Store(&to)
	l.log.Info("dtls session moved", "path", s.key.String(), "from", from.String(), "to", to.String())
}

// established makes a session that finished its handshake carry data
// (drive held). A candidate replaces the session it was made for: that
// one's path is reported down first, since the peer that restarted has
// lost its associations.
func (l *Link) established(s *session, o *drained) {
	if s.ended || s.up.Load() {
		return
	}
	st, ok := s.dc.ConnectionState()
	var err error
	if ok {
		s.peer, s.cipher = peerOf(st, s.creds), st.CipherSuiteID.String()
		s.rec, err = newRecordLayer(st)
	} else {
		err = errors.New("no connection state")
	}
	if err != nil {
		// Never seen with the suites offered; the session cannot carry
		// data, so it ends as a failed handshake.
		l.log.Error("dtlslink: taking over the record layer", "peer", s.key.String(), "err", err)
		s.why = "record layer: " + err.Error()
		s.closeConn()
		return
	}
	s.lastRx.Store(l.clock.Now().UnixNano())
	s.up.Store(true)
	s.settle()
	var old *session
	l.mu.Lock()
	l.unadmit(s)
	if s.dialled {
		delete(l.failed, s.key)
	} else {
		if s.replaces != nil {
			old = s.replaces
			if l.candidates[s.key] == s {
				delete(l.candidates, s.key)
			}
			l.forget(old)
			l.byAddr[*s.remote.Load()] = s
		}
		l.byPath[s.key] = s
	}
	l.mu.Unlock()
	if old != nil {
		o.rx = append(o.rx, rxItem{path: old.path, notice: link.NoticeDown,
			err: fmt.Errorf("dtls session from %s: replaced by a new authenticated session from the same address (the peer restarted)", s.key)})
		l.stats.closed.Add(1)
		l.log.Info("dtls session replaced", "peer", s.key.String(), "identity", old.peer, "lasted", l.clock.Now().Sub(old.since).Round(time.Millisecond).String())
		l.wg.Add(1)
		go l.retire(old)
	}
	for _, b := range s.pending {
		s.sealData(b, o)
	}
	s.pending = nil
	l.stats.opened.Add(1)
	l.log.Info("dtls session up", "peer", s.key.String(), "dialled", s.dialled, "identity", s.peer, "cipher", s.cipher)
}

// retire closes a replaced session quietly: its peer is gone, and the
// close_notify would only reach the peer's new session, which cannot read
// it.
func (l *Link) retire(s *session) {
	defer l.wg.Done()
	s.drive.Lock()
	s.ended, s.why = true, whyReplaced
	s.closeConn()
	for s.dc.NextEvent().Kind != dtls.DetachedNoEvent {
	}
	s.drive.Unlock()
}

// Why we ended a session ourselves, beside idleness.
const (
	whyReplaced   = "replaced"
	whyEvicted    = "pushed out unverified by newer ClientHellos"
	whyLinkClosed = "link closed"
)

// forget removes s from the maps (l.mu held).
func (l *Link) forget(s *session) {
	found := false
	if l.byCID[s.cid] == s {
		delete(l.byCID, s.cid)
		found = true
	}
	if l.byPath[s.key] == s {
		delete(l.byPath, s.key)
	}
	if ap := *s.remote.Load(); l.byAddr[ap] == s {
		delete(l.byAddr, ap)
	}
	if l.byAddr[s.key] == s {
		delete(l.byAddr, s.key)
	}
	if l.candidates[s.key] == s {
		delete(l.candidates, s.key)
	}
	l.unadmit(s)
	if found {
		l.nsess--
	}
}

// ended handles a session's end (drive held): a handshake that failed is
// counted by reason (and a dialled peer held down), a session that was up
// has its path reported down, naming why.
func (l *Link) ended(s *session, err error, o *drained) {
	if s.finished {
		return
	}
	s.finished, s.ended = true, true
	s.settle()
	s.pending = nil
	l.mu.Lock()
	l.forget(s)
	l.mu.Unlock()
	if l.closed.Load() || s.why == whyLinkClosed || s.why == whyReplaced {
		return
	}
	if !s.up.Load() {
		l.refused(s, err, o)
		return
	}
	why := s.why
	switch {
	case why != "":
	case errors.Is(err, dtls.ErrConnClosed):
		why = "closed by the peer"
	case err != nil:
		why = err.Error()
	default:
		why = "closed"
	}
	l.stats.closed.Add(1)
	l.log.Info("dtls session ended", "peer", s.key.String(), "identity", s.peer, "reason", why, "lasted", l.clock.Now().Sub(s.since).Round(time.Millisecond).String())
	dir := "from"
	if s.dialled {
		dir = "to"
	}
	o.rx = append(o.rx, rxItem{path: s.path, notice: link.NoticeDown, err: fmt.Errorf("dtls session %s %s: %s", dir, s.key, why)})
}

// refused counts and logs a handshake that failed; a dialled peer is held
// down for a while and its path reported down, so the associations waiting
// on it end now, naming the reason.
func (l *Link) refused(s *session, hsErr error, o *drained) {
	psk := s.creds.IsPSK()
	if err := s.timedOut(hsErr); err != nil {
		hsErr = err
	}
	if hsErr == nil {
		hsErr = errors.New("ended before the handshake completed")
	}
	if psk && s.hsRx > 0 && reasonOf(hsErr, true) == ReasonTimeout {
		hsErr = errPSKSilence
	}
	reason := reasonOf(hsErr, psk)
	l.stats.refused[reasonIndex(reason)].Add(1)
	if !s.dialled {
		l.logRefusal(s.key, reason, fmt.Errorf("dtls session from %s: handshake: %w", s.key, hsErr))
		return
	}
	err := &RefusedError{Reason: reason, Err: fmt.Errorf("dtls session to %s: handshake: %w", s.key, hsErr)}
	l.mu.Lock()
	f := l.failed[s.key]
	if f == nil {
		f = &failure{backoff: minRetry}
		l.failed[s.key] = f
	} else {
		f.backoff = min(2*f.backoff, maxRetry)
	}
	f.retry, f.err = l.clock.Now().Add(f.backoff), err
	l.mu.Unlock()
	l.logRefusal(s.key, reason, err)
	o.rx = append(o.rx, rxItem{path: s.path, notice: link.NoticeDown, err: err})
}

// settle ends the handshake's watcher and timeout (drive held).
func (s *session) settle() {
	select {
	case <-s.settled:
	default:
		close(s.settled)
	}
	if s.hsCancel != nil {
		s.hsTimer.Stop()
		s.hsCancel(nil)
	}
}

// closeConn ends the DTLS connection (drive held): close_notify to the
// peer, then a closed event.
func (s *session) closeConn() {
	if err := s.dc.Close(); err != nil {
		s.l.log.Debug("dtlslink: close", "peer", s.key.String(), "err", err)
	}
}

// errPSKSilence: with pre-shared keys, a peer that answers but never
// completes the handshake almost always holds another key. DTLS discards
// a record it cannot decrypt without a word (RFC 6347 4.1.2.7), so a
// wrong key shows as a Finished that never comes.
var errPSKSilence = &certError{reason: ReasonPSKMismatch,
	err: errors.New("the peer answered but its Finished never verified: the pre-shared keys differ (or the peer went away mid-handshake)")}

// RefusedError is why a session could not be set up: Reason is one of the
// Reason constants.
type RefusedError struct {
	Reason string
	Err    error
}

func (e *RefusedError) Error() string { return e.Err.Error() + " (" + e.Reason + ")" }
func (e *RefusedError) Unwrap() error { return e.Err }

func (l *Link) logRefusal(from netip.AddrPort, reason string, err error) {
	ok, held := l.refusalLog.admit(l.clock.Now())
	if held > 0 {
		l.log.Info(fmt.Sprintf("%d dtls refusals not logged (more than 10 a second)", held))
	}
	if ok {
		l.log.Info("dtls session refused", "peer", from.String(), "reason", reason, "err", err.Error())
	}
}

// janitor closes sessions idle for IdleTimeout or silent for
// SilenceTimeout, and sends what timers made sessions that are up produce
// (DTLS retransmissions, path checks). It ticks on the wall clock, since
// pion's timers run on it, but ages sessions on l.clock, which stamped
// them.
func (l *Link) janitor() {
	defer l.wg.Done()
	t := time.NewTicker(min(max(min(l.cfg.IdleTimeout, l.cfg.SilenceTimeout)/4, 10*time.Millisecond), 200*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
			now := l.clock.Now()
			limit := now.Add(-l.cfg.IdleTimeout).UnixNano()
			var up []*session
			l.mu.Lock()
			for _, s := range l.byCID {
				if s.up.Load() {
					up = append(up, s)
				}
			}
			l.mu.Unlock()
			silent := now.Add(-l.cfg.SilenceTimeout).UnixNano()
			for _, s := range up {
				switch rx := s.lastRx.Load(); {
				case s.lastIO.Load() < limit:
					l.closeIdle(s, fmt.Sprintf("idle for %v", l.cfg.IdleTimeout))
				case rx < silent && s.lastIO.Load() > rx:
					l.closeIdle(s, fmt.Sprintf("nothing received for %v while sending: the peer is gone or restarted", l.cfg.SilenceTimeout))
				default:
					l.drainFrom(s, true)
				}
			}
		}
	}
}

// closeIdle closes a session the janitor found idle or silent.
func (l *Link) closeIdle(s *session, why string) {
	o := getDrained()
	s.drive.Lock()
	if !s.ended {
		s.why = why
		s.closeConn()
		s.drain(o)
	}
	s.drive.Unlock()
	l.send(o.tx)
	l.queue(o.rx...)
	putDrained(o)
}

// drained is what driving sessions produced: datagrams to send and items
// for ReadBatch.
type drained struct {
	tx     []link.Packet
	rx     []rxItem
	now    int64    // unix nanoseconds, taken once per batch
	chunks [][]byte // the arena: sealed records, opened contents
	chunk  int
	cur    []byte
}

func (o *drained) reset() {
	clear(o.tx)
	clear(o.rx)
	o.tx, o.rx = o.tx[:0], o.rx[:0]
	o.chunk, o.cur = -1, nil
}

var drainedPool = sync.Pool{New: func() any { return &drained{chunk: -1} }}

func getDrained() *drained { return drainedPool.Get().(*drained) }

func putDrained(o *drained) {
	o.reset()
	drainedPool.Put(o)
}
