package udpencap

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// arrivalTime is the time in a received datagram's SCM_TIMESTAMPNS control
// message (SO_TIMESTAMPNS: a struct timespec of CLOCK_REALTIME) in
// nanoseconds since the Unix epoch, or zero without one (link.Packet.Arrived).
func arrivalTime(oob []byte) int64 {
	for len(oob) >= cmsgHeaderLenBytes {
		ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(ch.Len)
		if l < cmsgHeaderLenBytes || l > len(oob) {
			break
		}
		data := oob[unix.CmsgLen(0):l]
		if ch.Level == unix.SOL_SOCKET && ch.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			return ts.Nano()
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}
