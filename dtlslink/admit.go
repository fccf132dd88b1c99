package dtlslink

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/pion/dtls/v4"
)

// Admission of the handshakes ClientHellos start (a core's listening
// socket). A ClientHello costs no more than a spoofed source address, yet
// it makes pion build a server connection (some 160 µs of CPU, 23 KiB and
// four goroutines here) that waits up to HandshakeTimeout. Unbounded, 1024
// of them (100 a second, some 15 kB/s) kept MaxSessions full and every
// new peer out. pion answers a first ClientHello with a HelloVerifyRequest
// (RFC 6347 4.2.1) whose cookie it keeps in that connection, and expects
// the hello that returns it with message_seq 1, so the link cannot put a
// stateless cookie exchange of its own in front of it (the returned hello
// would be no first hello to pion, and rewriting it breaks the Finished).
// Instead:
//
//   - a handshake whose peer has not returned the cookie yet is
//     unverified: the address may be spoofed. At most MaxUnverified of
//     them exist; a ClientHello beyond that pushes the oldest out (counted
//     as ReasonCookieUnanswered, never logged one by one), so a flood
//     cycles through that pool instead of taking MaxSessions, and a real
//     peer gets in if its cookie comes back before MaxUnverified newer
//     ClientHellos have arrived (a pushed-out one retransmits its hello and
//     starts again);
//   - the peer has returned the cookie once pion sends its ServerHello:
//     from then on the handshake counts against MaxSessions only;
//   - one address has at most MaxHandshakesPerSource handshakes at a time,
//     verified or not (a host that does receive at its address, without
//     credentials, cannot hold every slot until its handshakes time out);
//   - at most HandshakeRate handshakes start a second (a burst of as many):
//     the link reads every datagram on ReadBatch's goroutine, so a flood
//     that made pion connections as fast as it came would take the CPU
//     from the sessions that are up; a ClientHello beyond the rate costs
//     a counter (ReasonHelloRate).

// errHandshakesPerSource refuses a ClientHello from an address with
// MaxHandshakesPerSource handshakes already.
var errHandshakesPerSource = errors.New("max_handshakes_per_source reached")

// admit decides on a ClientHello from from that would start a session
// (l.mu held): whether it may, and the unverified session it pushes out
// (nil: none), which the caller ends with evict once l.mu is released.
// now is the batch's time on l.clock (unix nanoseconds): the rate is
// measured on it, never on the wall clock, so a test's clock drives it.
func (l *Link) admit(from netip.AddrPort, now int64) (victim *session, ok bool) {
	if !l.helloRate.AllowN(time.Unix(0, now), 1) {
		l.stats.refused[reasonIndex(ReasonHelloRate)].Add(1)
		return nil, false
	}
	if l.perSource[from.Addr()] >= l.cfg.MaxHandshakesPerSource {
		l.stats.refused[reasonIndex(ReasonSessionLimit)].Add(1)
		l.logRefusal(from, ReasonSessionLimit, errHandshakesPerSource)
		return nil, false
	}
	if len(l.unverified) < l.cfg.MaxUnverified && l.nsess < l.cfg.MaxSessions {
		return nil, true
	}
	if len(l.unverified) == 0 {
		l.stats.refused[reasonIndex(ReasonSessionLimit)].Add(1)
		l.logRefusal(from, ReasonSessionLimit, errors.New("max_sessions reached"))
		return nil, false
	}
	victim = l.unverified[0]
	l.forget(victim)
	l.stats.refused[reasonIndex(ReasonCookieUnanswered)].Add(1)
	return victim, true
}

// admitted registers a session accepted from a ClientHello as unverified
// (l.mu held).
func (l *Link) admitted(s *session) {
	s.unverified, s.counted = true, true
	l.unverified = append(l.unverified, s)
	l.perSource[s.key.Addr()]++
}

// unadmit takes s out of the handshakes' accounts (l.mu held): it is up,
// or gone.
func (l *Link) unadmit(s *session) {
	l.verify(s)
	if s.counted {
		s.counted = false
		a := s.key.Addr()
		if l.perSource[a]--; l.perSource[a] <= 0 {
			delete(l.perSource, a)
		}
	}
}

// verify takes s out of the unverified pool (l.mu held).
func (l *Link) verify(s *session) {
	if !s.unverified {
		return
	}
	s.unverified = false
	if i := slices.Index(l.unverified, s); i >= 0 {
		l.unverified = slices.Delete(l.unverified, i, i+1)
	}
}

// cookieReturned notes, from what pion sends for an accepted session still
// handshaking (drive held), that its peer returned the cookie: pion sends
// its ServerHello only then.
func (s *session) cookieReturned(datagrams [][]byte) {
	if s.dialled || s.answered {
		return
	}
	for _, d := range datagrams {
		if len(d) > recordHeaderLen && d[0] == contentHandshake && d[3] == 0 && d[4] == 0 && d[recordHeaderLen] == handshakeServerHello {
			s.answered = true
			s.l.mu.Lock()
			s.l.verify(s)
			s.l.mu.Unlock()
			return
		}
	}
}

// evict ends a session admit pushed out, quietly: its peer, spoofed or
// slow, gets no alert, and it is out of the maps already.
func (l *Link) evict(s *session) {
	s.drive.Lock()
	s.ended, s.finished, s.why = true, true, whyEvicted
	s.settle()
	s.closeConn()
	for s.dc.NextEvent().Kind != dtls.DetachedNoEvent {
	}
	s.drive.Unlock()
}
