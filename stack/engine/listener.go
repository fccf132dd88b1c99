package engine

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/cookie"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Acceptor decides on associations arriving at a listener. Accept runs when a
// valid COOKIE ECHO arrives (never for a bare INIT: those cost no state). It
// must eventually call r.Accept or r.Reject, during the call or later; until
// then the COOKIE ACK is withheld (docs/design.md 2.1).
type Acceptor interface {
	Accept(r *AcceptRequest)
}

// AcceptFunc adapts a function to Acceptor.
type AcceptFunc func(r *AcceptRequest)

func (f AcceptFunc) Accept(r *AcceptRequest) { f(r) }

type listener struct {
	h        *Host
	port     uint16
	cfg      Config
	acceptor Acceptor
	links    uint64 // bit i set: accepts on link i; 0 means every link
	filter   InitFilter
}

// Verdict is an InitFilter's answer.
type Verdict uint8

const (
	// Admit answers the INIT as usual.
	Admit Verdict = iota
	// Refuse answers with an ABORT carrying the filter's causes.
	Refuse
	// Ignore sends nothing at all.
	Ignore
)

// InitFilter looks at an INIT before anything is answered, so refused
// sources get no INIT ACK (an ACL's rules; it must be cheap and stateless:
// the INIT's source is not yet proven).
type InitFilter func(linkIdx int, p link.Path, srcPort, dstPort uint16) (Verdict, []wire.Cause)

// SetInitFilter installs f on the listener of port.
func (h *Host) SetInitFilter(port uint16, f InitFilter) error {
	l := h.listeners[port]
	if l == nil {
		return errors.New("engine: no listener on that port")
	}
	l.filter = f
	return nil
}

func (l *listener) onLink(i int) bool { return l.links == 0 || l.links&(1<<uint(i)) != 0 }

// AcceptRequest is an association waiting for its listener's decision.
type AcceptRequest struct {
	l       *listener
	a       *Association
	decided bool
	// timer is the ACCEPT-PENDING timer, causes what its ABORT carries
	// (SetDeadline); timedOut is set once it rejected the association.
	timer    timer
	causes   []wire.Cause
	timedOut bool
	// Restart is set when the association replaces one the peer restarted
	// (RFC 9260 5.2.4 action A); the old one ended with ErrRestarted.
	Restart bool
}

func newAcceptRequest(l *listener, a *Association, restart bool) *AcceptRequest {
	r := &AcceptRequest{l: l, a: a, Restart: restart}
	a.accept = r
	return r
}

// decide marks the request answered, and stops its timer; false if it was
// answered already.
func (r *AcceptRequest) decide() bool {
	if r.decided {
		return false
	}
	r.decided = true
	r.timer.stop()
	if r.a.accept == r {
		r.a.accept = nil
	}
	return true
}

// SetDeadline bounds the wait for an answer with the ACCEPT-PENDING timer:
// if the request is still unanswered at t, the engine rejects the
// association as Reject(causes...) would, and TimedOut reports it. An
// acceptor that answers later (a gateway waiting for its other side, an
// application asked from another goroutine) sets it so that a question
// nobody answers does not hold a TCB, and the peer waiting in
// COOKIE-ECHOED, for ever. A later call replaces the deadline; the zero t
// cancels it. It does nothing once the request is answered or the
// association has ended.
func (r *AcceptRequest) SetDeadline(now, t time.Time, causes ...wire.Cause) {
	if r.decided || r.a.state != stateAcceptPending {
		return
	}
	r.timer.at, r.causes = t, causes
	if t.IsZero() {
		r.causes = nil
	}
	r.a.markDirty() // re-files the association's timers
	r.a.host.finishCall(now)
}

// TimedOut reports that the ACCEPT-PENDING timer rejected the association.
func (r *AcceptRequest) TimedOut() bool { return r.timedOut }

// expire runs when the ACCEPT-PENDING timer fires.
func (r *AcceptRequest) expire(now time.Time) {
	r.timedOut = true
	r.Reject(now, r.causes...)
}

// Association is the pending association (state ACCEPT-PENDING).
func (r *AcceptRequest) Association() *Association { return r.a }

// LinkKind is the kind of link the association arrived on.
func (r *AcceptRequest) LinkKind() link.Kind { return r.l.h.cfg.Links[r.a.tx().linkIdx].Kind }

// Accept sends the COOKIE ACK: the association is ESTABLISHED and h gets
// COMM_UP. Data that came before is delivered after it.
func (r *AcceptRequest) Accept(now time.Time, h Handler) error {
	if !r.decide() {
		return errors.New("engine: accept request already decided")
	}
	a := r.a
	if a.state != stateAcceptPending {
		return ErrClosed
	}
	a.handler = h
	a.ctl |= ctlCookieAck
	a.established(now)
	a.data.acceptedNow(a)
	a.host.finishCall(now)
	return nil
}

// Drop forgets the association without a word to the peer (an ACL's
// "action: drop"): its COOKIE ECHO retransmissions then find nothing to
// match and are dropped too, as stale cookies time out.
func (r *AcceptRequest) Drop(now time.Time) {
	if !r.decide() {
		return
	}
	a := r.a
	a.handler = nil
	a.close(Event{})
	a.host.finishCall(now)
}

// RejectRaw is Reject with the causes as encoded bytes, relayed verbatim
// (a gateway passing on its egress peer's ABORT, docs/design.md 2.1).
func (r *AcceptRequest) RejectRaw(now time.Time, causeBytes []byte) {
	if !r.decide() {
		return
	}
	a := r.a
	a.handler = nil
	a.host.stats.Aborteds++
	a.sendAbortBytes(causeBytes)
	a.close(Event{})
	a.host.finishCall(now)
}

// Reject sends an ABORT carrying causes and forgets the association.
func (r *AcceptRequest) Reject(now time.Time, causes ...wire.Cause) {
	if !r.decide() {
		return
	}
	a := r.a
	a.handler = nil
	a.abortWith(now, causes, ErrRejected)
	a.host.finishCall(now)
}

// Listen makes port accept associations with cfg on every link.
func (h *Host) Listen(port uint16, cfg Config, acc Acceptor) error {
	return h.ListenOn(nil, port, cfg, acc)
}

// ListenOn makes port accept associations arriving on the given links only
// (all links when links is empty). Packets for port on other links are
// treated as if nobody listened.
func (h *Host) ListenOn(links []int, port uint16, cfg Config, acc Acceptor) error {
	if h.listeners[port] != nil {
		return ErrListening
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	l := &listener{h: h, port: port, cfg: cfg, acceptor: acc}
	for _, i := range links {
		if i < 0 || i >= len(h.cfg.Links) || i >= 64 {
			return ErrBadLink
		}
		l.links |= 1 << uint(i)
	}
	h.listeners[port] = l
	for i := range h.cfg.Links {
		if l.onLink(i) {
			h.usePort(i, port, true)
		}
	}
	return nil
}

// Unlisten stops accepting on port; existing associations carry on.
func (h *Host) Unlisten(port uint16) {
	l := h.listeners[port]
	if l == nil {
		return
	}
	delete(h.listeners, port)
	for i := range h.cfg.Links {
		if l.onLink(i) {
			h.usePort(i, port, false)
		}
	}
}

// initInfo is what a received INIT or INIT ACK says beyond its fixed fields.
type initInfo struct {
	features   cookie.Features
	adaptation uint32
	preserve   time.Duration
	hostName   bool
	// unrecognized are the parameters to report (3.2.1 action bits x1),
	// as many as fit the budget scanInitParams was given; cut counts the
	// others.
	unrecognized []wire.RawParam
	cut          int
	stop         bool // an unknown parameter said stop (x0 / x1)
	hasCookie    bool
	cookie       []byte
	addrs        []netip.Addr // IPv4/IPv6 Address parameters, at most maxPeerAddrs
}

// addrParam is the address of an IPv4 or IPv6 Address parameter.
func addrParam(p wire.Param) (netip.Addr, bool) {
	switch v := p.(type) {
	case *wire.IPv4AddressParam:
		return v.Addr, true
	case *wire.IPv6AddressParam:
		return v.Addr, true
	}
	return netip.Addr{}, false
}

// reportedParamLen is what reporting p costs in an INIT ACK (an
// Unrecognized Parameter around it) or an ERROR (cause 8 around it): a
// 4-byte header and p as it came, padded.
func reportedParamLen(p wire.RawParam) int { return 4 + pad4(wire.ParamHeaderLen+len(p.Value)) }

func pad4(n int) int { return (n + 3) &^ 3 }

// scanInitParams applies 3.2.1 to the parameters of an INIT or INIT ACK.
// The parameters to report are kept while their reports take at most budget
// bytes: a peer decides how many it sends, and the INIT ACK or the ERROR
// that reports them is one packet (issue 12). Once one does not fit, none
// after it is reported either, so what is reported is a prefix.
func scanInitParams(ps []wire.Param, budget int) initInfo {
	var in initInfo
	used := 0
	for _, p := range ps {
		switch v := p.(type) {
		case *wire.StateCookieParam:
			in.hasCookie, in.cookie = true, v.Cookie
		case *wire.ForwardTSNSupportedParam:
			in.features |= cookie.FeatForwardTSN
		case *wire.SupportedExtensionsParam:
			for _, t := range v.Types {
				switch t {
				case wire.TypeForwardTSN:
					in.features |= cookie.FeatForwardTSN
				case wire.TypeIData:
					in.features |= cookie.FeatIData
				case wire.TypeReconfig:
					in.features |= cookie.FeatReconfig
				}
			}
		case *wire.AdaptationLayerParam:
			in.features |= cookie.FeatAdaptation
			in.adaptation = v.CodePoint
		case *wire.CookiePreservativeParam:
			in.preserve = time.Duration(v.LifeSpanIncrement) * time.Millisecond
		case *wire.HostNameAddressParam:
			in.hostName = true
		case *wire.IPv4AddressParam, *wire.IPv6AddressParam:
			if addr, _ := addrParam(v); len(in.addrs) < maxPeerAddrs {
				in.addrs = append(in.addrs, addr)
			}
		case wire.RawParam:
			act := v.Type.Action()
			if act.Report() {
				if n := reportedParamLen(v); in.cut == 0 && used+n <= budget {
					used += n
					in.unrecognized = append(in.unrecognized, v)
				} else {
					in.cut++
				}
			}
			if !act.Skip() {
				in.stop = true
				return in
			}
		}
	}
	return in
}

// handleInit answers an INIT that matches no association (5.1 step 2):
// statelessly, with everything the TCB will need sealed in the cookie.
func (l *listener) handleInit(linkIdx int, p link.Path, pkt *wire.Packet, now time.Time) {
	var ini wire.Init
	if err := ini.Unmarshal(pkt.Chunks[0]); err != nil || ini.InitiateTag == 0 {
		return // 3.3.2: tag 0 is silently discarded
	}
	if l.filter != nil {
		switch v, causes := l.filter(linkIdx, p, pkt.SrcPort, pkt.DstPort); v {
		case Ignore:
			return
		case Refuse:
			l.h.sendOOTB(linkIdx, p, pkt.DstPort, pkt.SrcPort, ini.InitiateTag, &wire.Abort{Causes: causes})
			return
		}
	}
	l.answerInit(linkIdx, p, pkt, &ini, now, 0, 0, 0, 0, nil, nil)
}

// answerInit sends the INIT ACK for ini. With a TCB present, localTag and
// localTSN come from it (5.2.1) or are fresh (5.2.2), and the tie-tags are
// set; so does the SCTP-AUTH RANDOM (nil: fresh).
func (l *listener) answerInit(linkIdx int, p link.Path, pkt *wire.Packet, ini *wire.Init, now time.Time,
	localTag, localTSN, localTie, peerTie uint32, cfgOverride *Config, authRandom []byte) {
	h := l.h
	cfg := l.cfg
	if cfgOverride != nil {
		cfg = *cfgOverride
	}
	abort := func(causes ...wire.Cause) {
		h.sendOOTB(linkIdx, p, pkt.DstPort, pkt.SrcPort, ini.InitiateTag, &wire.Abort{Causes: causes})
	}
	if ini.OutStreams == 0 || ini.InStreams == 0 {
		abort(&wire.InvalidMandatoryParamCause{})
		return
	}
	maxPkt := h.pathMTU(linkIdx, p, cfg.PeerAddr.PathMTU) - h.cfg.Links[linkIdx].overhead(p.Remote)
	ours := appendLocalAddrs(appendOurParams(nil, &cfg), &cfg, h.LinkKind(linkIdx))
	var authSt cookie.State
	if cfg.Auth.Keys != nil {
		ap, cause := h.authForInit(&cfg, ini, authRandom, &authSt)
		if cause != nil {
			abort(cause)
			return
		}
		ours = append(ours, ap...)
	}
	// What the INIT ACK holds besides the reports, at most: RFC 9260 3.2.1
	// lets us report, it does not make us send an INIT ACK that cannot
	// leave (issue 12), so the reports get what is left of one packet.
	fixed := wire.CommonHeaderLen + wire.ChunkHeaderLen + 16 + wire.ParamHeaderLen + pad4(cookie.MaxLen) + len(wire.AppendParams(nil, ours))
	info := scanInitParams(ini.Params, maxPkt-fixed)
	if info.hostName {
		abort(&wire.UnresolvableAddressCause{})
		return
	}
	if localTag == 0 {
		localTag, localTSN = h.random32(), h.random32()
	}
	life := cfg.Assoc.CookieLife
	if info.preserve > 0 {
		// 5.2.6 lets the receiver honour a Cookie Preservative; cap the
		// extension so replayed cookies stay short-lived.
		life += min(info.preserve, max(cfg.Assoc.CookieLife, DefaultCookieLife))
	}
	st := cookie.State{
		Created: now, Lifetime: life,
		LocalPort: pkt.DstPort, PeerPort: pkt.SrcPort,
		LocalTag: localTag, PeerTag: ini.InitiateTag,
		LocalTieTag: localTie, PeerTieTag: peerTie,
		LocalTSN: localTSN, PeerTSN: ini.InitialTSN, PeerRwnd: ini.ARwnd,
		OutStreams: min(cfg.InitMsg.OutStreams, ini.InStreams),
		InStreams:  min(ini.OutStreams, cfg.InitMsg.MaxInStreams),
		Features:   info.features & supportedFeatures, PeerAdaptation: info.adaptation,
		AuthOffered: authSt.AuthOffered, LocalRandom: authSt.LocalRandom, PeerAuth: authSt.PeerAuth,
	}
	if h.LinkKind(linkIdx) == link.Native {
		// The INIT's source and the addresses it lists are the peer's
		// (5.1.2): the TCB will take packets from any of them.
		n := 0
		for _, addr := range append([]netip.Addr{p.Remote}, info.addrs...) {
			if n < maxPeerAddrs && addr.IsValid() && !slices.Contains(st.PeerAddrs[:n], addr) {
				st.PeerAddrs[n] = addr
				n++
			}
		}
	}
	ck, err := h.jar.Seal(make([]byte, 0, cookie.MaxLen), &st, now)
	if err != nil {
		return
	}
	ack := &wire.InitAck{InitFields: wire.InitFields{
		InitiateTag: localTag, ARwnd: uint32(cfg.RecvBuffer),
		OutStreams: st.OutStreams, InStreams: cfg.InitMsg.MaxInStreams,
		InitialTSN: localTSN,
	}}
	ack.Params = append(ack.Params, &wire.StateCookieParam{Cookie: ck})
	for _, u := range info.unrecognized {
		ack.Params = append(ack.Params, &wire.UnrecognizedParam{Param: u.AppendTo(nil)})
	}
	h.discard(DiscardReportCut, linkIdx, p, nil, info.cut)
	ack.Params = append(ack.Params, ours...)
	// RFC 6951 5.7 / 3.2: no address parameters; the peer uses the source.
	b := h.getBuf(maxPkt)
	b = wire.AppendPacket(b, wire.CommonHeader{SrcPort: pkt.DstPort, DstPort: pkt.SrcPort, VerificationTag: ini.InitiateTag}, ack)
	h.stats.OutCtrlChunks++
	h.emit(linkIdx, p, b)
}

// supportedFeatures are the extensions this engine implements and so
// negotiates; others the peer offers are ignored.
const supportedFeatures = cookie.FeatAdaptation

// appendOurParams adds the optional parameters our INIT and INIT ACK carry.
func appendOurParams(ps []wire.Param, cfg *Config) []wire.Param {
	if cfg.HasAdaptation {
		ps = append(ps, &wire.AdaptationLayerParam{CodePoint: cfg.Adaptation})
	}
	return ps
}

// handleCookieEcho builds a TCB from a COOKIE ECHO that matches no
// association (5.1.5), then asks the acceptor.
func (l *listener) handleCookieEcho(linkIdx int, p link.Path, pkt *wire.Packet, now time.Time) {
	h := l.h
	var ce wire.CookieEcho
	if ce.Unmarshal(pkt.Chunks[0]) != nil {
		return
	}
	st, err := h.jar.Open(ce.Cookie, now)
	if err != nil && !isStale(err) {
		return // steps 1-2: forged or unknown secret, silently discarded
	}
	// Step 3: ports and tag must be those the cookie was made for.
	if st.LocalPort != pkt.DstPort || st.PeerPort != pkt.SrcPort || st.LocalTag != pkt.VerificationTag {
		return
	}
	// RFC 4895 6.3: authenticated with the key the cookie's handshake
	// gives, or discarded before anything is built or answered.
	sess, ok := h.cookieAuth(&l.cfg, &st, nil)
	if !ok {
		return
	}
	if err != nil { // step 4
		h.sendOOTBAuth(linkIdx, p, pkt.DstPort, pkt.SrcPort, st.PeerTag, &wire.ErrorChunk{Causes: []wire.Cause{staleCause(err)}}, sess)
		return
	}
	if !h.useCookie(&st, now) {
		return
	}
	key := assocKey{localPort: pkt.DstPort, remotePort: pkt.SrcPort, remote: p.Remote}
	a := h.newAssociation(key, linkIdx, p, l.cfg, nil)
	a.listener, a.passive = l, true
	a.adoptAuth(sess)
	a.adoptCookie(&st)
	a.state = stateAcceptPending
	h.addAssoc(a)
	h.addCookieAddrs(a, &st)
	h.accepts = append(h.accepts, newAcceptRequest(l, a, false))
	// Step 7: DATA bundled after the COOKIE ECHO is processed; its SACK
	// waits for the COOKIE ACK, which must lead the packet (5.1 step 4).
	a.processChunks(linkIdx, p, pkt, 1, now)
}

// adoptCookie fills the TCB from an authenticated cookie.
func (a *Association) adoptCookie(st *cookie.State) {
	a.localTag, a.peerTag = st.LocalTag, st.PeerTag
	a.localTSN, a.peerTSN = st.LocalTSN, st.PeerTSN
	a.outStreams, a.inStreams = st.OutStreams, st.InStreams
	a.features, a.peerAdaptation = st.Features, st.PeerAdaptation
	a.data.init(a, st.PeerRwnd)
}

func isStale(err error) bool {
	_, ok := err.(*cookie.StaleError)
	return ok
}

func staleCause(err error) wire.Cause {
	se := err.(*cookie.StaleError)
	return &wire.StaleCookieCause{Staleness: uint32(min(se.Staleness/time.Microsecond, 1<<32-1))}
}
