package main

import (
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// daemonGCPercent is the GOGC the daemon runs with unless GOGC is set. A
// relay's live heap is small next to what it allocates (one buffer per
// relayed message), so Go's default of 100 collects several times a
// second under load; 200 halves that for twice the headroom over a heap
// of a few MiB plus the associations' buffers. GOMEMLIMIT (below) keeps
// the headroom from outgrowing a container's memory.
const daemonGCPercent = 200

// cgroupMemoryFiles hold the memory limit of the process's cgroup: v2's
// memory.max, v1's memory.limit_in_bytes.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// applyGCDefaults sets GOGC and GOMEMLIMIT for a long-running daemon where
// the environment does not: GOGC=daemonGCPercent, and a soft memory limit
// of 90 % of the cgroup's limit when there is one (a container, a systemd
// MemoryMax=), so the GC works harder near the limit instead of the kernel
// killing the gateway. It returns what it set, for the log.
func applyGCDefaults(getenv func(string) string, readFile func(string) ([]byte, error)) (gcPercent int, memLimit int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(daemonGCPercent)
		gcPercent = daemonGCPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		if l := cgroupMemoryLimit(readFile); l > 0 {
			memLimit = l / 10 * 9
			debug.SetMemoryLimit(memLimit)
		}
	}
	return gcPercent, memLimit
}

// cgroupMemoryLimit is the cgroup's memory limit in bytes, 0 when there is
// none ("max", v1's huge "unlimited" value) or it cannot be read.
func cgroupMemoryLimit(readFile func(string) ([]byte, error)) int64 {
	for _, f := range cgroupMemoryFiles {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 || v >= math.MaxInt64/2 {
			return 0 // v1 says "no limit" with a value near 2^63
		}
		return v
	}
	return 0
}

// daemonProcs is the GOMAXPROCS the daemon runs with unless GOMAXPROCS is
// set. The packet path runs under the stack's one lock (stack.Stack): the
// engine's work for every association and the links' writes, whose
// sendmmsg on a veth or loopback also runs the receiving side's network
// stack. A second P only lets another link's reader make its receive call
// meanwhile; otherwise it costs hand-offs: the reader woken on another
// thread blocks on the lock, and the scheduler wakes threads to look for
// work. In the namespace lab (examples/lab/README.md, "The relay path"),
// one gateway driven by 100 associations relayed twice as much with one P
// (1 KiB: 33 k -> 67 k msgs/s, 105 k -> 204 k packets/s; 100 B: 271 k ->
// 480 k msgs/s) for less CPU per message, and the pair's CPU per message
// and latency were no worse. A gateway with a dtls:// route keeps the
// runtime's choice: DTLS records are sealed and opened in the link's own
// goroutines, outside the lock, and a second P carries that work (the
// pair over DTLS at 1 KiB: 117 and 140 Mbit/s with two Ps, 81 and 87 with
// one). GOMAXPROCS=N overrides either way, for a host where the admin
// endpoint should not share the packet path's core, say.
const daemonProcs = 1

// applyProcsDefault sets GOMAXPROCS to daemonProcs, through set
// (runtime.GOMAXPROCS), unless the environment sets it or the routes use
// DTLS (needDTLS), and returns what it set (0: nothing).
func applyProcsDefault(getenv func(string) string, needDTLS bool, set func(int) int) int {
	if getenv("GOMAXPROCS") != "" || needDTLS {
		return 0
	}
	set(daemonProcs)
	return daemonProcs
}

// logGCDefaults says what applyGCDefaults and applyProcsDefault set, if
// anything.
func logGCDefaults(log *slog.Logger, gcPercent int, memLimit int64, procs int) {
	if gcPercent != 0 || memLimit != 0 || procs != 0 {
		log.Debug("runtime defaults for a daemon (GOGC, GOMEMLIMIT, GOMAXPROCS override)", "gogc", gcPercent, "memory_limit", memLimit, "gomaxprocs", procs)
	}
}
