//go:build linux

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/sctpgw/sctpgw/internal/testlab"
)

// The UDP benchmarks run every contender between the same two places:
// 127.0.0.1 and 127.0.0.1 of a network namespace of their own, when we may
// make one (root, iproute2). usrsctp, run as root, also opens raw SCTP
// sockets that see every native SCTP packet of their namespace; in a
// namespace of its own it disturbs no other test on the machine. Without
// root everything runs on the host's loopback.

const nsPrefix = "sgwbench-"

var (
	nsOnce sync.Once
	nsName string // "" when running on the host's loopback
	nsErr  error
)

// benchNS makes the namespace on first use and returns its name, or "" to
// run on the host's loopback.
func benchNS() (string, error) {
	nsOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		if _, err := exec.LookPath("ip"); err != nil {
			return
		}
		removeStaleNS()
		name := nsPrefix + strconv.Itoa(os.Getpid())
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			nsErr = fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
			return
		}
		if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
			exec.Command("ip", "netns", "del", name).Run()
			nsErr = fmt.Errorf("ip -n %s link set lo up: %v: %s", name, err, out)
			return
		}
		nsName = name
	})
	return nsName, nsErr
}

// removeBenchNS deletes the namespace this process made.
func removeBenchNS() {
	if nsName != "" {
		exec.Command("ip", "netns", "del", nsName).Run()
	}
}

// removeStaleNS deletes namespaces earlier runs of this benchmark left
// behind when they were killed: only ours (by prefix), only when the
// process named in it is gone.
func removeStaleNS() {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		p, err := strconv.Atoi(pid)
		if err != nil || p == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue // still running
		}
		exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

// inNS runs f on a thread inside the namespace (or here when there is
// none). Sockets made by f stay in the namespace for good and may then be
// used from any goroutine.
func inNS(f func() error) error {
	ns, err := benchNS()
	if err != nil {
		return err
	}
	if ns == "" {
		return f()
	}
	return testlab.InNS(ns, f)
}

// nsCommand is exec.Command run inside the namespace.
func nsCommand(name string, args ...string) *exec.Cmd {
	if nsName == "" {
		return exec.Command(name, args...)
	}
	// ip netns exec switches namespace and execs the program: the pid we
	// get is the program's own.
	return exec.Command("ip", append([]string{"netns", "exec", nsName, name}, args...)...)
}

// forceBuffers sets SO_RCVBUFFORCE/SO_SNDBUFFORCE where allowed (root), so
// the size is not capped by net.core.rmem_max; otherwise the plain option.
func forceBuffers(fd uintptr, rd, wr int) {
	if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, rd) != nil {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rd)
	}
	if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, wr) != nil {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, wr)
	}
}
