package testlab

import (
	"net"
	"testing"
)

// FreeUDPPort returns a UDP port free on every address of both families,
// as a dual-stack wildcard socket (usrsctp's, the daemon's) binds it: the
// kernel picks it for such a socket, which is closed again.
func FreeUDPPort(tb testing.TB) uint16 {
	tb.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		tb.Fatalf("a free UDP port: %v", err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}
