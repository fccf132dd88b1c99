// Package memlink is an in-memory link.Link pair: what one end writes the
// other reads, in order, with no loss. Runtime tests and benchmarks use it to
// exercise the real goroutines and batching without sockets.
package memlink

import (
	"net/netip"
	"sync"

	"github.com/sctpgw/sctpgw/stack/link"
)

// End is one side of a pair.
type End struct {
	kind   link.Kind
	local  netip.Addr
	port   uint16 // our UDP port, as the peer sees it
	peer   *End
	mu     sync.Mutex
	cond   *sync.Cond
	queue  [][]byte // queue[head:] waits to be read
	head   int
	free   [][]byte
	closed bool
	// QueueLimit bounds packets waiting to be read; beyond it writes drop,
	// as a full socket buffer would. 0 means 4096.
	QueueLimit int
}

// Pair makes two connected ends with the given addresses.
func Pair(kind link.Kind, a, b netip.Addr) (*End, *End) {
	ea := &End{kind: kind, local: a, port: 9899}
	eb := &End{kind: kind, local: b, port: 9899}
	if kind == link.UDP {
		ea.port = 40000
	}
	ea.peer, eb.peer = eb, ea
	ea.cond = sync.NewCond(&ea.mu)
	eb.cond = sync.NewCond(&eb.mu)
	return ea, eb
}

func (e *End) Kind() link.Kind          { return e.kind }
func (e *End) LocalAddrs() []netip.Addr { return []netip.Addr{e.local} }

var _ link.AddrBinder = (*End)(nil)

// BoundAddrs: an End receives on its one address only (link.AddrBinder).
func (e *End) BoundAddrs() []netip.Addr { return []netip.Addr{e.local} }
func (e *End) Overhead(remote netip.Addr) int {
	n := link.IPOverhead(remote)
	if e.kind == link.UDP {
		n += 8
	}
	return n
}

// ReadBatch waits for at least one packet and returns as many as fit.
func (e *End) ReadBatch(pkts []link.Packet) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.queue) == e.head && !e.closed {
		e.cond.Wait()
	}
	if e.closed {
		return 0, link.ErrClosed
	}
	n := 0
	for n < len(pkts) && e.head < len(e.queue) {
		b := e.queue[e.head]
		e.queue[e.head] = nil
		e.head++
		pkts[n].Buf = append(pkts[n].Buf[:0], b...)
		pkts[n].Path = link.Path{Local: e.local, Remote: e.peer.local}
		if e.kind == link.UDP {
			pkts[n].Path.RemotePort = e.peer.port
		}
		pkts[n].Notice, pkts[n].MTU, pkts[n].Fragment = link.NoticeNone, 0, false
		e.free = append(e.free, b[:0])
		n++
	}
	if e.head == len(e.queue) {
		// Empty: reuse the backing array from the start.
		e.queue, e.head = e.queue[:0], 0
	}
	return n, nil
}

// WriteBatch hands packets to the peer's queue. The pipe has no MTU, so
// every packet arrives whole and link.Packet.Fragment needs nothing.
func (e *End) WriteBatch(pkts []link.Packet) (int, error) {
	// Never hold both ends' locks: two ends writing at once would deadlock.
	if e.isClosed() {
		return 0, link.ErrClosed
	}
	p := e.peer
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, link.ErrClosed
	}
	limit := p.QueueLimit
	if limit == 0 {
		limit = 4096
	}
	if p.head > 0 && p.head >= len(p.queue)/2 {
		// Drop the read prefix before growing past it.
		k := copy(p.queue, p.queue[p.head:])
		clear(p.queue[k:])
		p.queue, p.head = p.queue[:k], 0
	}
	for _, pk := range pkts {
		if len(p.queue)-p.head >= limit {
			continue // a full receive buffer drops, like a socket's
		}
		var b []byte
		if n := len(p.free); n > 0 {
			b, p.free = p.free[n-1], p.free[:n-1]
		}
		p.queue = append(p.queue, append(b, pk.Buf...))
	}
	p.cond.Signal()
	return len(pkts), nil
}

func (e *End) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// Close unblocks readers of this end.
func (e *End) Close() error {
	e.mu.Lock()
	e.closed = true
	e.cond.Broadcast()
	e.mu.Unlock()
	return nil
}
