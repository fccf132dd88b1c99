package reassembly

import (
	"errors"
	"fmt"
	"testing"
)

// ifrag builds an I-DATA fragment; flags as in frag ("B", "E", "U").
func ifr(tsn uint32, stream uint16, mid, fsn uint32, flags, data string) IFragment {
	f := IFragment{TSN: tsn, Stream: stream, MID: mid, FSN: fsn, PPID: 60, Payload: []byte(data)}
	for _, c := range flags {
		switch c {
		case 'B':
			f.Beginning = true
		case 'E':
			f.Ending = true
		case 'U':
			f.Unordered = true
		}
	}
	return f
}

func mustAddI(t *testing.T, r *Reassembler, fs ...IFragment) {
	t.Helper()
	for _, f := range fs {
		if err := r.AddIData(f); err != nil {
			t.Fatalf("AddIData(TSN %d): %v", f.TSN, err)
		}
	}
}

func expectI(t *testing.T, r *Reassembler, want ...string) {
	t.Helper()
	var got []string
	for {
		m, ok := r.Pop()
		if !ok {
			break
		}
		u := ""
		if m.Unordered {
			u = "u"
		}
		got = append(got, fmt.Sprintf("%d/%s%d:%s", m.Stream, u, m.MID, m.Data))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("popped %q, want %q", got, want)
	}
}

// TestIDataInterleaved: fragments of messages on two streams interleave in
// TSN order (RFC 8260 2.2.2); FSNs, not TSNs, put them together.
func TestIDataInterleaved(t *testing.T) {
	r := New(Config{InStreams: 2, Interleaving: true})
	mustAddI(t, r,
		ifr(1, 0, 0, 0, "B", "big-"),
		ifr(2, 1, 0, 0, "BE", "small"),
		ifr(3, 0, 0, 1, "", "mess"),
		ifr(4, 1, 1, 0, "B", "sm"),
		ifr(5, 0, 0, 2, "E", "age"),
		ifr(6, 1, 1, 1, "E", "all"),
	)
	expectI(t, r, "1/0:small", "0/0:big-message", "1/1:small")
	if r.Buffered() != 0 {
		t.Fatalf("Buffered %d", r.Buffered())
	}
}

func TestIDataOutOfOrder(t *testing.T) {
	r := New(Config{InStreams: 1, Interleaving: true})
	mustAddI(t, r,
		ifr(7, 0, 1, 0, "BE", "second"),
		ifr(5, 0, 0, 2, "E", "c"),
		ifr(3, 0, 0, 1, "", "b"),
		ifr(9, 0, 0, 1, "U", "x"), // an unordered message: its MID space is separate
	)
	if r.Ready() != 0 {
		t.Fatal("MID 1 delivered before MID 0")
	}
	f := ifr(1, 0, 0, 0, "B", "a")
	f.PPID = 7
	mustAddI(t, r, f)
	m, _ := r.Peek()
	if m.PPID != 7 || m.TSN != 1 {
		t.Fatalf("message PPID %d TSN %d, want those of the B fragment", m.PPID, m.TSN)
	}
	expectI(t, r, "0/0:abc", "0/1:second")
	mustAddI(t, r, ifr(10, 0, 0, 2, "EU", "y"), ifr(8, 0, 0, 0, "BU", "w"))
	expectI(t, r, "0/u0:wxy")
}

func TestIDataMIDWrap(t *testing.T) {
	r := New(Config{InStreams: 1, Interleaving: true})
	r.stream(0).next = 0xFFFFFFFE
	mustAddI(t, r, ifr(3, 0, 0, 0, "BE", "zero"), ifr(2, 0, 0xFFFFFFFF, 0, "BE", "max"))
	if r.Ready() != 0 {
		t.Fatal("delivered before MID 0xFFFFFFFE")
	}
	mustAddI(t, r, ifr(1, 0, 0xFFFFFFFE, 0, "BE", "max-1"))
	expectI(t, r, "0/4294967294:max-1", "0/4294967295:max", "0/0:zero")
}

func TestIDataErrors(t *testing.T) {
	tests := []struct {
		name string
		held []IFragment
		bad  IFragment
		want error
	}{
		{"invalid stream", nil, ifr(1, 3, 0, 0, "BE", "x"), ErrInvalidStream},
		{"no user data", nil, ifr(1, 0, 0, 0, "BE", ""), ErrNoUserData},
		{"FSN 0 without B", nil, ifr(1, 0, 0, 0, "", "x"), ErrProtocolViolation},
		{"two fragments with one FSN", []IFragment{ifr(1, 0, 0, 2, "", "a")}, ifr(2, 0, 0, 2, "", "b"), ErrProtocolViolation},
		{"two B fragments", []IFragment{ifr(1, 0, 0, 0, "B", "a")}, ifr(2, 0, 0, 0, "B", "b"), ErrProtocolViolation},
		{"beyond the E fragment", []IFragment{ifr(1, 0, 0, 2, "E", "a")}, ifr(2, 0, 0, 3, "", "b"), ErrProtocolViolation},
		{"E below a fragment held", []IFragment{ifr(1, 0, 0, 3, "", "a")}, ifr(2, 0, 0, 2, "E", "b"), ErrProtocolViolation},
		{"B+E over a message in progress", []IFragment{ifr(1, 0, 0, 1, "", "a")}, ifr(2, 0, 0, 0, "BE", "b"), ErrProtocolViolation},
		{"DATA chunk", nil, IFragment{}, ErrProtocolViolation},
		{"delivered MID", []IFragment{ifr(1, 0, 0, 0, "BE", "a")}, ifr(2, 0, 0, 0, "BE", "b"), ErrStale},
		{"message too large", []IFragment{ifr(1, 0, 0, 0, "B", "0123456789")}, ifr(2, 0, 0, 1, "", "a"), ErrMessageTooLarge},
		{"single fragment too large", nil, ifr(1, 0, 0, 0, "B", "0123456789a"), ErrMessageTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Config{InStreams: 2, Interleaving: true, MaxMessage: 10})
			mustAddI(t, r, tc.held...)
			for r.Ready() > 0 {
				r.Pop()
			}
			before, beforeHeld := r.Buffered(), r.Held()
			var err error
			if tc.name == "DATA chunk" {
				err = r.Add(whole(1, 0, 0, "x"))
			} else {
				err = r.AddIData(tc.bad)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.want == ErrMessageTooLarge {
				before, beforeHeld = 0, 0 // what was held of the message is dropped
			}
			if r.Buffered() != before || r.Held() != beforeHeld {
				t.Fatalf("Buffered %d -> %d, Held %d -> %d", before, r.Buffered(), beforeHeld, r.Held())
			}
		})
	}
}

func TestAbandonIData(t *testing.T) {
	r := New(Config{InStreams: 2, Interleaving: true})
	mustAddI(t, r,
		ifr(1, 0, 0, 0, "B", "abandoned-"), // MID 0 never completes
		ifr(2, 0, 1, 0, "BE", "one"),
		ifr(3, 0, 2, 0, "B", "two-"), // MID 2 incomplete, not abandoned
		ifr(4, 0, 5, 0, "BU", "u5"),
		ifr(5, 0, 6, 0, "BU", "u6"),
		ifr(6, 1, 0, 1, "", "other"),
	)
	r.AbandonIData([]SkippedMessage{{Stream: 0, MID: 0}, {Stream: 0, Unordered: true, MID: 5}, {Stream: 7, MID: 3}})
	expectI(t, r, "0/1:one")
	if got, want := r.Buffered(), len("two-")+len("u6")+len("other"); got != want || r.Held() != 3 {
		t.Fatalf("Buffered %d Held %d, want %d 3", got, r.Held(), want)
	}
	mustAddI(t, r, ifr(7, 0, 2, 1, "E", "done"), ifr(8, 0, 6, 1, "EU", "!"))
	expectI(t, r, "0/2:two-done", "0/u6:u6!")

	// Fragments of abandoned messages still in flight are stale.
	if err := r.AddIData(ifr(9, 0, 0, 1, "E", "late")); !errors.Is(err, ErrStale) {
		t.Fatalf("late fragment of abandoned ordered MID: %v", err)
	}
	if err := r.AddIData(ifr(10, 0, 5, 1, "EU", "late")); !errors.Is(err, ErrStale) {
		t.Fatalf("late fragment of abandoned unordered MID: %v", err)
	}
	mustAddI(t, r, ifr(11, 0, 7, 0, "BEU", "u7"))
	expectI(t, r, "0/u7:u7")

	// Skipping releases complete ordered messages up to the MID and past
	// it; an out-of-date entry does nothing.
	mustAddI(t, r, ifr(12, 0, 4, 0, "BE", "four"), ifr(13, 0, 6, 0, "BE", "six"))
	r.AbandonIData([]SkippedMessage{{Stream: 0, MID: 1}})
	if r.Ready() != 0 {
		t.Fatal("out-of-date entry released messages")
	}
	r.AbandonIData([]SkippedMessage{{Stream: 0, MID: 5}})
	expectI(t, r, "0/4:four", "0/6:six")
	if r.Buffered() != len("other") {
		t.Fatalf("Buffered %d", r.Buffered())
	}
	// Without I-DATA the call does nothing.
	d := New(Config{InStreams: 1})
	d.AbandonIData([]SkippedMessage{{Stream: 0, MID: 9}})
	if d.stream(0).next != 0 {
		t.Fatal("AbandonIData moved a DATA stream")
	}
}

func TestIDataResetStreams(t *testing.T) {
	r := New(Config{InStreams: 1, Interleaving: true})
	mustAddI(t, r, ifr(1, 0, 0, 0, "BE", "a"), ifr(2, 0, 3, 0, "BEU", "u"))
	r.AbandonIData([]SkippedMessage{{Stream: 0, Unordered: true, MID: 3}})
	expectI(t, r, "0/0:a", "0/u3:u")
	mustAddI(t, r, ifr(3, 0, 4, 0, "BU", "partial"))
	if err := r.ResetStreams(nil); !errors.Is(err, ErrProtocolViolation) {
		t.Fatalf("reset with an unordered message incomplete: %v", err)
	}
	mustAddI(t, r, ifr(4, 0, 4, 1, "EU", "!"))
	expectI(t, r, "0/u4:partial!")
	if err := r.ResetStreams([]uint16{0}); err != nil {
		t.Fatal(err)
	}
	// Both MID sequences restart at 0; the old abandonment floor is gone.
	mustAddI(t, r, ifr(5, 0, 0, 0, "BEU", "u0"), ifr(6, 0, 0, 0, "BE", "o0"))
	expectI(t, r, "0/u0:u0", "0/0:o0")
}

// TestUnorderedFloorFollows: the floor that turns away late fragments of
// abandoned unordered messages moves along with the MIDs in use.
func TestUnorderedFloorFollows(t *testing.T) {
	r := New(Config{InStreams: 1, Interleaving: true})
	r.AbandonIData([]SkippedMessage{{Stream: 0, Unordered: true, MID: 10}})
	// Each step stays within 2^31 of the one before, as MIDs counting up
	// one by one do, and the last wraps past zero.
	for _, mid := range []uint32{11, 1<<30 + 100, 1 << 31, 3<<30 - 1, 0xFFFFFFF0, 5} {
		if err := r.AddIData(ifr(1, 0, mid, 0, "BEU", "x")); err != nil {
			t.Fatalf("unordered MID %#x: %v", mid, err)
		}
	}
	last := uint32(5)
	floor := last - 1<<30
	if err := r.AddIData(ifr(1, 0, floor, 0, "BEU", "x")); !errors.Is(err, ErrStale) {
		t.Fatalf("MID at the floor: %v", err)
	}
	if err := r.AddIData(ifr(1, 0, floor+1, 0, "BEU", "x")); err != nil {
		t.Fatalf("MID just above the floor: %v", err)
	}
}

func TestIDataAllocations(t *testing.T) {
	r := New(Config{InStreams: 1, Interleaving: true})
	payload := make([]byte, 1200)
	tsn, mid := uint32(0), uint32(0)
	allocs := testing.AllocsPerRun(100, func() {
		var fsn uint32
		for off := 0; off < 64<<10; off += 1200 {
			n := min(1200, 64<<10-off)
			r.AddIData(IFragment{TSN: tsn, MID: mid, FSN: fsn, Beginning: off == 0, Ending: off+n == 64<<10, Payload: payload[:n]})
			tsn++
			fsn++
		}
		mid++
		r.Pop()
	})
	if allocs != 1 {
		t.Fatalf("64 KiB I-DATA message: %.1f allocations, want 1", allocs)
	}
}
