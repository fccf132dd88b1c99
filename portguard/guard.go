package portguard

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sctpgw/sctpgw/stack/rawip"
)

const (
	// DefaultTable names the operator's hand-written table (family inet)
	// and starts the name of each Guard's own, "sctpgw_PID": one per
	// daemon, so two sctpgw in one namespace (an edge and a core on one
	// host) never replace or delete each other's.
	DefaultTable = "sctpgw"
	// DefaultMark is the SO_MARK of sctpgw's raw sockets under a Guard. It
	// leaves the bits kube-proxy (0x4000, 0x8000) and Calico (the upper 16)
	// use alone.
	DefaultMark = 0x5c7
	// DefaultInterval is how often a Guard looks for the module when it was
	// not loaded at start.
	DefaultInterval = time.Second
)

// Config configures a Guard.
type Config struct {
	// Allow says the operator handles kernel SCTP (--allow-kernel-sctp):
	// the Guard installs nothing and never refuses; it warns when the
	// module is loaded. The mark is still set when the process may, so an
	// operator's rule on the mark works.
	Allow bool
	// Dials says the routes dial native associations, from local ports
	// picked at run time (49152-65535): the refusal's hand-written rule
	// must then cover that range.
	Dials bool
	// Table is the Guard's table; "" means "sctpgw_PID". Mark: see
	// RulesConfig. Interval: how often to look for the module while it is
	// absent; 0 means DefaultInterval.
	Table    string
	Mark     uint32
	Interval time.Duration
	// Logger receives what the Guard installs and removes; nil discards.
	Logger *slog.Logger
}

// host is what a Guard asks of the machine; tests replace it.
type host struct {
	// loaded returns where the module shows ("" when it does not).
	loaded   func() string
	netAdmin func() bool
	install  func(RulesConfig, []uint16) (ruleSet, error)
	uid, pid int
	// alive reports whether process pid runs (in this pid namespace).
	alive func(pid int) bool
}

// ruleSet is what a Guard needs of *Rules.
type ruleSet interface {
	// Others lists the namespace's other inet tables.
	Others() ([]string, error)
	SetPort(port uint16, on bool) error
	Dropped() (uint64, error)
	Remove() error
	String() string
}

func realHost() host {
	return host{
		loaded:   func() string { return rawip.KernelSCTPLoaded(os.DirFS("/")) },
		netAdmin: hasNetAdmin,
		install:  func(c RulesConfig, p []uint16) (ruleSet, error) { return installRules(c, p) },
		uid:      os.Getuid(),
		pid:      os.Getpid(),
		alive:    processAlive,
	}
}

// Guard keeps the kernel's SCTP from answering for the ports in use, from
// Start until Close, installing its rule when the module is there at start
// or as soon as it appears.
type Guard struct {
	cfg  Config
	h    host
	log  *slog.Logger
	mark uint32

	mu        sync.Mutex
	ports     []uint16 // sorted
	rules     ruleSet  // nil until installed
	warned    bool     // the module appeared and could not be guarded: said once
	lastError string   // the last install failure logged, so a retry does not repeat it
	closed    bool

	stop chan struct{}
	done chan struct{}
}

// Start decides what to do about kernel SCTP for a daemon serving ports
// natively, and does it:
//
//   - module loaded, CAP_NET_ADMIN: install the rule now;
//   - module loaded, no CAP_NET_ADMIN: refuse with a *Refusal, unless
//     cfg.Allow;
//   - module absent: look again every cfg.Interval and install (or, without
//     CAP_NET_ADMIN, log what the operator must do) when it appears.
//
// With cfg.Allow it installs nothing. Close the Guard to remove the rule.
func Start(cfg Config, ports []uint16) (*Guard, error) {
	return start(cfg, ports, realHost())
}

func start(cfg Config, ports []uint16, h host) (*Guard, error) {
	if cfg.Table == "" {
		cfg.Table = fmt.Sprintf("%s_%d", DefaultTable, h.pid)
	}
	if cfg.Mark == 0 {
		cfg.Mark = DefaultMark
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	g := &Guard{cfg: cfg, h: h, log: cfg.Logger}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	for _, p := range ports {
		g.ports = insertPort(g.ports, p)
	}
	admin := h.netAdmin()
	if admin {
		g.mark = cfg.Mark
	}
	where := h.loaded()
	switch {
	case cfg.Allow:
		if where != "" {
			g.log.Warn("kernel SCTP is loaded and --allow-kernel-sctp is set: installing no rule; "+
				"the kernel answers INITs to the native ports with ABORT unless the operator's own rule drops its replies",
				"module", where, "ports", g.ports, "mark", fmt.Sprintf("%#x", g.mark))
		}
		return g, nil
	case where != "" && !admin:
		return nil, &Refusal{Where: where, Ports: slices.Clone(g.ports), Dials: cfg.Dials, UID: h.uid}
	case where != "":
		if err := g.install(where, false); err != nil {
			return nil, err
		}
		return g, nil
	}
	g.log.Debug("kernel SCTP is not loaded; watching for it", "every", cfg.Interval.String(), "mark", fmt.Sprintf("%#x", g.mark))
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go g.watch()
	return g, nil
}

// Mark is the SO_MARK sctpgw's raw sockets must carry (0: none, the process
// may not set one).
func (g *Guard) Mark() uint32 { return g.mark }

// Installed reports whether the rule is in place.
func (g *Guard) Installed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rules != nil
}

// Status is what a Guard is doing, for sctpgw status and /metrics.
type Status struct {
	// Module is where the kernel's sctp module shows, looked up now (""
	// when it is not loaded).
	Module string `json:"module,omitempty"`
	// Allowed: --allow-kernel-sctp, the operator keeps the kernel from
	// answering; the Guard installs nothing.
	Allowed bool `json:"allowed,omitempty"`
	// Installed: the rule is in place, in Table; Ports is how many ports
	// its set holds.
	Installed bool   `json:"installed"`
	Table     string `json:"table,omitempty"`
	Ports     int    `json:"ports"`
	// Mark is the SO_MARK of sctpgw's raw sockets (0: none).
	Mark uint32 `json:"mark"`
	// Dropped is the rule's counter: the kernel's out-of-the-blue replies
	// it dropped. DroppedError says why it could not be read.
	Dropped      uint64 `json:"dropped"`
	DroppedError string `json:"dropped_error,omitempty"`
}

// String is the status line for people (sctpgw status).
func (s Status) String() string {
	mod := "not loaded"
	if s.Module != "" {
		mod = "loaded (" + s.Module + ")"
	}
	mark := ""
	if s.Mark != 0 {
		mark = fmt.Sprintf(", mark %#x", s.Mark)
	}
	var what string
	switch {
	case s.Installed:
		what = fmt.Sprintf("guard installed: table inet %s, %d ports%s; kernel replies dropped %d", s.Table, s.Ports, mark, s.Dropped)
		if s.DroppedError != "" {
			what += " (counter unreadable: " + s.DroppedError + ")"
		}
	case s.Allowed:
		what = "no guard (--allow-kernel-sctp: the operator's own rule keeps the kernel from answering)" + mark
	case s.Module == "":
		what = fmt.Sprintf("guard watching for it, %d ports%s", s.Ports, mark)
	case s.Mark == 0:
		what = "NOT guarded: no CAP_NET_ADMIN; the kernel answers INITs to the native ports with ABORT"
	default:
		what = "NOT guarded yet: installing the rule failed, retrying (see the log)"
	}
	return "kernel sctp " + mod + ": " + what
}

// Status reports what the Guard does now; it looks for the module (a
// stat) and reads the rule's counter (one netlink exchange) when the rule
// is installed.
func (g *Guard) Status() Status {
	st := Status{Module: g.h.loaded(), Allowed: g.cfg.Allow, Mark: g.mark}
	g.mu.Lock()
	st.Ports = len(g.ports)
	r := g.rules
	g.mu.Unlock()
	if r == nil {
		return st
	}
	// Outside g.mu: SetPort, which the stack calls under its own lock,
	// does not wait for the netlink exchange.
	st.Installed, st.Table = true, g.cfg.Table
	n, err := r.Dropped()
	if err != nil {
		st.DroppedError = err.Error()
	}
	st.Dropped = n
	return st
}

// SetPort is told of every port the native link starts or stops serving;
// the rule's set follows.
func (g *Guard) SetPort(port uint16, inUse bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	i, found := slices.BinarySearch(g.ports, port)
	if found == inUse {
		return
	}
	if inUse {
		g.ports = slices.Insert(g.ports, i, port)
	} else {
		g.ports = slices.Delete(g.ports, i, i+1)
	}
	if g.rules != nil {
		if err := g.rules.SetPort(port, inUse); err != nil {
			g.log.Error("kernel SCTP guard: cannot update the port set; the kernel may answer for this port", "port", port, "in_use", inUse, "err", err)
		}
	}
}

// watch looks for the module until it appears and is dealt with, or Close.
func (g *Guard) watch() {
	defer close(g.done)
	t := time.NewTicker(g.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			if g.check() {
				return
			}
		}
	}
}

// check looks once; it reports whether watching is over.
func (g *Guard) check() bool {
	where := g.h.loaded()
	if where == "" {
		return false
	}
	if g.mark == 0 {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.warned {
			g.warned = true
			r := Refusal{Where: where, Ports: slices.Clone(g.ports), Dials: g.cfg.Dials, UID: g.h.uid}
			g.log.Error("kernel SCTP was loaded while sctpgw runs: the kernel now answers INITs to the native ports with ABORT, "+
				"and sctpgw cannot stop it without CAP_NET_ADMIN: "+r.Remedy(), "module", where)
		}
		return true
	}
	return g.install(where, true) == nil
}

// install puts the rule in place with the ports in use now, and logs it.
func (g *Guard) install(where string, late bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.rules != nil {
		return nil
	}
	r, err := g.h.install(RulesConfig{Table: g.cfg.Table, Mark: g.mark}, g.ports)
	if err != nil {
		err = fmt.Errorf("kernel SCTP is loaded (%s) and must be kept from answering for the native ports: %w; "+
			"or start with --allow-kernel-sctp (allow_kernel_sctp: true) if you handle it yourself", where, err)
		if late && err.Error() != g.lastError {
			g.lastError = err.Error()
			g.log.Error("kernel SCTP guard: "+err.Error()+" (will retry)", "module", where)
		}
		return err
	}
	g.rules = r
	msg := "kernel SCTP is loaded: installed an nftables rule that drops its out-of-the-blue replies for the native ports"
	if late {
		msg = "kernel SCTP was loaded while sctpgw runs: installed an nftables rule that drops its out-of-the-blue replies for the native ports"
	}
	g.log.Info(msg, "module", where, "rule", r.String())
	g.warnStale(r)
	return nil
}

// warnStale names the tables of earlier sctpgw processes that are gone (a
// daemon killed with SIGKILL cannot remove its own). They are left alone: a
// process of another pid namespace (a container sharing the host's network)
// looks gone from here and may well be running.
func (g *Guard) warnStale(r ruleSet) {
	others, err := r.Others()
	if err != nil {
		return
	}
	for _, t := range others {
		pid, err := strconv.Atoi(strings.TrimPrefix(t, DefaultTable+"_"))
		if !strings.HasPrefix(t, DefaultTable+"_") || err != nil || pid == g.h.pid || g.h.alive(pid) {
			continue
		}
		g.log.Warn("kernel SCTP guard: table inet "+t+" was left by sctpgw process "+strconv.Itoa(pid)+
			", which is not running here; unless it runs in another pid namespace, delete it: nft delete table inet "+t, "table", t)
	}
}

// Close stops watching and removes the rule, saying how many kernel replies
// it dropped.
func (g *Guard) Close() error {
	if g.stop != nil {
		select {
		case <-g.stop:
		default:
			close(g.stop)
		}
		<-g.done
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.rules == nil {
		return nil
	}
	r := g.rules
	g.rules = nil
	n, derr := r.Dropped()
	if err := r.Remove(); err != nil {
		g.log.Error("kernel SCTP guard: cannot remove the table; delete it by hand: nft delete table inet "+g.cfg.Table, "err", err)
		return err
	}
	if derr != nil {
		g.log.Info("kernel SCTP guard: removed table inet "+g.cfg.Table, "counter_err", derr)
		return nil
	}
	g.log.Info("kernel SCTP guard: removed table inet "+g.cfg.Table, "kernel_replies_dropped", n)
	return nil
}
