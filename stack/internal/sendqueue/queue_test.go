package sendqueue

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func mustPush(t *testing.T, q *Queue, m Message) {
	t.Helper()
	if err := q.Push(m); err != nil {
		t.Fatalf("Push(stream %d, %d bytes): %v", m.Stream, len(m.Data), err)
	}
}

// drainChunks takes chunks until the queue is empty.
func drainChunks(t *testing.T, q *Queue, maxPayload int) []Chunk {
	t.Helper()
	var out []Chunk
	for {
		c, ok := q.Next(maxPayload, t0)
		if !ok {
			return out
		}
		out = append(out, c)
		if len(out) > 1<<20 {
			t.Fatal("queue never empties")
		}
	}
}

// TestFragmentation checks 6.9: fragments of at most maxPayload bytes, all
// full-size but the last, B only on the first, E only on the last, every
// byte once and in order, Payload aliasing Data with capped capacity.
func TestFragmentation(t *testing.T) {
	const maxPayload = 100
	for _, size := range []int{1, maxPayload - 1, maxPayload, maxPayload + 1, 2 * maxPayload, 2*maxPayload + 1, 10*maxPayload + 37} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			q := New(Config{OutStreams: 1})
			data := payload(size, 7)
			mustPush(t, q, Message{Stream: 0, PPID: 46, Data: data, Context: 99})
			chunks := drainChunks(t, q, maxPayload)
			wantN := (size + maxPayload - 1) / maxPayload
			if len(chunks) != wantN {
				t.Fatalf("%d fragments, want ceil(%d/%d) = %d", len(chunks), size, maxPayload, wantN)
			}
			var joined []byte
			for i, c := range chunks {
				wantLen := maxPayload
				if i == wantN-1 {
					wantLen = size - (wantN-1)*maxPayload
				}
				if len(c.Payload) != wantLen {
					t.Errorf("fragment %d: %d bytes, want %d", i, len(c.Payload), wantLen)
				}
				if c.Beginning != (i == 0) || c.Ending != (i == wantN-1) {
					t.Errorf("fragment %d of %d: B=%v E=%v", i, wantN, c.Beginning, c.Ending)
				}
				if c.Offset != i*maxPayload {
					t.Errorf("fragment %d: Offset %d, want %d", i, c.Offset, i*maxPayload)
				}
				if &c.Payload[0] != &data[c.Offset] {
					t.Errorf("fragment %d: Payload is a copy, want a view of Data", i)
				}
				if cap(c.Payload) != len(c.Payload) {
					t.Errorf("fragment %d: cap %d > len %d, an append would overwrite the next fragment", i, cap(c.Payload), len(c.Payload))
				}
				if c.PPID != 46 || c.Context != 99 || c.MessageID != 1 || c.SSN != 0 || c.Stream != 0 {
					t.Errorf("fragment %d: %+v lost the message's fields", i, c)
				}
				if len(c.Message) != size {
					t.Errorf("fragment %d: Message has %d bytes, want the whole %d", i, len(c.Message), size)
				}
				joined = append(joined, c.Payload...)
			}
			if !bytes.Equal(joined, data) {
				t.Fatal("fragments do not reassemble to the message")
			}
			if q.Buffered() != 0 || q.BufferedMessages() != 0 || q.Outstanding() != size {
				t.Fatalf("after: Buffered %d messages %d Outstanding %d, want 0 0 %d", q.Buffered(), q.BufferedMessages(), q.Outstanding(), size)
			}
		})
	}
}

// TestFragmentSizeMayChange: the engine may pass a smaller maxPayload (room
// left in a packet, a lower PMTU) for later fragments; the ones not yet made
// follow it (only made fragments are final, 6.9).
func TestFragmentSizeMayChange(t *testing.T) {
	q := New(Config{OutStreams: 1})
	mustPush(t, q, Message{Data: payload(1000, 0)})
	var sizes []int
	for _, mp := range []int{400, 100, 1000} {
		c, ok := q.Next(mp, t0)
		if !ok {
			t.Fatal("queue empty early")
		}
		sizes = append(sizes, len(c.Payload))
	}
	if fmt.Sprint(sizes) != "[400 100 500]" {
		t.Fatalf("fragment sizes %v, want [400 100 500]", sizes)
	}
	if _, ok := q.Next(0, t0); ok {
		t.Fatal("Next(0) produced a chunk")
	}
}

// TestSSN checks 6.5: per-stream SSNs from 0, +1 per ordered message, the
// same for all fragments of a message, 65535 followed by 0, streams
// independent.
func TestSSN(t *testing.T) {
	q := New(Config{OutStreams: 2})
	const n = 1<<16 + 5 // crosses the wrap
	data := payload(3, 0)
	for i := 0; i < n; i++ {
		// Stream 1 gets a two-fragment message every 1000 messages.
		mustPush(t, q, Message{Stream: 0, Data: data})
		if i%1000 == 0 {
			mustPush(t, q, Message{Stream: 1, Data: payload(4, 1)})
		}
		for {
			c, ok := q.Next(2, t0)
			if !ok {
				break
			}
			// A stream's k-th ordered message (from 0) has SSN k mod 2^16:
			// stream 0 is at its i-th, stream 1 at its (i/1000)-th.
			want := uint16(i)
			if c.Stream == 1 {
				want = uint16(i / 1000)
			}
			if c.SSN != want {
				t.Fatalf("message %d on stream %d: SSN %d, want %d", i, c.Stream, c.SSN, want)
			}
		}
		q.Release(q.Outstanding())
	}
	if got, want := q.NextSSN(0), uint16(n%65536); got != want {
		t.Fatalf("NextSSN(0) = %d, want %d (= %d mod 65536)", got, want, n)
	}
}

// TestUnordered: 6.5 "For unordered user messages, the Stream Sequence
// Number MUST NOT be changed"; their SSN field carries 0 (6.6: no
// significance).
func TestUnordered(t *testing.T) {
	q := New(Config{OutStreams: 1})
	mustPush(t, q, Message{Data: payload(10, 0)})                  // ordered: SSN 0
	mustPush(t, q, Message{Data: payload(10, 0), Unordered: true}) // no SSN
	mustPush(t, q, Message{Data: payload(10, 0), Unordered: true})
	mustPush(t, q, Message{Data: payload(10, 0)}) // ordered: SSN 1
	want := []struct {
		ssn uint16
		u   bool
	}{{0, false}, {0, true}, {0, true}, {1, false}}
	for i, c := range drainChunks(t, q, 100) {
		if c.SSN != want[i].ssn || c.Unordered != want[i].u {
			t.Errorf("message %d: SSN %d U %v, want SSN %d U %v", i, c.SSN, c.Unordered, want[i].ssn, want[i].u)
		}
	}
	if q.NextSSN(0) != 2 {
		t.Fatalf("NextSSN %d after two ordered messages, want 2", q.NextSSN(0))
	}
}

// TestRoundRobinOrder checks RFC 8260 3.2: one message per non-empty stream
// per turn, streams cycling in the order they became non-empty.
func TestRoundRobinOrder(t *testing.T) {
	q := New(Config{OutStreams: 8})
	// Stream 5 becomes non-empty first, then 2, then 7.
	push := func(s uint16, name string) {
		mustPush(t, q, Message{Stream: s, Data: []byte(name)})
	}
	push(5, "a1")
	push(5, "a2")
	push(5, "a3")
	push(2, "b1")
	push(7, "c1")
	push(7, "c2")
	// Cycle 5,2,7: a1 b1 c1; 2 is then empty: 5,7: a2 c2; then a3.
	var got []string
	for {
		c, ok := q.Next(100, t0)
		if !ok {
			break
		}
		got = append(got, string(c.Payload))
		if len(got) == 2 {
			// Stream 2 refills while not in the cycle: it rejoins at the
			// back, after 7 and 5 (turn order now 7,5,2).
			push(2, "b2")
		}
	}
	// After a1 b1: cycle is 7,5 and b2 joins -> 7,5,2: c1 a2 b2 c2 a3.
	want := "[a1 b1 c1 a2 b2 c2 a3]"
	if fmt.Sprint(got) != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

// TestRoundRobinFairness: with k busy streams, every window of k
// consecutive messages has one message of each stream, whatever the
// message sizes.
func TestRoundRobinFairness(t *testing.T) {
	const streams, perStream = 4, 50
	q := New(Config{OutStreams: streams})
	for i := 0; i < perStream; i++ {
		for s := 0; s < streams; s++ {
			// Stream s sends messages of s*300+1 bytes: fairness is in
			// messages, not bytes (3.2).
			mustPush(t, q, Message{Stream: uint16(s), Data: payload(s*300+1, 0)})
		}
	}
	var order []uint16
	for _, c := range drainChunks(t, q, 200) {
		if c.Ending {
			order = append(order, c.Stream)
		}
	}
	if len(order) != streams*perStream {
		t.Fatalf("%d messages, want %d", len(order), streams*perStream)
	}
	for i, s := range order {
		if want := uint16(i % streams); s != want {
			t.Fatalf("message %d from stream %d, want %d (strict rotation)", i, s, want)
		}
	}
}

func TestFCFS(t *testing.T) {
	q := New(Config{OutStreams: 4, Scheduler: &FCFS{}})
	order := []uint16{3, 3, 1, 3, 0, 1}
	for i, s := range order {
		mustPush(t, q, Message{Stream: s, Data: payload(250, byte(i))})
	}
	var got []uint16
	for _, c := range drainChunks(t, q, 100) {
		if c.Ending {
			got = append(got, c.Stream)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(order) {
		t.Fatalf("FCFS order %v, want arrival order %v", got, order)
	}
}

// TestNoInterleaving: between a message's B and E fragment no chunk of
// another message appears (6.9 step 2: consecutive TSNs), even when other
// streams get data in the middle of it.
func TestNoInterleaving(t *testing.T) {
	for _, sched := range []func() Scheduler{func() Scheduler { return &RoundRobin{} }, func() Scheduler { return &FCFS{} }} {
		q := New(Config{OutStreams: 3, Scheduler: sched()})
		for s := 0; s < 3; s++ {
			mustPush(t, q, Message{Stream: uint16(s), Data: payload(1000, byte(s))})
		}
		var cur uint64
		pushes := 0
		for {
			c, ok := q.Next(64, t0)
			if !ok {
				break
			}
			if c.Beginning {
				if cur != 0 {
					t.Fatalf("message %d begins inside message %d", c.MessageID, cur)
				}
				cur = c.MessageID
			} else if c.MessageID != cur {
				t.Fatalf("fragment of message %d inside message %d", c.MessageID, cur)
			}
			if c.Ending {
				cur = 0
			}
			if pushes < 20 {
				// New arrivals on every stream mid-message.
				mustPush(t, q, Message{Stream: uint16(pushes % 3), Data: payload(300, 0)})
				pushes++
			}
		}
		if cur != 0 {
			t.Fatalf("message %d never ended", cur)
		}
	}
}

func TestErrors(t *testing.T) {
	q := New(Config{OutStreams: 2, MaxBuffered: 100, MaxMessage: 150})
	cases := []struct {
		m    Message
		want error
	}{
		{Message{Stream: 2, Data: []byte{1}}, ErrInvalidStream},
		{Message{Stream: 65535, Data: []byte{1}}, ErrInvalidStream},
		{Message{Stream: 0}, ErrEmpty},
		{Message{Stream: 0, Data: payload(151, 0)}, ErrTooLarge},
	}
	for _, c := range cases {
		if err := q.Push(c.m); !errors.Is(err, c.want) {
			t.Errorf("Push(stream %d, %d bytes) = %v, want %v", c.m.Stream, len(c.m.Data), err, c.want)
		}
	}
	if q.BufferedMessages() != 0 || q.Used() != 0 {
		t.Fatal("a rejected message was queued")
	}
	if err := q.AddStreams(1); err != nil {
		t.Fatal(err)
	}
	mustPush(t, q, Message{Stream: 2, Data: []byte{1}})
	if err := q.AddStreams(MaxStreams); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("AddStreams beyond 65535: %v", err)
	}
}

// TestBound checks what MaxBuffered covers: queued plus handed out and not
// yet released bytes; and that an empty buffer admits one oversize message.
func TestBound(t *testing.T) {
	const bound = 100
	q := New(Config{OutStreams: 1, MaxBuffered: bound})
	mustPush(t, q, Message{Data: payload(60, 0)})
	if err := q.Push(Message{Data: payload(41, 0)}); !errors.Is(err, ErrFull) {
		t.Fatalf("60+41 > %d: %v, want ErrFull", bound, err)
	}
	mustPush(t, q, Message{Data: payload(40, 0)}) // exactly the bound
	if q.Used() != bound || q.Available() != 0 {
		t.Fatalf("Used %d Available %d, want %d 0", q.Used(), q.Available(), bound)
	}
	// Handing data out does not free the buffer: the engine still holds it.
	c, _ := q.Next(1000, t0)
	if q.Buffered() != 40 || q.Outstanding() != 60 {
		t.Fatalf("Buffered %d Outstanding %d, want 40 60", q.Buffered(), q.Outstanding())
	}
	if err := q.Push(Message{Data: []byte{1}}); !errors.Is(err, ErrFull) {
		t.Fatalf("push with buffer full of in-flight data: %v, want ErrFull", err)
	}
	q.Release(len(c.Payload))
	if q.Available() != 60 {
		t.Fatalf("Available %d after releasing 60, want 60", q.Available())
	}
	mustPush(t, q, Message{Data: payload(60, 0)})

	// Empty buffer: a message larger than the bound is admitted (it could
	// never be otherwise); then nothing else until it is released.
	q2 := New(Config{OutStreams: 1, MaxBuffered: bound})
	mustPush(t, q2, Message{Data: payload(3*bound, 0)})
	if err := q2.Push(Message{Data: []byte{1}}); !errors.Is(err, ErrFull) {
		t.Fatalf("%v, want ErrFull behind an oversize message", err)
	}
	drainChunks(t, q2, 64)
	q2.Release(3 * bound)
	mustPush(t, q2, Message{Data: []byte{1}})

	defer func() {
		if recover() == nil {
			t.Fatal("releasing more than outstanding did not panic")
		}
	}()
	q2.Release(1)
}

func TestDrain(t *testing.T) {
	q := New(Config{OutStreams: 3})
	if q.Drain() != nil {
		t.Fatal("Drain of an empty queue is not nil")
	}
	mustPush(t, q, Message{Stream: 1, Data: payload(250, 0), Context: 1}) // ID 1, will be partial
	mustPush(t, q, Message{Stream: 2, Data: payload(10, 0), Context: 2})  // ID 2
	mustPush(t, q, Message{Stream: 1, Data: payload(10, 0), Context: 3})  // ID 3
	mustPush(t, q, Message{Stream: 0, Data: payload(10, 0), Context: 4})  // ID 4
	c, _ := q.Next(100, t0)
	if c.MessageID != 1 || c.Ending {
		t.Fatalf("first chunk %+v, want the head of message 1", c)
	}
	got := q.Drain()
	want := []struct {
		id      uint64
		ctx     uint32
		sent    int
		partial bool
	}{{1, 1, 100, true}, {2, 2, 0, false}, {3, 3, 0, false}, {4, 4, 0, false}}
	if len(got) != len(want) {
		t.Fatalf("Drain returned %d messages, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Message.Context != w.ctx || g.Sent != w.sent || g.Partial != w.partial {
			t.Errorf("drained[%d] = id %d ctx %d sent %d partial %v, want %+v", i, g.ID, g.Message.Context, g.Sent, g.Partial, w)
		}
	}
	if len(got[0].Message.Data) != 250 {
		t.Errorf("partial message reported with %d bytes, want all 250", len(got[0].Message.Data))
	}
	if q.Buffered() != 0 || q.BufferedMessages() != 0 || q.Outstanding() != 100 {
		t.Fatalf("after Drain: Buffered %d messages %d Outstanding %d, want 0 0 100", q.Buffered(), q.BufferedMessages(), q.Outstanding())
	}
	if _, ok := q.Next(100, t0); ok {
		t.Fatal("Next after Drain produced a chunk")
	}
	// The queue is usable again, and the SSNs go on.
	mustPush(t, q, Message{Stream: 1, Data: []byte{1}})
	if c, ok := q.Next(100, t0); !ok || c.SSN != 1 {
		t.Fatalf("after Drain: %+v %v, want stream 1's SSN 1", c, ok)
	}
}

// TestExpiry: a message whose lifetime ended before its first fragment is
// dropped at its turn and reported; one already started is finished.
func TestExpiry(t *testing.T) {
	var expired []Pending
	q := New(Config{OutStreams: 2, OnExpired: func(p Pending) { expired = append(expired, p) }})
	mustPush(t, q, Message{Stream: 0, Data: payload(200, 0), Expiry: t0.Add(time.Second)})    // 1: starts in time
	mustPush(t, q, Message{Stream: 1, Data: payload(10, 0), Expiry: t0.Add(time.Second)})     // 2: expires
	mustPush(t, q, Message{Stream: 1, Data: payload(10, 0)})                                  // 3: no lifetime
	mustPush(t, q, Message{Stream: 0, Data: payload(10, 0), Expiry: t0.Add(2 * time.Second)}) // 4: exactly at expiry
	c, _ := q.Next(100, t0)
	if c.MessageID != 1 || c.SSN != 0 {
		t.Fatalf("%+v", c)
	}
	late := t0.Add(2 * time.Second)
	var ids []uint64
	for {
		c, ok := q.Next(100, late)
		if !ok {
			break
		}
		if c.Ending {
			ids = append(ids, c.MessageID)
		}
	}
	// Message 1 completes; 2 and 4 (at its expiry instant) are dropped; 3 goes.
	if fmt.Sprint(ids) != "[1 3]" {
		t.Fatalf("sent %v, want [1 3]", ids)
	}
	if len(expired) != 2 || expired[0].ID != 2 || expired[1].ID != 4 || expired[0].Partial || len(expired[0].Message.Data) != 10 {
		t.Fatalf("expired %+v, want messages 2 and 4, unsent", expired)
	}
	// An expired message takes no SSN: message 3 is stream 1's SSN 0.
	if q.NextSSN(1) != 1 || q.NextSSN(0) != 1 {
		t.Fatalf("NextSSN %d %d, want 1 1", q.NextSSN(0), q.NextSSN(1))
	}
	if q.Buffered() != 0 || q.BufferedMessages() != 0 || q.Outstanding() != 210 {
		t.Fatalf("Buffered %d messages %d Outstanding %d, want 0 0 210", q.Buffered(), q.BufferedMessages(), q.Outstanding())
	}
}

// TestRandomized runs random pushes and Next calls against a simple model:
// every message comes out once, whole, in order per stream, with its
// stream's SSN sequence, without interleaving, and the counters agree.
func TestRandomized(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		streams := 1 + rng.IntN(6)
		var sched Scheduler = &RoundRobin{}
		if seed%2 == 0 {
			sched = &FCFS{}
		}
		q := New(Config{OutStreams: streams, MaxBuffered: 5000, Scheduler: sched})
		type sent struct {
			data []byte
			u    bool
		}
		pushed := map[uint16][]sent{}
		got := map[uint16][][]byte{}
		ssn := map[uint16]uint16{}
		var cur []byte
		curID := uint64(0)
		queued := 0
		for step := 0; step < 3000; step++ {
			if rng.IntN(2) == 0 {
				s := uint16(rng.IntN(streams))
				m := Message{Stream: s, Data: payload(1+rng.IntN(700), byte(step)), Unordered: rng.IntN(4) == 0}
				err := q.Push(m)
				if errors.Is(err, ErrFull) {
					q.Release(q.Outstanding())
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				pushed[s] = append(pushed[s], sent{m.Data, m.Unordered})
				queued += len(m.Data)
			} else {
				c, ok := q.Next(1+rng.IntN(300), t0)
				if !ok {
					if queued != 0 {
						t.Fatalf("seed %d: Next empty with %d bytes queued", seed, queued)
					}
					continue
				}
				queued -= len(c.Payload)
				if c.Beginning != (curID == 0) || (!c.Beginning && c.MessageID != curID) {
					t.Fatalf("seed %d: interleaved or unterminated message", seed)
				}
				curID = c.MessageID
				cur = append(cur, c.Payload...)
				if c.Ending {
					k := len(got[c.Stream])
					want := pushed[c.Stream][k]
					if !bytes.Equal(cur, want.data) || c.Unordered != want.u {
						t.Fatalf("seed %d: stream %d message %d differs", seed, c.Stream, k)
					}
					if !c.Unordered {
						if c.SSN != ssn[c.Stream] {
							t.Fatalf("seed %d: SSN %d, want %d", seed, c.SSN, ssn[c.Stream])
						}
						ssn[c.Stream]++
					}
					got[c.Stream] = append(got[c.Stream], cur)
					cur, curID = nil, 0
				}
			}
			if q.Buffered() != queued {
				t.Fatalf("seed %d: Buffered %d, model %d", seed, q.Buffered(), queued)
			}
		}
	}
}

// BenchmarkSmallMessages: Push+Next+Release of 1 KiB single-fragment
// messages, the steady state of a signalling association. 0 allocs/op.
func BenchmarkSmallMessages(b *testing.B) {
	q := New(Config{OutStreams: 10})
	data := make([]byte, 1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := q.Push(Message{Stream: uint16(i % 10), Data: data}); err != nil {
			b.Fatal(err)
		}
		c, ok := q.Next(1200, t0)
		if !ok || !c.Ending {
			b.Fatal("no single-fragment chunk")
		}
		q.Release(len(c.Payload))
	}
}

// BenchmarkLargeMessages: 64 KiB messages cut into 1200-byte fragments.
func BenchmarkLargeMessages(b *testing.B) {
	q := New(Config{OutStreams: 10})
	data := make([]byte, 64<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := q.Push(Message{Stream: uint16(i % 10), Data: data}); err != nil {
			b.Fatal(err)
		}
		for {
			c, ok := q.Next(1200, t0)
			if !ok {
				b.Fatal("message ended early")
			}
			if c.Ending {
				break
			}
		}
		q.Release(q.Outstanding())
	}
}
