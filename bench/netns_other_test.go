//go:build !linux

package bench

import "testing"

// Elsewhere than Linux everything runs on the host's loopback and there is
// no usrsctp comparison.

func benchNS() (string, error)       { return "", nil }
func inNS(f func() error) error      { return f() }
func forceBuffers(uintptr, int, int) {}
func platformCleanup()               {}

func benchUDPUsrsctp(b *testing.B, w workload) {
	b.Skip("the usrsctp comparison runs on Linux (Debian's libusrsctp-examples)")
}
