package stack_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/pion/transport/v3/test"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// echoServer echoes every message of the first association ln accepts and
// reports how its reads ended.
func echoServer(ctx context.Context, ln *stack.Listener) (<-chan *stack.Assoc, <-chan error) {
	accepted, done := make(chan *stack.Assoc, 1), make(chan error, 1)
	go func() {
		x, err := ln.Accept(ctx)
		if err != nil {
			done <- err
			return
		}
		accepted <- x
		for {
			m, err := x.RecvMsg(ctx)
			if err != nil {
				done <- err
				return
			}
			if err := x.SendMsg(ctx, m.Data, stack.SndInfo{Stream: m.Stream}); err != nil {
				done <- err
				return
			}
		}
	}()
	return accepted, done
}

// TestEventsBoundedKeepsFinal: a reader that lags finds one SENDER_DRY
// however many round trips drained the send queue, nothing dropped, the
// final event last, and the channel closed after it.
func TestEventsBoundedKeepsFinal(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	sa, sb, _, _, p := vpair(t, link.UDP)
	ctx := ctxT(t)
	// Freq 1: every DATA is acknowledged at once, as the virtual clock
	// never reaches the delayed-SACK timer.
	ln, err := sb.Listen(5000, stack.Options{NoDelay: true, DelayedAck: stack.DelayedAck{Freq: 1}})
	if err != nil {
		t.Fatal(err)
	}
	accepted, srvDone := echoServer(ctx, ln)
	const queue = 8
	c, err := sa.DialWith(ctx, 0, p, 0, 5000, stack.DialOptions{Options: stack.Options{NoDelay: true}, EventQueue: queue})
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	// Each round trip ends with everything acknowledged: one SENDER_DRY.
	const rounds = 20
	for i := 0; i < rounds; i++ {
		if err := c.SendMsg(ctx, []byte("ping"), stack.SndInfo{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.RecvMsg(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the echo's SACK", func() bool { st := c.Status(); return st.Unacked == 0 && st.Pending == 0 })
	}
	srv.AbortReason("bye")
	<-srvDone
	var got []stack.Event
	for ev := range c.Events() { // ends: the channel closes after COMM_LOST
		got = append(got, ev)
	}
	want := []string{"COMM_UP", "SENDER_DRY", "COMM_LOST"}
	if !slices.Equal(types(got), want) || !errors.Is(got[len(got)-1].Err, engine.ErrPeerAborted) {
		t.Fatalf("events %v, want %v (COMM_LOST aborted by peer)", types(got), want)
	}
	if d := c.DroppedEvents(); d != 0 {
		t.Fatalf("DroppedEvents %d, want 0", d)
	}
	if _, err := c.NextEvent(ctx); !errors.Is(err, stack.ErrClosed) {
		t.Fatalf("NextEvent after the final event: %v, want ErrClosed", err)
	}
}

func types(evs []stack.Event) []string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = ev.Type.String()
	}
	return s
}

// TestEventsAndNextEventShareQueue: Events and NextEvent read one queue from
// several goroutines at once; every event goes to exactly one of them, and
// both end when the association does.
func TestEventsAndNextEventShareQueue(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	sa, sb, _, _, p := vpair(t, link.UDP)
	ctx := ctxT(t)
	// Freq 1: every DATA is acknowledged at once, as the virtual clock
	// never reaches the delayed-SACK timer.
	ln, err := sb.Listen(5000, stack.Options{NoDelay: true, DelayedAck: stack.DelayedAck{Freq: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, srvDone := echoServer(ctx, ln)
	c, err := sa.DialWith(ctx, 0, p, 0, 5000, stack.DialOptions{Options: stack.Options{NoDelay: true}, EventQueue: 1024})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	counts := map[engine.EventType]int{}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for ev := range c.Events() {
				mu.Lock()
				counts[ev.Type]++
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			for {
				ev, err := c.NextEvent(ctx)
				if err != nil {
					if !errors.Is(err, stack.ErrClosed) {
						t.Errorf("NextEvent: %v", err)
					}
					return
				}
				mu.Lock()
				counts[ev.Type]++
				mu.Unlock()
			}
		}()
	}
	const rounds = 50
	for i := 0; i < rounds; i++ {
		if err := c.SendMsg(ctx, []byte("ping"), stack.SndInfo{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.RecvMsg(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the echo's SACK", func() bool { st := c.Status(); return st.Unacked == 0 && st.Pending == 0 })
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	<-srvDone
	// A SENDER_DRY comes in only when none waits: one per round while
	// the readers keep up, fewer when they lag.
	if len(counts) != 3 || counts[engine.CommUp] != 1 || counts[engine.ShutdownComp] != 1 ||
		counts[engine.SenderDry] < 1 || counts[engine.SenderDry] > rounds {
		t.Fatalf("events %v, want COMM_UP and SHUTDOWN_COMP once, SENDER_DRY 1 to %d times", counts, rounds)
	}
	if d := c.DroppedEvents(); d != 0 {
		t.Fatalf("%d events dropped with room for all", d)
	}
}
