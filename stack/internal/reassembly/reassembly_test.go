package reassembly

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// whole is a single-fragment ordered message.
func whole(tsn uint32, stream, ssn uint16, data string) Fragment {
	return Fragment{TSN: tsn, Stream: stream, SSN: ssn, PPID: 46, Beginning: true, Ending: true, Payload: []byte(data)}
}

// frag is one fragment; be is "B", "E", "BE" or "".
func frag(tsn uint32, stream, ssn uint16, be string, data string) Fragment {
	f := Fragment{TSN: tsn, Stream: stream, SSN: ssn, PPID: 46, Payload: []byte(data)}
	for _, c := range be {
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

func mustAdd(t *testing.T, r *Reassembler, fs ...Fragment) {
	t.Helper()
	for _, f := range fs {
		if err := r.Add(f); err != nil {
			t.Fatalf("Add(TSN %d): %v", f.TSN, err)
		}
	}
}

// popAll returns the data of every ready message as "stream/ssn:data".
func popAll(r *Reassembler) []string {
	var out []string
	for {
		m, ok := r.Pop()
		if !ok {
			return out
		}
		s := fmt.Sprintf("%d/%d:%s", m.Stream, m.SSN, m.Data)
		if m.Unordered {
			s = fmt.Sprintf("%d/u:%s", m.Stream, m.Data)
		}
		out = append(out, s)
	}
}

func expect(t *testing.T, r *Reassembler, want ...string) {
	t.Helper()
	got := popAll(r)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("popped %q, want %q", got, want)
	}
}

func TestSingleFragmentInOrder(t *testing.T) {
	r := New(Config{InStreams: 4})
	mustAdd(t, r, whole(100, 0, 0, "a"), whole(101, 0, 1, "bb"), whole(102, 3, 0, "ccc"))
	if r.Ready() != 3 || r.Buffered() != 6 {
		t.Fatalf("Ready %d Buffered %d, want 3 6", r.Ready(), r.Buffered())
	}
	m, ok := r.Peek()
	if !ok || string(m.Data) != "a" || m.TSN != 100 || m.PPID != 46 || r.Ready() != 3 {
		t.Fatalf("Peek = %+v %v", m, ok)
	}
	m, _ = r.Pop()
	if m.Stream != 0 || m.SSN != 0 || m.TSN != 100 || string(m.Data) != "a" {
		t.Fatalf("Pop = %+v", m)
	}
	if r.Buffered() != 5 {
		t.Fatalf("Buffered %d after one pop, want 5", r.Buffered())
	}
	expect(t, r, "0/1:bb", "3/0:ccc")
	if r.Buffered() != 0 || r.Held() != 0 || r.Ready() != 0 {
		t.Fatalf("Buffered %d Held %d Ready %d after popping all", r.Buffered(), r.Held(), r.Ready())
	}
	if _, ok := r.Pop(); ok {
		t.Fatal("Pop on empty queue")
	}
	if _, ok := r.Peek(); ok {
		t.Fatal("Peek on empty queue")
	}
}

func TestPayloadIsCopied(t *testing.T) {
	r := New(Config{InStreams: 1})
	buf := []byte("hello")
	mustAdd(t, r, Fragment{TSN: 1, Beginning: true, Ending: true, Payload: buf})
	buf2 := []byte("wor")
	mustAdd(t, r, Fragment{TSN: 2, SSN: 1, Beginning: true, Payload: buf2})
	copy(buf, "XXXXX")
	copy(buf2, "XXX")
	mustAdd(t, r, Fragment{TSN: 3, SSN: 1, Ending: true, Payload: []byte("ld")})
	expect(t, r, "0/0:hello", "0/1:world")
}

func TestMultiFragment(t *testing.T) {
	orders := map[string][]int{
		"in order":  {0, 1, 2, 3},
		"reversed":  {3, 2, 1, 0},
		"middle":    {1, 2, 0, 3},
		"ends":      {0, 3, 2, 1},
		"scattered": {2, 0, 3, 1},
	}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			r := New(Config{InStreams: 1})
			frags := []Fragment{
				frag(10, 0, 0, "B", "ab"),
				frag(11, 0, 0, "", "cd"),
				frag(12, 0, 0, "", "ef"),
				frag(13, 0, 0, "E", "g"),
			}
			frags[0].PPID = 99
			for n, i := range order {
				mustAdd(t, r, frags[i])
				if n < 3 && r.Ready() != 0 {
					t.Fatalf("message ready after %d fragments", n+1)
				}
			}
			if r.Buffered() != 7 {
				t.Fatalf("Buffered %d, want 7", r.Buffered())
			}
			m, ok := r.Pop()
			if !ok || string(m.Data) != "abcdefg" || m.TSN != 10 || m.PPID != 99 {
				t.Fatalf("Pop = %+v %v", m, ok)
			}
			if r.Buffered() != 0 || len(r.runs) != 0 {
				t.Fatalf("Buffered %d runs %d after pop", r.Buffered(), len(r.runs))
			}
		})
	}
}

// TestAdjacentMessagesOutOfOrder: the tail of one message and the head of
// the next lie side by side without merging.
func TestAdjacentMessagesOutOfOrder(t *testing.T) {
	r := New(Config{InStreams: 2})
	mustAdd(t, r,
		frag(6, 1, 0, "E", "3"), // tail of message A, head missing
		frag(7, 1, 1, "B", "x"), // head of message B
		frag(9, 1, 1, "E", "z"),
		frag(8, 1, 1, "", "y"),
	)
	if r.Ready() != 0 {
		t.Fatal("message B delivered before message A")
	}
	mustAdd(t, r, frag(4, 1, 0, "B", "1"), frag(5, 1, 0, "", "2"))
	expect(t, r, "1/0:123", "1/1:xyz")
}

func TestOrderedWaitsForEarlierSSN(t *testing.T) {
	r := New(Config{InStreams: 1})
	mustAdd(t, r, whole(3, 0, 2, "c"), whole(2, 0, 1, "b"))
	if r.Ready() != 0 || r.Buffered() != 2 {
		t.Fatalf("Ready %d Buffered %d before SSN 0", r.Ready(), r.Buffered())
	}
	mustAdd(t, r, whole(1, 0, 0, "a"))
	expect(t, r, "0/0:a", "0/1:b", "0/2:c")
}

// TestHeadOfLineIndependence: a lost fragment on stream 1 holds back stream
// 1 only.
func TestHeadOfLineIndependence(t *testing.T) {
	r := New(Config{InStreams: 3})
	mustAdd(t, r,
		frag(1, 1, 0, "B", "s1-"),
		// TSN 2 (stream 1, SSN 0, E) is lost.
		whole(3, 1, 1, "later"),
		frag(4, 2, 0, "B", "s2"),
		frag(5, 2, 0, "E", "-one"),
		whole(6, 2, 1, "s2-two"),
	)
	expect(t, r, "2/0:s2-one", "2/1:s2-two")
	mustAdd(t, r, frag(2, 1, 0, "E", "first"))
	expect(t, r, "1/0:s1-first", "1/1:later")
}

func TestUnorderedDeliveredEarly(t *testing.T) {
	r := New(Config{InStreams: 1})
	mustAdd(t, r,
		whole(2, 0, 1, "ordered-1"),
		frag(3, 0, 77, "BU", "un"),
		frag(5, 0, 0, "BEU", "single"),
		frag(4, 0, 78, "EU", "ordered"), // SSN of unordered fragments is ignored
	)
	expect(t, r, "0/u:single", "0/u:unordered")
	mustAdd(t, r, whole(1, 0, 0, "ordered-0"))
	expect(t, r, "0/0:ordered-0", "0/1:ordered-1")
}

func TestSSNWrap(t *testing.T) {
	r := New(Config{InStreams: 2})
	tsn := uint32(0xFFFFFF00) // TSN wraps too on the way
	for i := 0; i < 65535; i++ {
		if err := r.Add(whole(tsn, 1, uint16(i), "x")); err != nil {
			t.Fatal(err)
		}
		tsn++
		r.Pop()
	}
	// Next expected is 65535; 0 and 1 come first.
	mustAdd(t, r, whole(tsn+1, 1, 0, "zero"), whole(tsn+2, 1, 1, "one"))
	if r.Ready() != 0 {
		t.Fatal("SSN 0 delivered before 65535")
	}
	mustAdd(t, r, whole(tsn, 1, 65535, "last"))
	expect(t, r, "1/65535:last", "1/0:zero", "1/1:one")
	if r.Buffered() != 0 {
		t.Fatalf("Buffered %d", r.Buffered())
	}
}

// TestManyOutstandingSSNs: up to 2^16-1 ordered messages may be in flight
// (RFC 9260 6.1), so an SSN 40000 ahead is not read as old.
func TestManyOutstandingSSNs(t *testing.T) {
	r := New(Config{InStreams: 1})
	mustAdd(t, r, whole(40001, 0, 40000, "far"), whole(2, 0, 1, "b"))
	mustAdd(t, r, whole(1, 0, 0, "a"))
	expect(t, r, "0/0:a", "0/1:b")
	if r.Buffered() != 3 {
		t.Fatalf("Buffered %d, want the far message held", r.Buffered())
	}
}

func TestInvalidStream(t *testing.T) {
	r := New(Config{InStreams: 2})
	err := r.Add(whole(1, 2, 0, "x"))
	if !errors.Is(err, ErrInvalidStream) {
		t.Fatalf("Add on stream 2 of 2: %v", err)
	}
	if r.Buffered() != 0 || r.Ready() != 0 {
		t.Fatal("invalid stream buffered data")
	}
	// RFC 6525 add streams.
	if err := r.AddInStreams(1); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, r, whole(2, 2, 0, "now valid"))
	expect(t, r, "2/0:now valid")
	if r.InStreams() != 3 {
		t.Fatalf("InStreams %d", r.InStreams())
	}
	if err := r.AddInStreams(MaxStreams); err == nil {
		t.Fatal("AddInStreams beyond 65535 accepted")
	}
	if err := r.AddInStreams(-1); err == nil {
		t.Fatal("AddInStreams(-1) accepted")
	}
	// The largest stream id.
	r = New(Config{InStreams: 1 << 20})
	mustAdd(t, r, whole(1, 65534, 0, "top"))
	if !errors.Is(r.Add(whole(2, 65535, 0, "x")), ErrInvalidStream) {
		t.Fatal("stream 65535 accepted with 65535 streams")
	}
	expect(t, r, "65534/0:top")
}

func TestNoUserData(t *testing.T) {
	r := New(Config{InStreams: 1})
	if err := r.Add(whole(1, 0, 0, "")); !errors.Is(err, ErrNoUserData) {
		t.Fatalf("empty payload: %v", err)
	}
}

func TestMaxMessage(t *testing.T) {
	r := New(Config{InStreams: 1, MaxMessage: 10})
	if err := r.Add(whole(1, 0, 0, "0123456789")); err != nil {
		t.Fatalf("message of exactly MaxMessage: %v", err)
	}
	err := r.Add(whole(2, 0, 1, "0123456789a"))
	var tooLarge *MessageTooLargeError
	if !errors.Is(err, ErrMessageTooLarge) || !errors.As(err, &tooLarge) || tooLarge.Size != 11 || tooLarge.Max != 10 {
		t.Fatalf("oversized single fragment: %v", err)
	}
	expect(t, r, "0/0:0123456789")

	// Fragments: the error comes as soon as the held part is too large,
	// whichever order they arrive in, and what was held is dropped.
	mustAdd(t, r, frag(10, 0, 1, "B", "0123"), frag(12, 0, 1, "", "89"), frag(11, 0, 1, "", "4567"))
	if err := r.Add(frag(13, 0, 1, "", "ab")); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
	if r.Buffered() != 0 || r.Held() != 0 || len(r.runs) != 0 {
		t.Fatalf("Buffered %d Held %d runs %d after dropping the message", r.Buffered(), r.Held(), len(r.runs))
	}
	// Filling the hole between two runs can exceed it too.
	mustAdd(t, r, frag(20, 0, 2, "B", "01234"), frag(22, 0, 2, "E", "5678"))
	if err := r.Add(frag(21, 0, 2, "", "xx")); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized on merge: %v", err)
	}
	if r.Buffered() != 0 || r.Held() != 0 || len(r.runs) != 0 {
		t.Fatalf("Buffered %d Held %d runs %d after dropping the message", r.Buffered(), r.Held(), len(r.runs))
	}
	if got := New(Config{}).maxMessage; got != DefaultMaxMessage {
		t.Fatalf("default MaxMessage %d", got)
	}
}

func TestViolations(t *testing.T) {
	tests := []struct {
		name string
		held []Fragment
		bad  Fragment
	}{
		{"B after a middle fragment", []Fragment{frag(1, 0, 0, "B", "a")}, frag(2, 0, 0, "B", "b")},
		{"no B after an E", []Fragment{frag(1, 0, 0, "E", "a")}, frag(2, 0, 1, "", "b")},
		{"no E before a B", []Fragment{frag(3, 0, 1, "B", "a")}, frag(2, 0, 0, "", "b")},
		{"E before a middle fragment", []Fragment{frag(3, 0, 0, "", "a")}, frag(2, 0, 0, "BE", "b")},
		{"stream changes inside a message", []Fragment{frag(1, 0, 0, "B", "a")}, frag(2, 1, 0, "E", "b")},
		{"SSN changes inside a message", []Fragment{frag(1, 0, 0, "B", "a")}, frag(2, 0, 1, "E", "b")},
		{"U bit changes inside a message", []Fragment{frag(1, 0, 0, "B", "a")}, frag(2, 0, 0, "EU", "b")},
		{"stream changes, next fragment", []Fragment{frag(3, 1, 0, "E", "a")}, frag(2, 0, 0, "B", "b")},
		{"two messages with one SSN", []Fragment{whole(2, 0, 1, "a")}, whole(3, 0, 1, "b")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Config{InStreams: 2})
			mustAdd(t, r, tc.held...)
			before, beforeHeld := r.Buffered(), r.Held()
			err := r.Add(tc.bad)
			var v *ViolationError
			if !errors.Is(err, ErrProtocolViolation) || !errors.As(err, &v) {
				t.Fatalf("Add = %v, want a protocol violation", err)
			}
			if r.Buffered() != before || r.Held() != beforeHeld {
				t.Fatalf("Buffered %d -> %d, Held %d -> %d: the bad fragment was kept", before, r.Buffered(), beforeHeld, r.Held())
			}
		})
	}
	r := New(Config{InStreams: 1})
	mustAdd(t, r, frag(5, 0, 0, "B", "a"), frag(7, 0, 0, "", "c"))
	for _, tsn := range []uint32{5, 7} {
		if err := r.Add(frag(tsn, 0, 0, "", "x")); !errors.Is(err, ErrDuplicateTSN) {
			t.Fatalf("duplicate TSN %d: %v", tsn, err)
		}
	}
	if err := r.AddIData(IFragment{Beginning: true, Ending: true, Payload: []byte("x")}); !errors.Is(err, ErrProtocolViolation) {
		t.Fatalf("I-DATA without interleaving: %v", err)
	}
}

func TestAbandon(t *testing.T) {
	t.Run("drops incomplete messages missing TSNs at or below the new cum", func(t *testing.T) {
		r := New(Config{InStreams: 2})
		mustAdd(t, r,
			frag(11, 0, 0, "", "lost head"),  // TSN 10 never comes
			frag(13, 1, 0, "B", "lost tail"), // TSN 14 never comes
			frag(16, 1, 1, "E", "keep tail"), // TSN 15 may still come
			frag(17, 0, 1, "B", "keep head"),
		)
		r.Abandon(14, nil)
		if got := r.Buffered(); got != len("keep tail")+len("keep head") {
			t.Fatalf("Buffered %d after Abandon", got)
		}
		mustAdd(t, r, frag(15, 1, 1, "B", "x-"), frag(18, 0, 1, "E", "!"))
		r.Abandon(14, []SkippedStream{{Stream: 0, SSN: 0}, {Stream: 1, SSN: 0}})
		expect(t, r, "0/1:keep head!", "1/1:x-keep tail") // entry order
		if r.Buffered() != 0 || r.Held() != 0 {
			t.Fatalf("Buffered %d", r.Buffered())
		}
	})
	t.Run("a run beginning at the new cum but complete up to it stays", func(t *testing.T) {
		r := New(Config{InStreams: 1})
		mustAdd(t, r, frag(20, 0, 5, "BU", "a"), frag(21, 0, 5, "U", "b"))
		r.Abandon(21, nil)
		mustAdd(t, r, frag(22, 0, 5, "EU", "c"))
		expect(t, r, "0/u:abc")
	})
	t.Run("releases stranded ordered messages", func(t *testing.T) {
		r := New(Config{InStreams: 3})
		// Stream 2: SSN 0 and 2 abandoned, 1 and 3 received, 4 received.
		mustAdd(t, r, whole(11, 2, 1, "one"), whole(13, 2, 3, "three"), whole(14, 2, 4, "four"))
		// Stream 1 untouched by the FORWARD TSN keeps waiting.
		mustAdd(t, r, whole(15, 1, 1, "s1"))
		r.Abandon(12, []SkippedStream{{Stream: 2, SSN: 2}})
		expect(t, r, "2/1:one", "2/3:three", "2/4:four")
		whole5 := whole(16, 2, 5, "five")
		mustAdd(t, r, whole5)
		expect(t, r, "2/5:five")
		if r.Ready() != 0 || r.Buffered() != 2 {
			t.Fatalf("Ready %d Buffered %d", r.Ready(), r.Buffered())
		}
	})
	t.Run("out-of-date and invalid entries change nothing", func(t *testing.T) {
		r := New(Config{InStreams: 1})
		mustAdd(t, r, whole(1, 0, 0, "a"), whole(2, 0, 1, "b"), whole(4, 0, 3, "d"))
		expect(t, r, "0/0:a", "0/1:b")
		r.Abandon(2, []SkippedStream{{Stream: 0, SSN: 1}, {Stream: 0, SSN: 0xFFFF}, {Stream: 9, SSN: 5}})
		if r.Ready() != 0 {
			t.Fatal("stale entry released a message")
		}
		r.Abandon(3, []SkippedStream{{Stream: 0, SSN: 2}})
		expect(t, r, "0/3:d")
	})
	t.Run("skip across the SSN wrap", func(t *testing.T) {
		r := New(Config{InStreams: 1})
		r.stream(0).next = 65534
		mustAdd(t, r, whole(10, 0, 65535, "x"), whole(12, 0, 1, "y"))
		r.Abandon(11, []SkippedStream{{Stream: 0, SSN: 0}})
		expect(t, r, "0/65535:x", "0/1:y")
	})
	t.Run("ignored under I-DATA", func(t *testing.T) {
		r := New(Config{InStreams: 1, Interleaving: true})
		r.Abandon(5, []SkippedStream{{Stream: 0, SSN: 9}})
		if r.stream(0).next != 0 {
			t.Fatal("Abandon moved an I-DATA stream")
		}
	})
}

func TestResetStreams(t *testing.T) {
	r := New(Config{InStreams: 3})
	mustAdd(t, r, whole(1, 0, 0, "a"), whole(2, 1, 0, "b"), whole(3, 1, 1, "c"))
	popAll(r)
	if err := r.ResetStreams([]uint16{1, 7}); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, r, whole(4, 1, 0, "b0"), whole(5, 0, 1, "a1"))
	expect(t, r, "1/0:b0", "0/1:a1")
	if err := r.ResetStreams(nil); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, r, whole(6, 0, 0, "a0"))
	expect(t, r, "0/0:a0")
	// A stream with a message waiting refuses the reset.
	mustAdd(t, r, whole(7, 2, 5, "w"))
	if err := r.ResetStreams([]uint16{2}); !errors.Is(err, ErrProtocolViolation) {
		t.Fatalf("reset with pending data: %v", err)
	}
	if err := r.ResetStreams(nil); !errors.Is(err, ErrProtocolViolation) {
		t.Fatalf("reset all with pending data: %v", err)
	}
	mustAdd(t, r, whole(8, 2, 0, "w0"), whole(9, 2, 1, "w1"), whole(10, 2, 2, "w2"), whole(11, 2, 3, "w3"), whole(12, 2, 4, "w4"))
	popAll(r)
	// An incomplete message refuses it too.
	mustAdd(t, r, frag(13, 1, 1, "B", "half"))
	if err := r.ResetStreams([]uint16{1}); !errors.Is(err, ErrProtocolViolation) {
		t.Fatalf("reset with an incomplete message: %v", err)
	}
	if err := r.ResetStreams([]uint16{2}); err != nil {
		t.Fatalf("reset of an idle stream next to a busy one: %v", err)
	}
	if r.stream(0).next != 1 {
		t.Fatal("refused reset changed another stream")
	}
}

func TestBufferedAccountingUnderReading(t *testing.T) {
	// A user who stops reading keeps Buffered growing, which is what closes
	// the peer's window (RFC 9260 6.2).
	r := New(Config{InStreams: 1})
	payload := bytes.Repeat([]byte{'x'}, 1000)
	tsn := uint32(1)
	for i := 0; i < 50; i++ {
		mustAdd(t, r, Fragment{TSN: tsn, SSN: uint16(i), Beginning: true, Payload: payload[:600]})
		mustAdd(t, r, Fragment{TSN: tsn + 1, SSN: uint16(i), Ending: true, Payload: payload[:400]})
		tsn += 2
	}
	if r.Buffered() != 50*1000 || r.Ready() != 50 || r.Held() != 50 {
		t.Fatalf("Buffered %d Ready %d", r.Buffered(), r.Ready())
	}
	for i := 0; i < 50; i++ {
		m, _ := r.Pop()
		if len(m.Data) != 1000 || m.SSN != uint16(i) {
			t.Fatalf("message %d: SSN %d, %d bytes", i, m.SSN, len(m.Data))
		}
		if r.Buffered() != (49-i)*1000 {
			t.Fatalf("Buffered %d after %d pops", r.Buffered(), i+1)
		}
	}
	r.Trim()
	if r.pool.bytes != 0 {
		t.Fatal("Trim kept pooled buffers")
	}
}

func TestAllocations(t *testing.T) {
	r := New(Config{InStreams: 1})
	payload := make([]byte, 1024)
	tsn, ssn := uint32(0), uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		r.Add(Fragment{TSN: tsn, SSN: ssn, Beginning: true, Ending: true, Payload: payload})
		tsn++
		ssn++
		r.Pop()
	})
	if allocs != 1 {
		t.Fatalf("single-fragment message: %.1f allocations, want 1 (its Data)", allocs)
	}
	big := make([]byte, 1200)
	allocs = testing.AllocsPerRun(100, func() {
		for off := 0; off < 64<<10; off += 1200 {
			n := min(1200, 64<<10-off)
			r.Add(Fragment{TSN: tsn, SSN: ssn, Beginning: off == 0, Ending: off+n == 64<<10, Payload: big[:n]})
			tsn++
		}
		ssn++
		r.Pop()
	})
	if allocs != 1 {
		t.Fatalf("64 KiB message in 1200-byte fragments: %.1f allocations, want 1", allocs)
	}
}
