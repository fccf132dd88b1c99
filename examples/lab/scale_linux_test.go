//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
)

// BenchmarkLabScale opens many concurrent idle pairs through the edge and
// the core, both started with their default configuration (every stream
// granted), from our stack in enb to our stack in mme (a process of its
// own, so each of the four processes' CPU can be told apart), and prints:
//
//   - each gateway's RSS growth per idle pair (goal: at most 32 KiB, the
//     16 KiB per association of issue 13 part 3 times two associations);
//   - each gateway's RSS at SGWL_SCALE_PAIRS pairs (default 10,000; goal
//     under 300 MB), and what the Go runtime says it holds then (heap in
//     use, heap free but not returned, stacks, the next GC's goal); with
//     LAB_PROFILE_DIR=DIR each gateway's heap profile at that moment too
//     (edge-heap-N.pprof, core-heap-N.pprof);
//   - each gateway's CPU while the pairs idle (goal under 5 % of a core:
//     heartbeats are per-association timers on the engine's heap);
//   - the setup rate through edge and core (goal 2,000 pairs/s) with the
//     CPU each process spent per pair, and with perf installed, where in
//     each process it went;
//   - each gateway's RSS SGWL_SCALE_AFTER (default 30 s) after every pair
//     closed, against its idle RSS before the first (goal within 2x).
//
// It asserts nothing. SGWL_SCALE_PARALLEL (default 100) dials run at once.
// Needs root.
//
//	make bench-scale     # or: go test -run XXX -bench LabScale -benchtime 1x ./examples/lab
func BenchmarkLabScale(b *testing.B) {
	n := envInt("SGWL_SCALE_PAIRS", 10000)
	par := envInt("SGWL_SCALE_PARALLEL", 100)
	idle := time.Duration(envInt("SGWL_SCALE_IDLE_S", 30)) * time.Second
	after := time.Duration(envInt("SGWL_SCALE_AFTER_S", 30)) * time.Second
	const port = 36412
	l := newLab(b)
	edge, core := l.gateways(port)
	srv := l.startScaleServer(port)
	cli := l.nativeStack("enb", enbAddr)
	procs := []scaleProc{
		{name: "client (enb)", pid: os.Getpid()},
		{name: "edge", pid: childPid(edge.p)},
		{name: "core", pid: childPid(core.p)},
		{name: "server (mme)", pid: childPid(srv)},
	}
	gws := procs[1:3]
	out := &strings.Builder{}
	fmt.Fprintf(out, "\nlab scale benchmark: %d pairs, %d dials at once, default gateway configuration, %d CPUs, load %s\n",
		n, par, runtime.NumCPU(), loadAvg())

	// A few pairs first, so what every process allocates once (buffers,
	// goroutine stacks, the cookie secret) is in the idle figure.
	warm := l.openPairs(b, cli, port, 20, 10)
	l.closePairs(b, warm, 10)
	time.Sleep(2 * time.Second)
	idleRSS := rssOf(gws)

	// Growth per pair, over the first tenth.
	first := max(n/10, 1)
	pairs := l.openPairs(b, cli, port, first, par)
	time.Sleep(2 * time.Second)
	tenthRSS := rssOf(gws)

	cpu0 := cpuOf(procs)
	prof := startPerf(b, procs)
	start := time.Now()
	pairs = append(pairs, l.openPairs(b, cli, port, n-first, par)...)
	took := time.Since(start)
	tops := prof.stop()
	setupCPU := cpuSince(procs, cpu0)
	checkPairCount(b, edge, core, n)
	time.Sleep(2 * time.Second)
	fullRSS := rssOf(gws)
	fullMem := []map[string]float64{edge.runtimeStats(), core.runtimeStats()}
	if dir := os.Getenv("LAB_PROFILE_DIR"); dir != "" {
		for _, g := range []*gw{edge, core} {
			g.saveHeapProfile(b, dir, fmt.Sprintf("%s-heap-%d.pprof", g.role, n))
		}
	}

	cpu1 := cpuOf(gws)
	idleProf := startPerf(b, gws)
	time.Sleep(idle)
	idleTops := idleProf.stop()
	idleCPU := cpuSince(gws, cpu1)

	closeStart := time.Now()
	l.closePairs(b, pairs, par)
	closeTook := time.Since(closeStart)
	testlab.WaitFor(b, time.Minute, "both gateways to hold no pair", func() bool {
		return len(edge.snapshot().Pairs)+len(core.snapshot().Pairs) == 0
	})
	closedRSS := rssOf(gws)
	time.Sleep(after)
	afterRSS := rssOf(gws)

	fmt.Fprintf(out, "  %-30s %12s %12s   goal\n", "", "edge", "core")
	row := func(what, goal string, f func(i int) string) {
		fmt.Fprintf(out, "  %-30s %12s %12s   %s\n", what, f(0), f(1), goal)
	}
	mb := func(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }
	row("RSS idle, before the pairs", "", func(i int) string { return mb(idleRSS[i]) })
	row(fmt.Sprintf("RSS growth per idle pair (%d)", first), "<= 32 KiB", func(i int) string {
		return fmt.Sprintf("%.1f KiB", float64(tenthRSS[i]-idleRSS[i])/float64(first))
	})
	row(fmt.Sprintf("RSS at %d pairs", n), "< 300 MB", func(i int) string { return mb(fullRSS[i]) })
	// What the RSS holds, by the runtime's account at the same moment.
	for _, m := range []struct{ what, key string }{
		{"  Go heap in use", "go_memstats_heap_inuse_bytes"},
		{"  Go heap free, not returned", "go_memstats_heap_idle_bytes"},
		{"  Go heap returned to the OS", "go_memstats_heap_released_bytes"},
		{"  goroutine stacks", "go_memstats_stack_inuse_bytes"},
		{"  next GC at (heap goal)", "go_memstats_next_gc_bytes"},
	} {
		row(m.what, "", func(i int) string { return mb(int64(fullMem[i][m.key]) / 1024) })
	}
	row(fmt.Sprintf("CPU idle at %d pairs (%v)", n, idle), "< 5 %", func(i int) string {
		return fmt.Sprintf("%.2f %%", 100*idleCPU[i].Seconds()/idle.Seconds())
	})
	row("RSS when every pair closed", "", func(i int) string { return mb(closedRSS[i]) })
	row(fmt.Sprintf("RSS %v after", after), "<= 2x idle", func(i int) string {
		return fmt.Sprintf("%s (%.1fx)", mb(afterRSS[i]), float64(afterRSS[i])/float64(idleRSS[i]))
	})
	setup := n - first
	fmt.Fprintf(out, "  setup: %d pairs in %v: %.0f pairs/s (goal >= 2000); closing %d: %v (%.0f pairs/s)\n",
		setup, took.Round(time.Millisecond), float64(setup)/took.Seconds(), n, closeTook.Round(time.Millisecond), float64(n)/closeTook.Seconds())
	fmt.Fprintf(out, "  CPU during setup, per pair and share of the wall time:\n")
	for i, p := range procs {
		fmt.Fprintf(out, "    %-14s %8.0f µs/pair  %5.1f %% of a core\n", p.name,
			float64(setupCPU[i].Microseconds())/float64(setup), 100*setupCPU[i].Seconds()/took.Seconds())
	}
	for i, p := range procs {
		if tops[i] != "" {
			fmt.Fprintf(out, "  where %s spent it during setup (perf, top symbols):\n%s", p.name, tops[i])
		}
	}
	for i, p := range gws {
		if idleTops[i] != "" {
			fmt.Fprintf(out, "  where %s spent it while idle (perf, top symbols):\n%s", p.name, idleTops[i])
		}
	}
	fmt.Print(out.String())
	b.ReportMetric(float64(setup)/took.Seconds(), "pairs/s")
	b.ReportMetric(float64(fullRSS[0])/1024, "edge-MB")
	b.ReportMetric(float64(fullRSS[1])/1024, "core-MB")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// openPairs opens k associations from cli to the edge, par at a time.
func (l *lab) openPairs(b *testing.B, cli *stack.Stack, port uint16, k, par int) []*stack.Assoc {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := link.Path{Local: netip.MustParseAddr(enbAddr), Remote: netip.MustParseAddr(edgeRAN)}
	out := make([]*stack.Assoc, k)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < min(par, k); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < k; i = int(next.Add(1) - 1) {
				a, err := cli.Dial(ctx, 0, p, 0, port, stack.Options{})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				out[i] = a
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d dials failed, the first: %v", f, k, firstErr.Load())
	}
	return out
}

// closePairs shuts every association down gracefully, par at a time.
func (l *lab) closePairs(b *testing.B, as []*stack.Assoc, par int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(par, len(as)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(as); i = int(next.Add(1) - 1) {
				if err := as[i].Shutdown(ctx); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d shutdowns failed", f, len(as))
	}
}

// checkPairCount fails unless both gateways hold n established pairs.
func checkPairCount(b *testing.B, edge, core *gw, n int) {
	b.Helper()
	for _, g := range []*gw{edge, core} {
		if got := len(g.snapshot().Pairs); got != n {
			b.Fatalf("%s holds %d pairs, want %d", g.role, got, n)
		}
	}
}

// scaleProc is one of the benchmark's processes.
type scaleProc struct {
	name string
	pid  int
}

// childPid is the program a lab process runs: timeout(1)'s child (ip
// netns exec replaced itself with the program).
func childPid(p *proc) int {
	pid := p.cmd.Process.Pid
	for range 50 {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if f := strings.Fields(string(kids)); len(f) > 0 {
			c, _ := strconv.Atoi(f[0])
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	return pid
}

// rssOf is each process's resident set in KiB.
func rssOf(ps []scaleProc) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				out[i], _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
	}
	return out
}

func cpuOf(ps []scaleProc) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = treeCPU(p.pid, 0)
	}
	return out
}

func cpuSince(ps []scaleProc, before []time.Duration) []time.Duration {
	now := cpuOf(ps)
	for i := range now {
		now[i] -= before[i]
	}
	return now
}

// perfRun samples where processes spend their CPU, when perf is installed.
type perfRun struct {
	cmds  []*exec.Cmd
	files []string
}

func startPerf(b *testing.B, ps []scaleProc) *perfRun {
	r := &perfRun{}
	if _, err := exec.LookPath("perf"); err != nil {
		fmt.Println("  (perf is not installed: the setup profile is left out)")
		return r
	}
	dir := b.TempDir()
	for i, p := range ps {
		f := fmt.Sprintf("%s/perf-%d.data", dir, i)
		c := exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-F", "499", "-p", strconv.Itoa(p.pid), "-o", f)
		if c.Start() != nil {
			continue
		}
		r.cmds = append(r.cmds, c)
		r.files = append(r.files, f)
	}
	time.Sleep(300 * time.Millisecond) // perf attaches
	return r
}

// stop ends the sampling and returns each process's top symbols.
func (r *perfRun) stop() []string {
	tops := make([]string, len(r.cmds))
	for _, c := range r.cmds {
		c.Process.Signal(syscall.SIGINT)
	}
	for i, c := range r.cmds {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.Process.Kill()
			<-done
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		rep, _ := exec.CommandContext(ctx, "perf", "report", "-i", r.files[i], "--stdio", "--no-children",
			"--sort", "sym", "--percent-limit", "2").Output()
		cancel()
		var sb strings.Builder
		k := 0
		for _, line := range strings.Split(string(rep), "\n") {
			line = strings.TrimSpace(line)
			// Addresses perf could not name (go test strips the test
			// binary's symbol table) say nothing.
			if line == "" || strings.HasPrefix(line, "#") || strings.Contains(line, "[.] 0x") || k >= 12 {
				continue
			}
			sb.WriteString("      " + line + "\n")
			k++
		}
		tops[i] = sb.String()
	}
	return tops
}

// scaleServerEnv makes the test binary the benchmark's far server (see
// TestMain) instead of running tests.
const scaleServerEnv = "SGWL_SCALE_SERVER"

// startScaleServer runs the far server in mme: this test binary again, as
// scaleServerMain, accepting on port.
func (l *lab) startScaleServer(port int) *proc {
	l.tb.Helper()
	p := l.start("mme", 30*time.Minute, []string{fmt.Sprintf("%s=%s:%d", scaleServerEnv, mmeAddr, port)}, os.Args[0])
	testlab.WaitFor(l.tb, 15*time.Second, "the far server to listen", func() bool {
		return strings.Contains(p.out.String(), "listening") || p.exited()
	})
	if p.exited() {
		l.tb.Fatalf("far server:\n%s", p.out)
	}
	return p
}

// scaleServerMain accepts associations on addr:port (from scaleServerEnv)
// with our stack on a raw socket and keeps them, idle, until SIGTERM.
func scaleServerMain(spec string) int {
	addr, ps, _ := strings.Cut(spec, ":")
	port, _ := strconv.Atoi(ps)
	rl, err := rawip.Listen(rawip.Config{Addrs: []netip.Addr{netip.MustParseAddr(addr)}, RecvBuffer: 4 << 20, SendBuffer: 4 << 20})
	if err != nil {
		fmt.Println("far server:", err)
		return 1
	}
	st, err := stack.New(stack.Config{Links: []link.Link{rl}, PortUse: func(_ int, p uint16, on bool) {
		if on {
			rl.AddPort(p)
		} else {
			rl.RemovePort(p)
		}
	}})
	if err != nil {
		fmt.Println("far server:", err)
		return 1
	}
	ln, err := st.Listen(uint16(port), stack.Options{})
	if err != nil {
		fmt.Println("far server:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Println("far server: listening")
	var held []*stack.Assoc
	for {
		a, err := ln.Accept(ctx)
		if err != nil {
			break
		}
		held = append(held, a)
	}
	fmt.Printf("far server: accepted %d associations\n", len(held))
	st.Close("")
	return 0
}
