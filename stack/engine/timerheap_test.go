package engine

import (
	"math/rand/v2"
	"testing"
	"time"
)

// fakeOwner is a timer owner with one timer.
type fakeOwner struct {
	tm timerSlot
	at time.Time
}

func newFakeOwner() *fakeOwner               { return &fakeOwner{tm: timerSlot{idx: -1}} }
func (f *fakeOwner) slot() *timerSlot        { return &f.tm }
func (f *fakeOwner) nextDeadline() time.Time { return f.at }
func (f *fakeOwner) onTimeout(now time.Time) {}
func (f *fakeOwner) live() bool              { return true }

// TestTimerHeapModel: random re-arms, stops and removals; the heap always
// yields the earliest deadline, each entry carries its owner's deadline and
// each owner knows its place.
func TestTimerHeapModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var h timerHeap
	os := make([]*fakeOwner, 300)
	for i := range os {
		os[i] = newFakeOwner()
	}
	for step := 0; step < 20000; step++ {
		o := os[r.IntN(len(os))]
		switch r.IntN(5) {
		case 0: // stopped
			o.at = time.Time{}
			h.update(o)
		case 1:
			h.remove(o)
		default:
			o.at = base.Add(time.Duration(r.IntN(1e6)) * time.Microsecond)
			h.update(o)
		}
		var want *fakeOwner
		for _, b := range os {
			if b.tm.idx >= 0 && (want == nil || b.tm.deadline.Before(want.tm.deadline)) {
				want = b
			}
		}
		for i, e := range h.items {
			if e.o.slot().idx != i || e.at != e.o.slot().deadline.UnixNano() {
				t.Fatalf("step %d: entry %d: idx %d, at %d vs deadline %v", step, i, e.o.slot().idx, e.at, e.o.slot().deadline)
			}
		}
		got := h.peek()
		if (want == nil) != (got == nil) || (got != nil && !got.slot().deadline.Equal(want.tm.deadline)) {
			t.Fatalf("step %d: peek %v, want the earliest %v", step, got, want)
		}
	}
}

// BenchmarkTimerHeapUpdate: the earliest of 20,000 owners (an idle gateway
// at 10,000 pairs) re-armed 30 s on, as a heartbeat is; the owners are
// spread over memory as a gateway's are.
func BenchmarkTimerHeapUpdate(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var h timerHeap
	os := make([]*fakeOwner, 20000)
	pad := make([][]byte, len(os))
	for i := range os {
		os[i] = newFakeOwner()
		pad[i] = make([]byte, 2048)
		os[i].at = base.Add(time.Duration(r.IntN(30e6)) * time.Microsecond)
		h.update(os[i])
	}
	b.ReportAllocs()
	for b.Loop() {
		o := h.peek().(*fakeOwner)
		o.at = o.at.Add(30*time.Second + time.Duration(r.IntN(1e6))*time.Microsecond)
		h.update(o)
	}
}
