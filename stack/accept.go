package stack

import (
	"container/heap"
	"context"
	"errors"
	"sync"
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
	// AcceptTimeoutReason. Zero means the Options' cookie life
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

// ListenWith accepts associations on port as lo says.
func (s *Stack) ListenWith(port uint16, lo ListenOptions) (*Listener, error) {
	l := &Listener{s: s, port: port, lo: lo, notify: make(chan struct{}), timeout: lo.AcceptTimeout, reason: lo.AcceptTimeoutReason}
	if l.timeout <= 0 {
		l.timeout = lo.Options.WithDefaults().Assoc.CookieLife
	}
	if l.reason == "" {
		l.reason = DefaultAcceptTimeoutReason
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
	r := &AcceptRequest{l: l, er: er, x: x, heapIdx: -1, context: l.lo.Context, restart: er.Restart, kind: er.LinkKind()}
	r.linkIdx, r.path = a.Path()
	r.localPort, r.remotePort = a.LocalPort(), a.RemotePort()
	r.outStreams, r.inStreams = a.Streams()
	l.lo.Accept(r)
	now := s.host.Now()
	r.mu.Lock()
	v, causes := r.verdict, r.causes
	if v == verdictNone {
		r.phase = phaseDeferred
		r.deadline = now.Add(l.timeout)
		heap.Push(&s.acceptQ, r)
	} else {
		r.phase = phaseDone
	}
	r.mu.Unlock()
	if v != verdictNone {
		r.apply(v, causes, now)
	}
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
	verdictNone verdict = iota
	verdictAccept
	verdictReject
)

type acceptPhase uint8

const (
	phaseHook     acceptPhase = iota // the hook is running, under s.mu
	phaseDeferred                    // the hook returned without an answer
	phaseDone                        // answered or timed out
)

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

	// mu guards the fields below. An answer given while the hook runs only
	// records the verdict: the hook's goroutine holds s.mu and applies it
	// when the hook returns. Later answers take s.mu themselves. Lock order:
	// s.mu before mu; mu is never held while taking s.mu.
	mu       sync.Mutex
	phase    acceptPhase
	verdict  verdict
	causes   []wire.Cause
	context  uint32
	timedOut bool

	// Guarded by s.mu: the place in Stack.acceptQ while deferred.
	deadline time.Time
	heapIdx  int
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
func (r *AcceptRequest) SetContext(v uint32) {
	r.mu.Lock()
	r.context = v
	r.mu.Unlock()
}

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
	r.mu.Lock()
	switch r.phase {
	case phaseHook:
		defer r.mu.Unlock()
		if r.verdict != verdictNone {
			return ErrAnswered
		}
		r.verdict, r.causes = v, causes
		return nil
	case phaseDone:
		defer r.mu.Unlock()
		if r.timedOut {
			return ErrAcceptTimeout
		}
		return ErrAnswered
	}
	r.phase, r.verdict = phaseDone, v
	r.mu.Unlock()
	s := r.l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if r.heapIdx >= 0 {
		heap.Remove(&s.acceptQ, r.heapIdx)
	}
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
	r.mu.Lock()
	r.x.context = r.context
	r.mu.Unlock()
	return r.l.admit(r.er, r.x, now)
}

// expireAcceptsLocked rejects the deferred requests due at now.
func (s *Stack) expireAcceptsLocked(now time.Time) {
	for len(s.acceptQ) > 0 && !s.acceptQ[0].deadline.After(now) {
		r := heap.Pop(&s.acceptQ).(*AcceptRequest)
		r.mu.Lock()
		if r.phase != phaseDeferred {
			r.mu.Unlock() // answered meanwhile; that answer is on its way
			continue
		}
		r.phase, r.timedOut = phaseDone, true
		r.mu.Unlock()
		r.apply(verdictReject, []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte(r.l.reason)}}, now)
	}
}

// acceptHeap orders deferred accept requests by deadline.
type acceptHeap []*AcceptRequest

func (h acceptHeap) Len() int           { return len(h) }
func (h acceptHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h acceptHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *acceptHeap) Push(v any) {
	r := v.(*AcceptRequest)
	r.heapIdx = len(*h)
	*h = append(*h, r)
}
func (h *acceptHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	r.heapIdx = -1
	*h = old[:len(old)-1]
	return r
}
