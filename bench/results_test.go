package bench

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A figure is one number a run produced, named by its unit.
const (
	figMBps       = "MB/s"       // user payload, 10^6 bytes per second
	figMbitps     = "Mbit/s"     // user payload, 10^6 bits per second
	figMsgps      = "msgs/s"     // user messages per second
	figAllocs     = "allocs/msg" // heap allocations per message, whole process
	figCPUPerKiB  = "cpu-ns/KiB" // process CPU time (user+system) per KiB of payload
	figBytesAlloc = "B/msg"      // heap bytes allocated per message, whole process
	figMsgsPerCPU = "msgs/cpu-s" // messages per second of process CPU time
	figLoad       = "loadavg"    // the machine's 1-minute load average after the run
)

// result is what one call of a benchmark function measured.
type result struct {
	n     int
	figs  map[string]float64
	note  string
	final bool // surely the last call of its run
}

type resultKey struct{ group, workload, impl string }

var (
	resultsMu sync.Mutex
	calls     = map[resultKey][]result{}
)

// record keeps the figures of one call of a benchmark function.
func record(group, workload, impl string, n int, figs map[string]float64, note string) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	k := resultKey{group, workload, impl}
	calls[k] = append(calls[k], result{n: n, figs: figs, note: note})
}

// recordFinal is record for a benchmark whose every call is a run of its
// own (a fixed-duration run of an external program).
func recordFinal(group, workload, impl string, n int, figs map[string]float64, note string) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	k := resultKey{group, workload, impl}
	calls[k] = append(calls[k], result{n: n, figs: figs, note: note, final: true})
}

// summarize picks, of a benchmark's calls, the final one of each run (the
// framework calls it with a growing b.N, and starts again from a small one
// for each -count repetition) and takes the median of each figure over the
// runs. With -count 3 the three stacks' runs interleave in time, and the
// median damps the noise of a shared machine.
func summarize(cs []result) (result, int) {
	var finals []result
	for i, c := range cs {
		if c.final || i+1 == len(cs) || cs[i+1].n < c.n {
			finals = append(finals, c)
		}
	}
	out := result{n: finals[len(finals)-1].n, figs: map[string]float64{}, note: finals[len(finals)-1].note}
	for fig := range finals[len(finals)-1].figs {
		var vs []float64
		for _, f := range finals {
			if v, ok := f.figs[fig]; ok {
				vs = append(vs, v)
			}
		}
		sort.Float64s(vs)
		m := vs[len(vs)/2]
		if len(vs)%2 == 0 {
			m = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
		}
		out.figs[fig] = m
	}
	return out, len(finals)
}

// meter measures a timed region: wall time, process CPU time and heap
// allocations (of every goroutine: the stacks' own goroutines count).
type meter struct {
	start   time.Time
	cpu     time.Duration
	mallocs uint64
	bytes   uint64
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startMeter() meter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return meter{start: time.Now(), cpu: processCPU(), mallocs: ms.Mallocs, bytes: ms.TotalAlloc}
}

// loadAvg is the 1-minute load average, 0 where unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscanf(string(b), "%f", &l)
	return l
}

// figures turns the region since m started into the standard figures for n
// messages of size bytes each.
func (m meter) figures(n, size int) (map[string]float64, time.Duration) {
	elapsed := time.Since(m.start)
	cpu := processCPU() - m.cpu
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sec := elapsed.Seconds()
	total := float64(n) * float64(size)
	f := map[string]float64{
		figMBps:       total / sec / 1e6,
		figMbitps:     total * 8 / sec / 1e6,
		figMsgps:      float64(n) / sec,
		figAllocs:     float64(ms.Mallocs-m.mallocs) / float64(n),
		figBytesAlloc: float64(ms.TotalAlloc-m.bytes) / float64(n),
		figCPUPerKiB:  float64(cpu.Nanoseconds()) / (total / 1024),
		figMsgsPerCPU: float64(n) / cpu.Seconds(),
		figLoad:       loadAvg(),
	}
	return f, elapsed
}

// report hands the figures to the testing framework (one op is one
// message) and to the summary table.
func report(b *testing.B, group, workload, impl string, n int, figs map[string]float64, note string) {
	b.ReportMetric(figs[figMsgps], figMsgps)
	b.ReportMetric(figs[figMbitps], figMbitps)
	if v, ok := figs[figAllocs]; ok {
		b.ReportMetric(v, figAllocs)
	}
	if v, ok := figs[figCPUPerKiB]; ok {
		b.ReportMetric(v, figCPUPerKiB)
	}
	record(group, workload, impl, n, figs, note)
}

// benchTime is the -benchtime duration, or def when it is a count ("100x")
// or unset.
func benchTime(def time.Duration) time.Duration {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return def
	}
	if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 0 {
		return d
	}
	return def
}

func TestMain(m *testing.M) {
	code := m.Run()
	platformCleanup()
	printSummary(os.Stdout)
	os.Exit(code)
}

// comparisons says, per group, which implementation is ours and which are
// the peers a ratio is taken against.
var comparisons = map[string]struct {
	ours  []string
	peers []string
}{
	"Mem": {ours: []string{"ours", "engine"}, peers: []string{"pion"}},
	"UDP": {ours: []string{"ours", "ours-8MiB"}, peers: []string{"usrsctp", "pion"}},
}

// printSummary writes the figures of the run with our/their ratios.
func printSummary(w io.Writer) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(calls) == 0 {
		return
	}
	groups := map[string]map[string]map[string]result{} // group -> workload -> impl
	runs := 0
	for k, cs := range calls {
		r, nr := summarize(cs)
		runs = max(runs, nr)
		if groups[k.group] == nil {
			groups[k.group] = map[string]map[string]result{}
		}
		if groups[k.group][k.workload] == nil {
			groups[k.group][k.workload] = map[string]result{}
		}
		groups[k.group][k.workload][k.impl] = r
	}
	var gnames []string
	for g := range groups {
		gnames = append(gnames, g)
	}
	sort.Strings(gnames)
	for _, g := range gnames {
		fmt.Fprintf(w, "\n=== %s: figures of this run (median of %d runs), ratio = ours / theirs (for %s, %s and %s lower is better)\n",
			g, runs, figAllocs, figBytesAlloc, figCPUPerKiB)
		cmp := comparisons[g]
		var wnames []string
		for wl := range groups[g] {
			wnames = append(wnames, wl)
		}
		sort.Slice(wnames, func(i, j int) bool { return workloadOrder(wnames[i]) < workloadOrder(wnames[j]) })
		for _, wl := range wnames {
			impls := groups[g][wl]
			var cols []string
			for _, name := range append(append([]string{}, cmp.ours...), cmp.peers...) {
				if _, ok := impls[name]; ok {
					cols = append(cols, name)
				}
			}
			var ratios [][2]string
			for _, o := range cmp.ours {
				for _, p := range cmp.peers {
					if _, ok := impls[o]; ok {
						if _, ok := impls[p]; ok {
							ratios = append(ratios, [2]string{o, p})
						}
					}
				}
			}
			fmt.Fprintf(w, "%s\n", wl)
			fmt.Fprintf(w, "  %-11s", "figure")
			for _, c := range cols {
				fmt.Fprintf(w, " %14s", c)
			}
			for _, r := range ratios {
				fmt.Fprintf(w, " %14s", r[0]+"/"+r[1])
			}
			fmt.Fprintln(w)
			for _, fig := range []string{figMbitps, figMBps, figMsgps, figMsgsPerCPU, figAllocs, figBytesAlloc, figCPUPerKiB, figLoad} {
				have := false
				for _, c := range cols {
					if _, ok := impls[c].figs[fig]; ok {
						have = true
					}
				}
				if !have {
					continue
				}
				fmt.Fprintf(w, "  %-11s", fig)
				for _, c := range cols {
					fmt.Fprintf(w, " %14s", num(impls[c].figs, fig))
				}
				for _, r := range ratios {
					a, okA := impls[r[0]].figs[fig]
					b, okB := impls[r[1]].figs[fig]
					s := "-"
					if okA && okB && b != 0 && fig != figLoad {
						s = fmt.Sprintf("%.2fx", a/b)
					}
					fmt.Fprintf(w, " %14s", s)
				}
				fmt.Fprintln(w)
			}
			for _, c := range cols {
				if n := impls[c].note; n != "" {
					fmt.Fprintf(w, "  %s: %s\n", c, n)
				}
			}
		}
	}
}

func num(figs map[string]float64, fig string) string {
	v, ok := figs[fig]
	switch {
	case !ok:
		return "-"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// workloadOrder sorts workloads by message size, then name.
func workloadOrder(w string) string {
	var n int
	var unit string
	fmt.Sscanf(strings.TrimSpace(w), "%d%s", &n, &unit)
	if strings.HasPrefix(unit, "KiB") {
		n *= 1024
	}
	return fmt.Sprintf("%012d%s", n, w)
}
