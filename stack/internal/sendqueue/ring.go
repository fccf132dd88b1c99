package sendqueue

// ring is a growable FIFO over a power-of-two circular buffer. Once it has
// grown to its working size, push and popFront never allocate, which keeps
// the steady-state Push/Next path allocation-free.
type ring[T any] struct {
	buf  []T // len(buf) is zero or a power of two
	head int // index of the front element
	n    int // number of elements
}

const minRing = 4

func (r *ring[T]) len() int { return r.n }

// at returns the i-th element from the front; 0 <= i < r.n.
func (r *ring[T]) at(i int) *T { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

func (r *ring[T]) front() *T { return r.at(0) }

func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

// keepRing is the largest buffer an emptied stream queue keeps (trim):
// enough for the steady state of a request/response stream, so a queue that
// a burst grew gives its memory back once the burst is gone (an idle
// association holds little), while push and popFront stay allocation-free
// in steady state.
const keepRing = 64

// popFront removes the front element. Its slot is zeroed so that a message's
// Data is not kept reachable by the queue after it has left.
func (r *ring[T]) popFront() T {
	p := r.front()
	v := *p
	var zero T
	*p = zero
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return v
}

// trim lets the buffer of an empty ring go if a burst grew it beyond
// keepRing.
func (r *ring[T]) trim() {
	if r.n == 0 && len(r.buf) > keepRing {
		r.buf, r.head = nil, 0
	}
}

// removeAt deletes the i-th element, keeping the order of the others. It is
// O(n) and meant for rare operations, not the hot path.
func (r *ring[T]) removeAt(i int) {
	for j := i; j < r.n-1; j++ {
		*r.at(j) = *r.at(j + 1)
	}
	var zero T
	*r.at(r.n - 1) = zero
	r.n--
}

// release empties the ring and lets its buffer go.
func (r *ring[T]) release() { *r = ring[T]{} }

// reset empties the ring and keeps its buffer.
func (r *ring[T]) reset() {
	clear(r.buf)
	r.head, r.n = 0, 0
}

func (r *ring[T]) grow() {
	size := max(minRing, 2*len(r.buf))
	buf := make([]T, size)
	for i := 0; i < r.n; i++ {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
}
