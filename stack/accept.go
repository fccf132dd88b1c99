package stack

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// ListenOptions are a listener's settings: the engine's per-association
// Options and what the runtime keeps per listener and association.
type ListenOptions struct {
	Options Options
	// Accept, when set, runs for every association whose valid COOKIE ECHO
	// arrives (RFC 9260 5.1 step D), before the COOKIE ACK is sent. It runs
	// under the Stack's lock, on the goroutine that read the packet: it must
	// not block nor call the Stack or its associations. It answers with
	// r.Accept or r.Reject, or returns without answering and answers later
	// from any goroutine (the COOKIE ACK waits meanwhile, as the gateway's
	// does for its egress side, docs/design.md 2.1). Nil accepts every association.
	Accept func(r *AcceptRequest)
	// AcceptTimeout bounds a deferred answer: an association still waiting
	// after it is rejected with a User-Initiated Abort carrying
	// AcceptTimeoutReason (the engine's ACCEPT-PENDING timer,
	// engine.AcceptRequest.SetDeadline). Zero means the Options' cookie life
	// (Valid.Cookie.Life, RFC 9260 15): the dialer's COOKIE ECHO
	// retransmissions would find a stale cookie after that anyway.
	AcceptTimeout time.Duration
	// AcceptTimeoutReason is the reason the timeout's ABORT carries; empty
	// means DefaultAcceptTimeoutReason.
	AcceptTimeoutReason string
	// Context is the initial SCTP_CONTEXT of each accepted association; the
	// hook may set its own with AcceptRequest.SetContext.
	Context uint32
	// EventQueue bounds each association's notification queue (see
	// Assoc.Events); zero means DefaultEventQueue.
	EventQueue int
}

// DefaultAcceptTimeoutReason is the User-Initiated Abort reason sent when a
// deferred accept times out.
const DefaultAcceptTimeoutReason = "accept timed out"

// Errors of AcceptRequest's answers.
var (
	// ErrAnswered: the request was already accepted or rejected.
	ErrAnswered = errors.New("stack: accept request already answered")
	// ErrAcceptTimeout: the answer came after ListenOptions.AcceptTimeout;
	// the association was rejected.
	ErrAcceptTimeout = errors.New("stack: accept request timed out")
)

// Listener accepts associations on one port.
type Listener struct {
	s       *Stack
	port    uint16
	lo      ListenOptions
	timeout time.Duration
	reason  string
	pending []*Assoc
	notify  chan struct{} // closed and replaced when an association arrives
}

// Listen accepts every association arriving on port, with opts.
func (s *Stack) Listen(port uint16, opts Options) (*Listener, error) {
	return s.ListenWith(port, ListenOptions{Options: opts})
}

// ListenWith accepts associations on port as lo says. Options.LocalAddrs
// naming an address no link is bound to fails with ErrAddrNotAvailable.
func (s *Stack) ListenWith(port uint16, lo ListenOptions) (*Listener, error) {
	l := &Listener{s: s, port: port, lo: lo, notify: make(chan struct{}), timeout: lo.AcceptTimeout, reason: lo.AcceptTimeoutReason}
	if l.timeout <= 0 {
		l.timeout = lo.Options.WithDefaults().Assoc.CookieLife
	}
	if l.reason == "" {
		l.reason = DefaultAcceptTimeoutReason
	}
	if err := checkLocalAddrs(s.links, lo.Options.LocalAddrs); err != nil {
		return nil, fmt.Errorf("stack: Listen on port %d: %w", port, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.host.Listen(port, lo.Options, engine.AcceptFunc(l.engineAccept)); err != nil {
		return nil, err
	}
	return l, nil
}

// engineAccept runs under s.mu, from the engine.
func (l *Listener) engineAccept(er *engine.AcceptRequest) {
	s := l.s
	x := newAssoc(s, l.lo.EventQueue, l.lo.Context)
	x.a = er.Association()
	if l.lo.Accept == nil {
		l.admit(er, x, s.host.Now())
		return
	}
	a := er.Association()
	r := &AcceptRequest{l: l, er: er, x: x, restart: er.Restart, kind: er.LinkKind()}
	r.context.Store(l.lo.Context)
	r.linkIdx, r.path = a.Path()
	r.localPort, r.remotePort = a.LocalPort(), a.RemotePort()
	r.outStreams, r.inStreams = a.Streams()
	l.lo.Accept(r)
	now := s.host.Now()
	if r.early.CompareAndSwap(nil, hookReturned) {
		// Deferred: the engine's ACCEPT-PENDING timer bounds the wait.
		er.SetDeadline(now, now.Add(l.timeout), &wire.UserInitiatedAbortCause{Reason: []byte(l.reason)})
		return
	}
	ans := r.early.Load()
	r.apply(ans.v, ans.causes, now)
}

// admit accepts under s.mu and queues x for Listener.Accept.
func (l *Listener) admit(er *engine.AcceptRequest, x *Assoc, now time.Time) error {
	if err := er.Accept(now, x.handler()); err != nil {
		return err
	}
	l.pending = append(l.pending, x)
	close(l.notify)
	l.notify = make(chan struct{})
	return nil
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

// Close stops accepting; established associations carry on, and so do
// deferred accept requests, which may still be answered until they time out.
func (l *Listener) Close() error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	l.s.host.Unlisten(l.port)
	return nil
}

type verdict uint8

const (
	verdictAccept verdict = iota + 1
	verdictReject
)

// answer is an AcceptRequest's verdict and the causes of a rejection.
type answer struct {
	v      verdict
	causes []wire.Cause
}

// hookReturned marks AcceptRequest.early once the hook has returned.
var hookReturned = &answer{}

// AcceptRequest is an association in ACCEPT-PENDING: its COOKIE ECHO was
// valid and the COOKIE ACK waits for the answer. Its methods are safe for
// concurrent use.
type AcceptRequest struct {
	l  *Listener
	er *engine.AcceptRequest
	x  *Assoc

	// Set before the hook runs, read-only after.
	linkIdx               int
	path                  link.Path
	kind                  link.Kind
	localPort, remotePort uint16
	outStreams, inStreams uint16
	restart               bool

	// context is the SCTP_CONTEXT the association starts with.
	context atomic.Uint32
	// early holds an answer given while the hook runs, from any goroutine:
	// the hook's goroutine holds s.mu, so such an answer is only recorded,
	// and the hook's caller applies it when the hook returns. The caller
	// then stores hookReturned if there was none; from then on answers
	// take s.mu and apply themselves. One compare-and-swap decides which
	// of the two an answer racing the hook's return is.
	early atomic.Pointer[answer]
	// answered: a later answer was applied (guarded by s.mu).
	answered bool
}

// Path is the link index and path the association arrived on.
func (r *AcceptRequest) Path() (linkIdx int, p link.Path) { return r.linkIdx, r.path }

// LinkKind is the kind of link it arrived on.
func (r *AcceptRequest) LinkKind() link.Kind { return r.kind }

// LocalPort and RemotePort are the association's SCTP ports.
func (r *AcceptRequest) LocalPort() uint16  { return r.localPort }
func (r *AcceptRequest) RemotePort() uint16 { return r.remotePort }

// Streams are the negotiated outbound and inbound stream counts.
func (r *AcceptRequest) Streams() (out, in uint16) { return r.outStreams, r.inStreams }

// Restart reports that the peer restarted (RFC 9260 5.2.4 action A): this
// association replaces one that ended with engine.ErrRestarted.
func (r *AcceptRequest) Restart() bool { return r.restart }

// SetContext sets the SCTP_CONTEXT the association starts with if accepted.
func (r *AcceptRequest) SetContext(v uint32) { r.context.Store(v) }

// Accept sends the COOKIE ACK; the association is then returned by the
// Listener's Accept. Answered from the hook it returns nil and takes effect
// when the hook returns (unless the peer gave up meanwhile). Answered later
// it returns ErrClosed if the association ended while pending (the peer
// aborted, or the Stack closed), ErrAcceptTimeout if it came too late, and
// ErrAnswered if it was already answered.
func (r *AcceptRequest) Accept() error { return r.answer(verdictAccept, nil) }

// Reject sends an ABORT carrying causes (RFC 9260 9.1) and forgets the
// association. It returns what Accept would.
func (r *AcceptRequest) Reject(causes ...wire.Cause) error { return r.answer(verdictReject, causes) }

// RejectReason rejects with a User-Initiated Abort cause carrying reason.
func (r *AcceptRequest) RejectReason(reason string) error {
	return r.Reject(&wire.UserInitiatedAbortCause{Reason: []byte(reason)})
}

func (r *AcceptRequest) answer(v verdict, causes []wire.Cause) error {
	ans := &answer{v: v, causes: causes}
	if r.early.CompareAndSwap(nil, ans) {
		return nil // the hook is running: its caller applies it
	}
	if r.early.Load() != hookReturned {
		return ErrAnswered // in the hook, already
	}
	s := r.l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.answered:
		return ErrAnswered
	case r.er.TimedOut():
		return ErrAcceptTimeout
	case s.closed:
		return ErrClosed
	}
	r.answered = true
	err := r.apply(v, causes, s.clock.Now())
	s.flushLocked()
	return err
}

// apply carries out the verdict under s.mu.
func (r *AcceptRequest) apply(v verdict, causes []wire.Cause, now time.Time) error {
	if r.er.Association().State() != engine.StateAcceptPending {
		return ErrClosed
	}
	if v == verdictReject {
		r.er.Reject(now, causes...)
		return nil
	}
	r.x.context = r.context.Load()
	return r.l.admit(r.er, r.x, now)
}
