//go:build linux

package udpencap

import (
	"fmt"
	"log/slog"
	"net"

	"golang.org/x/sys/unix"
)

// setBuffersForced sets the socket buffers and, where the kernel capped a
// size at its rmem_max / wmem_max, forces it when the process may
// (CAP_NET_ADMIN); a size still capped is logged, since it costs drops
// under bursts.
func setBuffersForced(uc *net.UDPConn, rd, wr int, log *slog.Logger) error {
	rc, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("udpencap: raw socket: %w", err)
	}
	for _, b := range []struct {
		size       int
		set        func(int) error
		opt, force int
		name       string
	}{
		{rd, uc.SetReadBuffer, unix.SO_RCVBUF, unix.SO_RCVBUFFORCE, "read buffer"},
		{wr, uc.SetWriteBuffer, unix.SO_SNDBUF, unix.SO_SNDBUFFORCE, "write buffer"},
	} {
		if b.size <= 0 {
			continue
		}
		if err := b.set(b.size); err != nil {
			return fmt.Errorf("udpencap: %s %d: %w", b.name, b.size, err)
		}
		var got int
		rc.Control(func(fd uintptr) {
			// Linux reports double the size asked for (bookkeeping).
			got, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, b.opt)
			if got < 2*b.size && unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, b.force, b.size) == nil {
				got, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, b.opt)
			}
		})
		if got < 2*b.size {
			log.Warn("udpencap: socket buffer capped by the system (raise net.core.rmem_max / wmem_max)",
				"buffer", b.name, "asked", b.size, "got", got/2)
		}
	}
	return nil
}
