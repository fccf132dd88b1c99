package engine

import (
	"encoding/binary"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/cookie"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Association is one SCTP association (a TCB). Its methods, like the Host's,
// must be called from the goroutine that drives the Host.
type Association struct {
	host    *Host
	key     assocKey
	cfg     Config
	handler Handler
	state   State
	// listener names the listener it came through (nil when dialled).
	listener *listener
	passive  bool
	// accept is the acceptor's request while it is undecided: its
	// ACCEPT-PENDING timer (AcceptRequest.SetDeadline) is one of the
	// association's timers.
	accept *AcceptRequest

	localTag, peerTag uint32
	// localTSN is our Initial TSN; peerTSN the peer's.
	localTSN, peerTSN     uint32
	outStreams, inStreams uint16
	features              cookie.Features
	peerAdaptation        uint32
	// tie are the Tie-Tags this TCB puts in the cookies of INIT ACKs it
	// answers while it exists (RFC 9260 5.2.1, 5.2.2): random nonces,
	// drawn on first use, that a restart's cookie carries back (5.2.4
	// action A) without revealing the real tags (1.3).
	tie    tiePair
	hasTie bool

	// paths are the peer's transport addresses (paths.go): the one the
	// association was made on, and those its INIT or INIT ACK listed (RFC
	// 9260 5.1.2), on a native link. Packets from any of them reach this
	// association (Host.addPeerAddrs).
	paths pathTable

	// Handshake state: our INIT for retransmission and for answering a
	// colliding INIT (5.2.1), the cookie to echo, T1 and its attempt count.
	initChunk    []byte
	cookieEcho   []byte
	t1           timer
	t1Attempts   int
	t1Sent       time.Time // when INIT / COOKIE ECHO was last sent, for an RTT sample
	t1Retransmit bool      // Karn: no sample if T1 fired
	preserve     time.Duration
	staleRetries int
	// shutdownAfterUp remembers a Shutdown requested before COMM_UP.
	shutdownAfterUp bool
	// holdShutdownAck: see HoldShutdownAck.
	holdShutdownAck bool
	// holdShutdownComplete and shutdownAcked: see HoldShutdownComplete.
	holdShutdownComplete bool
	shutdownAcked        bool

	t2, t5     timer
	errorCount int // overall error count of 8.1
	// abortT and abortCauses: see SetAbortDeadline.
	abortT      timer
	abortCauses []byte

	ctl ctlSet
	// hsDest is where INIT and COOKIE ECHO go (nil: the tx path): T1
	// moves it through the addresses the user dialled.
	hsDest *path
	// cookieAckTo is where the queued COOKIE ACK goes (nil: the tx path);
	// sackTo the destination the latest DATA came from (addSack).
	cookieAckTo *path
	sackTo      *path
	// hbAcks are the infos of HEARTBEATs to answer at the next flush, and
	// hbAckLen the size of their HEARTBEAT ACKs: together one packet.
	hbAcks   [][]byte
	hbAckLen int
	// errBuf holds the encoded causes of the next ERROR chunk, at most
	// what one packet on the path carries (queueCause).
	errBuf []byte

	data dataState

	portLink int // the link whose port count this association holds

	auth assocAuth // SCTP-AUTH (auth.go)

	tm      timerSlot
	inDirty bool
}

// ctlSet is the control chunks an association has queued for its next flush.
type ctlSet uint16

const (
	ctlInit ctlSet = 1 << iota
	ctlCookieEcho
	ctlCookieAck
	ctlShutdown
	ctlShutdownAck
)

func (h *Host) newAssociation(key assocKey, linkIdx int, p link.Path, cfg Config, hd Handler) *Association {
	a := &Association{host: h, key: key, cfg: cfg, handler: hd, tm: timerSlot{idx: -1}}
	a.data.paths = &a.paths
	a.paths.add(newPath(a, linkIdx, p, true))
	return a
}

// State is the association's current state.
func (a *Association) State() State { return a.state }

// LocalPort and RemotePort are the association's SCTP ports.
func (a *Association) LocalPort() uint16  { return a.key.localPort }
func (a *Association) RemotePort() uint16 { return a.key.remotePort }

// Path is the primary path with its link index.
func (a *Association) Path() (linkIdx int, p link.Path) { pa := a.tx(); return pa.linkIdx, pa.p }

// Streams returns the negotiated outbound and inbound stream counts.
func (a *Association) Streams() (out, in uint16) { return a.outStreams, a.inStreams }

// Tags returns the local and peer verification tags.
func (a *Association) Tags() (local, peer uint32) { return a.localTag, a.peerTag }

// PeerAdaptation is the code point of the Adaptation Layer Indication the
// peer sent in its INIT or INIT ACK (RFC 5061 4.2.6; SCTP_ADAPTATION_INDICATION
// of RFC 6458 6.1.6), and whether it sent one.
func (a *Association) PeerAdaptation() (code uint32, ok bool) {
	return a.peerAdaptation, a.features&cookie.FeatAdaptation != 0
}

// SetHandler replaces the handler; events already queued go to the new one.
func (a *Association) SetHandler(h Handler) { a.handler = h }

// Config is the association's configuration.
func (a *Association) Config() Config { return a.cfg }

func (a *Association) notify(ev Event) { a.host.notify(a, ev) }

func (a *Association) signal(s Signal) { a.host.signal(a, s) }

func (a *Association) markDirty() { a.host.markDirty(a) }

// nextDeadline is the earliest of the association's timers.
func (a *Association) nextDeadline() time.Time {
	var m time.Time
	m = earliest(m, a.t1)
	m = earliest(m, a.t2)
	m = earliest(m, a.t5)
	m = earliest(m, a.abortT)
	if a.accept != nil {
		m = earliest(m, a.accept.timer)
	}
	m = a.data.earliest(m)
	return m
}

func (a *Association) slot() *timerSlot { return &a.tm }

func (a *Association) live() bool { return a.state != stateClosed }

// onTimeout runs every timer of a that is due at now.
func (a *Association) onTimeout(now time.Time) {
	if r := a.accept; r != nil && r.timer.due(now) {
		r.expire(now)
		return
	}
	if a.t1.due(now) {
		a.onT1(now)
	}
	if a.state == stateClosed {
		return
	}
	if a.t2.due(now) {
		a.onT2(now)
	}
	if a.state == stateClosed {
		return
	}
	if a.t5.due(now) {
		a.host.stats.T5ShutdownGuardExpireds++
		a.t5.stop()
		a.abortWith(now, nil, ErrShutdownGuard)
		return
	}
	if a.abortT.due(now) {
		a.abortT.stop()
		a.host.stats.Aborteds++
		a.sendAbortBytes(a.abortCauses)
		a.close(a.lostEvent(ErrDeadline))
		return
	}
	a.data.onTimeout(a, now)
	a.markDirty()
}

// established moves to ESTABLISHED and announces COMM_UP.
func (a *Association) established(now time.Time) {
	a.state = stateEstablished
	a.t1.stop()
	a.errorCount = 0
	a.host.stats.CurrEstab++
	if a.passive {
		a.host.stats.PassiveEstabs++
	} else {
		a.host.stats.ActiveEstabs++
	}
	a.startPaths(now)
	if a.passive {
		a.tx().probeRTT(now)
	}
	a.notify(Event{Type: CommUp})
	a.authUp()
	if a.shutdownAfterUp {
		a.shutdownAfterUp = false
		a.Shutdown(now)
	}
	a.markDirty()
}

// close ends the association: no more packets, timers or events after ev.
func (a *Association) close(ev Event) {
	if a.state == stateClosed {
		return
	}
	if a.state >= stateEstablished {
		a.host.stats.CurrEstab--
	}
	a.state = stateClosed
	a.t1.stop()
	a.t2.stop()
	a.t5.stop()
	a.abortT.stop()
	a.stopPaths()
	if failed := a.data.failAll(); len(failed) > 0 && ev.Type != ShutdownComp {
		a.notify(Event{Type: SendFailed, Failed: failed})
	}
	a.data.stop()
	a.authClosed()
	a.host.removeAssoc(a)
	if ev.Type != 0 {
		a.notify(ev)
	}
}

// ReportError sends the peer an ERROR chunk with causes (RFC 9260 3.3.10),
// bundled with whatever goes next.
func (a *Association) ReportError(now time.Time, causes ...Cause) {
	if a.state == stateClosed || a.state < stateEstablished {
		return
	}
	for _, c := range causes {
		a.queueCause(c)
	}
	a.host.finishCall(now)
}

// errRoom is the most the causes of one ERROR chunk may take: what one
// packet on the path carries besides the headers.
func (a *Association) errRoom() int {
	return a.tx().maxPacket() - wire.CommonHeaderLen - wire.ChunkHeaderLen
}

// causeFits reports whether a cause of n bytes (padded) still fits the next
// ERROR chunk, and counts it in Stats.ReportItemsCut when not. Callers
// whose cause a peer sizes ask before building it.
func (a *Association) causeFits(n int) bool {
	if len(a.errBuf)+n > a.errRoom() {
		a.reportCut(1)
		return false
	}
	return true
}

// queueCause adds c to the next ERROR chunk when it fits one packet on the
// path with the causes already queued; otherwise it is counted in
// Stats.ReportItemsCut. However many errors a peer provokes, what we send
// back is one packet (issue 12).
func (a *Association) queueCause(c wire.Cause) {
	n := len(a.errBuf)
	a.errBuf = c.AppendTo(a.errBuf)
	if len(a.errBuf) > a.errRoom() {
		a.errBuf = a.errBuf[:n]
		a.reportCut(1)
		return
	}
	a.markDirty()
}

// Cause is an error cause, as package wire defines them.
type Cause = wire.Cause

// Abort sends ABORT with causes and closes the association (9.1). The
// handler gets CommLost with ErrAborted.
func (a *Association) Abort(now time.Time, causes ...wire.Cause) {
	a.abortWith(now, causes, ErrAborted)
	a.host.finishCall(now)
}

// AbortRaw is Abort with the error causes given as encoded bytes, relayed
// verbatim (docs/design.md 2.6).
func (a *Association) AbortRaw(now time.Time, causeBytes []byte) {
	if a.state == stateClosed {
		return
	}
	a.sendAbortBytes(causeBytes)
	a.close(a.lostEvent(ErrAborted))
	a.host.finishCall(now)
}

// SetAbortDeadline makes the association abort itself at t unless it has
// ended before: it sends an ABORT carrying causeBytes (encoded error causes,
// relayed verbatim; nil for none; in COOKIE-WAIT nothing is sent, as for
// Abort) and its handler gets CommLost, or CantStartAssoc before COMM_UP,
// with ErrDeadline. A gateway bounds its dials with it (whatever T1 and
// Max.Init.Retransmits would allow), and the time a side may take to
// deliver what was acknowledged before it relays an ABORT. A later call
// replaces the deadline; the zero t cancels it.
func (a *Association) SetAbortDeadline(now, t time.Time, causeBytes []byte) {
	if a.state == stateClosed {
		return
	}
	if t.IsZero() {
		a.abortT.stop()
		a.abortCauses = nil
	} else {
		a.abortT.at = t
		a.abortCauses = append(a.abortCauses[:0], causeBytes...)
	}
	a.markDirty()
	a.host.finishCall(now)
}

// lostEvent is CantStartAssoc before COMM_UP and CommLost after.
func (a *Association) lostEvent(err error) Event {
	t := CommLost
	if a.state < stateEstablished {
		t = CantStartAssoc
	}
	return Event{Type: t, Err: err}
}

func (a *Association) abortWith(now time.Time, causes []wire.Cause, err error) {
	if a.state == stateClosed {
		return
	}
	a.host.stats.Aborteds++
	var b []byte
	if len(causes) > 0 {
		b = trimLastPadding(wire.AppendCauses(nil, a.shortenReasons(causes)))
	}
	a.sendAbortBytes(b)
	a.close(a.lostEvent(err))
}

// shortenReasons cuts User-Initiated Abort reasons to what is left of one
// ABORT on the path, keeping their beginning (where a reason names the side
// and the cause); the caller's causes are not modified. Other causes that do
// not fit are dropped whole by fitCauses.
func (a *Association) shortenReasons(causes []wire.Cause) []wire.Cause {
	room := a.tx().maxPacket() - wire.CommonHeaderLen - wire.ChunkHeaderLen
	copied, used := false, 0
	var scratch []byte
	for i, c := range causes {
		if u, ok := c.(*wire.UserInitiatedAbortCause); ok && used+wire.CauseHeaderLen+len(u.Reason) > room {
			if !copied {
				causes, copied = append([]wire.Cause(nil), causes...), true
			}
			c = &wire.UserInitiatedAbortCause{Reason: u.Reason[:max(room-used-wire.CauseHeaderLen, 0)]}
			causes[i] = c
		}
		scratch = c.AppendTo(scratch[:0])
		used += len(scratch)
	}
	return causes
}

// fitCauses keeps the leading whole causes of b that fit in room bytes and
// says how many it dropped: an ABORT or ERROR is one packet (never
// fragmented, and nothing retransmits it), so causes a user or a relayed
// peer gave beyond the path MTU are dropped from the end rather than sent in
// a packet that cannot arrive.
func fitCauses(b []byte, room int) ([]byte, int) {
	if len(b) <= room {
		return b, 0
	}
	end, off, dropped := 0, 0, 0
	for off+4 <= len(b) {
		l := int(binary.BigEndian.Uint16(b[off+2:]))
		if l < 4 || off+l > len(b) {
			break
		}
		if off+l > room {
			dropped++
		} else {
			end = off + l
		}
		off += (l + 3) &^ 3
	}
	return b[:end], dropped
}

// trimLastPadding drops the padding after the last TLV of b: RFC 9260 3.2
// leaves it out of the chunk length (the chunk encoder pads again).
func trimLastPadding(b []byte) []byte {
	end, off := 0, 0
	for off+4 <= len(b) {
		l := int(binary.BigEndian.Uint16(b[off+2:]))
		if l < 4 || off+l > len(b) {
			return b
		}
		end = off + l
		off += (l + 3) &^ 3
	}
	return b[:end]
}

// sendAbortBytes emits an ABORT at once, outside the bundling of flush: no
// DATA may ride with it (9.1). In COOKIE-WAIT the peer holds no state for us
// and we know no tag of its, so nothing is sent.
func (a *Association) sendAbortBytes(causes []byte) {
	if a.state == stateCookieWait || a.peerTag == 0 {
		return
	}
	pa := a.tx()
	causes, cut := fitCauses(causes, pa.maxPacket()-wire.CommonHeaderLen-wire.ChunkHeaderLen)
	a.reportCut(cut)
	b := a.host.getBuf(wire.CommonHeaderLen + wire.ChunkHeaderLen + len(causes) + 4)
	start := len(b)
	b = wire.AppendHeader(b, wire.CommonHeader{SrcPort: a.key.localPort, DstPort: a.key.remotePort, VerificationTag: a.peerTag})
	b = wire.RawChunk{Type: wire.TypeAbort, Value: causes}.AppendTo(b)
	b = a.seal(b, start)
	wire.FinishPacket(b, start)
	a.host.stats.OutCtrlChunks++
	a.host.emit(pa.linkIdx, pa.p, b)
}
