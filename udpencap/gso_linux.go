//go:build linux

package udpencap

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

// UDP generic segmentation offload (UDP_SEGMENT, Linux 4.18): packets of
// one size to one peer leave in one sendmmsg message, a super-datagram of
// up to gsoMaxSegs segments that the kernel (or the NIC) cuts into
// datagrams after the whole stack has handled it once. Over a veth, a
// bridge or loopback the super-datagram travels whole to the receiving
// socket: per packet the kernel then does a fraction of the routing,
// netfilter and queueing it did for each datagram.
const (
	// gsoMaxSegs is UDP_MAX_SEGMENTS of the kernels that introduced
	// UDP_SEGMENT (later ones allow more).
	gsoMaxSegs = 64
	// gsoMaxBytes keeps a super-datagram within one IP datagram's payload
	// (65535 less IPv6's 40-byte header and UDP's 8).
	gsoMaxBytes = 65535 - 40 - udpHeaderLen
	// solUDP and udpSegment: SOL_UDP, UDP_SEGMENT (linux/udp.h).
	solUDP     = 17
	udpSegment = 103
)

// errGSORefused: the kernel refused a super-datagram; writeBatch sends its
// packets again one datagram each.
var errGSORefused = errors.New("udpencap: UDP GSO refused")

// enableGSO turns GSO on (Config.GSO) if the kernel has it; setting
// UDP_SEGMENT to 0 on the socket asks without changing anything (0: a
// segment size per message).
func (b *batchIO) enableGSO() {
	b.rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), solUDP, udpSegment, 0) == nil {
			b.gso.Store(true)
		}
	})
}

// gsoRun is how many packets from pkts[i] on can go as one super-datagram:
// the same path, none to fragment, each as large as the first but the last,
// which may be smaller, at most gsoMaxSegs and gsoMaxBytes in all. 1 means
// pkts[i] goes alone.
func gsoRun(pkts []link.Packet, i int) int {
	p := &pkts[i]
	size := len(p.Buf)
	if p.Fragment || size == 0 {
		return 1
	}
	total, j := size, i+1
	for ; j < len(pkts) && j-i < gsoMaxSegs; j++ {
		q := &pkts[j]
		n := len(q.Buf)
		if q.Fragment || n == 0 || n > size || total+n > gsoMaxBytes || q.Path != p.Path {
			break
		}
		total += n
		if n < size {
			return j + 1 - i // a shorter one ends the run
		}
	}
	return j - i
}

// putSegment appends the UDP_SEGMENT control message (the segment size)
// at the start of oob and returns its space.
func putSegment(oob []byte, size int) int {
	ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	ch.Level, ch.Type = solUDP, udpSegment
	ch.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = uint16(size)
	return unix.CmsgSpace(2)
}

// gsoRefused reports whether errno, for a super-datagram, means the kernel
// will not send it as one: EMSGSIZE or EINVAL when a segment exceeds the
// route's MTU (the kernel then queues no local error with the MTU, which
// path MTU discovery needs), EIO when the device cannot checksum it,
// EOPNOTSUPP where the kernel lacks the feature. The packets then go one
// datagram each, which reports an EMSGSIZE with its MTU as usual; after
// EIO or EOPNOTSUPP the link stops trying GSO.
func (b *batchIO) gsoRefused(errno unix.Errno) bool {
	switch errno {
	case unix.EIO, unix.EOPNOTSUPP:
		if b.gso.Swap(false) {
			b.stats.txGSOOff.Add(1)
		}
		return true
	case unix.EINVAL, unix.EMSGSIZE:
		return true
	}
	return false
}
