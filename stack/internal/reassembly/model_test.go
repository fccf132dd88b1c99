package reassembly

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"testing"
)

// A scenario is a set of user messages cut into fragments, TSNs assigned the
// way a sender would, and an arrival order. The model says which messages
// must be ready after each arrival; the tests compare it with the
// Reassembler, message by message and byte by byte.

type tmsg struct {
	stream    uint16
	unordered bool
	seq       uint32 // SSN or MID
	ppid      uint32
	data      []byte
	frags     []int // indices into scenario.frags, in message order
	abandoned bool

	received int
}

type tfrag struct {
	msg      int
	idx      int // fragment number within the message (the FSN)
	tsn      uint32
	payload  []byte
	beg, end bool
}

type scenario struct {
	interleaving bool
	streams      int
	msgs         []tmsg
	frags        []tfrag
	arrival      []int // order of indices into frags
	startSeq     []uint32
}

// newScenario draws messages for the given seed. With interleaving, TSNs are
// assigned fragment by fragment across streams, one message per stream at a
// time (RFC 8260 2.2.2); without, a message's fragments take consecutive
// TSNs (RFC 9260 6.9).
func newScenario(seed int64, interleaving bool) *scenario {
	rng := rand.New(rand.NewSource(seed))
	s := &scenario{interleaving: interleaving, streams: 1 + rng.Intn(5)}
	// Start sequence numbers near the wrap for half of the seeds.
	s.startSeq = make([]uint32, s.streams)
	for i := range s.startSeq {
		if seed%2 == 0 {
			if interleaving {
				s.startSeq[i] = uint32(0xFFFFFFFF - rng.Intn(20))
			} else {
				s.startSeq[i] = uint32(0xFFFF - rng.Intn(20))
			}
		}
	}
	nextSeq := append([]uint32(nil), s.startSeq...)
	unorderedMID := make([]uint32, s.streams)
	nmsgs := 50 + rng.Intn(150)
	for i := 0; i < nmsgs; i++ {
		m := tmsg{stream: uint16(rng.Intn(s.streams)), unordered: rng.Intn(5) == 0, ppid: rng.Uint32()}
		if m.unordered {
			if interleaving {
				m.seq = unorderedMID[m.stream]
				unorderedMID[m.stream]++
			} else {
				m.seq = uint32(rng.Intn(0x10000)) // meaningless, 6.6
			}
		} else {
			m.seq = nextSeq[m.stream]
			nextSeq[m.stream]++
			if !interleaving {
				nextSeq[m.stream] &= 0xFFFF
			}
		}
		nfrag := 1
		if rng.Intn(2) == 0 {
			nfrag += rng.Intn(7)
		}
		m.data = make([]byte, 0, nfrag*20)
		for k := 0; k < nfrag; k++ {
			p := make([]byte, 1+rng.Intn(20))
			rng.Read(p)
			m.data = append(m.data, p...)
			s.frags = append(s.frags, tfrag{msg: i, idx: k, payload: p, beg: k == 0, end: k == nfrag-1})
			m.frags = append(m.frags, len(s.frags)-1)
		}
		s.msgs = append(s.msgs, m)
	}

	// TSN assignment.
	tsn0 := rng.Uint32()
	if seed%3 == 0 {
		tsn0 = uint32(0xFFFFFFFF - rng.Intn(100))
	}
	tsn := tsn0
	if !interleaving {
		for i := range s.frags {
			s.frags[i].tsn = tsn
			tsn++
		}
	} else {
		// Per stream, its messages in order; pick a stream with data left
		// and send its next fragment.
		queues := make([][]int, s.streams)
		for i := range s.frags {
			st := s.msgs[s.frags[i].msg].stream
			queues[st] = append(queues[st], i)
		}
		for left := len(s.frags); left > 0; left-- {
			st := rng.Intn(s.streams)
			for len(queues[st]) == 0 {
				st = (st + 1) % s.streams
			}
			s.frags[queues[st][0]].tsn = tsn
			tsn++
			queues[st] = queues[st][1:]
		}
	}

	// Arrival: in TSN order, displaced by up to a window; a few seeds
	// shuffle completely.
	order := make([]int, len(s.frags))
	for i := range order {
		order[i] = i
	}
	sortBy(order, func(i int) uint32 { return s.frags[i].tsn - tsn0 })
	if seed%7 == 0 {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	} else {
		window := 1 + rng.Intn(30)
		for i := range order {
			if j := i + rng.Intn(window); j < len(order) {
				order[i], order[j] = order[j], order[i]
			}
		}
	}
	s.arrival = order
	return s
}

func sortBy(idx []int, key func(int) uint32) {
	sort.Slice(idx, func(a, b int) bool { return key(idx[a]) < key(idx[b]) })
}

func (s *scenario) newReassembler() *Reassembler {
	r := New(Config{InStreams: s.streams, Interleaving: s.interleaving})
	for i, seq := range s.startSeq {
		r.stream(uint16(i)).next = seq
	}
	return r
}

func (s *scenario) add(r *Reassembler, fi int) error {
	f := s.frags[fi]
	m := s.msgs[f.msg]
	if s.interleaving {
		return r.AddIData(IFragment{
			TSN: f.tsn, Stream: m.stream, MID: m.seq, FSN: uint32(f.idx), PPID: m.ppid,
			Unordered: m.unordered, Beginning: f.beg, Ending: f.end, Payload: f.payload,
		})
	}
	return r.Add(Fragment{
		TSN: f.tsn, Stream: m.stream, SSN: uint16(m.seq), PPID: m.ppid,
		Unordered: m.unordered, Beginning: f.beg, Ending: f.end, Payload: f.payload,
	})
}

// check compares a popped message with the model's.
func (s *scenario) check(got Message, want int) error {
	m := s.msgs[want]
	f0 := s.frags[m.frags[0]]
	switch {
	case got.Stream != m.stream || got.Unordered != m.unordered || got.PPID != m.ppid || got.TSN != f0.tsn:
		return fmt.Errorf("got stream %d U %v PPID %d TSN %d, want message %d: stream %d U %v PPID %d TSN %d",
			got.Stream, got.Unordered, got.PPID, got.TSN, want, m.stream, m.unordered, m.ppid, f0.tsn)
	case s.interleaving && got.MID != m.seq:
		return fmt.Errorf("got MID %d, want %d", got.MID, m.seq)
	case !s.interleaving && got.SSN != uint16(m.seq):
		return fmt.Errorf("got SSN %d, want %d", got.SSN, m.seq)
	case !bytes.Equal(got.Data, m.data):
		return fmt.Errorf("message %d: data differs (%d bytes, want %d)", want, len(got.Data), len(m.data))
	}
	return nil
}

// runModel plays a scenario without loss and checks, after every arrival,
// that exactly the messages the model calls deliverable are ready, in order,
// and that Buffered counts what is held.
func runModel(t *testing.T, seed int64, interleaving bool) {
	s := newScenario(seed, interleaving)
	rng := rand.New(rand.NewSource(seed ^ 0x5eed))
	r := s.newReassembler()

	// Model state: per stream, its ordered messages in sequence order.
	orderedOf := make([][]int, s.streams)
	for i, m := range s.msgs {
		if !m.unordered {
			orderedOf[m.stream] = append(orderedOf[m.stream], i)
		}
	}
	nextOrdered := make([]int, s.streams)
	var ready []int // the model's ready queue
	held := 0       // payload bytes added and not popped
	items := 0      // fragments of incomplete messages plus messages not popped

	pop := func(step int) {
		for n := rng.Intn(4); n > 0 || rng.Intn(3) == 0; n-- {
			got, ok := r.Pop()
			if ok != (len(ready) > 0) {
				t.Fatalf("seed %d step %d: Pop ok=%v with %d ready in the model", seed, step, ok, len(ready))
			}
			if !ok {
				return
			}
			if err := s.check(got, ready[0]); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			held -= len(got.Data)
			items--
			ready = ready[1:]
		}
	}

	for step, fi := range s.arrival {
		if err := s.add(r, fi); err != nil {
			t.Fatalf("seed %d step %d: add: %v", seed, step, err)
		}
		f := s.frags[fi]
		held += len(f.payload)
		items++
		m := &s.msgs[f.msg]
		m.received++
		if m.received == len(m.frags) {
			items -= len(m.frags) - 1
			if m.unordered {
				ready = append(ready, f.msg)
			}
			st := m.stream
			for nextOrdered[st] < len(orderedOf[st]) {
				c := &s.msgs[orderedOf[st][nextOrdered[st]]]
				if c.received < len(c.frags) {
					break
				}
				ready = append(ready, orderedOf[st][nextOrdered[st]])
				nextOrdered[st]++
			}
		}
		if r.Ready() != len(ready) {
			t.Fatalf("seed %d step %d: Ready %d, model %d", seed, step, r.Ready(), len(ready))
		}
		if r.Buffered() != held || r.Held() != items {
			t.Fatalf("seed %d step %d: Buffered %d Held %d, model %d %d", seed, step, r.Buffered(), r.Held(), held, items)
		}
		pop(step)
	}
	for len(ready) > 0 {
		pop(len(s.arrival))
	}
	if r.Buffered() != 0 || r.Held() != 0 || r.Ready() != 0 || len(r.runs) != 0 {
		t.Fatalf("seed %d: at the end Buffered %d Ready %d runs %d", seed, r.Buffered(), r.Ready(), len(r.runs))
	}
	for id, st := range r.streams.All() {
		if st != nil && (len(st.waiting)+len(st.ordered)+len(st.unordered) > 0) {
			t.Fatalf("seed %d: stream %d still holds messages", seed, id)
		}
	}
}

func seeds(t *testing.T) int64 {
	if testing.Short() {
		return 50
	}
	return 400
}

func TestRandomDataAgainstModel(t *testing.T) {
	for seed := int64(1); seed <= seeds(t); seed++ {
		runModel(t, seed, false)
	}
}

func TestRandomIDataAgainstModel(t *testing.T) {
	for seed := int64(1); seed <= seeds(t); seed++ {
		runModel(t, seed, true)
	}
}

// runAbandon plays a scenario in which the sender abandons some messages
// (PR-SCTP): their fragments may or may not have been sent. FORWARD TSNs
// arrive along the way, computed as a sender would: the new cumulative TSN
// is the highest up to which every TSN arrived or was abandoned, and each
// stream lists its largest abandoned sequence number below it. At the end,
// every message that was not abandoned, and every abandoned one whose
// fragments all arrived, must have been delivered once, ordered ones in
// order, with nothing left buffered.
func runAbandon(t *testing.T, seed int64, interleaving bool) {
	s := newScenario(seed, interleaving)
	rng := rand.New(rand.NewSource(seed ^ 0xab))
	r := s.newReassembler()
	lost := make([]bool, len(s.frags))
	for i := range s.msgs {
		if rng.Intn(6) == 0 {
			s.msgs[i].abandoned = true
			for _, fi := range s.msgs[i].frags {
				lost[fi] = rng.Intn(2) == 0
			}
		}
	}
	first := s.frags[0].tsn
	for _, f := range s.frags {
		if f.tsn-first >= 1<<31 {
			first = f.tsn
		}
	}
	off := func(fi int) uint32 { return s.frags[fi].tsn - first }
	byOff := make([]int, len(s.frags)) // fragment index by TSN offset
	for fi := range s.frags {
		byOff[off(fi)] = fi
	}
	arrived := make([]bool, len(s.frags))
	cum := -1 // TSN offset of the cumulative ack point

	var got []Message
	popAll := func() {
		for {
			m, ok := r.Pop()
			if !ok {
				return
			}
			got = append(got, m)
		}
	}
	forward := func() {
		newCum := cum
		for newCum+1 < len(s.frags) {
			fi := byOff[newCum+1]
			if !arrived[fi] && !s.msgs[s.frags[fi].msg].abandoned {
				break
			}
			newCum++
		}
		if newCum == cum {
			return
		}
		skipped := map[[2]uint32]uint32{} // (stream, U) -> largest seq
		for o := cum + 1; o <= newCum; o++ {
			m := s.msgs[s.frags[byOff[o]].msg]
			if m.abandoned && (!m.unordered || interleaving) {
				k := [2]uint32{uint32(m.stream), 0}
				if m.unordered {
					k[1] = 1
				}
				skipped[k] = m.seq // TSN order is sequence order per stream
			}
		}
		cum = newCum
		if interleaving {
			var entries []SkippedMessage
			for k, seq := range skipped {
				entries = append(entries, SkippedMessage{Stream: uint16(k[0]), Unordered: k[1] == 1, MID: seq})
			}
			r.AbandonIData(entries)
		} else {
			var entries []SkippedStream
			for k, seq := range skipped {
				entries = append(entries, SkippedStream{Stream: uint16(k[0]), SSN: uint16(seq)})
			}
			r.Abandon(first+uint32(cum), entries)
		}
	}

	for _, fi := range s.arrival {
		if rng.Intn(10) == 0 {
			forward()
		}
		if lost[fi] || int(off(fi)) <= cum {
			continue // lost, or a duplicate the TSN tracker filters
		}
		err := s.add(r, fi)
		if errors.Is(err, ErrStale) && s.msgs[s.frags[fi].msg].abandoned {
			// A fragment of a message abandoned by an earlier
			// I-FORWARD-TSN, sent before the sender gave up on it.
			continue
		}
		if err != nil {
			t.Fatalf("seed %d: add: %v", seed, err)
		}
		arrived[fi] = true
		if rng.Intn(3) == 0 {
			popAll()
		}
	}
	forward()
	popAll()

	want := map[int]bool{}
	for i, m := range s.msgs {
		complete := true
		for _, fi := range m.frags {
			complete = complete && arrived[fi]
		}
		if !m.abandoned || complete {
			want[i] = true
		}
	}
	// Identify each popped message by its first TSN.
	byFirst := map[uint32]int{}
	for i, m := range s.msgs {
		byFirst[s.frags[m.frags[0]].tsn] = i
	}
	lastSeq := map[uint16]int{}
	for _, g := range got {
		i, ok := byFirst[g.TSN]
		if !ok || !want[i] {
			t.Fatalf("seed %d: unexpected message with TSN %d (abandoned %v)", seed, g.TSN, ok && s.msgs[i].abandoned)
		}
		if err := s.check(g, i); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		delete(want, i)
		if !g.Unordered {
			if prev, ok := lastSeq[g.Stream]; ok && prev > i {
				t.Fatalf("seed %d: stream %d delivered message %d after %d", seed, g.Stream, i, prev)
			}
			lastSeq[g.Stream] = i
		}
	}
	if len(want) > 0 {
		t.Fatalf("seed %d: %d messages never delivered", seed, len(want))
	}
	if r.Buffered() != 0 || r.Held() != 0 || len(r.runs) != 0 {
		t.Fatalf("seed %d: Buffered %d Held %d runs %d at the end", seed, r.Buffered(), r.Held(), len(r.runs))
	}
	for id, st := range r.streams.All() {
		if st != nil && (len(st.waiting)+len(st.ordered)+len(st.unordered) > 0) {
			t.Fatalf("seed %d: stream %d still holds messages", seed, id)
		}
	}
}

func TestRandomDataAbandon(t *testing.T) {
	for seed := int64(1); seed <= seeds(t); seed++ {
		runAbandon(t, seed, false)
	}
}

func TestRandomIDataAbandon(t *testing.T) {
	for seed := int64(1); seed <= seeds(t); seed++ {
		runAbandon(t, seed, true)
	}
}
