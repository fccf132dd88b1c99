package reassembly

import "math/bits"

// Fragment copies are drawn from power-of-two size classes from 64 bytes to
// 64 KiB. A fragment is copied once on arrival and once more into the
// message when the last one arrives; recycling the first copies makes a
// multi-fragment message cost one allocation, its own Data.
const (
	minClassShift = 6
	maxClassShift = 16
	numClasses    = maxClassShift - minClassShift + 1
)

// bufPool keeps fragment buffers for reuse, up to limit bytes of capacity.
// It belongs to one Reassembler, so it needs no locking, and its memory goes
// away with the association.
type bufPool struct {
	free  [numClasses][][]byte
	bytes int // capacity held in free
	limit int // 0 disables pooling
}

// class is the size class whose buffers hold n bytes, -1 when n is beyond
// the largest.
func class(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minClassShift
	if c >= numClasses {
		return -1
	}
	return c
}

// get returns a buffer of length n, recycled when one of its class is free.
func (p *bufPool) get(n int) []byte {
	c := class(n)
	if c < 0 || p.limit == 0 {
		return make([]byte, n)
	}
	if k := len(p.free[c]); k > 0 {
		b := p.free[c][k-1]
		p.free[c][k-1] = nil
		p.free[c] = p.free[c][:k-1]
		p.bytes -= cap(b)
		return b[:n]
	}
	return make([]byte, n, 1<<(c+minClassShift))
}

// put offers a buffer from get back for reuse.
func (p *bufPool) put(b []byte) {
	c := class(cap(b))
	if c < 0 || cap(b) != 1<<(c+minClassShift) || p.bytes+cap(b) > p.limit {
		return
	}
	p.free[c] = append(p.free[c], b)
	p.bytes += cap(b)
}

// trim drops every pooled buffer.
func (p *bufPool) trim() {
	for c := range p.free {
		clear(p.free[c])
		p.free[c] = nil
	}
	p.bytes = 0
}
