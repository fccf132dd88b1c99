package stack

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// ev is an event of type t marked with n (its path's port), so that a test
// can tell events of one type apart.
func ev(t engine.EventType, n int) Event {
	return Event{Type: t, Path: link.Path{Remote: netip.MustParseAddr("198.18.0.2"), RemotePort: uint16(n)}}
}

// queued reads what waits in q without blocking, as "TYPE/n".
func queued(q *eventQueue) []string {
	var r []string
	for {
		select {
		case e, ok := <-q.ch:
			if !ok {
				return append(r, "closed")
			}
			r = append(r, fmt.Sprintf("%v/%d", e.Type, e.Path.RemotePort))
		default:
			return r
		}
	}
}

func wantQueued(t *testing.T, q *eventQueue, want ...string) {
	t.Helper()
	if got := queued(q); !slices.Equal(got, want) {
		t.Fatalf("queue holds\n  %s\nwant\n  %s", strings.Join(got, " "), strings.Join(want, " "))
	}
}

// TestEventQueueDryCrowdsOutNothing is the namespace lab's case: a far end
// whose application does not read its events while data flows gets a
// SENDER_DRY after every acknowledged send, and its PEER_ADDR_CHANGEs
// between them must all still be there when it reads.
func TestEventQueueDryCrowdsOutNothing(t *testing.T) {
	q := newEventQueue(8)
	q.push(ev(engine.CommUp, 0))
	for i := range 400 {
		q.push(ev(engine.SenderDry, i))
		if i%100 == 50 {
			q.push(ev(engine.PeerAddrChange, i))
		}
	}
	q.push(ev(engine.CommLost, 0))
	wantQueued(t, &q, "COMM_UP/0", "SENDER_DRY/0", "PEER_ADDR_CHANGE/50", "PEER_ADDR_CHANGE/150",
		"PEER_ADDR_CHANGE/250", "PEER_ADDR_CHANGE/350", "COMM_LOST/0", "closed")
	if q.dropped != 0 {
		t.Fatalf("dropped %d, want 0: a SENDER_DRY while one waits is no loss", q.dropped)
	}
}

// TestEventQueueRoomByImportance: the less important an event, the more
// room it needs; what is never dropped always fits.
func TestEventQueueRoomByImportance(t *testing.T) {
	q := newEventQueue(10)
	q.push(ev(engine.CommUp, 0))
	for i := 1; i <= 8; i++ {
		q.push(ev(engine.RemoteError, i)) // 4 of them: less than half full
	}
	q.push(ev(engine.SenderDry, 1))
	for i := 1; i <= 5; i++ {
		q.push(ev(engine.PeerAddrChange, i)) // 2 of them: 3 slots free
	}
	q.push(ev(engine.SenderDry, 2)) // one waits: not queued, not a drop
	q.push(ev(engine.ShutdownEvent, 0))
	q.push(ev(engine.SendFailed, 1)) // 1 slot free: dropped
	q.push(ev(engine.ShutdownComp, 0))
	q.push(ev(engine.SenderDry, 3)) // after the final event: nothing
	wantQueued(t, &q, "COMM_UP/0", "REMOTE_ERROR/1", "REMOTE_ERROR/2", "REMOTE_ERROR/3", "REMOTE_ERROR/4",
		"SENDER_DRY/1", "PEER_ADDR_CHANGE/1", "PEER_ADDR_CHANGE/2", "SHUTDOWN_EVENT/0", "SHUTDOWN_COMP/0", "closed")
	// REMOTE_ERROR/5-8, PEER_ADDR_CHANGE/3-5, SEND_FAILED/1.
	if q.dropped != 8 {
		t.Fatalf("dropped %d, want 8", q.dropped)
	}
}

// TestEventQueueDryAfterRead: a SENDER_DRY that was read is no longer
// waiting, so the next one is queued; one waiting keeps its place.
func TestEventQueueDryAfterRead(t *testing.T) {
	q := newEventQueue(8)
	q.push(ev(engine.SenderDry, 1))
	wantQueued(t, &q, "SENDER_DRY/1")
	q.push(ev(engine.SenderDry, 2))
	q.push(ev(engine.SendFailed, 1))
	q.push(ev(engine.SenderDry, 3))
	q.push(ev(engine.RemoteError, 1))
	wantQueued(t, &q, "SENDER_DRY/2", "SEND_FAILED/1", "REMOTE_ERROR/1")
	q.push(ev(engine.SenderDry, 4))
	q.push(ev(engine.CantStartAssoc, 0))
	wantQueued(t, &q, "SENDER_DRY/4", "CANT_STR_ASSOC/0", "closed")
}

// TestEventQueueConcurrentReader: with a reader taking events while they
// are pushed (the stack's case: readers hold no lock), the queue keeps
// their order, loses or repeats none of those that must not be lost, and
// closes after the final event. Run with -race.
func TestEventQueueConcurrentReader(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	q := newEventQueue(minEventQueue + rng.IntN(8))
	type got struct {
		evs    []Event
		closed bool
	}
	done := make(chan got)
	go func() {
		var g got
		for e := range q.ch {
			g.evs = append(g.evs, e)
			if len(g.evs)%7 == 0 {
				runtime.Gosched() // lag now and then
			}
		}
		g.closed = true
		done <- g
	}()
	seq := 0
	push := func(t engine.EventType) {
		seq++
		q.push(ev(t, seq))
	}
	kinds := []engine.EventType{engine.SenderDry, engine.SenderDry, engine.SenderDry, engine.RemoteError,
		engine.PeerAddrChange, engine.SendFailed}
	push(engine.CommUp)
	const n = 20000
	for i := range n {
		push(kinds[rng.IntN(len(kinds))])
		if i == n/2 {
			push(engine.ShutdownEvent)
		}
	}
	push(engine.ShutdownComp)
	g := <-done
	if !g.closed || g.evs[0].Type != engine.CommUp || g.evs[len(g.evs)-1].Type != engine.ShutdownComp {
		t.Fatalf("%d events, first %v, last %v, closed %v", len(g.evs), g.evs[0].Type, g.evs[len(g.evs)-1].Type, g.closed)
	}
	last, shutdown := 0, 0
	for _, e := range g.evs {
		n := int(e.Path.RemotePort)
		if n <= last {
			t.Fatalf("event %v/%d after /%d: out of order or repeated", e.Type, n, last)
		}
		last = n
		if e.Type == engine.ShutdownEvent {
			shutdown++
		}
	}
	if shutdown != 1 {
		t.Fatalf("%d SHUTDOWN_EVENTs read, want 1", shutdown)
	}
	t.Logf("queue %d: read %d of %d events, %d dropped", cap(q.ch), len(g.evs), seq, q.dropped)
}
