package sendqueue

import (
	"fmt"
	"testing"
)

// TestRoundRobinOutOfTurn drives the scheduler directly: a stream emptied
// out of turn leaves the cycle, the others keep their order.
func TestRoundRobinOutOfTurn(t *testing.T) {
	var r RoundRobin
	r.Pushed(4, 10, 1)
	r.Pushed(9, 10, 1)
	r.Pushed(9, 10, 2)
	r.Pushed(1, 10, 1)
	r.Popped(9, 10, 1) // out of turn, 9 not empty: keeps its place
	r.Popped(9, 10, 0) // out of turn, now empty: leaves
	var got []uint16
	for range 2 {
		s := r.Pick()
		got = append(got, s)
		r.Popped(s, 10, 0)
	}
	if fmt.Sprint(got) != "[4 1]" {
		t.Fatalf("order %v, want [4 1]", got)
	}
	r.Pushed(3, 10, 1)
	r.Reset()
	r.Pushed(5, 10, 1)
	if r.Pick() != 5 {
		t.Fatal("Reset kept a stream")
	}
}

func TestFCFSOutOfOrderPop(t *testing.T) {
	var f FCFS
	for _, s := range []uint16{2, 7, 2, 7} {
		f.Pushed(s, 1, 0)
	}
	f.Popped(7, 1, 1) // stream 7's oldest message leaves early
	var got []uint16
	for range 3 {
		s := f.Pick()
		got = append(got, s)
		f.Popped(s, 1, 0)
	}
	if fmt.Sprint(got) != "[2 2 7]" {
		t.Fatalf("order %v, want [2 2 7]", got)
	}
}

// TestDrainFCFS: Drain resets the scheduler, so the queue can be refilled.
func TestDrainFCFS(t *testing.T) {
	q := New(Config{OutStreams: 2, Scheduler: &FCFS{}})
	mustPush(t, q, Message{Stream: 1, Data: []byte("x")})
	mustPush(t, q, Message{Stream: 0, Data: []byte("y")})
	if n := len(q.Drain()); n != 2 {
		t.Fatalf("drained %d, want 2", n)
	}
	mustPush(t, q, Message{Stream: 0, Data: []byte("z")})
	if c, ok := q.Next(10, t0); !ok || string(c.Payload) != "z" {
		t.Fatalf("after Drain: %q %v, want z", c.Payload, ok)
	}
}

func TestNewPanics(t *testing.T) {
	for _, cfg := range []Config{{OutStreams: -1}, {OutStreams: MaxStreams + 1}, {OutStreams: 1, MaxBuffered: -1}, {OutStreams: 1, MaxMessage: -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", cfg)
				}
			}()
			New(cfg)
		}()
	}
	q := New(Config{OutStreams: MaxStreams})
	if q.OutStreams() != MaxStreams || q.MaxBuffered() != DefaultMaxBuffered || q.NextSSN(0) != 0 {
		t.Fatalf("defaults: %d streams, bound %d", q.OutStreams(), q.MaxBuffered())
	}
}
