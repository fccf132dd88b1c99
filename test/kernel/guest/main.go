//go:build linux

// Command guest is /init of the kernel-SCTP test VM. It mounts what a
// program needs, loads the kernel modules the host packed (the sctp module
// only when a case asks for it), reads the plan, runs each case and prints
// what it observed as one report line on the second serial port, then
// reboots, which ends qemu (-no-reboot).
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/test/kernel/report"
)

// Module lists packed by the host, one module file name a line, in load
// order.
const (
	baseModules = "/lib/modules/base.order"
	sctpModules = "/lib/modules/sctp.order"
)

var (
	outMu sync.Mutex
	out   *os.File
	start = time.Now()
)

// say prints a progress note (the host shows them when a case fails).
func say(format string, args ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(out, "guest %6.2fs: %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func emit(r *report.Result) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintln(out, r.Line())
}

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "guest: this is the test VM's /init; the kernel-SCTP tests boot it")
		os.Exit(2)
	}
	defer reboot()
	if err := mounts(); err != nil {
		fmt.Fprintln(os.Stderr, "guest:", err)
		return
	}
	var err error
	if out, err = os.OpenFile("/dev/ttyS1", os.O_WRONLY, 0); err != nil {
		out = os.Stderr
	}
	defer func() {
		if p := recover(); p != nil {
			say("panic: %v\n%s", p, debug.Stack())
		}
		fmt.Fprintln(out, report.LinePrefix+"DONE")
		out.Sync()
	}()
	say("kernel %s, up %s s", uname(), uptime())
	if err := loadModules(baseModules); err != nil {
		say("%v", err)
		return
	}
	say("modules loaded, up %s s", uptime())
	var plan report.Plan
	b, err := os.ReadFile(report.PlanPath)
	if err == nil {
		err = json.Unmarshal(b, &plan)
	}
	if err != nil {
		say("plan: %v", err)
		return
	}
	env, err := newEnv()
	if err != nil {
		say("network setup: %v", err)
		return
	}
	if env.authKey, err = hex.DecodeString(plan.AuthKey); err != nil {
		say("plan: auth key: %v", err)
		return
	}
	say("namespaces ready, up %s s", uptime())
	for _, name := range plan.Cases {
		r := &report.Result{Case: name}
		t0 := time.Now()
		say("case %s", name)
		if err := env.run(name, r); err != nil {
			r.Err = err.Error()
		}
		r.Seconds = time.Since(t0).Seconds()
		emit(r)
	}
}

func mounts() error {
	for _, m := range []struct{ src, dst, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"}, {"tmpfs", "/run", "tmpfs"},
	} {
		if err := unix.Mount(m.src, m.dst, m.fs, 0, ""); err != nil && err != unix.EBUSY {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	return nil
}

// uptime is the first field of /proc/uptime: seconds since the kernel
// started.
func uptime() string {
	b, _ := os.ReadFile("/proc/uptime")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func uname() string {
	var u unix.Utsname
	unix.Uname(&u)
	return unix.ByteSliceToString(u.Release[:])
}

// loadModules loads the modules a list names, in order (finit_module: the
// guest has no modprobe).
func loadModules(list string) error {
	b, err := os.ReadFile(list)
	if err != nil {
		return fmt.Errorf("modules: %w", err)
	}
	for _, name := range strings.Fields(string(b)) {
		if err := loadModule(name); err != nil {
			return err
		}
	}
	return nil
}

func loadModule(name string) error {
	f, err := os.Open("/lib/modules/" + name + ".ko")
	if err != nil {
		return fmt.Errorf("module %s: %w", name, err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
		return fmt.Errorf("module %s: finit_module: %w", name, err)
	}
	return nil
}

// sctpLoaded reports whether the sctp module is in.
func sctpLoaded() bool {
	_, err := os.Stat("/sys/module/sctp")
	return err == nil
}

func loadSCTP() error {
	if sctpLoaded() {
		return nil
	}
	t0 := time.Now()
	if err := loadModules(sctpModules); err != nil {
		return err
	}
	say("sctp module loaded in %v", time.Since(t0).Round(time.Millisecond))
	return nil
}

func reboot() {
	unix.Sync()
	// With -no-reboot, qemu exits instead of rebooting.
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {}
}
