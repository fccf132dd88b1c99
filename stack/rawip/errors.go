package rawip

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// PermissionError reports that a raw socket could not be opened for lack of
// privilege. It unwraps to the system error, so errors.Is(err,
// fs.ErrPermission) holds.
type PermissionError struct {
	// Family is "IPv4" or "IPv6".
	Family string
	Err    error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("rawip: opening a raw %s socket for SCTP (IP protocol 132): %v: "+
		"native SCTP needs the CAP_NET_RAW capability; grant it with "+
		"`setcap cap_net_raw+ep /path/to/sctpgw`, run the container with "+
		"`--cap-add NET_RAW` (docker/podman), or run as root", e.Family, e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// socketError gives a failed socket(2) for family its context, and names the
// missing capability when the kernel refused for lack of privilege.
func socketError(family string, err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return &PermissionError{Family: family, Err: err}
	}
	return fmt.Errorf("rawip: opening a raw %s socket for SCTP (IP protocol 132): %w", family, err)
}

// KernelSCTPLoaded returns the first of /sys/module/sctp (the module,
// host-wide) and /proc/net/sctp (present in every network namespace while
// the module is loaded) that exists in fsys, os.DirFS("/") for the host, or
// "" when neither does: the kernel then has no SCTP of its own. The second
// also catches a kernel with SCTP built in rather than as a module.
func KernelSCTPLoaded(fsys fs.FS) string {
	for _, p := range []string{"sys/module/sctp", "proc/net/sctp"} {
		if _, err := fs.Stat(fsys, p); err == nil {
			return "/" + p
		}
	}
	return ""
}

// KernelSCTPWarning reports whether the kernel whose /proc and /sys are
// mounted in fsys (os.DirFS("/") for the host) has SCTP loaded, and if so
// returns a warning for the daemon to log; it returns "" otherwise.
//
// The kernel's SCTP sees the same packets as our raw socket. For a port it
// has no socket on, it treats an INIT as out of the blue and answers with an
// ABORT (RFC 9260 8.4), racing our INIT ACK; the peer may take either. The
// checks are /proc/net/sctp (present while the module is loaded, per network
// namespace) and /sys/module/sctp (the module, host-wide).
//
// The remedies are those of the README, in its words: a loaded module serves
// every namespace, so a namespace of its own helps only with the nftables
// rule inside it, and "blacklist sctp" does not stop the on-demand load a
// socket(2) call triggers, so keeping the module out takes an "install sctp
// /bin/false" line.
func KernelSCTPWarning(fsys fs.FS) string {
	found := KernelSCTPLoaded(fsys)
	if found == "" {
		return ""
	}
	return fmt.Sprintf("rawip: the kernel has SCTP loaded (%s exists): it sees the "+
		"packets for our ports too, in every network namespace, and answers INITs "+
		"to ports it does not serve with an ABORT, racing ours; drop the kernel's own "+
		"replies for the served ports with an nftables output rule (also needed when "+
		"sctpgw runs in a network namespace of its own), or unload the sctp module "+
		"and keep it out with \"install sctp /bin/false\" in /etc/modprobe.d "+
		"(\"blacklist sctp\" alone does not stop the kernel loading it on demand); "+
		"see stack/rawip/README.md \"Running beside kernel SCTP\"", found)
}
