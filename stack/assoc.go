package stack

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Re-exported engine types, so users of the API need only this package.
type (
	SndInfo        = engine.SndInfo
	Event          = engine.Event
	Status         = engine.Status
	Options        = engine.Config
	InitMsg        = engine.InitMsg
	RTOInfo        = engine.RTOInfo
	AssocParams    = engine.AssocParams
	PeerAddrParams = engine.PeerAddrParams
	Heartbeat      = engine.Heartbeat
	DelayedAck     = engine.DelayedAck
	EventTyp       = engine.EventType
	PathStatus     = engine.PathStatus
	PathState      = engine.PathState
	AddrChange     = engine.AddrChange
)

// A path's state (PathStatus.State) and what a PEER_ADDR_CHANGE reports
// (Event.AddrChange), as RFC 6458 names them.
const (
	PathActive            = engine.PathActive
	PathInactive          = engine.PathInactive
	PathUnconfirmed       = engine.PathUnconfirmed
	PathPotentiallyFailed = engine.PathPotentiallyFailed

	AddrAvailable         = engine.AddrAvailable
	AddrUnreachable       = engine.AddrUnreachable
	AddrConfirmed         = engine.AddrConfirmed
	AddrMadePrimary       = engine.AddrMadePrimary
	AddrPotentiallyFailed = engine.AddrPotentiallyFailed
)

// Heartbeat modes of PeerAddrParams.Heartbeat (SPP_HB_ENABLE and
// SPP_HB_DISABLE of RFC 6458 8.1.12). SPP_HB_DEMAND is not a mode but a
// one-off request: Assoc.Heartbeat.
const (
	HeartbeatOn  = engine.HeartbeatOn
	HeartbeatOff = engine.HeartbeatOff
)

// RcvInfo mirrors struct sctp_rcvinfo (RFC 6458 5.3.5).
type RcvInfo struct {
	Stream    uint16
	SSN       uint16
	PPID      uint32
	TSN       uint32
	Unordered bool
	// Context is the association's SCTP_CONTEXT value when the message was
	// read (RFC 6458 8.1.25): see DialOptions.Context, ListenOptions.Context
	// and Assoc.SetContext.
	Context uint32
}

// Message is a received user message and its RcvInfo.
type Message struct {
	RcvInfo
	Data []byte
}

// DialOptions are Dial's settings: the engine's per-association Options and
// what the runtime keeps per association.
type DialOptions struct {
	Options Options
	// Context is the association's initial SCTP_CONTEXT, returned in every
	// received message's RcvInfo.
	Context uint32
	// EventQueue bounds the notifications waiting to be read; see
	// Assoc.Events. Zero means DefaultEventQueue.
	EventQueue int
	// PeerAddrs are the peer's other addresses on a native link
	// (sctp_connectx): confirmed from the start, and tried in turn when
	// the INIT goes unanswered. Dial's path is the primary.
	PeerAddrs []netip.Addr
}

// DefaultEventQueue is the default bound of an association's notification
// queue. Each slot costs the size of an Event (about 170 bytes), allocated
// with the association.
const DefaultEventQueue = 32

// minEventQueue leaves room for the events that are never dropped (at
// most three: COMM_UP, SHUTDOWN_EVENT and the final one) and one more.
const minEventQueue = 4

// Assoc is an association driven by a Stack, safe for concurrent use.
type Assoc struct {
	s *Stack
	a *engine.Association

	// The fields below are guarded by s.mu. notify is closed (and replaced)
	// on every event while someone waits: a broadcast, so that several
	// goroutines blocked on one association (a reader and a writer) all
	// wake and look again.
	ended   *Event        // the final event (CommLost, ShutdownComp, CantStartAssoc)
	rtt     time.Duration // the last on-demand heartbeat's RTT; -1 while waiting
	up      bool
	notify  chan struct{}
	waiting bool
	context uint32 // SCTP_CONTEXT, stamped on every message read
	// events queues notifications for Events and NextEvent; only
	// handleEvent puts, under s.mu, and never blocks. Its channel is
	// closed after the final event.
	events eventQueue
}

func newAssoc(s *Stack, queue int, context uint32) *Assoc {
	if queue <= 0 {
		queue = DefaultEventQueue
	}
	queue = max(queue, minEventQueue)
	return &Assoc{s: s, notify: make(chan struct{}), context: context, events: newEventQueue(queue)}
}

// waitCh is the channel to wait on after the condition checked under s.mu
// failed (see await); take it before unlocking.
func (x *Assoc) waitCh() <-chan struct{} {
	x.waiting = true
	return x.notify
}

// engineHandler is an Assoc as the engine's Handler of its association.
// A type of its own keeps the callbacks out of Assoc's methods: only the
// engine may call them, under s.mu.
type engineHandler Assoc

func (h *engineHandler) HandleEvent(a *engine.Association, ev engine.Event) {
	(*Assoc)(h).handleEvent(a, ev)
}

func (h *engineHandler) HandleSignal(a *engine.Association, s engine.Signal) {
	(*Assoc)(h).handleSignal(a, s)
}

// handler is x as the engine's Handler.
func (x *Assoc) handler() *engineHandler { return (*engineHandler)(x) }

// handleEvent runs under s.mu from the engine: a notification, which the
// application reads from the event queue.
func (x *Assoc) handleEvent(a *engine.Association, ev engine.Event) {
	x.a = a
	switch ev.Type {
	case engine.CommUp, engine.Restart:
		x.up = true
	case engine.CommLost, engine.ShutdownComp, engine.CantStartAssoc:
		e := ev
		x.ended = &e
	}
	x.events.push(ev)
	x.wake()
}

// handleSignal runs under s.mu from the engine: a message to read, room to
// send, an on-demand heartbeat's answer. The calls blocked on them look
// again; the application's event queue never sees a signal.
func (x *Assoc) handleSignal(a *engine.Association, s engine.Signal) {
	x.a = a
	if s.Type == engine.HeartbeatRTT {
		x.rtt = s.RTT
	}
	x.wake()
}

// wake lets every call blocked on the association look again.
func (x *Assoc) wake() {
	if x.waiting {
		close(x.notify)
		x.notify, x.waiting = make(chan struct{}), false
	}
}

// await is the loop of every blocking call: it runs ready under s.mu and,
// until ready reports true, waits outside the lock for the association's
// next event and runs it again. ready leaves what the call returns in
// variables of its caller. await returns nil once ready reported true,
// ctx.Err() if ctx ended first, and ErrClosed if the Stack closed.
func (x *Assoc) await(ctx context.Context, ready func() bool) error {
	for {
		x.s.mu.Lock()
		if ready() {
			x.s.mu.Unlock()
			return nil
		}
		// Taken before unlocking, or an event in between is missed.
		ch := x.waitCh()
		x.s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-x.s.done:
			return ErrClosed
		}
	}
}

// endErr turns the final event into the error calls return.
func (x *Assoc) endErr() error {
	if x.ended == nil {
		return ErrClosed
	}
	return &AssocError{Event: *x.ended}
}

// AssocError is the error an association's calls return once it ended; the
// Event says how (CommLost with the peer's causes, ShutdownComp, ...).
type AssocError struct{ Event Event }

func (e *AssocError) Error() string {
	if e.Event.Err != nil {
		return "stack: association " + e.Event.Type.String() + ": " + e.Event.Err.Error()
	}
	return "stack: association " + e.Event.Type.String()
}

func (e *AssocError) Unwrap() error { return e.Event.Err }

// SendMsg queues a message, blocking while the send buffer is full: the
// caller is slowed down, nothing is dropped. It takes ownership of data.
func (x *Assoc) SendMsg(ctx context.Context, data []byte, info SndInfo) error {
	var err error
	if werr := x.await(ctx, func() bool {
		if x.ended != nil {
			err = x.endErr()
			return true
		}
		err = x.s.sendLocked(x.a, data, info)
		return !errors.Is(err, engine.ErrFull)
	}); werr != nil {
		return werr
	}
	return err
}

// RecvMsg returns the next message, blocking until one arrives. After a
// graceful shutdown it returns io.EOF-like *AssocError with ShutdownComp once
// every message was read.
func (x *Assoc) RecvMsg(ctx context.Context) (Message, error) {
	var msg Message
	var err error
	if werr := x.await(ctx, func() bool {
		if m, ok := x.a.Read(x.s.clock.Now()); ok {
			x.s.flushLocked()
			info := RcvInfo{Stream: m.Stream, SSN: m.SSN, PPID: m.PPID, TSN: m.TSN, Unordered: m.Unordered, Context: x.context}
			msg = Message{RcvInfo: info, Data: m.Data}
			return true
		}
		if x.ended != nil {
			err = x.endErr()
			return true
		}
		return false
	}); werr != nil {
		return Message{}, werr
	}
	return msg, err
}

// Shutdown closes gracefully (gen_sctp eof/2) and waits until it completes:
// nil after SHUTDOWN COMPLETE, or the error that ended the association.
func (x *Assoc) Shutdown(ctx context.Context) error {
	x.s.mu.Lock()
	if x.ended == nil {
		x.a.Shutdown(x.s.clock.Now())
		x.s.flushLocked()
	}
	x.s.mu.Unlock()
	var ended *Event
	if err := x.await(ctx, func() bool { ended = x.ended; return ended != nil }); err != nil {
		return err
	}
	if ended.Type == engine.ShutdownComp {
		return nil
	}
	return &AssocError{Event: *ended}
}

// Abort ends the association at once with an ABORT carrying causes.
func (x *Assoc) Abort(causes ...wire.Cause) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.ended == nil {
		x.a.Abort(x.s.clock.Now(), causes...)
		x.s.flushLocked()
	}
}

// AbortReason aborts with a User-Initiated Abort cause carrying reason.
func (x *Assoc) AbortReason(reason string) {
	x.Abort(&wire.UserInitiatedAbortCause{Reason: []byte(reason)})
}

// SetPrimary makes the peer's address addr the primary path
// (SCTP_PRIMARY_ADDR); the address must be one of the peer's the
// association knows and confirmed (engine.ErrNoPath, engine.ErrUnconfirmed).
func (x *Assoc) SetPrimary(addr netip.Addr) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	err := x.a.SetPrimary(x.s.clock.Now(), addr)
	x.s.flushLocked()
	return err
}

// Status reports SCTP_STATUS-like figures, every path of the peer's
// included (Status.Paths).
func (x *Assoc) Status() Status {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	return x.a.Status()
}

// NextEvent returns the next notification (COMM_UP, SHUTDOWN_EVENT, ...),
// blocking until there is one, and ErrClosed once the association ended
// and its final event was read. It reads the queue Events returns: use one
// or the other, or both knowing that each event goes to one reader.
func (x *Assoc) NextEvent(ctx context.Context) (Event, error) {
	select {
	case ev, ok := <-x.events.ch:
		if !ok {
			return Event{}, ErrClosed
		}
		return ev, nil
	default:
	}
	select {
	case ev, ok := <-x.events.ch:
		if !ok {
			return Event{}, ErrClosed
		}
		return ev, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	case <-x.s.done:
		// Stack.Close delivered every final event before closing done.
		select {
		case ev, ok := <-x.events.ch:
			if ok {
				return ev, nil
			}
		default:
		}
		return Event{}, ErrClosed
	}
}

// Events returns the association's notifications (RFC 6458 section 6:
// ASSOC_CHANGE as COMM_UP, COMM_LOST, RESTART, SHUTDOWN_COMP and
// CANT_STR_ASSOC with the error and the peer's causes; PEER_ADDR_CHANGE,
// REMOTE_ERROR, SEND_FAILED, SHUTDOWN_EVENT, SENDER_DRY). The channel is
// closed after the final event, so a range over it ends with the
// association.
//
// The channel is buffered and bounded (DialOptions.EventQueue,
// ListenOptions.EventQueue); the stack never blocks on it. It is the queue
// NextEvent reads. While the reader lags, what waits in it is what
// matters most:
//
//   - SENDER_DRY at most once: another one comes in only after the one
//     waiting was read, since it would say no more (that one is read
//     after the sender was last dry). This loses no news and is not
//     counted as a drop.
//   - The less important an event, the more free room it needs to be
//     queued, and it is dropped without: REMOTE_ERROR (as many as the
//     peer sends ERROR chunks) only while the queue is less than half
//     full; PEER_ADDR_CHANGE, SEND_FAILED, RESTART, AUTHENTICATION_EVENT
//     and SENDER_DRY while three slots are free; COMM_UP and
//     SHUTDOWN_EVENT while two are. The final event always has the last
//     slot: it is never dropped, nor are COMM_UP and SHUTDOWN_EVENT.
//
// So SENDER_DRYs, however many, hold one slot at most, and a peer's ERRORs
// half the queue. DroppedEvents counts
// what was lost; Status tells every path's current state after a loss.
func (x *Assoc) Events() <-chan Event { return x.events.ch }

// DroppedEvents counts the notifications dropped for lack of room (see
// Events). A SENDER_DRY not queued because one waits is not counted.
func (x *Assoc) DroppedEvents() uint64 {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	return x.events.dropped
}

// SetContext sets the association's SCTP_CONTEXT (RFC 6458 8.1.25), which
// every message read afterwards carries in RcvInfo.Context.
func (x *Assoc) SetContext(v uint32) {
	x.s.mu.Lock()
	x.context = v
	x.s.mu.Unlock()
}

// Context returns the association's SCTP_CONTEXT.
func (x *Assoc) Context() uint32 {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	return x.context
}

// Streams returns the negotiated outbound and inbound stream counts.
func (x *Assoc) Streams() (out, in uint16) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	return x.a.Streams()
}

// PeerAdaptation is the peer's Adaptation Layer Indication (RFC 5061 4.2.6),
// known from COMM_UP on, and whether it sent one: what RFC 6458 reports in
// SCTP_ADAPTATION_INDICATION.
func (x *Assoc) PeerAdaptation() (code uint32, ok bool) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	return x.a.PeerAdaptation()
}

// Dial opens an association to remotePort over path p of link linkIdx and
// waits for COMM_UP. localPort 0 picks an ephemeral port.
func (s *Stack) Dial(ctx context.Context, linkIdx int, p link.Path, localPort, remotePort uint16, opts Options) (*Assoc, error) {
	return s.DialWith(ctx, linkIdx, p, localPort, remotePort, DialOptions{Options: opts})
}

// DialWith is Dial with the runtime's per-association settings too. If ctx
// ends before COMM_UP, the handshake is abandoned with an ABORT (RFC 9260
// 9.1: the association may be aborted in any state), nothing of it is left,
// and ctx.Err() is returned. Options.LocalAddrs naming an address the link
// is not bound to fails with ErrAddrNotAvailable.
func (s *Stack) DialWith(ctx context.Context, linkIdx int, p link.Path, localPort, remotePort uint16, do DialOptions) (*Assoc, error) {
	if linkIdx >= 0 && linkIdx < len(s.links) {
		if err := checkLocalAddrs(s.links[linkIdx:linkIdx+1], do.Options.LocalAddrs); err != nil {
			return nil, fmt.Errorf("stack: Dial from link %d: %w", linkIdx, err)
		}
	}
	x := newAssoc(s, do.EventQueue, do.Context)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	a, err := s.host.DialAddrs(linkIdx, p, do.PeerAddrs, localPort, remotePort, do.Options, x.handler(), s.clock.Now())
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	x.a = a
	s.flushLocked()
	s.mu.Unlock()
	var up bool
	var ended *Event
	if err := x.await(ctx, func() bool { up, ended = x.up, x.ended; return up || ended != nil }); err != nil {
		x.Abort()
		return nil, err
	}
	if up {
		return x, nil
	}
	return nil, &AssocError{Event: *ended}
}

// Heartbeat sends an on-demand HEARTBEAT and waits for its answer,
// returning the round trip.
func (x *Assoc) Heartbeat(ctx context.Context) (time.Duration, error) {
	x.s.mu.Lock()
	if x.ended != nil {
		err := x.endErr()
		x.s.mu.Unlock()
		return 0, err
	}
	x.rtt = -1
	x.a.Heartbeat(x.s.clock.Now())
	x.s.flushLocked()
	x.s.mu.Unlock()
	var rtt time.Duration
	var ended *Event
	if err := x.await(ctx, func() bool { rtt, ended = x.rtt, x.ended; return rtt >= 0 || ended != nil }); err != nil {
		return 0, err
	}
	if rtt >= 0 {
		return rtt, nil
	}
	return 0, &AssocError{Event: *ended}
}
