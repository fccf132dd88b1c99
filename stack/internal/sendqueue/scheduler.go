package sendqueue

// Scheduler decides which outgoing stream's head message is sent next
// (RFC 8260 section 3, "Stream Schedulers").
//
// Without I-DATA (RFC 8260 section 2) the fragments of one user message must
// occupy consecutive TSNs (RFC 9260 6.9 step 2), so the Queue consults the
// scheduler only between messages: it calls Pick, hands out every fragment
// of the picked stream's head message, then calls Popped for that stream.
// A scheduler therefore chooses messages, never fragments.
//
// The Queue reports every message arrival (Pushed) and departure (Popped), so
// a scheduler can keep whatever per-stream state its policy needs: a set of
// non-empty streams (round-robin, priority), the global arrival order (FCFS),
// or per-message sizes (fair capacity, weighted fair queueing).
//
// A Scheduler instance belongs to one Queue. Like the Queue it is not safe
// for concurrent use.
type Scheduler interface {
	// Pushed reports that a message of size bytes was appended to stream's
	// queue, which now holds queued messages (so queued == 1 means the
	// stream has just become non-empty).
	Pushed(stream uint16, size, queued int)

	// Pick returns the stream whose head message goes next. The Queue calls
	// it only while at least one message is queued, and it must return a
	// stream that has one. Pick must not change the scheduler's state: the
	// decision takes effect with the Popped call that follows.
	Pick() uint16

	// Popped reports that the head message of stream (size bytes) left the
	// queue, and remaining messages are still queued on the stream. The
	// message was either handed out completely or dropped before its first
	// fragment (expired). Usually stream is the one Pick returned last, but
	// a scheduler should tolerate any non-empty stream, for operations that
	// drop a stream's messages out of turn (e.g. a future RFC 6525 reset).
	Popped(stream uint16, size, remaining int)

	// Reset forgets every stream: the Queue has been drained.
	Reset()
}

// RoundRobin is the Round Robin Scheduler of RFC 8260 section 3.2
// (SCTP_SS_RR) for DATA: it cycles through the non-empty streams, one whole
// user message per turn, so the share is fair in number of messages. Streams
// enter the cycle at the back in the order they become non-empty, which makes
// the order deterministic. The zero value is ready to use.
type RoundRobin struct {
	active ring[uint16] // non-empty streams; the front one has the turn
}

// Pushed adds a stream that has just become non-empty to the back of the
// cycle.
func (r *RoundRobin) Pushed(stream uint16, _, queued int) {
	if queued == 1 {
		r.active.push(stream)
	}
}

// Pick returns the stream whose turn it is.
func (r *RoundRobin) Pick() uint16 { return *r.active.front() }

// Popped ends the front stream's turn: it goes to the back of the cycle if it
// still has messages and leaves the cycle otherwise.
func (r *RoundRobin) Popped(stream uint16, _, remaining int) {
	if r.active.len() > 0 && *r.active.front() == stream {
		r.active.popFront()
		if remaining > 0 {
			r.active.push(stream)
		}
		return
	}
	// Out of turn: the stream keeps its place unless it is now empty.
	if remaining == 0 {
		for i := 0; i < r.active.len(); i++ {
			if *r.active.at(i) == stream {
				r.active.removeAt(i)
				return
			}
		}
	}
}

// Reset empties the cycle.
func (r *RoundRobin) Reset() { r.active.reset() }

// FCFS is the First Come First Served Scheduler of RFC 8260 section 3.1
// (SCTP_SS_FCFS): messages go out in the order the user sent them,
// regardless of stream. The zero value is ready to use.
type FCFS struct {
	order ring[uint16] // the stream of every queued message, in arrival order
}

// Pushed records the message's place in the arrival order.
func (f *FCFS) Pushed(stream uint16, _, _ int) { f.order.push(stream) }

// Pick returns the stream of the oldest queued message.
func (f *FCFS) Pick() uint16 { return *f.order.front() }

// Popped forgets the stream's oldest message. Messages of one stream leave
// in the order they arrived, so it is the stream's first entry.
func (f *FCFS) Popped(stream uint16, _, _ int) {
	for i := 0; i < f.order.len(); i++ {
		if *f.order.at(i) == stream {
			if i == 0 {
				f.order.popFront()
			} else {
				f.order.removeAt(i)
			}
			return
		}
	}
}

// Reset forgets every message.
func (f *FCFS) Reset() { f.order.reset() }
