package sendqueue

import (
	"runtime"
	"testing"
)

// allocated is the heap bytes f allocates (the package's tests do not run
// in parallel, so nothing else allocates meanwhile).
func allocated(f func()) uint64 {
	// The least of a few runs: a collection or a runtime goroutine may
	// allocate during one of them.
	least := ^uint64(0)
	for i := 0; i < 5; i++ {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		least = min(least, b.TotalAlloc-a.TotalAlloc)
	}
	return least
}

// TestQueueMemoryWith65535Streams: a queue granted every stream costs by
// the streams used, not the streams granted (issue 13 part 3: 512 KiB per
// association with make([]*stream, OutStreams)), whichever stream is used.
func TestQueueMemoryWith65535Streams(t *testing.T) {
	var q *Queue
	n := allocated(func() {
		q = New(Config{OutStreams: MaxStreams})
		for _, s := range []uint16{0, 1, 65534} {
			if err := q.Push(Message{Stream: s, Data: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if n > 4<<10 {
		t.Fatalf("a queue of 65535 streams with 3 used allocated %d bytes, want under 4 KiB", n)
	}
	for i := 0; i < 3; i++ {
		if _, ok := q.Next(100, t0); !ok {
			t.Fatal("a message is missing")
		}
	}
	if q.NextSSN(65534) != 1 || q.NextSSN(1) != 1 || q.NextSSN(2) != 0 {
		t.Fatalf("SSNs %d %d %d", q.NextSSN(65534), q.NextSSN(1), q.NextSSN(2))
	}
}

// TestRingGivesBurstMemoryBack: a stream whose queue a burst grew keeps no
// more than keepRing slots once it is empty again.
func TestRingGivesBurstMemoryBack(t *testing.T) {
	q := New(Config{OutStreams: 1, MaxBuffered: 1 << 20})
	for i := 0; i < 1000; i++ {
		if err := q.Push(Message{Data: []byte("burst")}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		c, ok := q.Next(100, t0)
		if !ok {
			break
		}
		q.Release(len(c.Payload))
	}
	if n := len(q.streams.Get(0).queue.buf); n > keepRing {
		t.Fatalf("an emptied stream keeps %d slots", n)
	}
}
