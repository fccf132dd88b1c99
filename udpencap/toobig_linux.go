//go:build linux

package udpencap

import (
	"net/netip"
	"sync"

	"github.com/sctpgw/sctpgw/stack/link"
)

// A datagram larger than the outgoing interface's MTU fails in sendmmsg with
// EMSGSIZE, and the kernel queues a local error carrying that MTU, but no
// quote of the packet and no port (ip_local_error). An ICMP-less notice
// would be useless: the engine identifies the association, and checks the
// verification tag, from the quoted SCTP common header. So the writer, which
// has the packet, hands its path and first bytes to the reader, which pairs
// them with the kernel's entry and delivers one NoticeFragNeeded as if the
// interface had sent "fragmentation needed". This matters on tunnels
// (WireGuard 1420, IPsec, GRE) whose MTU is below the engine's initial path
// MTU.

// tooBigQuote is how much of a refused packet the notice quotes: the common
// header (all the engine reads) and the first chunk's header, with room.
const tooBigQuote = 64

// tooBigDepth bounds each side's backlog; older entries give way. A lost
// pairing costs one more retransmission of the oversized packet.
const tooBigDepth = 8

type tooBigEntry struct {
	path  link.Path
	n     int
	quote [tooBigQuote]byte
}

// tooBigQueue is written by the WriteBatch goroutine and read by the
// ReadBatch goroutine.
type tooBigQueue struct {
	mu sync.Mutex
	e  [tooBigDepth]tooBigEntry
	n  int
}

// push records a packet the kernel refused as too big.
func (q *tooBigQueue) push(path link.Path, pkt []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == len(q.e) {
		copy(q.e[:], q.e[1:])
		q.n--
	}
	e := &q.e[q.n]
	e.path = path
	e.n = copy(e.quote[:], pkt)
	q.n++
}

// take removes and returns the oldest entry sent to remote.
func (q *tooBigQueue) take(remote netip.Addr) (tooBigEntry, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := 0; i < q.n; i++ {
		if q.e[i].path.Remote.Unmap() == remote {
			e := q.e[i]
			copy(q.e[i:], q.e[i+1:q.n])
			q.n--
			return e, true
		}
	}
	return tooBigEntry{}, false
}

// localMTU is a kernel local error not yet paired with its packet: the
// reader can see it before the writer, back from sendmmsg, has pushed the
// packet.
type localMTU struct {
	remote netip.Addr
	mtu    int
}

// orphans is the reader's backlog of unpaired local errors.
type orphans struct {
	e [tooBigDepth]localMTU
	n int
}

func (o *orphans) add(remote netip.Addr, mtu int) {
	if o.n == len(o.e) {
		copy(o.e[:], o.e[1:])
		o.n--
	}
	o.e[o.n] = localMTU{remote, mtu}
	o.n++
}

// notice fills p with the notice for a refused packet.
func (e *tooBigEntry) notice(p *link.Packet, mtu int) {
	buf := p.Buf[:cap(p.Buf)]
	n := copy(buf, e.quote[:e.n])
	*p = link.Packet{Path: e.path, Buf: buf[:n], Notice: link.NoticeFragNeeded, MTU: mtu}
}

// pairOrphans delivers the notices whose packet has arrived since their
// local error was read, into pkts; it returns how many it filled.
func (b *batchIO) pairOrphans(pkts []link.Packet) int {
	o := &b.rx.orphans
	m := 0
	for i := 0; i < o.n && m < len(pkts); {
		e, ok := b.tooBig.take(o.e[i].remote)
		if !ok {
			i++
			continue
		}
		e.notice(&pkts[m], o.e[i].mtu)
		m++
		copy(o.e[i:], o.e[i+1:o.n])
		o.n--
	}
	return m
}
