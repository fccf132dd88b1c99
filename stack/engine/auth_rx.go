package engine

import (
	"slices"

	"github.com/sctpgw/sctpgw/stack/internal/auth"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// rxAuth is the AUTH chunk of the packet being processed, if any.
type rxAuth struct {
	present bool
	raw     []byte // the packet, common header on
	off     int    // where the AUTH chunk starts in raw
	// from is the index in the packet's chunk list (with the AUTH chunk
	// taken out) of the first chunk it covers.
	from int
	// result: 0 not verified yet, 1 verified, -1 failed.
	result int8
	// refused: the packet was counted as unauthenticated already.
	refused bool
	link    int
	path    link.Path
}

// rxAuthPrepare takes the first AUTH chunk out of pkt's chunks and
// remembers where it was, so that the rest of the input sees a COOKIE ECHO
// behind it first, as RFC 4895 6.3 places it, and every chunk knows
// whether it is covered. A later AUTH chunk in the same packet is skipped
// where it stands (processChunk).
func (h *Host) rxAuthPrepare(linkIdx int, p link.Path, pkt *wire.Packet, buf []byte) {
	h.rxAuth = rxAuth{link: linkIdx, path: p}
	off := wire.CommonHeaderLen
	for i, c := range pkt.Chunks {
		if c.Type == wire.TypeAuth {
			h.rxAuth.present, h.rxAuth.raw, h.rxAuth.off, h.rxAuth.from = true, buf, off, i
			pkt.Chunks = slices.Delete(pkt.Chunks, i, i+1)
			return
		}
		off += pad4(wire.ChunkHeaderLen + len(c.Value))
	}
}

// rxAllowed says whether chunk i (of type t) of the packet being processed
// may be processed by a: it is covered by an AUTH chunk that verifies with
// a's keys, or a does not require t authenticated (RFC 4895 6.3). An
// association without SCTP-AUTH takes everything; an AUTH chunk sent to it
// is ignored.
func (a *Association) rxAllowed(i int, t wire.ChunkType) bool {
	s := a.auth.s
	if s == nil {
		return true
	}
	rx := &a.host.rxAuth
	if rx.present && i >= rx.from {
		if rx.result == 0 {
			rx.result = a.verifyRx(s)
		}
		return rx.result > 0
	}
	if !s.Local.Has(t) {
		return true
	}
	a.host.refuseUnauthenticated(a.cfg.Auth.Keys)
	return false
}

// verifyRx checks the packet's AUTH chunk with s; chunks after a failed one
// are all discarded, and an HMAC we did not offer is reported (RFC 4895
// 6.3, 4.1).
func (a *Association) verifyRx(s *auth.Session) int8 {
	rx := &a.host.rxAuth
	v := s.Verify(rx.raw, rx.off)
	switch v.Result {
	case auth.OK:
		if v.NewKey {
			a.notify(Event{Type: AuthenticationEvent, AuthIndication: AuthNewKey, AuthKeyID: v.KeyID})
		}
		return 1
	case auth.UnsupportedHMAC:
		a.queueCause(&wire.UnsupportedHMACCause{HMACID: v.HMACID})
	}
	a.host.discard(DiscardBadAuth, rx.link, rx.path, nil, 1)
	return -1
}

// adoptPathIfAuthentic applies RFC 6951 5.4 (adoptPath: the packet's UDP
// source port, link and local address become its path's) to a packet that
// passed the tag check, unless the association uses SCTP-AUTH and the
// packet does not authenticate: its AUTH chunk must verify. Otherwise
// anyone who knows the tags (an onlooker) could send the tunnel's packets
// to a port of their choosing with a packet whose chunks are all
// discarded, an ABORT by other means. A packet replayed from another port
// still moves the path (SCTP-AUTH has no replay protection; RFC 6951 8
// leaves non-blind attackers to the same rules as for SCTP without it).
func (a *Association) adoptPathIfAuthentic(linkIdx int, p link.Path) {
	if s := a.auth.s; s != nil && !s.Local.Empty() {
		rx := &a.host.rxAuth
		if !rx.present {
			return
		}
		if rx.result == 0 {
			rx.result = a.verifyRx(s)
		}
		if rx.result < 0 {
			return
		}
	}
	a.adoptPath(linkIdx, p)
}
