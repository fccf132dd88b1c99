// Package reassembly turns the user data fragments an association receives
// into whole user messages, in the order the user may read them (RFC 9260 6.5,
// 6.6, 6.9; I-DATA of RFC 8260 2.1).
//
// The engine feeds it every DATA chunk whose TSN the receive TSN tracker
// (package rxtsn) found fresh, and pops complete messages for the user.
// Reassembly runs in two stages:
//
//   - assembly: fragments are collected until a message is complete. With
//     DATA chunks the fragments of a message carry consecutive TSNs (6.9), so
//     incomplete messages are kept as runs of consecutive TSNs; with I-DATA
//     they are keyed by stream, U bit and Message Identifier, and ordered by
//     Fragment Sequence Number.
//   - ordering: a complete unordered message is ready at once (6.6); an
//     ordered one waits on its stream until every earlier Stream Sequence
//     Number (or MID) was delivered. Streams are independent: a missing
//     message on one stream never holds back another.
//
// Buffered counts the payload bytes held in both stages and in the ready
// queue, so that the engine can advertise a_rwnd = receive buffer -
// Buffered(): a user who stops reading closes the peer's window (6.2).
//
// A Reassembler is a plain data structure: no goroutines, clocks, I/O or
// locks, and it is not safe for concurrent use.
package reassembly

import (
	"errors"
	"fmt"
	"sort"

	"github.com/sctpgw/sctpgw/stack/internal/streamtab"
)

// DefaultMaxMessage is the largest user message accepted unless
// Config.MaxMessage says otherwise.
const DefaultMaxMessage = 256 << 10

// MaxStreams is the largest number of inbound streams: the INIT field that
// grants them has 16 bits (RFC 9260 3.3.2).
const MaxStreams = 0xFFFF

// Config describes the inbound side of one association.
type Config struct {
	// InStreams is the number of inbound streams negotiated in INIT / INIT
	// ACK (at most MaxStreams). Fragments on stream InStreams or above are
	// rejected with ErrInvalidStream.
	InStreams int
	// MaxMessage bounds the size of one user message in bytes; 0 selects
	// DefaultMaxMessage. Without partial delivery a message must fit the
	// receive buffer, so the engine should keep the buffer larger than this.
	MaxMessage int
	// Interleaving selects I-DATA (user message interleaving, RFC 8260),
	// negotiated for the whole association: fragments then come through
	// AddIData and AbandonIData instead of Add and Abandon.
	Interleaving bool
	// PoolBytes bounds the fragment buffers kept for reuse once a multi-
	// fragment message is assembled; 0 selects 128 KiB, a negative value
	// disables the pool. Single-fragment messages never use it.
	PoolBytes int
}

// Fragment is the user data of one DATA chunk (RFC 9260 3.3.1).
type Fragment struct {
	TSN       uint32
	Stream    uint16
	SSN       uint16
	PPID      uint32
	Unordered bool // U
	Beginning bool // B: first fragment of a message
	Ending    bool // E: last fragment of a message
	// Payload is copied: the caller may reuse it once Add returns.
	Payload []byte
}

// Message is a complete user message.
type Message struct {
	Stream uint16
	// SSN is the Stream Sequence Number (DATA only). For an unordered
	// message it is whatever the sender put there, which 6.6 says to ignore.
	SSN uint16
	// MID is the Message Identifier (I-DATA only).
	MID       uint32
	PPID      uint32
	TSN       uint32 // TSN of the first fragment
	Unordered bool
	// Data belongs to whoever popped the message.
	Data []byte
}

// SkippedStream is one stream entry of a FORWARD TSN chunk (RFC 3758 3.2): the
// largest Stream Sequence Number the sender abandoned on that stream.
type SkippedStream struct {
	Stream uint16
	SSN    uint16
}

var (
	// ErrInvalidStream: the fragment's stream is not an inbound stream. RFC
	// 9260 6.5: acknowledge the TSN, send an ERROR with cause "Invalid Stream
	// Identifier" (1) and discard the chunk. Nothing was buffered.
	ErrInvalidStream = errors.New("reassembly: invalid stream identifier")
	// ErrNoUserData: the fragment has no payload. RFC 9260 6.2 answers that
	// with an ABORT carrying cause "No User Data" (9). Nothing was buffered.
	ErrNoUserData = errors.New("reassembly: DATA chunk without user data")
	// ErrMessageTooLarge is matched (errors.Is) by *MessageTooLargeError.
	ErrMessageTooLarge = errors.New("reassembly: user message too large")
	// ErrProtocolViolation is matched (errors.Is) by *ViolationError: the
	// peer sent fragments that cannot belong to any valid sequence of
	// messages. The engine aborts with cause "Protocol Violation" (13).
	ErrProtocolViolation = errors.New("reassembly: protocol violation")
	// ErrDuplicateTSN: a fragment with this TSN is already held. The TSN
	// tracker filters duplicates before reassembly, so this means the caller
	// skipped it; the fragment is ignored.
	ErrDuplicateTSN = errors.New("reassembly: duplicate TSN")
	// ErrStale: an I-DATA fragment of a message already delivered or
	// abandoned by an I-FORWARD-TSN. A sender can legitimately have sent it
	// before giving up on its message (the new cumulative TSN need not cover
	// every fragment when messages interleave), so discard it: it is not a
	// violation.
	ErrStale = errors.New("reassembly: fragment of a delivered or abandoned message")
)

// MessageTooLargeError reports a message whose fragments exceed
// Config.MaxMessage. What was held of the message is dropped; the engine is
// expected to abort the association, with Error() as the reason.
type MessageTooLargeError struct {
	Stream uint16
	Size   int // bytes seen so far, already above Max
	Max    int
}

func (e *MessageTooLargeError) Error() string {
	return fmt.Sprintf("reassembly: message on stream %d exceeds %d bytes (%d received)", e.Stream, e.Max, e.Size)
}

func (e *MessageTooLargeError) Is(target error) bool { return target == ErrMessageTooLarge }

// ViolationError describes fragments that contradict RFC 9260 6.9 or RFC
// 8260 2.1. Error() is suitable as the Additional Information of a Protocol
// Violation cause.
type ViolationError struct {
	TSN    uint32
	Stream uint16
	Reason string
}

func (e *ViolationError) Error() string {
	return fmt.Sprintf("reassembly: TSN %d on stream %d: %s", e.TSN, e.Stream, e.Reason)
}

func (e *ViolationError) Is(target error) bool { return target == ErrProtocolViolation }

func violation(tsn uint32, stream uint16, reason string) error {
	return &ViolationError{TSN: tsn, Stream: stream, Reason: reason}
}

// inStream is the per-stream state, created when a stream is first used.
type inStream struct {
	// next is the SSN (DATA) or MID (I-DATA) of the next ordered message
	// to deliver on this stream.
	next uint32
	// waiting holds complete ordered messages beyond next, sorted by their
	// distance from next.
	waiting []Message
	// I-DATA messages under assembly, sorted by MID in serial order.
	ordered, unordered []*ipartial
	// unorderedFloor is the largest unordered MID an I-FORWARD-TSN
	// abandoned, valid once abandonedUnordered is set.
	unorderedFloor     uint32
	abandonedUnordered bool
}

// Reassembler collects the fragments of one association. The zero value is
// unusable; use New.
type Reassembler struct {
	inStreams    int
	maxMessage   int
	interleaving bool

	// streams holds the state of the streams that saw data (an association
	// may be granted 65535 and use a handful).
	streams streamtab.Table[inStream]

	// DATA mode: incomplete messages as runs of consecutive TSNs, sorted
	// by first TSN in serial order.
	runs     []*run
	freeRuns []*run
	// I-DATA mode: recycled partial messages.
	freePartials []*ipartial

	ready    msgQueue
	buffered int // payload bytes held
	held     int // fragments of incomplete messages plus complete messages
	pool     bufPool
}

// New returns an empty Reassembler. InStreams outside 0..MaxStreams is
// clamped.
func New(cfg Config) *Reassembler {
	r := &Reassembler{
		inStreams:    min(max(cfg.InStreams, 0), MaxStreams),
		maxMessage:   cfg.MaxMessage,
		interleaving: cfg.Interleaving,
	}
	if r.maxMessage <= 0 {
		r.maxMessage = DefaultMaxMessage
	}
	switch {
	case cfg.PoolBytes == 0:
		r.pool.limit = 128 << 10
	case cfg.PoolBytes > 0:
		r.pool.limit = cfg.PoolBytes
	}
	return r
}

// InStreams is the number of inbound streams.
func (r *Reassembler) InStreams() int { return r.inStreams }

// AddInStreams grows the number of inbound streams by n, after the peer's
// Add Outgoing Streams request (RFC 6525 5.2.5) was accepted. New streams
// start at SSN (or MID) 0.
func (r *Reassembler) AddInStreams(n int) error {
	if n < 0 || r.inStreams+n > MaxStreams {
		return fmt.Errorf("reassembly: cannot add %d streams to %d (limit %d)", n, r.inStreams, MaxStreams)
	}
	r.inStreams += n
	return nil
}

// ResetStreams restarts the listed inbound streams at SSN (or MID) 0, all of
// them when ids is empty (RFC 6525 5.2.2; with I-DATA both the ordered and
// the unordered MIDs restart, RFC 8260 2.3.2). The engine calls it once every
// TSN up to the sender's last assigned TSN has arrived, when no message of
// the old sequence can still be incomplete or waiting; if one is, the reset
// is refused with a *ViolationError and nothing changes. Identifiers beyond
// InStreams are ignored (the engine answers the request as denied).
func (r *Reassembler) ResetStreams(ids []uint16) error {
	busy := func(id uint16) bool {
		st := r.streams.Get(id)
		if st != nil && (len(st.waiting) > 0 || len(st.ordered) > 0 || len(st.unordered) > 0) {
			return true
		}
		for _, c := range r.runs {
			if c.stream == id {
				return true
			}
		}
		return false
	}
	if len(ids) == 0 {
		// Every stream: refused for the lowest one with something pending,
		// in the stream state or in an incomplete run.
		pending, found := uint16(0), false
		for id := range r.streams.All() {
			if busy(id) {
				pending, found = id, true
				break
			}
		}
		for _, c := range r.runs {
			if !found || c.stream < pending {
				pending, found = c.stream, true
			}
		}
		if found {
			return violation(0, pending, "stream reset with messages pending")
		}
		for _, st := range r.streams.All() {
			st.reset()
		}
		return nil
	}
	for _, id := range ids {
		if int(id) < r.inStreams && busy(id) {
			return violation(0, id, "stream reset with messages pending")
		}
	}
	for _, id := range ids {
		if st := r.streams.Get(id); st != nil {
			st.reset()
		}
	}
	return nil
}

// reset restarts the stream at SSN (or MID) 0.
func (st *inStream) reset() {
	st.next = 0
	st.abandonedUnordered = false // the old MIDs no longer exist
}

// stream returns the state of an inbound stream, creating it on first use.
// The caller has checked id < inStreams.
func (r *Reassembler) stream(id uint16) *inStream { return r.streams.GetOrNew(id) }

// Trim releases the buffers kept for reuse, for an association going idle or
// a process short of memory. Buffered data is untouched.
func (r *Reassembler) Trim() {
	r.pool.trim()
	r.freeRuns = nil
	r.freePartials = nil
}

// Buffered is the number of payload bytes held: fragments of incomplete
// messages, ordered messages waiting for an earlier one, and messages ready
// but not yet popped. It excludes the unused capacity of pooled buffers.
func (r *Reassembler) Buffered() int { return r.buffered }

// Held is the number of items Buffered counts the payload of: fragments of
// incomplete messages plus complete messages. Each costs bookkeeping and
// allocator rounding beyond its payload (on the order of 100 bytes), which
// Buffered leaves out; a peer sending tiny chunks can make memory exceed
// Buffered many times over. An engine that wants its receive buffer to bound
// memory can advertise a_rwnd = buffer - Buffered() - k*Held(), as
// usrsctp charges a fixed overhead per chunk.
func (r *Reassembler) Held() int { return r.held }

// Ready is the number of messages Pop would return.
func (r *Reassembler) Ready() int { return r.ready.n }

// Peek returns the next message without removing it. Its Data must not be
// modified.
func (r *Reassembler) Peek() (Message, bool) { return r.ready.peek() }

// Pop removes and returns the next message for the user: messages of one
// stream come in SSN (or MID) order for ordered delivery, and unordered
// messages come as soon as they are complete. Popping releases the message's
// bytes from Buffered.
func (r *Reassembler) Pop() (Message, bool) {
	m, ok := r.ready.pop()
	if ok {
		r.buffered -= len(m.Data)
		r.held--
	}
	return m, ok
}

// deliver passes a complete message to the ordering stage.
func (r *Reassembler) deliver(m Message) error {
	if m.Unordered {
		r.ready.push(m)
		return nil
	}
	st := r.stream(m.Stream)
	seq := r.seq(&m)
	if seq == st.next {
		r.ready.push(m)
		st.next = r.inc(st.next)
		if len(st.waiting) > 0 {
			r.release(st)
		}
		return nil
	}
	d := r.dist(seq, st.next)
	w := st.waiting
	i := sort.Search(len(w), func(i int) bool { return r.dist(r.seq(&w[i]), st.next) >= d })
	if i < len(w) && r.seq(&w[i]) == seq {
		// Two different messages with one sequence number: the data is
		// already counted, so uncount it before giving up on it.
		r.buffered -= len(m.Data)
		r.held--
		return violation(m.TSN, m.Stream, "two messages with the same stream sequence number")
	}
	st.waiting = append(st.waiting, Message{})
	copy(st.waiting[i+1:], st.waiting[i:])
	st.waiting[i] = m
	return nil
}

// release moves the waiting messages that follow next without a hole to the
// ready queue.
func (r *Reassembler) release(st *inStream) {
	w := st.waiting
	k := 0
	for k < len(w) && r.seq(&w[k]) == st.next {
		r.ready.push(w[k])
		st.next = r.inc(st.next)
		k++
	}
	st.waiting = dropFront(w, k)
}

// dropFront removes w[:k] with one copy, which keeps releasing a long run of
// messages linear, and clears the vacated tail so no Data stays reachable.
func dropFront(w []Message, k int) []Message {
	if k == 0 {
		return w
	}
	n := copy(w, w[k:])
	clear(w[n:])
	return w[:n]
}

// seq is the number that orders m on its stream.
func (r *Reassembler) seq(m *Message) uint32 {
	if r.interleaving {
		return m.MID
	}
	return uint32(m.SSN)
}

// inc is seq+1 with the wrap of the mode: 16 bits for SSNs (RFC 9260 6.5),
// 32 bits for MIDs.
func (r *Reassembler) inc(seq uint32) uint32 {
	if r.interleaving {
		return seq + 1
	}
	return uint32(uint16(seq + 1))
}

// dist is how far a is ahead of b. SSNs are compared unsigned, not with
// serial arithmetic: a sender may have up to 2^16-1 ordered messages of a
// stream in flight (RFC 9260 6.1), and every SSN a fresh TSN carries is at or
// beyond the next one expected.
func (r *Reassembler) dist(a, b uint32) uint32 {
	if r.interleaving {
		return a - b
	}
	return uint32(uint16(a - b))
}

// after reports a > b in 32-bit serial number arithmetic (RFC 1982), for
// TSNs and MIDs.
func after(a, b uint32) bool {
	d := a - b
	return d != 0 && d < 1<<31
}

// copyPayload makes the Data of a single-fragment message: exactly sized and
// owned by the message, so the pool is not involved.
func copyPayload(p []byte) []byte {
	b := make([]byte, len(p))
	copy(b, p)
	return b
}
