//go:build linux

package udpencap

import (
	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

// UDP generic receive offload (UDP_GRO, Linux 5.0): the kernel may hand
// the socket several datagrams of one flow as one, with their size in a
// UDP_GRO control message: a GSO super-datagram that came whole over a
// veth or loopback (gso_linux.go), or what a NIC's GRO merged. One receive
// then moves up to 64 packets and the kernel queues one buffer instead of
// one per datagram. The link cuts it back into packets: the first stays
// in the buffer it was read into, the others are copied into the batch's
// free slots, in order; what does not fit the batch waits in the link
// (carry) for the next ReadBatch, which returns it without a system call.

// udpGRO is UDP_GRO (linux/udp.h), at level solUDP.
const udpGRO = 104

// enableGRO asks for coalesced datagrams (Config.GRO); where the kernel
// cannot, it cuts super-datagrams into datagrams itself, as without.
func (b *batchIO) enableGRO() {
	b.rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), solUDP, udpGRO, 1) == nil {
			b.gro = true
		}
	})
}

// segments is how many packets a datagram of n bytes cut every seg bytes
// holds.
func segments(n, seg int) int {
	if seg <= 0 || n <= seg {
		return 1
	}
	return (n + seg - 1) / seg
}

// carried is one coalesced datagram (or a plain one behind it) kept for the
// next ReadBatch: its bytes in carry.buf[off:off+n], cut every seg.
type carried struct {
	path    link.Path
	off, n  int
	seg     int
	arrived int64
}

// carry holds what a batch had no slot for, in arrival order.
type carry struct {
	buf  []byte
	msgs []carried
	next int // first message not fully delivered
	pos  int // bytes of msgs[next] delivered
}

func (c *carry) pending() bool { return c.next < len(c.msgs) }

func (c *carry) add(p link.Path, data []byte, seg int, arrived int64) {
	c.msgs = append(c.msgs, carried{path: p, off: len(c.buf), n: len(data), seg: seg, arrived: arrived})
	c.buf = append(c.buf, data...)
}

// deliver copies carried packets into pkts and returns how many; a packet
// larger than its slot's buffer is dropped and counted as truncated.
func (c *carry) deliver(pkts []link.Packet, st *counters) int {
	m := 0
	for m < len(pkts) && c.pending() {
		cm := &c.msgs[c.next]
		size := cm.n - c.pos
		if cm.seg > 0 {
			size = min(size, cm.seg)
		}
		data := c.buf[cm.off+c.pos : cm.off+c.pos+size]
		c.pos += size
		if c.pos >= cm.n {
			c.next, c.pos = c.next+1, 0
		}
		p := &pkts[m]
		if cap(p.Buf) < size {
			st.rxTruncated.Add(1)
			continue
		}
		p.Buf = append(p.Buf[:0], data...)
		p.Path, p.Notice, p.MTU, p.Arrived = cm.path, link.NoticeNone, 0, cm.arrived
		m++
	}
	if !c.pending() {
		c.buf, c.msgs, c.next, c.pos = c.buf[:0], c.msgs[:0], 0, 0
	}
	return m
}

// expand cuts the coalesced datagrams among the first m packets of pkts
// (their segment sizes in segs) into packets, in order, and returns how
// many packets pkts now holds. Working from the last datagram back, each
// goes to the slots after the packets of those before it: its own buffer
// is swapped to its first slot, its other segments copied into the next
// slots, whose buffers are free by then (every datagram behind it has
// moved further back, and slots past m held nothing). Datagrams whose
// packets would not fit are carried to the next call.
func (b *batchIO) expand(pkts []link.Packet, m int, segs []int) int {
	total, cut, coalesced := 0, m, 0
	for i := 0; i < m; i++ {
		if k := segments(len(pkts[i].Buf), segs[i]); k > 1 {
			coalesced += k
		}
	}
	b.stats.rxGRO.Add(uint64(coalesced))
	for i := 0; i < m; i++ {
		k := segments(len(pkts[i].Buf), segs[i])
		if total+k > len(pkts) {
			cut = i
			break
		}
		total += k
	}
	c := &b.rx.carry
	for i := cut; i < m; i++ {
		c.add(pkts[i].Path, pkts[i].Buf, segs[i], pkts[i].Arrived)
	}
	pos := total
	for i := cut - 1; i >= 0; i-- {
		n, seg := len(pkts[i].Buf), segs[i]
		k := segments(n, seg)
		start := pos - k
		if start != i {
			pkts[start], pkts[i] = pkts[i], pkts[start]
		}
		src := pkts[start].Buf
		for s := 1; s < k; s++ {
			d := &pkts[start+s]
			seg := src[s*seg : min((s+1)*seg, n)]
			d.Buf = append(d.Buf[:0], seg...)
			d.Path, d.Notice, d.MTU = pkts[start].Path, link.NoticeNone, 0
			d.Arrived = pkts[start].Arrived
		}
		if k > 1 {
			pkts[start].Buf = src[:seg]
		}
		pos = start
	}
	if cut == 0 && c.pending() {
		// Not even the first fits: the batch starts from the carry.
		return c.deliver(pkts, b.stats)
	}
	return total
}
