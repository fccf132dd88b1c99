package udpencap

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

const cmsgHeaderLenBytes = unix.SizeofCmsghdr

// nextCmsg splits the first control message off oob: its level, type and
// data, and the messages after it. ok is false at the end of oob, and at a
// header whose length is shorter than a header or runs past the buffer
// (the kernel truncated the list: MSG_CTRUNC).
func nextCmsg(oob []byte) (level, typ int32, data, rest []byte, ok bool) {
	if len(oob) < cmsgHeaderLenBytes {
		return 0, 0, nil, nil, false
	}
	ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	l := int(ch.Len)
	if l < cmsgHeaderLenBytes || l > len(oob) {
		return 0, 0, nil, nil, false
	}
	return ch.Level, ch.Type, oob[unix.CmsgLen(0):l], oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):], true
}

// rxControl is what a received datagram's control messages tell, read in
// one pass over them (control).
type rxControl struct {
	// local is the address the datagram was sent to (the first
	// IP_PKTINFO or IPV6_PKTINFO); zero without one.
	local netip.Addr
	// seg is the segment size of a datagram UDP GRO coalesced; 0 for a
	// plain one.
	seg int
	// arrived is the kernel's receive time (SCM_TIMESTAMPNS: a struct
	// timespec of CLOCK_REALTIME) in nanoseconds since the Unix epoch;
	// zero without one (link.Packet.Arrived).
	arrived int64
}

// control reads a received datagram's control messages.
func (r *rxState) control(oob []byte) rxControl {
	var c rxControl
	for lvl, typ, data, rest, ok := nextCmsg(oob); ok; lvl, typ, data, rest, ok = nextCmsg(rest) {
		switch {
		case lvl == unix.SOL_SOCKET && typ == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			c.arrived = (*unix.Timespec)(unsafe.Pointer(&data[0])).Nano()
		case lvl == solUDP && typ == udpGRO && len(data) >= 4:
			c.seg = int(*(*int32)(unsafe.Pointer(&data[0])))
		case lvl == solUDP && typ == udpGRO && len(data) >= 2:
			c.seg = int(*(*uint16)(unsafe.Pointer(&data[0])))
		case !c.local.IsValid():
			c.local = r.pktinfoOf(lvl, typ, data)
		}
	}
	return c
}
