package reassembly

import "sort"

// run is a piece of one incomplete DATA message: fragments with consecutive
// TSNs first..last, frags[i] holding the payload of TSN first+i. RFC 9260 6.9
// has the sender give the fragments of a message consecutive TSNs, B on the
// first and E on the last, so every fragment held belongs to exactly one run,
// and a run that begins with B and ends with E is a whole message. Runs
// never cross a message boundary: two adjacent runs are the tail of one
// message (ending with E) and the head of the next (beginning with B).
//
// Keying assembly on TSNs rather than on (stream, SSN) handles ordered and
// unordered messages alike (unordered ones have no usable SSN), and lets
// FORWARD TSN drop abandoned pieces by TSN as RFC 3758 3.6 describes.
type run struct {
	first, last uint32
	begins      bool // the fragment at first has B
	ends        bool // the fragment at last has E
	stream      uint16
	ssn         uint16
	unordered   bool
	ppid        uint32 // from the B fragment, once it arrived
	bytes       int
	frags       [][]byte
}

// sameMessage reports whether f can be a fragment of the message r belongs
// to: same stream, same U bit and, for ordered messages, same SSN.
func (r *run) sameMessage(f *Fragment) bool {
	return r.stream == f.Stream && r.unordered == f.Unordered && (r.unordered || r.ssn == f.SSN)
}

// Add takes the fragment of one DATA chunk whose TSN the tracker found fresh
// and makes whatever message it completes available to Pop, or buffered
// until its turn. On error nothing of f is kept:
//
//   - ErrInvalidStream, ErrNoUserData: f was rejected; nothing else changed.
//   - *MessageTooLargeError: f and the fragments held of its message are
//     dropped.
//   - *ViolationError: f contradicts the fragments around it and is dropped
//     (with the rest of its message when it completed one whose SSN is
//     already taken). The engine aborts with "Protocol Violation".
//   - ErrDuplicateTSN: f was already held.
//
// A fragment of an ordered message is accepted whatever its SSN: a sender may
// have up to 2^16-1 ordered messages of one stream outstanding (RFC 9260 6.1).
func (r *Reassembler) Add(f Fragment) error {
	if r.interleaving {
		return violation(f.TSN, f.Stream, "DATA chunk on an association that negotiated I-DATA (RFC 8260 2.2.3)")
	}
	if int(f.Stream) >= r.inStreams {
		return ErrInvalidStream
	}
	if len(f.Payload) == 0 {
		return ErrNoUserData
	}
	if f.Beginning && f.Ending && len(r.runs) == 0 {
		// The steady state: a whole message, no incomplete one around.
		return r.addWhole(&f)
	}
	return r.addFragment(&f)
}

// addWhole handles a message that fits in one chunk; the caller checked that
// it touches no run.
func (r *Reassembler) addWhole(f *Fragment) error {
	if len(f.Payload) > r.maxMessage {
		return &MessageTooLargeError{Stream: f.Stream, Size: len(f.Payload), Max: r.maxMessage}
	}
	r.buffered += len(f.Payload)
	r.held++
	m := Message{
		Stream:    f.Stream,
		SSN:       f.SSN,
		PPID:      f.PPID,
		TSN:       f.TSN,
		Unordered: f.Unordered,
		Data:      copyPayload(f.Payload),
	}
	if !f.Unordered {
		// Fast path of ordered delivery: no sort, no search.
		st := r.stream(f.Stream)
		if uint32(f.SSN) == st.next && len(st.waiting) == 0 {
			r.ready.push(m)
			st.next = uint32(uint16(st.next + 1))
			return nil
		}
	}
	return r.deliver(m)
}

// addFragment places f among the runs, joining the run that ends just below
// it and the one that starts just above it when they belong to the same
// message, after checking that its B and E bits agree with its neighbours.
func (r *Reassembler) addFragment(f *Fragment) error {
	t := f.TSN
	n := len(r.runs)
	// i is the first run that starts above t; arrival at the top end, the
	// usual case, needs no search.
	i := n
	if n > 0 && !after(t, r.runs[n-1].first) {
		i = sort.Search(n, func(k int) bool { return after(r.runs[k].first, t) })
	}
	var prev, next *run
	if i > 0 {
		prev = r.runs[i-1]
		if !after(t, prev.last) {
			return ErrDuplicateTSN
		}
		if prev.last != t-1 {
			prev = nil
		}
	}
	if i < n && r.runs[i].first == t+1 {
		next = r.runs[i]
	}

	// TSN t-1 ends a message exactly when t begins one, and t+1 begins one
	// exactly when t ends one; fragments of one message agree on stream, U
	// and SSN.
	joinPrev, joinNext := false, false
	if prev != nil {
		switch {
		case prev.ends != f.Beginning:
			return violation(t, f.Stream, "B bit disagrees with the E bit of the previous TSN")
		case !prev.ends && !prev.sameMessage(f):
			return violation(t, f.Stream, "consecutive fragments of one message differ in stream, U bit or SSN")
		}
		joinPrev = !prev.ends
	}
	if next != nil {
		switch {
		case next.begins != f.Ending:
			return violation(t, f.Stream, "E bit disagrees with the B bit of the next TSN")
		case !next.begins && !next.sameMessage(f):
			return violation(t, f.Stream, "consecutive fragments of one message differ in stream, U bit or SSN")
		}
		joinNext = !next.begins
	}

	size := len(f.Payload)
	if joinPrev {
		size += prev.bytes
	}
	if joinNext {
		size += next.bytes
	}
	if size > r.maxMessage {
		// The message can never be delivered: drop what is held of it,
		// higher index first so that i-1 stays valid.
		if joinNext {
			r.dropRun(i)
		}
		if joinPrev {
			r.dropRun(i - 1)
		}
		return &MessageTooLargeError{Stream: f.Stream, Size: size, Max: r.maxMessage}
	}
	if f.Beginning && f.Ending {
		return r.addWhole(f)
	}

	buf := r.pool.get(len(f.Payload))
	copy(buf, f.Payload)
	r.buffered += len(f.Payload)
	r.held++

	var cur *run
	var at int
	switch {
	case joinPrev && joinNext:
		prev.frags = append(prev.frags, buf)
		prev.frags = append(prev.frags, next.frags...)
		prev.last, prev.ends, prev.bytes = next.last, next.ends, size
		r.removeRun(i)
		r.recycleRun(next)
		cur, at = prev, i-1
	case joinPrev:
		prev.frags = append(prev.frags, buf)
		prev.last, prev.ends, prev.bytes = t, f.Ending, size
		cur, at = prev, i-1
	case joinNext:
		next.frags = append(next.frags, nil)
		copy(next.frags[1:], next.frags)
		next.frags[0] = buf
		next.first, next.begins, next.bytes = t, f.Beginning, size
		if f.Beginning {
			next.ppid = f.PPID
		}
		cur, at = next, i
	default:
		cur = r.newRun(f, buf)
		r.runs = append(r.runs, nil)
		copy(r.runs[i+1:], r.runs[i:])
		r.runs[i] = cur
		at = i
	}
	if !cur.begins || !cur.ends {
		return nil
	}
	r.removeRun(at)
	r.held -= len(cur.frags) - 1 // the fragments become one message
	m := Message{
		Stream:    cur.stream,
		SSN:       cur.ssn,
		PPID:      cur.ppid,
		TSN:       cur.first,
		Unordered: cur.unordered,
		Data:      make([]byte, 0, cur.bytes),
	}
	for _, b := range cur.frags {
		m.Data = append(m.Data, b...)
		r.pool.put(b)
	}
	r.recycleRun(cur)
	return r.deliver(m)
}

func (r *Reassembler) newRun(f *Fragment, buf []byte) *run {
	var c *run
	if k := len(r.freeRuns); k > 0 {
		c = r.freeRuns[k-1]
		r.freeRuns = r.freeRuns[:k-1]
	} else {
		c = &run{}
	}
	*c = run{
		first:     f.TSN,
		last:      f.TSN,
		begins:    f.Beginning,
		ends:      f.Ending,
		stream:    f.Stream,
		ssn:       f.SSN,
		unordered: f.Unordered,
		bytes:     len(f.Payload),
		frags:     append(c.frags[:0], buf),
	}
	if f.Beginning {
		c.ppid = f.PPID
	}
	return c
}

// maxFreeRuns bounds the recycled run headers; a few cover the runs open at
// once under ordinary loss.
const maxFreeRuns = 16

func (r *Reassembler) recycleRun(c *run) {
	clear(c.frags) // buffers went to the message or the pool
	c.frags = c.frags[:0]
	if len(r.freeRuns) < maxFreeRuns {
		r.freeRuns = append(r.freeRuns, c)
	}
}

func (r *Reassembler) removeRun(i int) {
	n := copy(r.runs[i:], r.runs[i+1:])
	r.runs[i+n] = nil
	r.runs = r.runs[:i+n]
}

// dropRun discards run i and its fragments.
func (r *Reassembler) dropRun(i int) {
	c := r.runs[i]
	for _, b := range c.frags {
		r.pool.put(b)
	}
	r.buffered -= c.bytes
	r.held -= len(c.frags)
	r.removeRun(i)
	r.recycleRun(c)
}

// Abandon applies a FORWARD TSN (RFC 3758 3.6) after the TSN tracker moved
// its cumulative ack point to newCumTSN:
//
//   - incomplete messages missing a TSN at or below newCumTSN are dropped:
//     that TSN will never come;
//   - on each listed stream, ordered messages up to the skipped SSN that are
//     complete and waiting become ready (the abandoned ones before them will
//     not arrive), the stream's next SSN moves past the skipped one, and
//     messages that follow without a hole become ready too.
//
// Entries for streams beyond InStreams, and entries whose SSN lies behind the
// stream's next SSN (serial arithmetic, RFC 1982), are out of date and
// ignored. It does nothing on an association that negotiated I-DATA; see
// AbandonIData.
func (r *Reassembler) Abandon(newCumTSN uint32, streams []SkippedStream) {
	if r.interleaving {
		return
	}
	// A run lacking B misses the TSN just below its first; one lacking E
	// misses the TSN just above its last. Runs are sorted, so only those
	// starting at or below newCumTSN+1 can miss a TSN at or below it.
	keep := r.runs[:0]
	for k, c := range r.runs {
		if after(c.first, newCumTSN+1) {
			keep = append(keep, r.runs[k:]...)
			break
		}
		if !c.begins || (!c.ends && after(newCumTSN, c.last)) {
			for _, b := range c.frags {
				r.pool.put(b)
			}
			r.buffered -= c.bytes
			r.held -= len(c.frags)
			r.recycleRun(c)
			continue
		}
		keep = append(keep, c)
	}
	clear(r.runs[len(keep):])
	r.runs = keep

	for _, e := range streams {
		if int(e.Stream) >= r.inStreams {
			continue
		}
		st := r.stream(e.Stream)
		ahead := e.SSN - uint16(st.next)
		if ahead >= 1<<15 {
			continue // behind next: already skipped or delivered
		}
		r.skipTo(st, uint32(ahead))
		st.next = uint32(e.SSN + 1)
		r.release(st)
	}
}

// skipTo makes the waiting messages at most `ahead` beyond next ready, in
// order: they are the stranded data RFC 3758 3.6 delivers at once. The
// caller then moves next.
func (r *Reassembler) skipTo(st *inStream, ahead uint32) {
	w := st.waiting
	k := 0
	for k < len(w) && r.dist(r.seq(&w[k]), st.next) <= ahead {
		r.ready.push(w[k])
		k++
	}
	st.waiting = dropFront(w, k)
}
