//go:build linux

package routemtu

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// netns is the network namespace a Prober was opened in. Its sockets bound
// to a source are opened when a source is first asked about, by whichever
// goroutine asks, on whichever thread that runs: the socket must still be
// made in the Prober's namespace (a test runs links of several namespaces
// in one process; a daemon has one, and never pays for a thread move).
type netns struct {
	fd       int // -1: unknown (no /proc), sockets are opened where called
	dev, ino uint64
}

const threadNetns = "/proc/thread-self/ns/net"

// callerNetns is the calling thread's namespace.
func callerNetns() netns {
	fd, err := unix.Open(threadNetns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return netns{fd: -1}
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		unix.Close(fd)
		return netns{fd: -1}
	}
	return netns{fd: fd, dev: st.Dev, ino: st.Ino}
}

// run calls f on a thread in the namespace, and reports whether it could.
func (n netns) run(f func()) bool {
	if n.fd < 0 {
		f()
		return true
	}
	ran := make(chan bool, 1)
	go func() {
		runtime.LockOSThread()
		var st unix.Stat_t
		if unix.Stat(threadNetns, &st) == nil && st.Dev == n.dev && st.Ino == n.ino {
			f()
			runtime.UnlockOSThread()
			ran <- true
			return
		}
		// Moving needs CAP_SYS_ADMIN, which a process running links in
		// several namespaces has. The thread goes back to where it was
		// before it returns to the scheduler's pool; if it cannot, it
		// stays locked and ends with the goroutine (the main thread, which
		// Go never ends, would be parked in the other namespace for good,
		// and /proc/PID/ns/net would name that one).
		home, err := unix.Open(threadNetns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ran <- false
			return
		}
		defer unix.Close(home)
		if unix.Setns(n.fd, unix.CLONE_NEWNET) != nil {
			runtime.UnlockOSThread() // not moved
			ran <- false
			return
		}
		f()
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ran <- true
	}()
	return <-ran
}

func (n netns) close() {
	if n.fd >= 0 {
		unix.Close(n.fd)
	}
}
