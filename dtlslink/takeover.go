package dtlslink

import (
	"errors"
	"net"
	"net/netip"

	"github.com/sctpgw/sctpgw/stack/link"
)

// maxChallenges bounds the path challenges a session remembers.
const maxChallenges = 4

// challenge is a return routability check pion sent (RFC 9853): the
// address it went to and its cookie.
type challenge struct {
	to     netip.AddrPort
	cookie [8]byte
}

// sealData seals one SCTP packet into a record for the peer's current
// address (drive held, the session up).
func (s *session) sealData(b []byte, o *drained) bool {
	out := o.alloc(s.rec.sealedLen(len(b)))
	if err := s.rec.sealTo(out, contentAppData, b); err != nil {
		s.l.stats.txErrors.Add(1)
		return false
	}
	to := *s.remote.Load()
	o.tx = append(o.tx, link.Packet{Path: link.Path{Local: s.local, Remote: to.Addr(), RemotePort: to.Port()}, Buf: out})
	return true
}

// receiveRecords opens a datagram's records once the session is up (drive
// held): application data from the peer's address is delivered here;
// everything else that authenticates (alerts, handshake retransmissions,
// return routability checks, and any record from another address, which
// pion must see to check that path, and delivers) goes on to pion.
func (s *session) receiveRecords(b []byte, from netip.AddrPort, o *drained) {
	r := s.rec
	cur := *s.remote.Load()
	elsewhere := from != cur
	var addr net.Addr
	if elsewhere {
		addr = net.UDPAddrFromAddrPort(from)
	}
	for len(b) > 0 {
		rec, rest, ok := splitRecord(b, len(r.ourCID))
		if !ok {
			s.l.stats.rxDiscarded.Add(1)
			return
		}
		b = rest
		typ, pt, err := r.openTo(o.alloc(len(rec)), rec)
		if err == nil {
			// Only what authenticated shows the peer is there, or keeps
			// the session from idling out.
			s.lastRx.Store(o.now)
			s.lastIO.Store(o.now)
		}
		switch {
		case errors.Is(err, errNotOurs):
		case err != nil:
			// Discarded silently (RFC 6347 4.1.2.7).
			s.l.stats.rxDiscarded.Add(1)
			continue
		case typ == contentAppData && !elsewhere:
			o.rx = append(o.rx, rxItem{path: s.path, buf: pt})
			continue
		case typ == contentRRC && elsewhere && len(pt) == 9 && pt[0] == rrcPathResponse && s.challenged(from, pt[1:]):
			// The peer answered from its new address the check pion sent
			// there: pion moves the session to it, and so do we.
			s.l.moved(s, cur, from)
		}
		if err := s.dc.HandleDatagram(rec, addr); err != nil {
			s.l.stats.rxErrors.Add(1)
		}
	}
}

// challenged reports whether a path challenge with cookie went to a.
func (s *session) challenged(a netip.AddrPort, cookie []byte) bool {
	for _, c := range s.challenges {
		if c.to == a && string(c.cookie[:]) == string(cookie) {
			return true
		}
	}
	return false
}

// reseal takes a datagram pion produced after the handover: records of
// the handshake's epoch go as they are, the current epoch's are opened and
// sealed again under our sequence numbers.
func (s *session) reseal(d []byte, to netip.AddrPort, o *drained) {
	r := s.rec
	type part struct {
		typ     byte
		content []byte
		raw     []byte
	}
	var parts []part
	size := 0
	for len(d) > 0 {
		rec, rest, ok := splitRecord(d, len(r.peerCID))
		if !ok {
			break
		}
		d = rest
		typ, pt, err := r.unsealLocal(make([]byte, len(rec)), rec)
		switch {
		case errors.Is(err, errNotOurs):
			parts = append(parts, part{raw: rec})
			size += len(rec)
			continue
		case err != nil:
			s.l.log.Warn("dtlslink: a record of pion's does not open", "peer", s.key.String(), "err", err)
			continue
		}
		if typ == contentRRC && len(pt) == 9 && pt[0] == rrcPathChallenge {
			c := challenge{to: to}
			copy(c.cookie[:], pt[1:])
			if len(s.challenges) == maxChallenges {
				s.challenges = s.challenges[1:]
			}
			s.challenges = append(s.challenges, c)
		}
		parts = append(parts, part{typ: typ, content: pt})
		size += r.sealedLen(len(pt))
	}
	if len(parts) == 0 {
		return
	}
	out := o.alloc(size)
	off := 0
	for _, p := range parts {
		if p.raw != nil {
			off += copy(out[off:], p.raw)
			continue
		}
		n := r.sealedLen(len(p.content))
		if err := r.sealTo(out[off:off+n], p.typ, p.content); err != nil {
			s.l.stats.txErrors.Add(1)
			continue
		}
		off += n
	}
	o.tx = append(o.tx, link.Packet{Path: link.Path{Local: s.local, Remote: to.Addr(), RemotePort: to.Port()}, Buf: out[:off]})
}

// arenaChunk is the unit of a drained's byte arena.
const arenaChunk = 64 << 10

// alloc returns n bytes that stay valid until the drained is reset.
func (o *drained) alloc(n int) []byte {
	if n > arenaChunk {
		return make([]byte, n)
	}
	if cap(o.cur)-len(o.cur) < n {
		o.chunk++
		if o.chunk >= len(o.chunks) {
			o.chunks = append(o.chunks, make([]byte, arenaChunk))
		}
		o.cur = o.chunks[o.chunk][:0]
	}
	b := o.cur[len(o.cur) : len(o.cur)+n]
	o.cur = o.cur[:len(o.cur)+n]
	return b
}

// owned copies items whose bytes live in an arena.
func owned(items []rxItem) []rxItem {
	out := make([]rxItem, len(items))
	for i, it := range items {
		out[i] = it
		if it.buf != nil {
			out[i].buf = append([]byte(nil), it.buf...)
		}
	}
	return out
}
