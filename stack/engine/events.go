package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// EventType names a notification in the vocabulary of RFC 6458 section 6.
type EventType uint8

const (
	// CommUp: the association is ESTABLISHED (SCTP_COMM_UP).
	CommUp EventType = iota + 1
	// CommLost: the association ended abnormally (SCTP_COMM_LOST): the peer
	// aborted (Causes holds its ABORT), or a local failure (Err says which).
	CommLost
	// Restart: the peer restarted and the association was re-established
	// with new tags (SCTP_RESTART, RFC 9260 5.2.4 action A).
	Restart
	// ShutdownComp: the graceful shutdown completed (SCTP_SHUTDOWN_COMP).
	ShutdownComp
	// CantStartAssoc: the handshake failed (SCTP_CANT_STR_ASSOC).
	CantStartAssoc
	// PeerAddrChange: a path changed reachability (SCTP_PEER_ADDR_CHANGE).
	PeerAddrChange
	// RemoteError: the peer sent an ERROR chunk (SCTP_REMOTE_ERROR).
	RemoteError
	// SendFailed: messages that will never be delivered (SCTP_SEND_FAILED_EVENT).
	SendFailed
	// ShutdownEvent: the peer sent SHUTDOWN; no more data will arrive
	// (SCTP_SHUTDOWN_EVENT).
	ShutdownEvent
	// SenderDry: everything sent has been acknowledged (SCTP_SENDER_DRY_EVENT).
	SenderDry
	// AuthenticationEvent: SCTP-AUTH news (SCTP_AUTHENTICATION_EVENT, RFC
	// 6458 6.1.8); AuthIndication says which, AuthKeyID names the key.
	AuthenticationEvent
)

var eventNames = [...]string{
	CommUp: "COMM_UP", CommLost: "COMM_LOST", Restart: "RESTART",
	ShutdownComp: "SHUTDOWN_COMP", CantStartAssoc: "CANT_STR_ASSOC",
	PeerAddrChange: "PEER_ADDR_CHANGE", RemoteError: "REMOTE_ERROR",
	SendFailed: "SEND_FAILED", ShutdownEvent: "SHUTDOWN_EVENT",
	SenderDry: "SENDER_DRY", AuthenticationEvent: "AUTHENTICATION_EVENT",
}

func (t EventType) String() string {
	if int(t) < len(eventNames) && eventNames[t] != "" {
		return eventNames[t]
	}
	return fmt.Sprintf("event %d", uint8(t))
}

// SignalType names a Signal.
type SignalType uint8

const (
	// Readable: at least one message is ready for Association.Read.
	Readable SignalType = iota + 1
	// Writable: the send buffer has room again after Send returned ErrFull.
	Writable
	// HeartbeatRTT: an on-demand heartbeat (Association.Heartbeat) was
	// answered after Signal.RTT.
	HeartbeatRTT
	// DataRefused: after CloseWindow, the peer sent DATA beyond what was
	// taken; it holds that data unsent. Raised once.
	DataRefused
	// ShutdownAcked: the peer acknowledged our SHUTDOWN while
	// HoldShutdownComplete holds the SHUTDOWN COMPLETE.
	ShutdownAcked
)

var signalNames = [...]string{Readable: "READABLE", Writable: "WRITABLE", HeartbeatRTT: "HEARTBEAT_RTT",
	DataRefused: "DATA_REFUSED", ShutdownAcked: "SHUTDOWN_ACKED"}

func (t SignalType) String() string {
	if int(t) < len(signalNames) && signalNames[t] != "" {
		return signalNames[t]
	}
	return fmt.Sprintf("signal %d", uint8(t))
}

// Signal is what the engine tells the driver of an association besides
// the notifications of RFC 6458: that a call it made may proceed (a
// message to read, room to send, a heartbeat answered) or that a hold it
// placed took effect. A runtime acts on signals and never shows them to
// its users as notifications.
type Signal struct {
	Type SignalType
	// RTT of a HeartbeatRTT signal.
	RTT time.Duration
}

// PathState is a destination's state as sctp_paddrinfo's spinfo_state
// reports it (RFC 6458 8.2.2).
type PathState uint8

const (
	// PathActive: the destination is reachable (SCTP_ACTIVE).
	PathActive PathState = iota + 1
	// PathInactive: Path.Max.Retrans was exceeded (SCTP_INACTIVE, RFC
	// 9260 8.2).
	PathInactive
	// PathUnconfirmed: the address was not yet verified by a HEARTBEAT
	// (SCTP_UNCONFIRMED, RFC 9260 5.4); nothing but heartbeats goes to it.
	PathUnconfirmed
	// PathPotentiallyFailed: a timeout was seen and data avoids the
	// destination while heartbeats probe it (SCTP_PF, RFC 7829).
	PathPotentiallyFailed
)

var pathStateNames = [...]string{PathActive: "active", PathInactive: "inactive", PathUnconfirmed: "unconfirmed",
	PathPotentiallyFailed: "potentially-failed"}

func (s PathState) String() string {
	if int(s) < len(pathStateNames) && pathStateNames[s] != "" {
		return pathStateNames[s]
	}
	return fmt.Sprintf("path state %d", uint8(s))
}

// AddrChange is what a PeerAddrChange event reports, as sctp_paddr_change's
// spc_state does (RFC 6458 6.1.2).
type AddrChange uint8

const (
	// AddrAvailable: the destination is reachable again (SCTP_ADDR_AVAILABLE).
	AddrAvailable AddrChange = iota + 1
	// AddrUnreachable: the destination failed (SCTP_ADDR_UNREACHABLE).
	AddrUnreachable
	// AddrConfirmed: a HEARTBEAT verified the address (SCTP_ADDR_CONFIRMED).
	AddrConfirmed
	// AddrMadePrimary: the destination became the primary path
	// (SCTP_ADDR_MADE_PRIM).
	AddrMadePrimary
	// AddrPotentiallyFailed: the destination is potentially failed (RFC
	// 7829 7; Linux's SCTP_ADDR_POTENTIALLY_FAILED).
	AddrPotentiallyFailed
)

var addrChangeNames = [...]string{AddrAvailable: "ADDR_AVAILABLE", AddrUnreachable: "ADDR_UNREACHABLE",
	AddrConfirmed: "ADDR_CONFIRMED", AddrMadePrimary: "ADDR_MADE_PRIM", AddrPotentiallyFailed: "ADDR_POTENTIALLY_FAILED"}

func (c AddrChange) String() string {
	if int(c) < len(addrChangeNames) && addrChangeNames[c] != "" {
		return addrChangeNames[c]
	}
	return fmt.Sprintf("address change %d", uint8(c))
}

// Event is one notification. Which fields are set depends on Type.
type Event struct {
	Type EventType
	// Err says why for CommLost and CantStartAssoc caused locally; it wraps
	// one of the Err* sentinels.
	Err error
	// Causes holds the error causes of the peer's ABORT (CommLost,
	// CantStartAssoc) or ERROR (RemoteError), decoded; CauseBytes holds the
	// same causes exactly as received, for relaying them verbatim.
	Causes     []wire.Cause
	CauseBytes []byte
	// Path, PathState (the destination's state after the change) and
	// AddrChange (what changed) for PeerAddrChange.
	Path       link.Path
	PathState  PathState
	AddrChange AddrChange
	// Failed lists the messages of a SendFailed event.
	Failed []FailedMessage
	// AuthIndication and AuthKeyID of an AuthenticationEvent.
	AuthIndication AuthIndication
	AuthKeyID      uint16
}

// FailedMessage is a message that was not, or not surely, delivered.
type FailedMessage struct {
	Info SndInfo
	Data []byte
	// Sent is true when some of it had been transmitted (unacknowledged).
	Sent bool
}

// Handler receives what an association reports. Its methods run on the
// goroutine that drives the Host, after the input that caused the report
// has been processed, in the order the reports were raised.
type Handler interface {
	// HandleEvent receives the notifications of RFC 6458 section 6.
	HandleEvent(a *Association, ev Event)
	// HandleSignal receives the engine's signals to the association's
	// driver (Signal).
	HandleSignal(a *Association, s Signal)
}

// Sentinel errors that events and calls carry; callers branch on them.
var (
	// ErrPeerUnreachable: Association.Max.Retrans (or Max.Init.Retransmits)
	// was exceeded (RFC 9260 8.1, 5.1).
	ErrPeerUnreachable = errors.New("peer unreachable")
	// ErrPeerRefused: in COOKIE-WAIT, the peer's host answered our INIT
	// with ICMP protocol unreachable, or port unreachable on a UDP path
	// (RFC 9260 10 ICMP8, RFC 6951 5.5). It is an ErrPeerUnreachable.
	ErrPeerRefused = fmt.Errorf("%w: refused (ICMP protocol or port unreachable)", ErrPeerUnreachable)
	// ErrPeerAborted: the peer sent ABORT; the event's Causes say why.
	ErrPeerAborted = errors.New("aborted by peer")
	// ErrAborted: the local user aborted the association.
	ErrAborted = errors.New("aborted locally")
	// ErrShutdownGuard: T5-shutdown-guard expired (RFC 9260 9.2).
	ErrShutdownGuard = errors.New("shutdown guard timer expired")
	// ErrRestarted: the peer restarted the association; this TCB was replaced.
	ErrRestarted = errors.New("peer restarted")
	// ErrRejected: the accept hook rejected the association.
	ErrRejected = errors.New("rejected")
	// ErrProtocolViolation: the peer broke the protocol; we aborted.
	ErrProtocolViolation = errors.New("protocol violation")
	// ErrClosed: the association is closed (or closing) and takes no data.
	ErrClosed = errors.New("association closed")
	// ErrFull: the send buffer is full; wait for a Writable signal.
	ErrFull = errors.New("send buffer full")
	// ErrInvalidStream: the stream is not one the peer granted.
	ErrInvalidStream = errors.New("invalid stream identifier")
	// ErrTooLarge: the message exceeds MaxMessage.
	ErrTooLarge = errors.New("message too large")
	// ErrDeadline: the association aborted itself at the time set with
	// SetAbortDeadline.
	ErrDeadline = errors.New("deadline passed")
	// ErrNoPath: the address is not one of the peer's the association
	// knows.
	ErrNoPath = errors.New("not a peer address of the association")
	// ErrUnconfirmed: the peer's address is not confirmed yet (RFC 9260
	// 5.4), so it cannot be the primary path.
	ErrUnconfirmed = errors.New("peer address not confirmed")
	// ErrHostClosed: the Host was closed.
	ErrHostClosed = errors.New("host closed")
	// ErrLinkDown: the link lost the association's path for good
	// (link.NoticeDown, such as a DTLS session that failed); the event's
	// Err wraps it with the link's reason.
	ErrLinkDown = errors.New("link down")
)
