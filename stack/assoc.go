package stack

import (
	"context"
	"errors"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Re-exported engine types, so users of the API need only this package.
type (
	SndInfo  = engine.SndInfo
	Message  = engine.Message
	Event    = engine.Event
	Status   = engine.Status
	Options  = engine.Config
	InitMsg  = engine.InitMsg
	RTOInfo  = engine.RTOInfo
	EventTyp = engine.EventType
)

// Assoc is an association driven by a Stack, safe for concurrent use.
type Assoc struct {
	s *Stack
	a *engine.Association

	// The fields below are guarded by s.mu. notify is closed (and replaced)
	// on every event while someone waits: a broadcast, so that several
	// goroutines blocked on one association (a reader and a writer) all
	// wake and look again.
	events  []Event
	ended   *Event        // the final event (CommLost, ShutdownComp, CantStartAssoc)
	rtt     time.Duration // the last on-demand heartbeat's RTT; -1 while waiting
	up      bool
	notify  chan struct{}
	waiting bool
}

func newAssoc(s *Stack) *Assoc { return &Assoc{s: s, notify: make(chan struct{})} }

// waitCh is the channel to wait on after the condition checked under s.mu
// failed; take it before unlocking, or an event in between is missed.
func (x *Assoc) waitCh() <-chan struct{} {
	x.waiting = true
	return x.notify
}

// HandleEvent runs under s.mu from the engine.
func (x *Assoc) HandleEvent(a *engine.Association, ev engine.Event) {
	x.a = a
	switch ev.Type {
	case engine.CommUp, engine.Restart:
		x.up = true
	case engine.CommLost, engine.ShutdownComp, engine.CantStartAssoc:
		e := ev
		x.ended = &e
	}
	if ev.Type == engine.HeartbeatRTT {
		x.rtt = ev.RTT
	}
	if ev.Type != engine.Readable && ev.Type != engine.Writable && ev.Type != engine.HeartbeatRTT {
		x.events = append(x.events, ev)
	}
	if x.waiting {
		close(x.notify)
		x.notify, x.waiting = make(chan struct{}), false
	}
}

// wait blocks until ch (from waitCh) is closed or ctx ends.
func (x *Assoc) wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-x.s.done:
		return ErrClosed
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
	for {
		x.s.mu.Lock()
		if x.ended != nil {
			err := x.endErr()
			x.s.mu.Unlock()
			return err
		}
		err := x.s.sendLocked(x.a, data, info)
		var ch <-chan struct{}
		if errors.Is(err, engine.ErrFull) {
			ch = x.waitCh()
		}
		x.s.mu.Unlock()
		if !errors.Is(err, engine.ErrFull) {
			return err
		}
		if err := x.wait(ctx, ch); err != nil {
			return err
		}
	}
}

// RecvMsg returns the next message, blocking until one arrives. After a
// graceful shutdown it returns io.EOF-like *AssocError with ShutdownComp once
// every message was read.
func (x *Assoc) RecvMsg(ctx context.Context) (Message, error) {
	for {
		x.s.mu.Lock()
		m, ok := x.a.Read(x.s.clock.Now())
		if ok {
			x.s.flushLocked()
			x.s.mu.Unlock()
			return m, nil
		}
		if x.ended != nil {
			err := x.endErr()
			x.s.mu.Unlock()
			return Message{}, err
		}
		ch := x.waitCh()
		x.s.mu.Unlock()
		if err := x.wait(ctx, ch); err != nil {
			return Message{}, err
		}
	}
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
	for {
		x.s.mu.Lock()
		ended := x.ended
		ch := x.waitCh()
		x.s.mu.Unlock()
		if ended != nil {
			if ended.Type == engine.ShutdownComp {
				return nil
			}
			return &AssocError{Event: *ended}
		}
		if err := x.wait(ctx, ch); err != nil {
			return err
		}
	}
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

// Status reports SCTP_STATUS-like figures.
func (x *Assoc) Status() Status {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	return x.a.Status()
}

// NextEvent returns the next notification (COMM_UP, SHUTDOWN_EVENT, ...),
// blocking until there is one.
func (x *Assoc) NextEvent(ctx context.Context) (Event, error) {
	for {
		x.s.mu.Lock()
		if len(x.events) > 0 {
			ev := x.events[0]
			x.events = x.events[1:]
			x.s.mu.Unlock()
			return ev, nil
		}
		ended := x.ended != nil
		ch := x.waitCh()
		x.s.mu.Unlock()
		if ended {
			return Event{}, ErrClosed
		}
		if err := x.wait(ctx, ch); err != nil {
			return Event{}, err
		}
	}
}

// Streams returns the negotiated outbound and inbound stream counts.
func (x *Assoc) Streams() (out, in uint16) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	return x.a.Streams()
}

// Dial opens an association to remotePort over path p of link linkIdx and
// waits for COMM_UP. localPort 0 picks an ephemeral port.
func (s *Stack) Dial(ctx context.Context, linkIdx int, p link.Path, localPort, remotePort uint16, opts Options) (*Assoc, error) {
	x := newAssoc(s)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	a, err := s.host.Dial(linkIdx, p, localPort, remotePort, opts, x, s.clock.Now())
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	x.a = a
	s.flushLocked()
	s.mu.Unlock()
	for {
		s.mu.Lock()
		up, ended := x.up, x.ended
		ch := x.waitCh()
		s.mu.Unlock()
		if up {
			return x, nil
		}
		if ended != nil {
			return nil, &AssocError{Event: *ended}
		}
		if err := x.wait(ctx, ch); err != nil {
			x.Abort()
			return nil, err
		}
	}
}

// Listener accepts associations on one port.
type Listener struct {
	s       *Stack
	port    uint16
	pending []*Assoc
	notify  chan struct{} // closed and replaced when an association arrives
}

// Listen accepts associations on port with opts.
func (s *Stack) Listen(port uint16, opts Options) (*Listener, error) {
	l := &Listener{s: s, port: port, notify: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	err := s.host.Listen(port, opts, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		x := newAssoc(s)
		x.a = r.Association()
		if err := r.Accept(s.clock.Now(), x); err == nil {
			l.pending = append(l.pending, x)
			close(l.notify)
			l.notify = make(chan struct{})
		}
	}))
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Accept returns the next established association.
func (l *Listener) Accept(ctx context.Context) (*Assoc, error) {
	for {
		l.s.mu.Lock()
		if len(l.pending) > 0 {
			x := l.pending[0]
			l.pending = l.pending[1:]
			l.s.mu.Unlock()
			return x, nil
		}
		closed := l.s.closed
		ch := l.notify
		l.s.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.s.done:
			return nil, ErrClosed
		}
	}
}

// Close stops accepting; established associations carry on.
func (l *Listener) Close() error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	l.s.host.Unlisten(l.port)
	return nil
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
	for {
		x.s.mu.Lock()
		rtt, ended := x.rtt, x.ended
		ch := x.waitCh()
		x.s.mu.Unlock()
		if rtt >= 0 {
			return rtt, nil
		}
		if ended != nil {
			return 0, &AssocError{Event: *ended}
		}
		if err := x.wait(ctx, ch); err != nil {
			return 0, err
		}
	}
}
