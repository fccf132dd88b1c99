package dtlslink

import (
	"encoding/binary"
	"net/netip"

	"github.com/sctpgw/sctpgw/stack/link"
)

// DTLS 1.2 record layer (RFC 6347 4.1, RFC 9146 4): what the link reads of
// a datagram's first record to find its session, before DTLS sees it.
const (
	recordHeaderLen      = 13 // type, version, epoch, sequence number, length
	contentHandshake     = 22
	contentTLS12CID      = 25 // tls12_cid: the connection ID follows the sequence number
	handshakeHelloType   = 1  // ClientHello
	handshakeServerHello = 2
	cidOffset            = 11
)

// record is what routing needs of a datagram's first record.
type record struct {
	typ   byte
	epoch uint16
	cid   []byte // ours (CIDLength bytes) in a tls12_cid record; else nil
}

func parseRecord(b []byte) (record, bool) {
	if len(b) < recordHeaderLen {
		return record{}, false
	}
	r := record{typ: b[0], epoch: binary.BigEndian.Uint16(b[3:5])}
	if r.typ == contentTLS12CID {
		if len(b) < cidOffset+CIDLength+2 {
			return record{}, false
		}
		r.cid = b[cidOffset : cidOffset+CIDLength]
	}
	return r, true
}

// isClientHello: a handshake record of epoch 0 starting a ClientHello.
func (r record) isClientHello(b []byte) bool {
	return r.typ == contentHandshake && r.epoch == 0 && len(b) > recordHeaderLen && b[recordHeaderLen] == handshakeHelloType
}

// receive routes one datagram read from the socket to its session and
// feeds it to DTLS: by the connection ID we gave (which survives a NAT
// rebinding), else by the peer's address. A ClientHello from an unknown
// address starts a session when listening; one from the address of a
// session up starts a candidate that replaces it once authenticated.
func (l *Link) receive(p *link.Packet, o *drained) {
	if p.Notice != link.NoticeNone {
		l.notice(p, o)
		return
	}
	if l.isWake(p) {
		return
	}
	b := p.Buf
	r, ok := parseRecord(b)
	if !ok {
		l.stats.rxUnknown.Add(1)
		return
	}
	from := netip.AddrPortFrom(p.Path.Remote, p.Path.RemotePort)
	var s, victim *session
	l.mu.Lock()
	if r.cid != nil {
		s = l.byCID[string(r.cid)]
	} else {
		s = l.byAddr[from]
		if c := l.candidates[from]; c != nil && r.epoch == 0 {
			s = c
		} else if r.isClientHello(b) && (s == nil || (s.up.Load() && !s.dialled)) {
			s, victim = l.newAccepted(from, p.Path.Local, s, o.now)
		}
	}
	l.mu.Unlock()
	if victim != nil {
		l.evict(victim)
	}
	if s == nil {
		l.stats.rxUnknown.Add(1)
		return
	}
	// The session's clocks (idle, silence) move for records that
	// authenticate, not for this datagram: anyone can send one
	// (receiveRecords).
	s.drive.Lock()
	s.handle(b, from, o)
	s.drive.Unlock()
}

// notice passes an ICMP report about a peer's address on to the engine,
// on its session's path.
func (l *Link) notice(p *link.Packet, o *drained) {
	from := netip.AddrPortFrom(p.Path.Remote, p.Path.RemotePort)
	l.mu.Lock()
	s := l.byAddr[from]
	l.mu.Unlock()
	if s == nil || !s.up.Load() {
		return
	}
	o.rx = append(o.rx, rxItem{path: s.path, notice: p.Notice, mtu: p.MTU, err: p.Err})
}
