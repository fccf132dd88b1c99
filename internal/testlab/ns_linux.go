//go:build linux

package testlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Network namespaces are named <prefix>-<pid>-<n>[-<role>]: the test
// process id keeps labs of parallel runs (teammates', CI's) apart, and lets
// SweepStaleNS find those of processes that died before their cleanups ran.

var nsSeq atomic.Uint32

// NSName returns a namespace name unique in this process, "<prefix>-<pid>-<n>";
// a lab of several namespaces appends a role to it.
func NSName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nsSeq.Add(1))
}

// AddNS creates namespace name with its loopback up, and deletes it when
// the test ends, failed or not. The caller applies NeedRoot and NeedTool("ip").
func AddNS(tb testing.TB, name string) {
	tb.Helper()
	tb.Cleanup(func() { Cmd(tb, false, "ip", "netns", "del", name) })
	Cmd(tb, true, "ip", "netns", "add", name)
	Cmd(tb, true, "ip", "-n", name, "link", "set", "lo", "up")
}

// SweepStaleNS deletes the namespaces named <prefix>-<pid>-... whose process
// is gone (a test binary killed by -timeout runs no cleanups). Those of live
// processes, this one included, are left alone.
func SweepStaleNS(tb testing.TB, prefix string) {
	tb.Helper()
	for _, f := range strings.Fields(Cmd(tb, false, "ip", "netns", "list")) {
		rest, ok := strings.CutPrefix(f, prefix+"-")
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			tb.Logf("deleting namespace %s left behind by process %d", f, pid)
			Cmd(tb, false, "ip", "netns", "del", f)
		}
	}
}

// Cmd runs a short command, bounded to 20 s, and returns its combined
// output; with must, a failure fails the test.
func Cmd(tb testing.TB, must bool, name string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil && must {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// InNS runs f on a thread moved into network namespace ns and returns its
// error. Sockets f opens belong to ns for good. The thread is moved back
// before it returns to the scheduler's pool (or, if that fails, exits with
// its goroutine), so no other goroutine ever runs in the wrong namespace.
func InNS(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread goes back to its namespace before it is let go; if
		// it cannot, it stays locked and ends with the goroutine. (Left
		// locked always, the main thread, which Go never ends, was parked
		// in ns for good whenever this ran on it.)
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(home)
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := f()
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}
