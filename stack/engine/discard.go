package engine

import (
	"fmt"
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
)

// DiscardKind says why the engine dropped received input or cut a reply.
// Each kind has its counter in Stats.
type DiscardKind uint8

const (
	// DiscardChecksum: a packet with a bad CRC32c (Stats.ChecksumErrors).
	DiscardChecksum DiscardKind = iota + 1
	// DiscardMalformed: a packet with nothing to process: no whole chunk,
	// or a zero port (Stats.MalformedPackets).
	DiscardMalformed
	// DiscardPartialChunk: a packet that ended in a chunk with bad framing;
	// the chunks before it were processed (Stats.PartialChunks).
	DiscardPartialChunk
	// DiscardBundledInit: a packet with an INIT and other chunks
	// (Stats.DiscardedBundledInit).
	DiscardBundledInit
	// DiscardBadTag: a packet for an association with a verification tag
	// that is not its own (Stats.DiscardedBadTag).
	DiscardBadTag
	// DiscardReportCut: parts of a reply (reported parameters, error
	// causes, HEARTBEAT ACKs, addresses) left out so that it fits one
	// packet (Stats.ReportItemsCut).
	DiscardReportCut
	// DiscardUnauthenticated: a packet whose chunks must arrive
	// authenticated (SCTP-AUTH, RFC 4895) came without an AUTH chunk, or
	// from a peer offering no SCTP-AUTH where it is required
	// (Stats.DiscardedUnauthenticated).
	DiscardUnauthenticated
	// DiscardBadAuth: a packet whose AUTH chunk did not verify: a wrong
	// HMAC, an unknown key identifier or HMAC (Stats.DiscardedBadAuth).
	DiscardBadAuth
	// DiscardReplayedCookie: a COOKIE ECHO whose cookie had already built
	// an association (Stats.DiscardedReplayedCookie).
	DiscardReplayedCookie

	// NumDiscardKinds bounds the kinds, for tables indexed by kind.
	NumDiscardKinds
)

var discardNames = [...]string{
	DiscardChecksum: "packet with a bad checksum", DiscardMalformed: "malformed packet",
	DiscardPartialChunk: "partial chunk", DiscardBundledInit: "INIT bundled with other chunks",
	DiscardBadTag: "packet with a wrong verification tag", DiscardReportCut: "reply items that did not fit a packet",
	DiscardUnauthenticated: "packet without the SCTP-AUTH it needs", DiscardBadAuth: "packet whose AUTH chunk did not verify",
	DiscardReplayedCookie: "replayed COOKIE ECHO",
}

func (k DiscardKind) String() string {
	if int(k) < len(discardNames) && discardNames[k] != "" {
		return discardNames[k]
	}
	return fmt.Sprintf("discard kind %d", uint8(k))
}

// Discard is one drop, as HostConfig.OnDiscard hears of it.
type Discard struct {
	Kind DiscardKind
	// Link and Path are where the packet came from; for DiscardReportCut,
	// where the reply goes.
	Link int
	Path link.Path
	// Err is the parse error of a malformed packet or partial chunk.
	Err error
	// Count is how many items were cut (DiscardReportCut); 1 otherwise.
	Count int
	At    time.Time
}

// discard counts n drops of kind and tells HostConfig.OnDiscard.
func (h *Host) discard(kind DiscardKind, linkIdx int, p link.Path, err error, n int) {
	if n <= 0 {
		return
	}
	s := &h.stats
	switch kind {
	case DiscardChecksum:
		s.ChecksumErrors += uint64(n)
	case DiscardMalformed:
		s.MalformedPackets += uint64(n)
	case DiscardPartialChunk:
		s.PartialChunks += uint64(n)
	case DiscardBundledInit:
		s.DiscardedBundledInit += uint64(n)
	case DiscardBadTag:
		s.DiscardedBadTag += uint64(n)
	case DiscardReportCut:
		s.ReportItemsCut += uint64(n)
	case DiscardUnauthenticated:
		s.DiscardedUnauthenticated += uint64(n)
	case DiscardBadAuth:
		s.DiscardedBadAuth += uint64(n)
	case DiscardReplayedCookie:
		s.DiscardedReplayedCookie += uint64(n)
	}
	if h.cfg.OnDiscard != nil {
		h.cfg.OnDiscard(Discard{Kind: kind, Link: linkIdx, Path: p, Err: err, Count: n, At: h.lastNow})
	}
}

// reportCut counts n items cut from a reply of a's.
func (a *Association) reportCut(n int) {
	pa := a.tx()
	a.host.discard(DiscardReportCut, pa.linkIdx, pa.p, nil, n)
}
