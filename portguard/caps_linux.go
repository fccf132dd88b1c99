//go:build linux

package portguard

import "golang.org/x/sys/unix"

// hasNetAdmin reports whether CAP_NET_ADMIN is in the process's effective
// set: what nftables and SO_MARK ask for.
func hasNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	const bit = unix.CAP_NET_ADMIN
	return data[bit/32].Effective&(1<<(bit%32)) != 0
}
