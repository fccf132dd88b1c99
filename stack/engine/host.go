package engine

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/cookie"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// LinkInfo describes one link a Host sends and receives on.
type LinkInfo struct {
	Kind link.Kind
	// Overhead is the number of bytes the link adds under the SCTP packet
	// toward remote (IP, plus UDP on an encapsulating link: RFC 6951 5.6).
	// Nil means link.IPOverhead, plus 8 on a UDP link.
	Overhead func(remote netip.Addr) int
	// AnswerUnserved makes the Host answer packets for ports nobody on it
	// serves as RFC 9260 8.4 says (ABORT with the T bit). Set it on a UDP
	// link, whose every SCTP port is ours. Leave it off on a native link:
	// another SCTP stack may own those ports (docs/design.md 4).
	AnswerUnserved bool
	// ChecksumVerified says the link checks the CRC32c of what it
	// delivers (link.ChecksumVerifier): the Host does not check it again.
	ChecksumVerified bool
	// MTUHint, when set, is what the link knows of the MTU toward a path
	// (link.MTUHinter); 0 means it does not know. The Host sizes packets
	// by the smaller of it and the configured PathMTU (Host.pathMTU).
	MTUHint func(p link.Path) int
}

// pathMTU is the IP-level MTU packets on path p of link linkIdx are sized
// by before anything else is learnt of it: the configured one, or the
// link's hint when smaller. The listener sizes its INIT ACK by it, since
// a stateless answer the link refuses cannot be resized (RFC 9260 7.3
// wants packets within the path MTU), and every new path starts from it.
func (h *Host) pathMTU(linkIdx int, p link.Path, configured int) int {
	if f := h.cfg.Links[linkIdx].MTUHint; f != nil {
		if m := f(p); m >= minPathMTU && m < configured {
			return m
		}
	}
	return configured
}

func (l LinkInfo) overhead(remote netip.Addr) int {
	if l.Overhead != nil {
		return l.Overhead(remote)
	}
	n := link.IPOverhead(remote)
	if l.Kind.Encapsulated() {
		n += 8
	}
	return n
}

// HostConfig configures a Host.
type HostConfig struct {
	Links []LinkInfo
	// Rand supplies verification tags, initial TSNs, nonces and cookie
	// secrets; nil means crypto/rand. Simulations pass a seeded source.
	Rand io.Reader
	// CookieKeyRotation is how often the cookie secret changes (default 1 h).
	CookieKeyRotation time.Duration
	// PortUse, when set, hears when a local port starts or stops being used
	// on a link (by a listener or an association), so a native link can
	// filter everything else in the kernel.
	PortUse func(linkIdx int, port uint16, inUse bool)
	// OnDiscard, when set, hears of every packet dropped as malformed or
	// unverifiable and every reply cut to fit a packet (each counted in
	// Stats as well), so a runtime can log them, rate-limited. It runs
	// during the input that caused it: it must be cheap and must not call
	// the Host.
	OnDiscard func(Discard)
}

// Outgoing is a packet the Host wants sent on link Link.
type Outgoing struct {
	Link int
	link.Packet
}

type assocKey struct {
	localPort, remotePort uint16
	remote                netip.Addr
}

// Host is every SCTP endpoint reachable through a set of links: listeners,
// associations, and the out-of-the-blue handling for their ports. It is not
// safe for concurrent use; one goroutine (or a simulator) drives it.
type Host struct {
	cfg       HostConfig
	rand      io.Reader
	jar       *cookie.Jar
	listeners map[uint16]*listener
	assocs    map[assocKey]*Association
	portRefs  map[uint16]int // local ports of associations: served ports
	// recent holds ports whose last association ended lately, until when
	// they still count as ours: a lost SHUTDOWN COMPLETE or ABORT is then
	// answered by 8.4 (the peer retransmits SHUTDOWN ACK) even on a native
	// link, where ports nobody serves are otherwise left to other stacks.
	recent map[uint16]time.Time
	// ports tracks the users of each (link, port) for HostConfig.PortUse.
	ports linkPorts

	out     []Outgoing
	bufFree [][]byte

	timers      timerHeap
	events      []pendingEvent
	eventsSpare []pendingEvent
	accepts     []*AcceptRequest
	dirty       []*Association
	closed      bool
	// inFinish is set while an input is processed, so that calls made by
	// handlers only queue work for the loop already running.
	inFinish bool
	deferred bool // see Defer

	stats Stats

	// lastNow is the time of the input being processed.
	lastNow time.Time

	// scratch for parsing, reused across packets
	pkt  wire.Packet
	rbuf [8]byte
	// rxAuth is the AUTH chunk of the packet being processed (auth_rx.go);
	// replay the cookies that built associations (cookie.Replay).
	rxAuth rxAuth
	replay *cookie.Replay
}

// Stats counts what /proc/net/sctp/snmp counts, named alike.
type Stats struct {
	CurrEstab               int
	ActiveEstabs            uint64
	PassiveEstabs           uint64
	Aborteds                uint64
	Shutdowns               uint64
	OutOfBlues              uint64
	ChecksumErrors          uint64
	OutCtrlChunks           uint64
	OutOrderChunks          uint64
	OutUnorderChunks        uint64
	InCtrlChunks            uint64
	InOrderChunks           uint64
	InUnorderChunks         uint64
	FragUsrMsgs             uint64
	ReasmUsrMsgs            uint64
	OutSCTPPacks            uint64
	InSCTPPacks             uint64
	T1InitExpireds          uint64
	T1CookieExpireds        uint64
	T2ShutdownExpireds      uint64
	T3RtxExpireds           uint64
	T5ShutdownGuardExpireds uint64
	DelaySackExpireds       uint64
	// T3Retransmits counts T3-rtx expiries that retransmitted (6.3.3 E3;
	// not those that ended the association or reprobed a zero window),
	// FastRetransmits, per acknowledgement, the destinations whose chunks
	// it marked for Fast Retransmit (7.2.4), as Linux counts
	// SctpT3Retransmits and SctpFastRetransmits: events, not chunks.
	T3Retransmits   uint64
	FastRetransmits uint64
	// TailLossProbes counts tail loss probes sent (tailprobe.go), and
	// TailLossProbeLosses the chunks their answers showed lost.
	TailLossProbes      uint64
	TailLossProbeLosses uint64
	// LostRetransmits counts fast retransmissions found lost, by chunks
	// sent after them being acknowledged, and sent again.
	LostRetransmits  uint64
	HBExpireds       uint64 // heartbeat timer expiries that sent a HEARTBEAT
	MalformedPackets uint64
	DiscardedBadTag  uint64
	// ReportItemsCut counts what was left out of a reply because the reply
	// would not fit one packet at the path MTU: unrecognized parameters,
	// error causes, HEARTBEAT ACKs, addresses (a peer controls how many of
	// them it provokes; issue 12).
	ReportItemsCut uint64
	// PartialChunks counts packets that ended in a chunk whose framing was
	// bad (a length past the end): the chunks before it were processed and
	// it was dropped (RFC 9260 6.10). MalformedPackets counts packets with
	// nothing to process.
	PartialChunks uint64
	// DiscardedBundledInit counts packets discarded for carrying an INIT
	// with other chunks (RFC 9260 6.10, 8.5.1 A).
	DiscardedBundledInit uint64
	// CookieAction counts COOKIE ECHOs for an existing association by the
	// action of RFC 9260 5.2.4 they took: [0] is A (peer restart), [1] B,
	// [2] C, [3] D. Cookies that match no row are not counted.
	CookieAction [4]uint64
	// DiscardedUnauthenticated and DiscardedBadAuth count packets refused
	// by SCTP-AUTH (RFC 4895): chunks that must be authenticated came
	// without it, or with an AUTH chunk that did not verify. The AuthKeys
	// in use count them too, per route and key.
	DiscardedUnauthenticated uint64
	DiscardedBadAuth         uint64
	// DiscardedReplayedCookie counts COOKIE ECHOs whose cookie had already
	// built an association.
	DiscardedReplayedCookie uint64
}

// tiePair is an association's Local-Tie-Tag and Peer's-Tie-Tag.
type tiePair struct{ local, peer uint32 }

// tieTagsOf returns a's Tie-Tags, drawing them on first use.
func (h *Host) tieTagsOf(a *Association) tiePair {
	if !a.hasTie {
		a.tie, a.hasTie = tiePair{h.random32(), h.random32()}, true
	}
	return a.tie
}

// pendingEvent is a notification (ev) or, when sig.Type is set, a signal,
// queued for a's handler: both go through one queue so that the handler
// hears them in the order they were raised.
type pendingEvent struct {
	a   *Association
	ev  Event
	sig Signal
}

// NewHost makes a Host for the given links.
func NewHost(cfg HostConfig) *Host {
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.CookieKeyRotation == 0 {
		cfg.CookieKeyRotation = defaultCookieKeyRotation
	}
	return &Host{
		cfg:       cfg,
		rand:      cfg.Rand,
		jar:       cookie.NewJar(cfg.Rand, cfg.CookieKeyRotation),
		listeners: make(map[uint16]*listener),
		assocs:    make(map[assocKey]*Association),
		portRefs:  make(map[uint16]int),
		recent:    make(map[uint16]time.Time),
		ports:     newLinkPorts(),
	}
}

// Now is the time of the input being processed (or of the last one): what
// handlers, which receive no time, pass back into the engine.
func (h *Host) Now() time.Time { return h.lastNow }

// Stats returns a copy of the counters.
func (h *Host) Stats() Stats {
	s := h.stats
	return s
}

// Associations calls f for every association the host holds.
func (h *Host) Associations(f func(*Association)) {
	for k, a := range h.assocs {
		if k == a.key { // not one of its peer's other addresses
			f(a)
		}
	}
}

// Errors for Host calls.
var (
	ErrPortInUse = errors.New("engine: port already in use toward that peer")
	ErrListening = errors.New("engine: port already has a listener")
	ErrBadLink   = errors.New("engine: no such link")
)

// random32 draws a nonzero 32-bit value (RFC 9260 5.3.1: tags are never 0).
func (h *Host) random32() uint32 {
	for {
		if _, err := io.ReadFull(h.rand, h.rbuf[:4]); err != nil {
			panic(fmt.Sprintf("engine: random source failed: %v", err))
		}
		if v := binary.BigEndian.Uint32(h.rbuf[:4]); v != 0 {
			return v
		}
	}
}

func (h *Host) random64() uint64 {
	if _, err := io.ReadFull(h.rand, h.rbuf[:8]); err != nil {
		panic(fmt.Sprintf("engine: random source failed: %v", err))
	}
	return binary.BigEndian.Uint64(h.rbuf[:8])
}

// portLinger is how long a port stays ours after its last association:
// long enough for the peer's T2 retransmissions to find an answer.
const portLinger = 5 * time.Minute

// served reports whether some listener or association uses local port p, or
// did until lately.
func (h *Host) served(p uint16, now time.Time) bool {
	if h.listeners[p] != nil || h.portRefs[p] > 0 {
		return true
	}
	until, ok := h.recent[p]
	return ok && now.Before(until)
}

func (h *Host) addAssoc(a *Association) {
	h.assocs[a.key] = a
	h.portRefs[a.key.localPort]++
	a.portLink = a.tx().linkIdx
	h.usePort(a.portLink, a.key.localPort, true)
}

// maxPeerAddrs bounds the peer addresses an association is found by
// (primary included) on either side, and the address parameters read from
// one INIT or INIT ACK: the cookie's bound, so both sides agree.
const maxPeerAddrs = cookie.MaxPeerAddrs

// addPeerAddrs gives a a path to each of the peer's other addresses, so
// that packets from them reach it: the INIT ACK's source address and those
// it lists (RFC 9260 5.1.2), or those the INIT listed. confirmed says 5.4
// counts them as the peer's already (addresses the user dialled). An
// address another association already holds for the same ports stays that
// association's.
func (h *Host) addPeerAddrs(a *Association, confirmed bool, addrs ...netip.Addr) {
	linkIdx := a.tx().linkIdx
	if h.LinkKind(linkIdx) != link.Native {
		// Behind a NAT the addresses a peer lists are its private ones,
		// which may be another peer's public address (RFC 6951 5.7: an
		// encapsulating peer must not list addresses a NAT translates).
		return
	}
	for _, addr := range addrs {
		if len(a.paths.list) >= maxPeerAddrs {
			return
		}
		if !addr.IsValid() || addr.IsUnspecified() || addr.IsMulticast() || a.paths.find(addr) != nil {
			continue
		}
		k := assocKey{localPort: a.key.localPort, remotePort: a.key.remotePort, remote: addr}
		if h.assocs[k] != nil {
			continue
		}
		h.assocs[k] = a
		a.addPath(linkIdx, addr, confirmed)
	}
}

// addCookieAddrs adds the peer addresses a cookie carries: the INIT's
// source first, which 5.4 rule 2 confirms (the INIT ACK went there), then
// those the INIT listed, unconfirmed. The COOKIE ECHO's source, where the
// association is made, counts as confirmed too: it echoed the cookie of
// that INIT ACK under our tag.
func (h *Host) addCookieAddrs(a *Association, st *cookie.State) {
	h.addPeerAddrs(a, true, st.PeerAddrs[0])
	h.addPeerAddrs(a, false, st.PeerAddrs[1:]...)
}

// dropPeerAddr stops packets from addr reaching a.
func (h *Host) dropPeerAddr(a *Association, addr netip.Addr) {
	k := assocKey{localPort: a.key.localPort, remotePort: a.key.remotePort, remote: addr}
	if h.assocs[k] == a {
		delete(h.assocs, k)
	}
}

func (h *Host) removeAssoc(a *Association) {
	for _, pa := range a.paths.list[1:] {
		k := assocKey{localPort: a.key.localPort, remotePort: a.key.remotePort, remote: pa.p.Remote}
		if h.assocs[k] == a {
			delete(h.assocs, k)
		}
	}
	a.tie, a.hasTie = tiePair{}, false
	if h.assocs[a.key] == a {
		delete(h.assocs, a.key)
		h.usePort(a.portLink, a.key.localPort, false)
		if h.portRefs[a.key.localPort]--; h.portRefs[a.key.localPort] <= 0 {
			delete(h.portRefs, a.key.localPort)
			h.lingerPort(a.key.localPort)
		}
	}
	h.timers.remove(a)
}

func (h *Host) lingerPort(p uint16) {
	if len(h.recent) >= 4096 {
		for q, until := range h.recent {
			if !h.lastNow.Before(until) {
				delete(h.recent, q)
			}
		}
		if len(h.recent) >= 4096 {
			return
		}
	}
	h.recent[p] = h.lastNow.Add(portLinger)
}

// --- output ---------------------------------------------------------------

// getBuf returns an empty buffer with room for a packet of up to size bytes.
func (h *Host) getBuf(size int) []byte {
	if n := len(h.bufFree); n > 0 {
		b := h.bufFree[n-1]
		h.bufFree = h.bufFree[:n-1]
		if cap(b) >= size {
			return b[:0]
		}
	}
	if size < 2048 {
		size = 2048
	}
	return make([]byte, 0, size)
}

// maxFreeBufs bounds the packet buffers kept for reuse: enough for the
// packets of a busy flush, without keeping a whole burst's worth (a timer
// tick that sends to thousands of associations) for the life of the Host.
const maxFreeBufs = 256

// putBuf keeps b for reuse by getBuf.
func (h *Host) putBuf(b []byte) {
	if len(h.bufFree) < maxFreeBufs {
		h.bufFree = append(h.bufFree, b[:0])
	}
}

func (h *Host) emit(linkIdx int, p link.Path, b []byte) { h.emitPacket(linkIdx, p, b, false) }

// emitPacket queues b for sending; fragment marks a packet larger than the
// path MTU that the link must let IP fragment (link.Packet.Fragment).
func (h *Host) emitPacket(linkIdx int, p link.Path, b []byte, fragment bool) {
	h.stats.OutSCTPPacks++
	h.out = append(h.out, Outgoing{Link: linkIdx, Packet: link.Packet{Path: p, Buf: b, Fragment: fragment}})
}

// Outgoing returns the packets produced since the last ReleaseOutgoing. Their
// buffers stay valid until ReleaseOutgoing.
func (h *Host) Outgoing() []Outgoing { return h.out }

// ReleaseOutgoing recycles the buffers of the packets Outgoing returned.
func (h *Host) ReleaseOutgoing() {
	for i := range h.out {
		h.putBuf(h.out[i].Buf)
		h.out[i] = Outgoing{}
	}
	h.out = h.out[:0]
}

// sendOOTB answers a packet that belongs to no association with one chunk,
// on the path it came from (draft-tuexen-tsvwg-sctp-udp-encaps-cons 3: same
// encapsulation, ports swapped).
func (h *Host) sendOOTB(linkIdx int, p link.Path, srcPort, dstPort uint16, vtag uint32, c wire.Chunk) {
	b := h.getBuf(256)
	b = wire.AppendPacket(b, wire.CommonHeader{SrcPort: srcPort, DstPort: dstPort, VerificationTag: vtag}, c)
	h.stats.OutCtrlChunks++
	h.emit(linkIdx, p, b)
}

// --- events -----------------------------------------------------------------

func (h *Host) notify(a *Association, ev Event) {
	h.events = append(h.events, pendingEvent{a: a, ev: ev})
}

func (h *Host) signal(a *Association, s Signal) {
	h.events = append(h.events, pendingEvent{a: a, sig: s})
}

// finishLocked runs after every input: it sends what associations queued,
// then delivers events, whose handlers may queue more, until both are
// drained. The caller has set inFinish (Host.input).
func (h *Host) finishLocked(now time.Time) {
	for round := 0; ; round++ {
		h.flushAll(now)
		if len(h.events) == 0 && len(h.accepts) == 0 {
			return
		}
		if round > 1000 {
			// Handlers that keep causing events forever are a bug; stop
			// rather than spin.
			panic("engine: event handlers do not settle")
		}
		h.dispatch()
	}
}

// dispatch delivers queued accept requests and events once each.
func (h *Host) dispatch() {
	reqs := h.accepts
	h.accepts = nil
	for _, r := range reqs {
		r.l.acceptor.Accept(r)
	}
	evs := h.events
	h.events = h.eventsSpare[:0]
	for i := range evs {
		pe := evs[i]
		evs[i] = pendingEvent{}
		switch {
		case pe.a.handler == nil:
		case pe.sig.Type != 0:
			pe.a.handler.HandleSignal(pe.a, pe.sig)
		default:
			pe.a.handler.HandleEvent(pe.a, pe.ev)
		}
	}
	h.eventsSpare = evs[:0]
}

// markDirty queues a for flushing at the end of the current input.
func (h *Host) markDirty(a *Association) {
	if !a.inDirty {
		a.inDirty = true
		h.dirty = append(h.dirty, a)
	}
}

// flushAll lets every dirty association send what it queued, in the order
// they became dirty: associations a batch of packets or of accepts touched
// answer in the order of what they answer.
func (h *Host) flushAll(now time.Time) {
	for i := 0; i < len(h.dirty); i++ {
		a := h.dirty[i]
		a.inDirty = false
		a.flush(now)
		if a.state != stateClosed {
			h.timers.update(a)
		}
	}
	clear(h.dirty)
	h.dirty = h.dirty[:0]
}

// LinkKind is the kind of link i.
func (h *Host) LinkKind(i int) link.Kind {
	if i < 0 || i >= len(h.cfg.Links) {
		return 0
	}
	return h.cfg.Links[i].Kind
}
