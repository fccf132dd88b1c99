package engine

import (
	"net/netip"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/auth"
	"github.com/sctpgw/sctpgw/stack/internal/cookie"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// ephemeral port range (RFC 6335 dynamic ports).
const ephemeralLo, ephemeralHi = 49152, 65535

// Dial starts an association from localPort (0: an ephemeral port) to
// remotePort over path p of link linkIdx (5.1 step 1). The handler gets
// COMM_UP or CANT_STR_ASSOC. Messages sent before COMM_UP wait for it.
func (h *Host) Dial(linkIdx int, p link.Path, localPort, remotePort uint16, cfg Config, hd Handler, now time.Time) (*Association, error) {
	return h.DialAddrs(linkIdx, p, nil, localPort, remotePort, cfg, hd, now)
}

// DialAddrs is Dial to a multi-homed peer whose other addresses the user
// knows (sctp_connectx, RFC 6458 9.9): p.Remote is the primary path, and
// more are the peer's other addresses on a native link, confirmed (RFC
// 9260 5.4 rule 1) and tried in turn when the INIT or COOKIE ECHO goes
// unanswered (at most MaxLocalAddrs-1 of them are kept).
func (h *Host) DialAddrs(linkIdx int, p link.Path, more []netip.Addr, localPort, remotePort uint16, cfg Config, hd Handler, now time.Time) (*Association, error) {
	if h.closed {
		return nil, ErrHostClosed
	}
	h.lastNow = now
	if linkIdx < 0 || linkIdx >= len(h.cfg.Links) {
		return nil, ErrBadLink
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key := assocKey{localPort: localPort, remotePort: remotePort, remote: p.Remote}
	if localPort == 0 {
		// Random probing keeps ports unpredictable; give up after a bounded
		// number of tries rather than scanning.
		for i := 0; i < 64 && key.localPort == 0; i++ {
			c := uint16(ephemeralLo + h.random32()%(ephemeralHi-ephemeralLo+1))
			k := key
			k.localPort = c
			if h.assocs[k] == nil && h.listeners[c] == nil {
				key = k
			}
		}
		if key.localPort == 0 {
			return nil, ErrPortInUse
		}
	} else if h.assocs[key] != nil {
		return nil, ErrPortInUse
	}
	a := h.newAssociation(key, linkIdx, p, cfg, hd)
	a.localTag, a.localTSN = h.random32(), h.random32()
	a.buildInit(now)
	a.state = stateCookieWait
	h.addAssoc(a)
	h.addPeerAddrs(a, true, more...)
	a.ctl |= ctlInit
	a.t1Attempts = 0
	a.markDirty()
	h.finishCall(now)
	return a, nil
}

// buildInit encodes our INIT once; retransmissions and 5.2.1 reuse it.
func (a *Association) buildInit(now time.Time) {
	ini := &wire.Init{InitFields: wire.InitFields{
		InitiateTag: a.localTag, ARwnd: uint32(a.cfg.RecvBuffer),
		OutStreams: a.cfg.InitMsg.OutStreams, InStreams: a.cfg.InitMsg.MaxInStreams,
		InitialTSN: a.localTSN,
	}}
	if a.preserve > 0 {
		ini.Params = append(ini.Params, &wire.CookiePreservativeParam{LifeSpanIncrement: uint32(a.preserve / time.Millisecond)})
	}
	ini.Params = appendOurParams(ini.Params, &a.cfg)
	ini.Params = appendLocalAddrs(ini.Params, &a.cfg, a.host.LinkKind(a.tx().linkIdx))
	if a.cfg.Auth.Keys != nil {
		ini.Params = appendAuthParams(ini.Params, &a.cfg, a.authRandom())
	}
	a.initChunk = ini.AppendTo(a.initChunk[:0])
}

// t1Timeout is the RTO for T1, capped by MaxInitTimeout (RFC 6458
// sinit_max_init_timeo).
func (a *Association) t1Timeout() time.Duration {
	return min(a.tx().rto.RTO(), a.cfg.InitMsg.MaxInitTimeout)
}

func (a *Association) onT1(now time.Time) {
	a.t1.stop()
	switch a.state {
	case stateCookieWait:
		a.host.stats.T1InitExpireds++
	case stateCookieEchoed:
		a.host.stats.T1CookieExpireds++
	default:
		return
	}
	a.t1Attempts++
	if a.t1Attempts > a.cfg.InitMsg.MaxAttempts {
		a.close(Event{Type: CantStartAssoc, Err: ErrPeerUnreachable})
		return
	}
	a.tx().rto.Backoff()
	a.t1Retransmit = true
	a.nextHandshakeDest(now)
	if a.state == stateCookieWait {
		a.ctl |= ctlInit
	} else {
		a.ctl |= ctlCookieEcho
	}
	a.markDirty()
}

// handleInitAck processes an INIT ACK (5.1 step 3); outside COOKIE-WAIT it
// is discarded (5.2.3).
func (a *Association) handleInitAck(p link.Path, c wire.RawChunk, now time.Time) {
	if a.state != stateCookieWait {
		return
	}
	var ia wire.InitAck
	if err := ia.Unmarshal(c); err != nil {
		return
	}
	if ia.InitiateTag == 0 || ia.OutStreams == 0 || ia.InStreams == 0 {
		// 5.1: an INIT ACK we will not build on gets an ABORT tagged with
		// its Initiate Tag (when it has one).
		if ia.InitiateTag != 0 {
			a.peerTag = ia.InitiateTag
			a.abortWith(now, []wire.Cause{&wire.InvalidMandatoryParamCause{}}, ErrProtocolViolation)
		}
		return
	}
	// 3.2.2: what we report rides in one ERROR behind the COOKIE ECHO, in
	// one packet (5.1 step 3), so the reports get what the cookie leaves.
	budget := a.tx().maxPacket() - wire.CommonHeaderLen - 2*wire.ChunkHeaderLen
	if ck, ok := ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam); ok {
		budget -= pad4(len(ck.Cookie))
	}
	info := scanInitParams(ia.Params, budget)
	if info.hostName {
		a.peerTag = ia.InitiateTag
		a.abortWith(now, []wire.Cause{&wire.UnresolvableAddressCause{}}, ErrProtocolViolation)
		return
	}
	if !info.hasCookie {
		a.peerTag = ia.InitiateTag
		a.abortWith(now, []wire.Cause{&wire.MissingMandatoryParamCause{Types: []wire.ParamType{wire.ParamStateCookie}}}, ErrProtocolViolation)
		return
	}
	if !a.t1Retransmit && !a.t1Sent.IsZero() {
		a.tx().rto.Observe(now.Sub(a.t1Sent)) // Karn: only an unretransmitted INIT
	}
	a.peerTag = ia.InitiateTag
	a.peerTSN = ia.InitialTSN
	a.outStreams = min(a.cfg.InitMsg.OutStreams, ia.InStreams)
	a.inStreams = min(ia.OutStreams, a.cfg.InitMsg.MaxInStreams)
	a.features = info.features & supportedFeatures
	a.peerAdaptation = info.adaptation
	a.cookieEcho = append(a.cookieEcho[:0], info.cookie...)
	// SCTP-AUTH before the data path: the AUTH chunk's room comes off
	// every packet from here on.
	if !a.authFromInitAck(ia.Params) {
		return
	}
	a.data.init(a, ia.ARwnd)
	// 3.2.2: report them with the COOKIE ECHO. Cause 8 carries the
	// parameters themselves (3.3.10.8), not the INIT ACK's Unrecognized
	// Parameter wrapping of them.
	for _, p := range info.unrecognized {
		a.queueCause(&wire.UnrecognizedParamsCause{Params: p.AppendTo(nil)})
	}
	a.reportCut(info.cut)
	// 5.4 rule 1: only the addresses the user dialled are confirmed.
	a.host.addPeerAddrs(a, false, p.Remote)
	a.host.addPeerAddrs(a, false, info.addrs...)
	a.state = stateCookieEchoed
	a.t1.stop()
	a.t1Attempts = 0
	a.t1Retransmit = false
	a.ctl &^= ctlInit
	a.ctl |= ctlCookieEcho
	a.markDirty()
}

// handleCookieAck completes an active open (5.1 step 5); elsewhere it is a
// duplicate and discarded (5.2.5).
func (a *Association) handleCookieAck(now time.Time) {
	if a.state != stateCookieEchoed {
		return
	}
	if !a.t1Retransmit && !a.t1Sent.IsZero() {
		a.tx().rto.Observe(now.Sub(a.t1Sent))
	}
	a.ctl &^= ctlCookieEcho
	a.established(now)
}

// handleInitExisting answers an INIT for an association we have (5.2.1,
// 5.2.2, 9.2), after the encapsulation checks of
// draft-tuexen-tsvwg-sctp-udp-encaps-cons section 4.
func (a *Association) handleInitExisting(linkIdx int, p link.Path, pkt *wire.Packet, now time.Time) {
	h := a.host
	if len(pkt.Chunks) != 1 || pkt.VerificationTag != 0 {
		return
	}
	var ini wire.Init
	if ini.Unmarshal(pkt.Chunks[0]) != nil || ini.InitiateTag == 0 {
		return
	}
	// Rules 4, 6 and 7: an INIT that would change the path's encapsulation
	// is refused with cause 14; rules 1-3: it never changes it either way.
	cur := a.tx()
	curEncap := h.cfg.Links[cur.linkIdx].Kind.Encapsulated()
	newEncap := h.cfg.Links[linkIdx].Kind.Encapsulated()
	curPort := uint16(0)
	if curEncap {
		curPort = cur.p.RemotePort
	}
	newPort := uint16(0)
	if newEncap {
		newPort = p.RemotePort
	}
	if curEncap != newEncap || curPort != newPort {
		h.sendOOTB(linkIdx, p, pkt.DstPort, pkt.SrcPort, ini.InitiateTag, &wire.Abort{Causes: []wire.Cause{
			&wire.RestartWithNewEncapPortCause{CurrentPort: curPort, NewPort: newPort},
		}})
		return
	}
	if a.state != stateCookieWait && a.state != stateShutdownAckSent {
		// 5.2.1 (COOKIE-ECHOED) and 5.2.2: an INIT that adds addresses
		// is refused, listing them, and the association stays as it is.
		// The ABORT is one packet: the list is cut to what fits it.
		room := h.pathMTU(linkIdx, p, a.cfg.PeerAddr.PathMTU) - h.cfg.Links[linkIdx].overhead(p.Remote) -
			wire.CommonHeaderLen - wire.ChunkHeaderLen - wire.CauseHeaderLen
		added, cut := a.addedAddrParams(linkIdx, &ini, room)
		h.discard(DiscardReportCut, linkIdx, p, nil, cut)
		if len(added) > 0 {
			h.sendOOTB(linkIdx, p, pkt.DstPort, pkt.SrcPort, ini.InitiateTag, &wire.Abort{Causes: []wire.Cause{
				&wire.RestartWithNewAddressesCause{Addresses: added},
			}})
			return
		}
	}
	l := a.listener
	if l == nil {
		// A dialled association answers from its own configuration.
		l = &listener{h: h, port: a.key.localPort, cfg: a.cfg}
	}
	cfg := a.cfg
	switch a.state {
	case stateCookieWait:
		// 5.2.1: same tag and TSN as our INIT, no tie-tags.
		// RFC 4895 6.1: the RANDOM follows the tag.
		l.answerInit(linkIdx, p, pkt, &ini, now, a.localTag, a.localTSN, 0, 0, &cfg, a.authRandom())
	case stateCookieEchoed:
		// 5.2.1: our INIT's tag again, and the TCB's Tie-Tags.
		tie := h.tieTagsOf(a)
		l.answerInit(linkIdx, p, pkt, &ini, now, a.localTag, a.localTSN, tie.local, tie.peer, &cfg, a.authRandom())
	case stateShutdownAckSent:
		// 9.2: the SHUTDOWN COMPLETE was probably lost.
		a.ctl |= ctlShutdownAck
		a.markDirty()
	default:
		// 5.2.2: a new tag, and Tie-Tags that link a restart's cookie to
		// this TCB without revealing its tags (1.3).
		tie := h.tieTagsOf(a)
		l.answerInit(linkIdx, p, pkt, &ini, now, h.random32(), h.random32(), tie.local, tie.peer, &cfg, nil)
	}
}

// addedAddrParams returns, encoded as they came, the Address parameters of
// ini that name addresses not part of a. Only a native link carries
// addresses (RFC 6951 5.7: an encapsulated INIT lists none, and those it
// would list are private ones). When a already holds as many addresses as
// it can learn, an unknown one may be one it had no room for, so none
// counts as added. The list holds the first of them that fit in room
// bytes; cut says how many others there were.
func (a *Association) addedAddrParams(linkIdx int, ini *wire.Init, room int) (b []byte, cut int) {
	if a.host.LinkKind(linkIdx) != link.Native || a.host.LinkKind(a.tx().linkIdx) != link.Native ||
		len(a.paths.list) >= maxPeerAddrs {
		return nil, 0
	}
	for _, prm := range ini.Params {
		addr, ok := addrParam(prm)
		if !ok || !addr.IsValid() || addr.IsUnspecified() || addr.IsMulticast() || a.paths.find(addr) != nil {
			continue
		}
		n := len(b)
		if b = prm.AppendTo(b); len(b) > room {
			b = b[:n]
			cut++
			room = n // a prefix: none after the first that did not fit
		}
	}
	return b, cut
}

// handleCookieEchoExisting applies 5.2.4 to a COOKIE ECHO for an existing
// association. It reports whether the rest of the packet may be processed.
func (a *Association) handleCookieEchoExisting(linkIdx int, p link.Path, pkt *wire.Packet, now time.Time) bool {
	h := a.host
	var ce wire.CookieEcho
	if ce.Unmarshal(pkt.Chunks[0]) != nil {
		return false
	}
	st, err := h.jar.Open(ce.Cookie, now)
	if err != nil && !isStale(err) {
		return false
	}
	if st.LocalPort != a.key.localPort || st.PeerPort != a.key.remotePort || st.LocalTag != pkt.VerificationTag {
		return false
	}
	// RFC 4895 6.3: authenticated with the key of the handshake the
	// cookie echoes (a restart's is not this association's), before it
	// changes anything.
	sess, ok := h.cookieAuth(&a.cfg, &st, a.auth.s)
	if !ok {
		return false
	}
	lt, pt := st.LocalTag == a.localTag, st.PeerTag == a.peerTag
	if err != nil && !(lt && pt) {
		// Step 3: stale, and not this association's own cookie.
		h.sendOOTBAuth(linkIdx, p, a.key.localPort, a.key.remotePort, st.PeerTag, &wire.ErrorChunk{Causes: []wire.Cause{staleCause(err)}}, sess)
		return false
	}
	// Every action below that changes the association uses the cookie up
	// (cookie.Replay), as building one from it does (5.1.5): a COOKIE
	// ECHO captured and sent again within the cookie's lifetime would
	// otherwise restart the association again, set the peer's tag back
	// to one it has left, or, once the association has ended, build a
	// new one at a listener. The actions that change nothing (A while
	// shutting down, C, D once established: the peer's retransmission
	// after a lost COOKIE ACK) leave the cookie unused.
	tieMatch := a.hasTie && st.LocalTieTag == a.tie.local && st.PeerTieTag == a.tie.peer
	switch {
	case !lt && !pt && tieMatch: // A
		if a.state == stateShutdownAckSent {
			h.stats.CookieAction[0]++
			a.ctl |= ctlShutdownAck
			a.queueCause(&wire.CookieWhileShuttingDownCause{})
			return false
		}
		if !h.useCookie(&st, now) {
			return false
		}
		h.stats.CookieAction[0]++
		a.restart(linkIdx, p, pkt, &st, sess, now)
		return false
	case lt && !pt: // B (peer tag X or 0)
		if !h.useCookie(&st, now) {
			return false
		}
		h.stats.CookieAction[1]++
		a.cookieAckTo = a.paths.find(p.Remote)
		a.peerTag = st.PeerTag
		a.adoptPeerFromCookie(&st, sess)
		a.collisionEstablish(now)
		return true
	case !lt && pt && st.LocalTieTag == 0 && st.PeerTieTag == 0: // C
		h.stats.CookieAction[2]++
		return false
	case lt && pt: // D
		establishes := a.state == stateCookieEchoed || a.state == stateCookieWait
		if establishes && !h.useCookie(&st, now) {
			return false
		}
		h.stats.CookieAction[3]++
		a.cookieAckTo = a.paths.find(p.Remote)
		switch a.state {
		case stateCookieEchoed, stateCookieWait:
			a.adoptPeerFromCookie(&st, sess)
			a.collisionEstablish(now)
		case stateAcceptPending:
			// The COOKIE ACK stays withheld until the acceptor answers.
		default:
			a.ctl |= ctlCookieAck // our COOKIE ACK was lost
			a.markDirty()
		}
		return true
	}
	return false
}

// adoptPeerFromCookie takes the peer's side of the handshake from our own
// cookie, which carries what the peer's INIT said.
func (a *Association) adoptPeerFromCookie(st *cookie.State, sess *auth.Session) {
	if a.state != stateCookieWait && a.state != stateCookieEchoed {
		return
	}
	a.adoptAuth(sess)
	a.peerTSN = st.PeerTSN
	a.outStreams, a.inStreams = st.OutStreams, st.InStreams
	a.features, a.peerAdaptation = st.Features, st.PeerAdaptation
	a.data.init(a, st.PeerRwnd)
}

func (a *Association) collisionEstablish(now time.Time) {
	a.t1.stop()
	a.ctl &^= ctlInit | ctlCookieEcho
	a.ctl |= ctlCookieAck
	if a.state == stateCookieWait || a.state == stateCookieEchoed {
		a.established(now)
	}
	a.markDirty()
}

// restart handles action A of 5.2.4 with a cookie not used before: the
// peer restarted. Where a listener
// owns the port, the old association ends (ErrRestarted) and the new one
// goes through the acceptor like any other, so a gateway pairs it afresh
// (docs/design.md 2.7). A dialled association restarts in place with RESTART.
func (a *Association) restart(linkIdx int, p link.Path, pkt *wire.Packet, st *cookie.State, sess *auth.Session, now time.Time) {
	h := a.host
	if l := h.listeners[a.key.localPort]; l != nil && l.onLink(linkIdx) {
		a.close(Event{Type: CommLost, Err: ErrRestarted})
		// Built as 5.1.5 builds any TCB: keyed by the COOKIE ECHO's source
		// (which may be another address of the peer's than the old
		// primary), taking packets from the addresses its INIT listed.
		key := assocKey{localPort: a.key.localPort, remotePort: a.key.remotePort, remote: p.Remote}
		na := h.newAssociation(key, linkIdx, p, l.cfg, nil)
		na.listener, na.passive = l, true
		na.adoptAuth(sess)
		na.adoptCookie(st)
		na.state = stateAcceptPending
		h.addAssoc(na)
		h.addCookieAddrs(na, st)
		h.accepts = append(h.accepts, newAcceptRequest(l, na, true))
		na.processChunks(linkIdx, p, pkt, 1, now)
		return
	}
	failed := a.data.failAll()
	if len(failed) > 0 {
		a.notify(Event{Type: SendFailed, Failed: failed})
	}
	a.data.stop()
	// A new incarnation: the next INIT draws new Tie-Tags, so a cookie
	// issued for the old one cannot restart this one.
	a.tie, a.hasTie = tiePair{}, false
	a.adoptAuth(sess)
	a.restartPaths(p.Remote, st)
	a.adoptCookieRestart(st)
	a.t1.stop()
	a.t2.stop()
	a.t5.stop()
	a.errorCount = 0
	if a.state < stateEstablished {
		a.host.stats.CurrEstab++
	}
	a.state = stateEstablished
	a.ctl = ctlCookieAck
	a.startPaths(now)
	a.notify(Event{Type: Restart})
	a.processChunks(linkIdx, p, pkt, 1, now)
	a.markDirty()
}

func (a *Association) adoptCookieRestart(st *cookie.State) {
	a.localTag, a.peerTag = st.LocalTag, st.PeerTag
	a.localTSN, a.peerTSN = st.LocalTSN, st.PeerTSN
	a.outStreams, a.inStreams = st.OutStreams, st.InStreams
	a.features, a.peerAdaptation = st.Features, st.PeerAdaptation
	a.data.init(a, st.PeerRwnd)
}
