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

// logGCDefaults says what applyGCDefaults set, if anything.
func logGCDefaults(log *slog.Logger, gcPercent int, memLimit int64) {
	if gcPercent != 0 || memLimit != 0 {
		log.Debug("GC defaults for a daemon (GOGC, GOMEMLIMIT override)", "gogc", gcPercent, "memory_limit", memLimit)
	}
}
