// Package sendqueue holds the user messages of one association that wait to
// be sent, one FIFO per outgoing stream, and turns them into DATA chunk
// contents: it fragments (RFC 9260 6.9), assigns Stream Sequence Numbers
// (6.5, 6.6), picks the next stream with a pluggable Scheduler (RFC 8260
// section 3) and drops messages whose PR-SCTP lifetime ran out before they
// were started (RFC 3758).
//
// It knows nothing of TSNs, windows or retransmission: the association
// engine assigns a TSN to each Chunk it takes from Next and keeps the chunk
// until it is acknowledged.
//
// # The send buffer bound
//
// Config.MaxBuffered is the user-visible send buffer (SO_SNDBUF, the engine's
// SendBuffer). It covers every user byte the association still holds:
//
//	Used() = Buffered()    bytes queued here, not yet handed out by Next
//	       + Outstanding() bytes handed out by Next and not yet Released
//
// The engine calls Release(n) when it lets go of n payload bytes it took
// from Next: when they are cumulatively acknowledged (not merely covered by a
// gap block, which the peer may renege on), or abandoned (PR-SCTP FORWARD
// TSN). So the queue owns the bound and Push alone decides ErrFull; the
// engine needs no second check, only the Release calls.
//
// Push admits a message while Used()+len(Data) <= MaxBuffered, and also
// whenever the buffer is completely empty, so a message larger than the
// buffer (but within MaxMessage) is accepted once everything before it is
// gone instead of blocking forever. ErrFull is therefore always temporary:
// the caller waits for space and retries; nothing is ever dropped.
//
// Not safe for concurrent use: the engine serializes all calls.
package sendqueue

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/streamtab"
)

// Errors returned by Push and AddStreams. Callers branch on them with
// errors.Is.
var (
	// ErrFull: the send buffer bound would be exceeded. Retry after the
	// engine has handed out or released data.
	ErrFull = errors.New("sendqueue: send buffer full")
	// ErrInvalidStream: Stream >= the number of outgoing streams.
	ErrInvalidStream = errors.New("sendqueue: invalid stream identifier")
	// ErrTooLarge: the message exceeds Config.MaxMessage.
	ErrTooLarge = errors.New("sendqueue: message too large")
	// ErrEmpty: a DATA chunk must carry user data (RFC 9260 6.2 has the
	// receiver abort on "No User Data"), so an empty message cannot be sent.
	ErrEmpty = errors.New("sendqueue: empty message")
	// ErrTooManyStreams: AddStreams would exceed 65535 outgoing streams.
	ErrTooManyStreams = errors.New("sendqueue: more than 65535 streams")
)

// MaxStreams is the largest number of outgoing streams (16-bit stream
// identifiers, RFC 9260 3.3.1).
const MaxStreams = 1<<16 - 1

// DefaultMaxBuffered is the send buffer bound used when Config.MaxBuffered
// is zero.
const DefaultMaxBuffered = 1 << 20

// Config configures a Queue.
type Config struct {
	// OutStreams is the number of outgoing streams (the negotiated
	// min(our OS, peer MIS), RFC 9260 5.1.1), 0 to 65535.
	OutStreams int
	// MaxBuffered bounds Used() in bytes (see the package comment). Zero
	// means DefaultMaxBuffered.
	MaxBuffered int
	// MaxMessage is the largest message Push accepts, in bytes. Zero means
	// no limit beyond memory.
	MaxMessage int
	// Scheduler picks the next stream. Nil means a new RoundRobin. The
	// instance must not be shared with another Queue.
	Scheduler Scheduler
	// OnExpired, if set, is called from Next for every message dropped
	// because its Expiry passed before its first fragment was handed out, so
	// the engine can raise SEND_FAILED (RFC 6458 SCTP_SEND_FAILED_EVENT with
	// SCTP_DATA_UNSENT). It must not call Next or Drain.
	OnExpired func(Pending)
}

// Message is a user message to send.
type Message struct {
	Stream    uint16
	PPID      uint32 // payload protocol identifier, opaque to SCTP
	Unordered bool   // U flag: deliver without regard to SSN order (6.6)
	// Data is the user message. Push takes ownership: the caller must not
	// modify it afterwards, because chunks handed out by Next alias it.
	Data []byte
	// Context is opaque to the queue and returned with every Chunk and
	// Pending of the message (RFC 6458 sinfo_context), for SEND_FAILED.
	Context uint32
	// Expiry, if not zero, is the end of the message's PR-SCTP lifetime
	// (RFC 3758 timed reliability): the instant the runtime computed as
	// send time + lifetime. A message still unstarted at or after Expiry is
	// dropped and reported through Config.OnExpired. Once its first
	// fragment has been handed out, abandoning it is the engine's business
	// (FORWARD TSN).
	Expiry time.Time
}

// Chunk is the content of one DATA chunk, everything but the TSN.
type Chunk struct {
	Stream uint16
	// SSN is the stream sequence number, the same for every fragment of a
	// message (6.9 step 2). Unordered messages do not advance the stream's
	// sequence (6.5) and carry 0, a value the receiver ignores (6.6).
	SSN       uint16
	PPID      uint32
	Unordered bool
	Beginning bool // B: first fragment of the message
	Ending    bool // E: last fragment of the message
	// Payload is this fragment: a subslice of the message's Data, capacity
	// capped at its length so appending to it cannot touch the next
	// fragment.
	Payload []byte
	// Offset is the position of Payload within the message.
	Offset int
	// Message is the whole user message Payload belongs to, for reporting
	// a failed message with its data (SEND_FAILED).
	Message []byte
	// MessageID identifies the message within this Queue: unique, assigned
	// by Push in increasing order starting at 1. Fragments of one message
	// share it, and Pending reports carry it, so the engine can tell which
	// outstanding chunks and which drained message belong together.
	MessageID uint64
	Context   uint32
}

// Pending is a message that leaves the queue without having been handed out
// completely: dropped on expiry (Config.OnExpired) or drained (Drain).
type Pending struct {
	Message Message
	ID      uint64 // the MessageID its chunks carry
	// Sent is how many bytes of Message.Data Next had already handed out;
	// those fragments are in the engine's hands. Partial is Sent > 0, the
	// RFC 6458 SCTP_DATA_SENT case as opposed to SCTP_DATA_UNSENT.
	Sent    int
	Partial bool
}

// entry is a queued message with its identity.
type entry struct {
	msg Message
	id  uint64
}

// stream is the send state of one outgoing stream.
type stream struct {
	queue   ring[entry]
	nextSSN uint16 // the SSN of the next ordered message (6.5)
}

// Queue is the send queue of one association. Create it with New.
type Queue struct {
	maxBuffered int
	maxMessage  int
	sched       Scheduler
	onExpired   func(Pending)

	// streams holds the state of the streams used so far: an association
	// may have up to 65535 streams and use a handful.
	streams    streamtab.Table[stream]
	outStreams int

	buffered    int    // bytes queued, not yet handed out
	messages    int    // messages not yet handed out completely
	outstanding int    // bytes handed out, not yet released
	lastID      uint64 // MessageID of the newest message

	// The message being fragmented, which is the head of its stream's queue
	// until its last fragment has been handed out. While one is in progress
	// the scheduler is not consulted: no other message's fragment may come
	// between (6.9).
	inProgress bool
	curStream  uint16
	curOffset  int
	curSSN     uint16
}

// New returns an empty Queue. It panics if cfg.OutStreams is outside
// 0..MaxStreams or a size is negative: those are programming errors.
func New(cfg Config) *Queue {
	if cfg.OutStreams < 0 || cfg.OutStreams > MaxStreams {
		panic(fmt.Sprintf("sendqueue: OutStreams %d outside 0..%d", cfg.OutStreams, MaxStreams))
	}
	if cfg.MaxBuffered < 0 || cfg.MaxMessage < 0 {
		panic(fmt.Sprintf("sendqueue: negative MaxBuffered %d or MaxMessage %d", cfg.MaxBuffered, cfg.MaxMessage))
	}
	q := &Queue{
		maxBuffered: cfg.MaxBuffered,
		maxMessage:  cfg.MaxMessage,
		sched:       cfg.Scheduler,
		onExpired:   cfg.OnExpired,
		outStreams:  cfg.OutStreams,
	}
	if q.maxBuffered == 0 {
		q.maxBuffered = DefaultMaxBuffered
	}
	if q.sched == nil {
		q.sched = &RoundRobin{}
	}
	return q
}

// Push queues m at the tail of its stream. See the package comment for when
// it returns ErrFull.
func (q *Queue) Push(m Message) error {
	size := len(m.Data)
	switch {
	case int(m.Stream) >= q.outStreams:
		return ErrInvalidStream
	case size == 0:
		return ErrEmpty
	case q.maxMessage > 0 && size > q.maxMessage:
		return ErrTooLarge
	}
	if used := q.Used(); used > 0 && used+size > q.maxBuffered {
		return ErrFull
	}
	st := q.streams.GetOrNew(m.Stream)
	q.lastID++
	st.queue.push(entry{msg: m, id: q.lastID})
	q.buffered += size
	q.messages++
	q.sched.Pushed(m.Stream, size, st.queue.len())
	return nil
}

// Next hands out the next DATA chunk content, at most maxPayload bytes of
// user data (the engine's fragmentation point, or less to fill the rest of
// a packet: a message longer than maxPayload is fragmented there). It
// returns false when nothing is queued or maxPayload < 1.
//
// Once a message's first fragment has been handed out, every following call
// continues that message until its Ending fragment, so consecutive TSNs
// assigned in call order satisfy 6.9. Messages whose Expiry is not after now
// are dropped when their turn comes, before any fragment is produced, and
// reported to Config.OnExpired.
func (q *Queue) Next(maxPayload int, now time.Time) (Chunk, bool) {
	if maxPayload < 1 || (!q.inProgress && !q.start(now)) {
		return Chunk{}, false
	}
	st := q.streams.Get(q.curStream)
	e := st.queue.front()
	data := e.msg.Data
	off := q.curOffset
	end := off + min(len(data)-off, maxPayload)
	c := Chunk{
		Stream:    q.curStream,
		SSN:       q.curSSN,
		PPID:      e.msg.PPID,
		Unordered: e.msg.Unordered,
		Beginning: off == 0,
		Ending:    end == len(data),
		Payload:   data[off:end:end],
		Offset:    off,
		Message:   data,
		MessageID: e.id,
		Context:   e.msg.Context,
	}
	n := end - off
	q.curOffset = end
	q.buffered -= n
	q.outstanding += n
	if c.Ending {
		st.queue.popFront()
		st.queue.trim()
		q.messages--
		q.inProgress = false
		q.sched.Popped(q.curStream, len(data), st.queue.len())
	}
	return c, true
}

// start makes the scheduler's choice the message in progress, assigning its
// SSN, after dropping expired messages in the way. It reports false when
// nothing is left.
func (q *Queue) start(now time.Time) bool {
	for q.messages > 0 {
		s := q.sched.Pick()
		st := q.streams.Get(s)
		if st == nil || st.queue.len() == 0 {
			panic(fmt.Sprintf("sendqueue: scheduler picked stream %d, which has nothing queued", s))
		}
		e := st.queue.front()
		if exp := e.msg.Expiry; !exp.IsZero() && !now.Before(exp) {
			dropped := st.queue.popFront()
			st.queue.trim()
			size := len(dropped.msg.Data)
			q.buffered -= size
			q.messages--
			q.sched.Popped(s, size, st.queue.len())
			if q.onExpired != nil {
				q.onExpired(Pending{Message: dropped.msg, ID: dropped.id})
			}
			continue
		}
		q.inProgress = true
		q.curStream = s
		q.curOffset = 0
		q.curSSN = 0
		if !e.msg.Unordered {
			// 6.5: +1 per ordered message, 65535 wraps to 0 (uint16
			// arithmetic); assigned now, when the first fragment goes.
			q.curSSN = st.nextSSN
			st.nextSSN++
		}
		return true
	}
	return false
}

// Drain empties the queue and returns every message not yet handed out
// completely, for SEND_FAILED when the association ends: the message in
// progress first (Partial, its handed-out fragments being the engine's to
// report), then the others in the order they were pushed. Streams keep
// their SSN counters; Outstanding is not touched. Nil if nothing was queued.
func (q *Queue) Drain() []Pending {
	if q.messages == 0 {
		return nil
	}
	out := make([]Pending, 0, q.messages)
	if q.inProgress {
		e := q.streams.Get(q.curStream).queue.popFront()
		out = append(out, Pending{Message: e.msg, ID: e.id, Sent: q.curOffset, Partial: true})
		q.inProgress = false
	}
	first := len(out)
	for _, st := range q.streams.All() {
		for i := 0; i < st.queue.len(); i++ {
			e := st.queue.at(i)
			out = append(out, Pending{Message: e.msg, ID: e.id})
		}
		st.queue.release()
	}
	rest := out[first:]
	slices.SortFunc(rest, func(a, b Pending) int { return cmp.Compare(a.ID, b.ID) })
	q.buffered, q.messages = 0, 0
	q.sched.Reset()
	return out
}

// Release returns n payload bytes that the engine took from Next and no
// longer holds (cumulatively acknowledged or abandoned) to the send buffer.
// It panics if more is released than was handed out: that is an accounting
// bug in the caller.
func (q *Queue) Release(n int) {
	if n < 0 || n > q.outstanding {
		panic(fmt.Sprintf("sendqueue: Release(%d) with %d bytes outstanding", n, q.outstanding))
	}
	q.outstanding -= n
}

// AddStreams adds n outgoing streams after the existing ones (RFC 6525 Add
// Outgoing Streams Request); their SSNs start at 0.
func (q *Queue) AddStreams(n int) error {
	if n < 0 || q.outStreams+n > MaxStreams {
		return ErrTooManyStreams
	}
	q.outStreams += n
	return nil
}

// OutStreams is the number of outgoing streams.
func (q *Queue) OutStreams() int { return q.outStreams }

// Buffered is the number of user bytes queued and not yet handed out by
// Next (the rest of a partly fragmented message included). Zero means Next
// has nothing to give.
func (q *Queue) Buffered() int { return q.buffered }

// BufferedMessages is the number of messages not yet handed out completely.
func (q *Queue) BufferedMessages() int { return q.messages }

// Outstanding is the number of bytes handed out by Next and not yet
// Released.
func (q *Queue) Outstanding() int { return q.outstanding }

// Used is Buffered plus Outstanding: what the send buffer bound applies to.
func (q *Queue) Used() int { return q.buffered + q.outstanding }

// Available is how many more bytes the bound admits now (never negative).
// A runtime can announce "writable" when it rises above zero again.
func (q *Queue) Available() int { return max(0, q.maxBuffered-q.Used()) }

// MaxBuffered is the send buffer bound in effect.
func (q *Queue) MaxBuffered() int { return q.maxBuffered }

// NextSSN is the SSN the next ordered message on stream will get; 0 for a
// stream out of range.
func (q *Queue) NextSSN(stream uint16) uint16 {
	if st := q.streams.Get(stream); st != nil && int(stream) < q.outStreams {
		return st.nextSSN
	}
	return 0
}
