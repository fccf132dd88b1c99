//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/test/kernel/report"
)

const sctpgwBin = "/bin/sctpgw"

// maxLogLines bounds what a daemon's report carries.
const maxLogLines = 200

// daemon is one sctpgw process in a namespace.
type daemon struct {
	name string
	ns   netns.NsHandle
	cmd  *exec.Cmd
	rep  *report.Daemon
	res  *report.Result // where stop puts rep

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
	exited  chan struct{}
}

// unprivileged runs the daemon as an ordinary user with CAP_NET_RAW only,
// as `setcap cap_net_raw+ep` would.
type unprivileged struct{ uid int }

// spec is a daemon to start: its name in the report, its namespace, its
// user (nil: root), its arguments.
type spec struct {
	name string
	ns   netns.NsHandle
	as   *unprivileged
	args []string
}

// startAll starts the daemons in order and waits until each listens. stop,
// never nil, stops those started, last first, recording each in r.
func startAll(r *report.Result, specs ...spec) (ds []*daemon, stop func(), err error) {
	stop = func() {
		for i := len(ds) - 1; i >= 0; i-- {
			ds[i].stop(stopTimeout)
		}
	}
	for _, s := range specs {
		d, err := startDaemon(r, s.name, s.ns, s.as, s.args...)
		if err != nil {
			return ds, stop, err
		}
		ds = append(ds, d)
	}
	for _, d := range ds {
		if err := d.started(startTimeout); err != nil {
			return ds, stop, err
		}
	}
	return ds, stop, nil
}

// startDaemon starts sctpgw with args in ns; its report joins r.
func startDaemon(r *report.Result, name string, ns netns.NsHandle, as *unprivileged, args ...string) (*daemon, error) {
	d := &daemon{name: name, ns: ns, res: r, rep: &report.Daemon{Name: name, Args: args},
		changed: make(chan struct{}), exited: make(chan struct{})}
	d.cmd = exec.Command(sctpgwBin, args...)
	d.cmd.Env = []string{"GOMAXPROCS=2"}
	if as != nil {
		d.cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: uint32(as.uid), Gid: uint32(as.uid)},
			AmbientCaps: []uintptr{unix.CAP_NET_RAW},
		}
	}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	d.cmd.Stdout = d.cmd.Stderr
	// The child inherits the namespace of the thread that forks it.
	if err := inNS(ns, d.cmd.Start); err != nil {
		return nil, fmt.Errorf("%s: start: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, sc.Text())
			close(d.changed)
			d.changed = make(chan struct{})
			d.mu.Unlock()
		}
		err := d.cmd.Wait()
		d.mu.Lock()
		d.rep.Exit = d.cmd.ProcessState.ExitCode()
		if err != nil && d.rep.Exit == 0 {
			d.rep.Exit = -1
		}
		d.mu.Unlock()
		close(d.exited)
	}()
	return d, nil
}

// waitFor waits until a log line contains every one of subs, or the
// process exits, or timeout.
func (d *daemon) waitFor(timeout time.Duration, subs ...string) error {
	deadline := time.After(timeout)
	seen := 0
	for {
		d.mu.Lock()
		for ; seen < len(d.lines); seen++ {
			ok := true
			for _, s := range subs {
				ok = ok && strings.Contains(d.lines[seen], s)
			}
			if ok {
				d.mu.Unlock()
				return nil
			}
		}
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-d.exited:
			// The last lines may have come with the exit.
			d.mu.Lock()
			n := len(d.lines)
			d.mu.Unlock()
			if seen < n {
				continue
			}
			return fmt.Errorf("%s exited before logging %q", d.name, subs)
		case <-deadline:
			return fmt.Errorf("%s did not log %q within %v", d.name, subs, timeout)
		}
	}
}

// started waits for the routes to listen and notes it.
func (d *daemon) started(timeout time.Duration) error {
	if err := d.waitFor(timeout, "route listening"); err != nil {
		return err
	}
	d.rep.Started = true
	return nil
}

// inspect records what the daemon's status says of its guard, then
// sctpgw's table in the daemon's namespace and its counter.
func (d *daemon) inspect() {
	if a := adminOf(d.rep.Args); a != "" {
		d.rep.Status = guardStatus(d.ns, a)
	}
	d.rep.Table, d.rep.Dropped = guardTable(d.ns)
}

// adminOf is the --admin address in args ("" for none).
func adminOf(args []string) string {
	for i, a := range args {
		if a == "--admin" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// guardStatus asks the daemon's admin listener in ns for /status and
// returns its kernel_sctp_guard. The connection is made on a thread in ns
// (an http.Client would dial from another thread, in another namespace).
func guardStatus(ns netns.NsHandle, admin string) *report.GuardStatus {
	var st struct {
		Guard *report.GuardStatus `json:"kernel_sctp_guard"`
	}
	err := inNS(ns, func() error {
		c, err := net.DialTimeout("tcp", admin, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /status HTTP/1.0\r\nHost: sctpgw\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/status: %s", resp.Status)
		}
		return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st)
	})
	switch {
	case err != nil:
		return &report.GuardStatus{Error: err.Error()}
	case st.Guard == nil:
		return &report.GuardStatus{Error: "no kernel_sctp_guard in /status"}
	}
	return st.Guard
}

// waitExit waits up to timeout for the process to end by itself.
func (d *daemon) waitExit(timeout time.Duration) bool {
	select {
	case <-d.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// stop sends SIGTERM (a drain), kills after timeout, and records the log
// and whether the table outlived the process in the case's result.
func (d *daemon) stop(timeout time.Duration) {
	select {
	case <-d.exited:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		if !d.waitExit(timeout) {
			d.cmd.Process.Kill()
			<-d.exited
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	lines := d.lines
	if len(lines) > maxLogLines {
		lines = append(append([]string{}, lines[:maxLogLines/2]...), lines[len(lines)-maxLogLines/2:]...)
	}
	d.rep.Log = lines
	d.rep.TableAfter, _ = guardTable(d.ns)
	d.res.Daemons = append(d.res.Daemons, *d.rep)
}

// guardTable looks for sctpgw's tables in ns (the daemons' sctpgw_PID, the
// operator's sctpgw) and adds up their rules' counters.
func guardTable(ns netns.NsHandle) (present bool, dropped uint64) {
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return false, 0
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, 0
	}
	for _, ch := range chains {
		if ch.Table.Name != "sctpgw" && !strings.HasPrefix(ch.Table.Name, "sctpgw_") {
			continue
		}
		present = true
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			continue
		}
		for _, r := range rules {
			for _, e := range r.Exprs {
				if ctr, ok := e.(*expr.Counter); ok {
					dropped += ctr.Packets
				}
			}
		}
	}
	return present, dropped
}
