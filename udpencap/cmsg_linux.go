package udpencap

import (
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

// arrivalTime is the time in a received datagram's SCM_TIMESTAMPNS control
// message (SO_TIMESTAMPNS: a struct timespec of CLOCK_REALTIME) in
// nanoseconds since the Unix epoch, or zero without one (link.Packet.Arrived).
func arrivalTime(oob []byte) int64 {
	for lvl, typ, data, rest, ok := nextCmsg(oob); ok; lvl, typ, data, rest, ok = nextCmsg(rest) {
		if lvl == unix.SOL_SOCKET && typ == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			return (*unix.Timespec)(unsafe.Pointer(&data[0])).Nano()
		}
	}
	return 0
}
