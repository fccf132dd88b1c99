package reassembly

import (
	"runtime"
	"testing"
)

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

// TestMemoryWith65535Streams: the receive side costs by the streams the
// peer used, not by the stream identifier it picked: a message on stream
// 65534 of 65535 granted allocates no table of 65535 entries.
func TestMemoryWith65535Streams(t *testing.T) {
	var r *Reassembler
	payload := []byte("x")
	n := allocated(func() {
		r = New(Config{InStreams: MaxStreams})
		for i, s := range []uint16{65534, 0, 30000} {
			if err := r.Add(Fragment{TSN: uint32(i), Stream: s, Beginning: true, Ending: true, Payload: payload}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if n > 4<<10 {
		t.Fatalf("3 messages on 65535 streams allocated %d bytes, want under 4 KiB", n)
	}
	for i := 0; i < 3; i++ {
		if _, ok := r.Pop(); !ok {
			t.Fatal("a message is missing")
		}
	}
	// An SSN gap on the high stream still holds the next message back.
	if err := r.Add(Fragment{TSN: 3, Stream: 65534, SSN: 2, Beginning: true, Ending: true, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Pop(); ok {
		t.Fatal("SSN 2 delivered before SSN 1")
	}
}

// TestReadyQueueGivesBurstMemoryBack: once a burst of ready messages is
// read, the queue keeps no more than keepQueue slots.
func TestReadyQueueGivesBurstMemoryBack(t *testing.T) {
	r := New(Config{InStreams: 1})
	for i := 0; i < 1000; i++ {
		if err := r.Add(Fragment{TSN: uint32(i), SSN: uint16(i), Beginning: true, Ending: true, Payload: []byte("b")}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		if _, ok := r.Pop(); !ok {
			break
		}
	}
	if n := len(r.ready.buf); n > keepQueue {
		t.Fatalf("an emptied ready queue keeps %d slots", n)
	}
}
