//go:build linux

package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
)

// Counts per relay process that a loaded machine hardly changes, unlike
// wall-clock rates: system calls (perf's raw_syscalls:sys_enter tracepoint,
// counted in the kernel, when perf is installed) and context switches
// (/proc, every thread, voluntary and not).

// procTree is pid and its descendants, depth levels down (the benchmark's
// processes run under timeout(1)).
func procTree(pid, depth int) []int {
	pids := []int{pid}
	if depth == 0 {
		return pids
	}
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, k := range strings.Fields(string(kids)) {
		if c, err := strconv.Atoi(k); err == nil {
			pids = append(pids, procTree(c, depth-1)...)
		}
	}
	return pids
}

// ctxSwitches is the context switches of every thread of pid and its
// descendants, by thread ("pid/tid").
func ctxSwitches(pid int) map[string]uint64 {
	n := map[string]uint64{}
	for _, p := range procTree(pid, 4) {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", p, t.Name()))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
					c, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
					n[fmt.Sprintf("%d/%s", p, t.Name())] += c
				}
			}
		}
	}
	return n
}

// ctxSwitchesSince is the context switches of the threads alive now since
// the counts of then (from zero for a thread born since). A thread that
// exited in between takes its count with it: the figure is low then, not
// wrapped around, as the difference of two sums was.
func ctxSwitchesSince(now, then map[string]uint64) uint64 {
	var d uint64
	for k, v := range now {
		if v >= then[k] {
			d += v - then[k]
		}
	}
	return d
}

// syscallCounter counts the system calls of a process tree with perf
// until stopped; nil without perf.
type syscallCounter struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

var havePerf = func() bool { _, err := exec.LookPath("perf"); return err == nil }()

// countSyscalls starts counting the system calls of pid's tree (nil when
// perf is missing or fails to start: the figure is then not printed).
// perf stat -p follows the threads that exist when it starts, not those
// made later: a runtime thread born during the run goes uncounted, so the
// figure is a floor.
func countSyscalls(pid int) *syscallCounter {
	if !havePerf {
		return nil
	}
	var ps []string
	for _, p := range procTree(pid, 4) {
		ps = append(ps, strconv.Itoa(p))
	}
	c := &syscallCounter{}
	c.cmd = exec.Command("perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", strings.Join(ps, ","))
	c.cmd.Stderr = &c.out
	if err := c.cmd.Start(); err != nil {
		return nil
	}
	return c
}

// stop ends the count and returns it (-1 if unknown).
func (c *syscallCounter) stop() float64 {
	if c == nil {
		return -1
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-done
		return -1
	}
	for _, line := range strings.Split(c.out.String(), "\n") {
		f := strings.Split(line, ",")
		if len(f) > 2 && strings.Contains(line, "raw_syscalls:sys_enter") {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				return v
			}
		}
	}
	return -1
}

// rawDrops is the packets dropped by the raw SCTP sockets of each of the
// lab's namespaces, in enb, edge, core, mme order (the drops column of
// /proc/net/raw and /proc/net/raw6, for protocol 132: a gateway that dials
// natively has an IPv6 socket too): a receive buffer overrun costs the
// sender a retransmission and half its cwnd.
func (l *lab) rawDrops() [4]uint64 {
	var d [4]uint64
	for i, role := range []string{"enb", "edge", "core", "mme"} {
		out := testlab.Cmd(l.tb, false, "ip", "netns", "exec", l.ns[role], "cat", "/proc/net/raw", "/proc/net/raw6")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line) // header lines have no ":0084"
			if len(f) > 12 && strings.HasSuffix(f[1], ":0084") {
				v, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
				d[i] += v
			}
		}
	}
	return d
}
