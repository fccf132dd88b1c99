package stack

import "github.com/sctpgw/sctpgw/stack/engine"

// eventClass orders notifications by how much an application needs each
// when its queue has no room for all of them (see Assoc.Events).
type eventClass uint8

const (
	// classDry: SENDER_DRY. Only the latest says anything (everything
	// sent so far is acknowledged), so at most one waits in the queue.
	classDry eventClass = iota
	// classPeerError: REMOTE_ERROR. The peer decides how many ERROR
	// chunks it sends, so a flood of them must not crowd out what the
	// stack itself reports.
	classPeerError
	// classChange: PEER_ADDR_CHANGE, SEND_FAILED, RESTART,
	// AUTHENTICATION_EVENT: a change of the association the application
	// cannot learn otherwise (SEND_FAILED hands back the messages).
	classChange
	// classOnce: COMM_UP, SHUTDOWN_EVENT and the final event (COMM_LOST,
	// SHUTDOWN_COMP, CANT_STR_ASSOC), each at most once: never dropped.
	classOnce
	numEventClasses
)

func classOf(t engine.EventType) eventClass {
	switch t {
	case engine.SenderDry:
		return classDry
	case engine.RemoteError:
		return classPeerError
	case engine.CommUp, engine.ShutdownEvent, engine.CommLost, engine.ShutdownComp, engine.CantStartAssoc:
		return classOnce
	}
	return classChange
}

func isFinal(t engine.EventType) bool {
	return t == engine.CommLost || t == engine.ShutdownComp || t == engine.CantStartAssoc
}

// eventQueue is an association's bounded notification queue. The channel
// is the queue itself, so that Events hands it to the application as it
// is and a reader needs no goroutine of ours: only push sends, under the
// Stack's lock, and never blocks; readers receive from ch without it.
//
// Since readers take events without the lock, nothing can be taken out
// of the middle of the queue without a reader seeing events out of order
// (one that receives while the queue is rebuilt gets a later event before
// the earlier ones put back). So the policy decides when an event comes,
// by the room left and by what waits:
//
//   - a SENDER_DRY goes in only when none waits: it says no more than the
//     one waiting, which the reader will read after the sender was last
//     dry, so at most one slot ever holds a SENDER_DRY;
//   - the less important an event, the more room it needs
//     (classRoom), so that what fills the queue while the reader lags is
//     the events that matter, and the last slots are left to those never
//     dropped.
//
// What waits is known without looking: events leave ch in the order they
// went in, so of the put events ever sent the first put-len(ch) were read,
// and an event of class c waits while the newest one, number latest[c]-1,
// is not among them. (A reader may take it meanwhile; a SENDER_DRY
// dropped then is one the reader is reading the news of.)
type eventQueue struct {
	ch      chan Event
	put     uint64
	latest  [numEventClasses]uint64
	dropped uint64
	closed  bool
}

func newEventQueue(size int) eventQueue {
	return eventQueue{ch: make(chan Event, size)}
}

// waiting reports whether an event of class c is in the queue.
func (q *eventQueue) waiting(c eventClass) bool {
	return q.latest[c] > q.put-uint64(len(q.ch))
}

// room is how many free slots an event of type t needs to be queued. The
// final event needs one, COMM_UP and SHUTDOWN_EVENT two (the final one's
// stays free), PEER_ADDR_CHANGE, SEND_FAILED, RESTART,
// AUTHENTICATION_EVENT and SENDER_DRY three (those two stay free), and a
// REMOTE_ERROR goes in only while the queue is less than half full.
func (q *eventQueue) room(t engine.EventType) int {
	switch classOf(t) {
	case classOnce:
		if isFinal(t) {
			return 1
		}
		return 2
	case classPeerError:
		return max(3, cap(q.ch)/2+1)
	}
	return 3
}

// push queues ev without blocking, or drops it (counted unless it is a
// SENDER_DRY while one waits), by the policy above. The channel is closed
// after the final event.
func (q *eventQueue) push(ev Event) {
	if q.closed {
		return
	}
	c := classOf(ev.Type)
	switch {
	case c == classDry && q.waiting(classDry):
	case cap(q.ch)-len(q.ch) >= q.room(ev.Type): // only we send: room only grows meanwhile
		q.ch <- ev
		q.put++
		q.latest[c] = q.put
	default:
		q.dropped++
	}
	if isFinal(ev.Type) {
		q.closed = true
		close(q.ch)
	}
}
