package udpencap

import (
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// Where a goroutine waiting in RecvMsg or Accept is parked.
const (
	recvFrame   = "stack.(*Assoc).RecvMsg"
	acceptFrame = "stack.(*Listener).Accept"
)

// TestAssocConcurrentWaiters: stack.Assoc is documented as safe for
// concurrent use, and a gateway uses it so: one goroutine blocked in
// RecvMsg while another sends or shuts down. Every call blocked on an
// association must wake up when what it waits for happens, however many
// other calls wait on the same association (or Listener) at the time.
//
// Each case bounds every call to a few seconds; a call still blocked then
// missed its wake-up.
//
// It caught a bug, since fixed: Assoc and Listener woke waiters through a
// one-slot channel, so with two calls blocked one signal woke one of them.
func TestAssocConcurrentWaiters(t *testing.T) {
	const bound = 4 * time.Second
	pair := func(t *testing.T, cOpts, sOpts stack.Options) (c, s *stack.Assoc) {
		la, lb := listenT(t, ephemeral("127.0.0.1")), listenT(t, ephemeral("127.0.0.1"))
		sa, sb := newStackT(t, la), newStackT(t, lb)
		ln := listenS(t, sb, portS1AP, sOpts)
		return testlab.DialAccept(t, testlab.Ctx(t, 10*time.Second), sa, pathTo(lo4, lb.LocalPort()), 0, portS1AP, cOpts, ln)
	}

	// RecvMsg waits on an association that Shutdown, from another
	// goroutine, then closes: both must return, Shutdown with nil and
	// RecvMsg with SHUTDOWN_COMP.
	t.Run("recv-and-shutdown", func(t *testing.T) {
		c, s := pair(t, fastOpts, fastOpts)
		ctx := testlab.Ctx(t, bound)
		recvd := make(chan error, 1)
		base := testlab.Blocked(recvFrame)
		go func() {
			_, err := s.RecvMsg(ctx)
			recvd <- err
		}()
		testlab.WaitBlocked(t, bound, recvFrame, base+1) // RecvMsg is waiting
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(ctx) }()
		var serr, rerr error
		for range 2 {
			select {
			case serr = <-shut:
			case rerr = <-recvd:
			}
		}
		if serr != nil || !testlab.IsShutdownComp(rerr) {
			t.Errorf("Shutdown: %v (want nil); the concurrent RecvMsg: %v (want SHUTDOWN_COMP). "+
				"The call that saw its context deadline missed the wake-up of the SHUTDOWN_COMP event", serr, rerr)
		}
		// The SHUTDOWN COMPLETE may still be in flight when Shutdown returns.
		deadline := time.Now().Add(bound)
		for c.Status().State != engine.StateClosed && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if st := c.Status().State; st != engine.StateClosed {
			t.Errorf("the peer is %v: the shutdown itself did not complete", st)
		}
	})

	// Two goroutines wait in RecvMsg (two readers of one association)
	// and the peer sends two messages at once: each reader must get one.
	t.Run("two-readers", func(t *testing.T) {
		sOpts := fastOpts
		sOpts.NoDelay = false // the two messages travel in one packet
		c, s := pair(t, fastOpts, sOpts)
		ctx := testlab.Ctx(t, bound)
		got := make(chan error, 2)
		base := testlab.Blocked(recvFrame)
		for range 2 {
			go func() {
				_, err := c.RecvMsg(ctx)
				got <- err
			}()
		}
		testlab.WaitBlocked(t, bound, recvFrame, base+2) // both readers are waiting
		for _, m := range []string{"one", "two"} {
			if err := s.SendMsg(ctx, []byte(m), stack.SndInfo{PPID: 18}); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			if err := <-got; err != nil {
				t.Errorf("a second reader: %v, although both messages had arrived (%d still waiting to be read): "+
					"one wake-up for two messages", err, c.Status().Delivered)
			}
		}
	})

	// Two goroutines wait in Accept and two associations arrive at once:
	// both calls must return one each.
	t.Run("two-accepts", func(t *testing.T) {
		la, lb := listenT(t, ephemeral("127.0.0.1")), listenT(t, ephemeral("127.0.0.1"))
		sa, sb := newStackT(t, la), newStackT(t, lb)
		ln := listenS(t, sb, portS1AP, fastOpts)
		ctx := testlab.Ctx(t, bound)
		accepted := make(chan error, 2)
		base := testlab.Blocked(acceptFrame)
		for range 2 {
			go func() {
				_, err := ln.Accept(ctx)
				accepted <- err
			}()
		}
		testlab.WaitBlocked(t, bound, acceptFrame, base+2) // both Accepts are waiting
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := sa.Dial(ctx, 0, pathTo(lo4, lb.LocalPort()), 0, portS1AP, fastOpts); err != nil {
					t.Errorf("dial: %v", err)
				}
			}()
		}
		wg.Wait()
		for range 2 {
			if err := <-accepted; err != nil {
				t.Errorf("Accept with two associations established and two callers waiting: %v: one wake-up for two arrivals", err)
			}
		}
	})
}
