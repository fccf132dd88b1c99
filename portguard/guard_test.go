package portguard

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHost is a machine whose module, capability and nftables the test
// sets.
type fakeHost struct {
	mu       sync.Mutex
	where    string
	admin    bool
	failWith error
	installs []RulesConfig
	rules    *fakeRules
	others   []string // tables already in the namespace
}

type fakeRules struct {
	mu      sync.Mutex
	ports   []uint16
	dropped uint64
	removed bool
	others  []string
}

func (r *fakeRules) Others() ([]string, error) { return r.others, nil }

func (r *fakeRules) SetPort(p uint16, on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.ports = insertPort(r.ports, p)
	} else if i, ok := slices.BinarySearch(r.ports, p); ok {
		r.ports = slices.Delete(r.ports, i, i+1)
	}
	return nil
}
func (r *fakeRules) Dropped() (uint64, error) { return r.dropped, nil }
func (r *fakeRules) Remove() error            { r.removed = true; return nil }
func (r *fakeRules) String() string           { return "fake table" }
func (r *fakeRules) list() []uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ports)
}

func (f *fakeHost) setLoaded(where string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.where = where
}

func (f *fakeHost) host() host {
	return host{
		loaded: func() string {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.where
		},
		netAdmin: func() bool { return f.admin },
		install: func(c RulesConfig, ports []uint16) (ruleSet, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.installs = append(f.installs, c)
			if f.failWith != nil {
				return nil, f.failWith
			}
			f.rules = &fakeRules{ports: slices.Clone(ports), dropped: 7, others: f.others}
			return f.rules, nil
		},
		uid:   1000,
		pid:   4242,
		alive: func(pid int) bool { return pid == 5000 },
	}
}

func logTo(b *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestLoadedWithNetAdminInstallsFollowsPortsAndRemoves(t *testing.T) {
	f := &fakeHost{where: "/sys/module/sctp", admin: true}
	var log bytes.Buffer
	g, err := start(Config{Logger: logTo(&log)}, []uint16{38412, 36412}, f.host())
	if err != nil {
		t.Fatal(err)
	}
	if g.Mark() != DefaultMark || !g.Installed() {
		t.Fatalf("mark %#x installed %v", g.Mark(), g.Installed())
	}
	// A table of its own per process: two daemons in one namespace never
	// replace or delete each other's.
	if len(f.installs) != 1 || f.installs[0].Mark != DefaultMark || f.installs[0].Table != "sctpgw_4242" {
		t.Fatalf("installs %+v", f.installs)
	}
	if got := f.rules.list(); !slices.Equal(got, []uint16{36412, 38412}) {
		t.Errorf("ports installed %v", got)
	}
	g.SetPort(50000, true) // a dialled association
	g.SetPort(36412, false)
	g.SetPort(36412, false) // twice: nothing more
	if got := f.rules.list(); !slices.Equal(got, []uint16{38412, 50000}) {
		t.Errorf("ports after changes %v", got)
	}
	if !strings.Contains(log.String(), "installed an nftables rule") || !strings.Contains(log.String(), "/sys/module/sctp") {
		t.Errorf("install not logged with the module: %s", log.String())
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if !f.rules.removed || !strings.Contains(log.String(), "kernel_replies_dropped=7") {
		t.Errorf("removed %v, log %s", f.rules.removed, log.String())
	}
}

func TestLoadedWithoutNetAdminRefuses(t *testing.T) {
	f := &fakeHost{where: "/proc/net/sctp"}
	_, err := start(Config{Dials: true}, []uint16{36412}, f.host())
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("want a *Refusal, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"/proc/net/sctp", "36412", "ABORT", "CAP_NET_ADMIN",
		"setcap cap_net_raw,cap_net_admin+ep", "--cap-add NET_ADMIN", "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
		"--allow-kernel-sctp", "allow_kernel_sctp: true",
		"nft add table inet sctpgw",
		"nft add rule inet sctpgw output meta l4proto sctp sctp sport { 36412, 49152-65535 } meta skuid 1000 accept",
		"nft add rule inet sctpgw output meta l4proto sctp sctp sport { 36412, 49152-65535 } drop",
		"ip_local_port_range", "install sctp /bin/false",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q:\n%s", want, msg)
		}
	}
	if len(f.installs) != 0 {
		t.Errorf("installed without CAP_NET_ADMIN: %+v", f.installs)
	}
}

func TestAllowInstallsNothing(t *testing.T) {
	for _, admin := range []bool{false, true} {
		f := &fakeHost{where: "/sys/module/sctp", admin: admin}
		var log bytes.Buffer
		g, err := start(Config{Allow: true, Logger: logTo(&log)}, []uint16{36412}, f.host())
		if err != nil {
			t.Fatalf("admin %v: %v", admin, err)
		}
		// The mark is set where it can be, for the operator's own rule.
		if want := map[bool]uint32{false: 0, true: DefaultMark}[admin]; g.Mark() != want {
			t.Errorf("admin %v: mark %#x, want %#x", admin, g.Mark(), want)
		}
		if len(f.installs) != 0 || g.Installed() {
			t.Errorf("admin %v: installed with --allow-kernel-sctp", admin)
		}
		if !strings.Contains(log.String(), "--allow-kernel-sctp") || !strings.Contains(log.String(), "level=WARN") {
			t.Errorf("admin %v: no warning: %s", admin, log.String())
		}
		g.Close()
	}
}

func TestLoadedLaterInstallsWithThePortsInUse(t *testing.T) {
	f := &fakeHost{admin: true}
	var log bytes.Buffer
	g, err := start(Config{Interval: time.Hour, Logger: logTo(&log)}, []uint16{36412}, f.host())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Mark() != DefaultMark || g.Installed() {
		t.Fatalf("before the module: mark %#x installed %v", g.Mark(), g.Installed())
	}
	g.SetPort(51000, true)
	if g.check() {
		t.Fatal("check with no module ended the watch")
	}
	f.setLoaded("/sys/module/sctp")
	if !g.check() || !g.Installed() {
		t.Fatal("module loaded: not installed")
	}
	if got := f.rules.list(); !slices.Equal(got, []uint16{36412, 51000}) {
		t.Errorf("installed with %v, want the ports in use", got)
	}
	if !strings.Contains(log.String(), "was loaded while sctpgw runs: installed") {
		t.Errorf("late install not logged: %s", log.String())
	}
}

func TestLoadedLaterRetriesAFailedInstall(t *testing.T) {
	f := &fakeHost{admin: true, where: "", failWith: errors.New("netlink: no nf_tables")}
	var log bytes.Buffer
	g, err := start(Config{Interval: time.Hour, Logger: logTo(&log)}, []uint16{36412}, f.host())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	f.setLoaded("/sys/module/sctp")
	for i := 0; i < 2; i++ {
		if g.check() {
			t.Fatalf("check %d: a failed install ended the watch", i)
		}
	}
	if n := strings.Count(log.String(), "no nf_tables"); n != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", n, log.String())
	}
	f.mu.Lock()
	f.failWith = nil
	f.mu.Unlock()
	if !g.check() || !g.Installed() {
		t.Fatal("retry did not install")
	}
}

func TestLoadedLaterWithoutNetAdminSaysWhatToDo(t *testing.T) {
	f := &fakeHost{}
	var log bytes.Buffer
	g, err := start(Config{Interval: time.Hour, Logger: logTo(&log)}, []uint16{36412}, f.host())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Mark() != 0 {
		t.Errorf("mark %#x without CAP_NET_ADMIN", g.Mark())
	}
	f.setLoaded("/sys/module/sctp")
	if !g.check() {
		t.Fatal("watch goes on with nothing it can do")
	}
	out := log.String()
	for _, want := range []string{"level=ERROR", "was loaded while sctpgw runs", "CAP_NET_ADMIN", "meta skuid 1000 accept"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q: %s", want, out)
		}
	}
	if len(f.installs) != 0 {
		t.Error("installed without CAP_NET_ADMIN")
	}
}

// The watch goroutine itself: the module appears, the rule follows within
// a few intervals.
func TestWatchInstallsWhenTheModuleAppears(t *testing.T) {
	f := &fakeHost{admin: true}
	g, err := start(Config{Interval: 5 * time.Millisecond}, []uint16{36412}, f.host())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	f.setLoaded("/sys/module/sctp")
	deadline := time.Now().Add(5 * time.Second)
	for !g.Installed() {
		if time.Now().After(deadline) {
			t.Fatal("not installed 5 s after the module appeared")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Tables of sctpgw processes that are gone are named, with the command to
// delete them; those of live ones, others' and the operator's are not.
func TestStaleTablesNamed(t *testing.T) {
	f := &fakeHost{where: "/sys/module/sctp", admin: true,
		others: []string{"sctpgw_4000", "sctpgw_5000", "sctpgw", "filter", "sctpgw_x"}}
	var log bytes.Buffer
	g, err := start(Config{Logger: logTo(&log)}, []uint16{36412}, f.host())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	out := log.String()
	if !strings.Contains(out, "nft delete table inet sctpgw_4000") {
		t.Errorf("the table of gone process 4000 is not named: %s", out)
	}
	// Not 5000 (alive), not the operator's, another program's or an odd
	// name.
	if n := strings.Count(out, "was left by sctpgw process"); n != 1 {
		t.Errorf("%d stale tables named, want 1: %s", n, out)
	}
}

// Status says what the Guard does, for sctpgw status and /metrics: the
// module, whether the rule is in place, its table and port count, and the
// rule's counter read now; before the module and after Close, no rule.
func TestStatus(t *testing.T) {
	f := &fakeHost{admin: true}
	g, err := start(Config{Interval: time.Hour}, []uint16{36412}, f.host())
	if err != nil {
		t.Fatal(err)
	}
	if st := g.Status(); st.Module != "" || st.Installed || st.Table != "" || st.Ports != 1 || st.Mark != DefaultMark || st.Dropped != 0 {
		t.Errorf("before the module: %+v", st)
	}
	f.setLoaded("/sys/module/sctp")
	g.SetPort(50001, true)
	if !g.check() {
		t.Fatal("not installed")
	}
	f.rules.mu.Lock()
	f.rules.dropped = 12
	f.rules.mu.Unlock()
	want := Status{Module: "/sys/module/sctp", Installed: true, Table: "sctpgw_4242", Ports: 2, Mark: DefaultMark, Dropped: 12}
	if st := g.Status(); st != want {
		t.Errorf("installed: %+v, want %+v", st, want)
	}
	g.Close()
	if st := g.Status(); st.Installed || st.Dropped != 0 {
		t.Errorf("after Close: %+v", st)
	}

	a, err := start(Config{Allow: true}, []uint16{36412}, (&fakeHost{where: "/proc/net/sctp"}).host())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if st := a.Status(); !st.Allowed || st.Installed || st.Module != "/proc/net/sctp" || st.Mark != 0 {
		t.Errorf("--allow-kernel-sctp without CAP_NET_ADMIN: %+v", st)
	}
}
