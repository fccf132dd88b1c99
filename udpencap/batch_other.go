//go:build !linux

package udpencap

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
)

// newBatchIO has no batched implementation here: the portable path serves.
func newBatchIO(*net.UDPConn, netip.Addr, *counters, *slog.Logger) (packetIO, error) {
	return nil, nil
}

func setBuffersForced(uc *net.UDPConn, rd, wr int, _ *slog.Logger) error {
	if rd > 0 {
		if err := uc.SetReadBuffer(rd); err != nil {
			return fmt.Errorf("udpencap: read buffer %d: %w", rd, err)
		}
	}
	if wr > 0 {
		if err := uc.SetWriteBuffer(wr); err != nil {
			return fmt.Errorf("udpencap: write buffer %d: %w", wr, err)
		}
	}
	return nil
}
