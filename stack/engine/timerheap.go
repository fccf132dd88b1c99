package engine

import (
	"container/heap"
	"time"
)

// timerHeap orders associations by their earliest timer so the Host can
// report one deadline and expire only what is due. Each association computes
// its own earliest deadline from its timers (a small fixed set).
type timerHeap struct{ items []*Association }

func (t *timerHeap) Len() int { return len(t.items) }
func (t *timerHeap) Less(i, j int) bool {
	return t.items[i].deadline.Before(t.items[j].deadline)
}
func (t *timerHeap) Swap(i, j int) {
	t.items[i], t.items[j] = t.items[j], t.items[i]
	t.items[i].heapIdx = i
	t.items[j].heapIdx = j
}
func (t *timerHeap) Push(x any) {
	a := x.(*Association)
	a.heapIdx = len(t.items)
	t.items = append(t.items, a)
}
func (t *timerHeap) Pop() any {
	n := len(t.items)
	a := t.items[n-1]
	t.items[n-1] = nil
	t.items = t.items[:n-1]
	a.heapIdx = -1
	return a
}

// update re-files a after its timers changed.
func (t *timerHeap) update(a *Association) {
	d := a.nextDeadline()
	switch {
	case d.IsZero() && a.heapIdx >= 0:
		heap.Remove(t, a.heapIdx)
	case d.IsZero():
	case a.heapIdx >= 0:
		a.deadline = d
		heap.Fix(t, a.heapIdx)
	default:
		a.deadline = d
		heap.Push(t, a)
	}
}

func (t *timerHeap) remove(a *Association) {
	if a.heapIdx >= 0 {
		heap.Remove(t, a.heapIdx)
	}
}

// peek returns the association with the earliest deadline.
func (t *timerHeap) peek() *Association {
	if len(t.items) == 0 {
		return nil
	}
	return t.items[0]
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
