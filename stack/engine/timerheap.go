package engine

import (
	"container/heap"
	"time"
)

// timerHeap orders the Host's timer owners by their earliest timer so the
// Host can report one deadline and expire only what is due. An owner is an
// association (its handshake, shutdown and data timers, a small fixed set it
// folds itself) or one of its paths (heartbeat and T3-rtx of one
// destination): an association with several paths costs a heap entry per
// path rather than a scan of its paths on every update.
//
// Each entry keeps its owner's deadline beside it, as nanoseconds: with tens
// of thousands of owners a sift compares entries of one array instead of
// calling into each owner for its slot (timerHeap.Less was the top of an
// idle gateway's own CPU at 10,000 pairs).
type timerHeap struct{ items []timerEntry }

type timerEntry struct {
	at int64 // the owner's slot deadline, Unix nanoseconds
	o  timerOwner
}

// timerOwner is what the heap holds.
type timerOwner interface {
	slot() *timerSlot
	// nextDeadline is the earliest of the owner's timers, zero if none runs.
	nextDeadline() time.Time
	// onTimeout runs every timer of the owner that is due at now.
	onTimeout(now time.Time)
	// live is false once the owner's association has closed.
	live() bool
}

// timerSlot is an owner's place in the heap: idx is -1 when it is not there.
type timerSlot struct {
	deadline time.Time
	idx      int
}

func (t *timerHeap) Len() int           { return len(t.items) }
func (t *timerHeap) Less(i, j int) bool { return t.items[i].at < t.items[j].at }
func (t *timerHeap) Swap(i, j int) {
	t.items[i], t.items[j] = t.items[j], t.items[i]
	t.items[i].o.slot().idx = i
	t.items[j].o.slot().idx = j
}
func (t *timerHeap) Push(x any) {
	o := x.(timerOwner)
	s := o.slot()
	s.idx = len(t.items)
	t.items = append(t.items, timerEntry{s.deadline.UnixNano(), o})
}
func (t *timerHeap) Pop() any {
	n := len(t.items)
	o := t.items[n-1].o
	t.items[n-1] = timerEntry{}
	t.items = t.items[:n-1]
	o.slot().idx = -1
	return o
}

// update re-files o after its timers changed.
func (t *timerHeap) update(o timerOwner) {
	d := o.nextDeadline()
	s := o.slot()
	switch {
	case d.IsZero() && s.idx >= 0:
		heap.Remove(t, s.idx)
	case d.IsZero():
	case s.idx >= 0:
		if !s.deadline.Equal(d) {
			s.deadline = d
			t.items[s.idx].at = d.UnixNano()
			heap.Fix(t, s.idx)
		}
	default:
		s.deadline = d
		heap.Push(t, o)
	}
}

func (t *timerHeap) remove(o timerOwner) {
	if s := o.slot(); s.idx >= 0 {
		heap.Remove(t, s.idx)
	}
}

// push files o, which is not on the heap, at its slot's deadline.
func (t *timerHeap) push(o timerOwner) { heap.Push(t, o) }

// peek returns the owner with the earliest deadline.
func (t *timerHeap) peek() timerOwner {
	if len(t.items) == 0 {
		return nil
	}
	return t.items[0].o
}

// timer is one of an association's timers: zero when stopped.
type timer struct{ at time.Time }

func (t *timer) start(now time.Time, d time.Duration) { t.at = now.Add(d) }
func (t *timer) stop()                                { t.at = time.Time{} }
func (t *timer) running() bool                        { return !t.at.IsZero() }
func (t *timer) due(now time.Time) bool               { return !t.at.IsZero() && !now.Before(t.at) }

// earliest folds t into the running minimum m.
func earliest(m time.Time, t timer) time.Time {
	if t.at.IsZero() {
		return m
	}
	if m.IsZero() || t.at.Before(m) {
		return t.at
	}
	return m
}
