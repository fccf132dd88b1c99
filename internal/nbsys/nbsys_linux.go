//go:build linux

package nbsys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Recvmmsg receives up to len(hs) datagrams without blocking (EAGAIN when
// none is queued). hs must not be empty.
func Recvmmsg(fd uintptr, hs []unix.Mmsghdr, flags int) (int, unix.Errno) {
	return mmsg(unix.SYS_RECVMMSG, fd, hs, flags)
}

// Sendmmsg sends hs without blocking (EAGAIN when the socket buffer is
// full). hs must not be empty.
func Sendmmsg(fd uintptr, hs []unix.Mmsghdr, flags int) (int, unix.Errno) {
	return mmsg(unix.SYS_SENDMMSG, fd, hs, flags)
}

func mmsg(trap, fd uintptr, hs []unix.Mmsghdr, flags int) (int, unix.Errno) {
	n, _, e := unix.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)),
		uintptr(flags|unix.MSG_DONTWAIT), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// Recvmsg receives one message without blocking, as from an error queue
// (flags MSG_ERRQUEUE).
func Recvmsg(fd uintptr, h *unix.Msghdr, flags int) (int, unix.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(h)), uintptr(flags|unix.MSG_DONTWAIT), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// EpollReady fills events with the ready descriptors of the epoll instance
// epfd without waiting (a zero timeout). events must not be empty.
func EpollReady(epfd int, events []unix.EpollEvent) (int, unix.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}
