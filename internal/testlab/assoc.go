package testlab

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// Ctx is a context that ends after d or with the test.
func Ctx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// DialAccept dials from client (link 0) over p from localPort (0: an
// ephemeral one) to port and accepts the association at ln: the two ends
// of one association.
func DialAccept(tb testing.TB, ctx context.Context, client *stack.Stack, p link.Path, localPort, port uint16, opts stack.Options, ln *stack.Listener) (c, s *stack.Assoc) {
	tb.Helper()
	type res struct {
		x   *stack.Assoc
		err error
	}
	ch := make(chan res, 1)
	go func() {
		x, err := ln.Accept(ctx)
		ch <- res{x, err}
	}()
	c, err := client.Dial(ctx, 0, p, localPort, port, opts)
	if err != nil {
		tb.Fatalf("Dial %v port %d: %v", p, port, err)
	}
	r := <-ch
	if r.err != nil {
		tb.Fatalf("Accept on port %d: %v", port, r.err)
	}
	return c, r.x
}

// IsShutdownComp reports whether err is how calls on an association end
// after a graceful shutdown.
func IsShutdownComp(err error) bool {
	var ae *stack.AssocError
	return errors.As(err, &ae) && ae.Event.Type == engine.ShutdownComp
}

// Shutdown closes an association gracefully from end x: x.Shutdown must
// return nil (SHUTDOWN COMPLETE), y, whose every message was read, must see
// the end as SHUTDOWN_COMP from RecvMsg and nothing else, and both ends
// must be CLOSED afterwards.
func Shutdown(ctx context.Context, x, y *stack.Assoc) error {
	peer := make(chan error, 1)
	go func() {
		m, err := y.RecvMsg(ctx)
		switch {
		case err == nil:
			peer <- fmt.Errorf("peer received an unexpected %d-byte message during the shutdown", len(m.Data))
		case !IsShutdownComp(err):
			peer <- fmt.Errorf("peer's RecvMsg ended with %v, want SHUTDOWN_COMP", err)
		default:
			peer <- nil
		}
	}()
	var errs []error
	if err := x.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("Shutdown: %w", err))
	}
	errs = append(errs, <-peer)
	for i, e := range []*stack.Assoc{x, y} {
		if st := e.Status().State; st != engine.StateClosed {
			errs = append(errs, fmt.Errorf("after the shutdown end %d is %v", i, st))
		}
	}
	return errors.Join(errs...)
}

// SawEvent drains the events queued on an ended association and reports
// whether one of type typ was among them.
func SawEvent(x *stack.Assoc, typ stack.EventTyp) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for {
		ev, err := x.NextEvent(ctx)
		if err != nil {
			return false
		}
		if ev.Type == typ {
			return true
		}
	}
}

// WantEstablished fails the test unless every association is ESTABLISHED.
func WantEstablished(tb testing.TB, what string, xs ...*stack.Assoc) {
	tb.Helper()
	for i, x := range xs {
		if st := x.Status().State; st != engine.StateEstablished {
			tb.Fatalf("%s: association %d is %v, want ESTABLISHED", what, i, st)
		}
	}
}
