package reassembly

// msgQueue is a FIFO of messages in a ring whose size is a power of two. It
// grows by doubling and keeps up to keepQueue slots once emptied, so
// steady-state delivery does not allocate and an idle association does not
// hold what a burst needed.
type msgQueue struct {
	buf  []Message
	head int
	n    int
}

func (q *msgQueue) push(m Message) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = m
	q.n++
}

func (q *msgQueue) grow() {
	size := max(2*len(q.buf), 4)
	buf := make([]Message, size)
	// Unroll the ring so the head lands at 0.
	k := copy(buf, q.buf[q.head:])
	copy(buf[k:], q.buf[:q.head])
	q.buf, q.head = buf, 0
}

func (q *msgQueue) peek() (Message, bool) {
	if q.n == 0 {
		return Message{}, false
	}
	return q.buf[q.head], true
}

func (q *msgQueue) pop() (Message, bool) {
	if q.n == 0 {
		return Message{}, false
	}
	m := q.buf[q.head]
	q.buf[q.head] = Message{} // the user owns Data now; do not keep it alive
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	if q.n == 0 && len(q.buf) > keepQueue {
		q.buf, q.head = nil, 0
	}
	return m, true
}

// keepQueue is the most slots an emptied msgQueue keeps.
const keepQueue = 64
