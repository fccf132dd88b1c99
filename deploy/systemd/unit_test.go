// Package systemd tests sctpgw.service: its settings (a notify service, a
// dedicated user with CAP_NET_RAW only, a stop timeout above the drain,
// hardening), its own command lines run as systemd would run them (READY=1
// on a fake NOTIFY_SOCKET, STOPPING=1 and a clean exit on its KillSignal),
// and systemd-analyze's verify and offline security checks.
package systemd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/internal/testlab"
)

const (
	unitFile   = "sctpgw.service"
	installBin = "/usr/local/bin/sctpgw"
	installCfg = "/etc/sctpgw/sctpgw.yaml"
	// defaultDrain is sctpgw run's --drain-timeout default.
	defaultDrain = 10 * time.Second
)

// unit is a parsed unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, text string) unit {
	t.Helper()
	u, section := unit{}, ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		ln := strings.TrimSpace(sc.Text())
		switch {
		case ln == "" || ln[0] == '#' || ln[0] == ';':
		case ln[0] == '[' && ln[len(ln)-1] == ']':
			section = ln[1 : len(ln)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(ln, "=")
			if !ok || section == "" || strings.HasSuffix(ln, `\`) {
				t.Fatalf("%s:%d: %q: not KEY=VALUE in a section", unitFile, n, ln)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

func loadUnit(t *testing.T) (unit, string) {
	t.Helper()
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	return parseUnit(t, string(b)), string(b)
}

// one returns the single value of a key in [Service], failing otherwise.
func (u unit) one(t *testing.T, key string) string {
	t.Helper()
	v := u["Service"][key]
	if len(v) != 1 {
		t.Fatalf("[Service] %s: %q, want one value", key, v)
	}
	return v[0]
}

// seconds parses the systemd time spans the unit uses ("30s", "2min", "1").
func seconds(t *testing.T, key, v string) time.Duration {
	t.Helper()
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(strings.Replace(v, "min", "m", 1))
	if err != nil {
		t.Fatalf("%s=%s: %v", key, v, err)
	}
	return d
}

// TestUnitSettings: what the unit promises operators.
func TestUnitSettings(t *testing.T) {
	u, _ := loadUnit(t)
	want := map[string]string{
		"Type": "notify", "NotifyAccess": "main",
		"DynamicUser": "yes", "User": "sctpgw",
		"AmbientCapabilities": "CAP_NET_RAW", "CapabilityBoundingSet": "CAP_NET_RAW",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "ProtectKernelModules": "yes", "RestrictSUIDSGID": "yes",
		"KillSignal": "SIGTERM", "Restart": "on-failure",
		"ExecStart":    installBin + " run --config " + installCfg,
		"ExecStartPre": installBin + " check --config " + installCfg,
	}
	for k, v := range want {
		if got := u.one(t, k); got != v {
			t.Errorf("[Service] %s=%s, want %s", k, got, v)
		}
	}
	// The stop timeout outlasts the default drain and that of every
	// example configuration, with room for the aborts after it.
	stop := seconds(t, "TimeoutStopSec", u.one(t, "TimeoutStopSec"))
	drains := map[string]time.Duration{"sctpgw run's default": defaultDrain}
	files, _ := filepath.Glob("../../examples/configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example configurations")
	}
	for _, f := range files {
		cfg, err := gateway.LoadConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		drains[f] = time.Duration(cfg.DrainTimeout)
	}
	for what, d := range drains {
		if stop < d+5*time.Second {
			t.Errorf("TimeoutStopSec=%v does not outlast the drain of %s (%v) by 5 s", stop, what, d)
		}
	}
	if w := seconds(t, "WatchdogSec", u.one(t, "WatchdogSec")); w < 10*time.Second {
		t.Errorf("WatchdogSec=%v: keep-alives go every half of it; a loaded host needs slack", w)
	}
	if !slices.Contains(u["Install"]["WantedBy"], "multi-user.target") {
		t.Errorf("[Install] WantedBy=%q", u["Install"]["WantedBy"])
	}
}

var built struct {
	once sync.Once
	path string
	out  []byte
	err  error
}

// sctpgw builds the daemon once for the package's tests.
func sctpgw(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "sctpgw-unit-test")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "sctpgw")
		c := exec.Command("go", "build", "-o", built.path, "./cmd/sctpgw")
		c.Dir = "../.."
		built.out, built.err = c.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build: %v\n%s", built.err, built.out)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

// localized returns the unit's text with the installed paths replaced by
// bin and cfg.
func localized(text, bin, cfg string) string {
	return strings.NewReplacer(installBin, bin, installCfg, cfg).Replace(text)
}

// TestUnitLifecycle runs the unit's own ExecStartPre and ExecStart as
// systemd runs a Type=notify service with WatchdogSec: ExecStartPre exits
// 0, READY=1 arrives within TimeoutStartSec, the unit's KillSignal brings
// STOPPING=1 and an exit 0 within TimeoutStopSec. The configuration is a
// UDP-only route on loopback, so no privilege is needed.
func TestUnitLifecycle(t *testing.T) {
	bin := sctpgw(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sctpgw.yaml")
	port, admin := testlab.FreeUDPPort(t), freeTCPAddr(t)
	os.WriteFile(cfg, fmt.Appendf(nil, "udp: {listen: \"127.0.0.1:%d\"}\nadmin: %q\ndrain_timeout: 2s\nroutes:\n"+
		"  - {name: s1ap, listen: \"udp://127.0.0.1:%d/36412\", forward: \"udp://127.0.0.1:9/36412\"}\n", port, admin, port), 0o644)
	_, text := loadUnit(t)
	u := parseUnit(t, localized(text, bin, cfg))

	if out, err := exec.Command("sh", "-c", u.one(t, "ExecStartPre")).CombinedOutput(); err != nil {
		t.Fatalf("ExecStartPre: %v\n%s", err, out)
	}
	sock, path := notifySocket(t)
	daemon := exec.Command("sh", "-c", "exec "+u.one(t, "ExecStart"))
	watchdog := seconds(t, "WatchdogSec", u.one(t, "WatchdogSec"))
	daemon.Env = append(os.Environ(), "NOTIFY_SOCKET="+path, fmt.Sprintf("WATCHDOG_USEC=%d", watchdog.Microseconds()))
	var log strings.Builder
	daemon.Stdout, daemon.Stderr = &log, &log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	defer func() {
		if daemon.ProcessState == nil {
			daemon.Process.Kill()
			<-exited
		}
	}()
	start := seconds(t, "TimeoutStartSec", u.one(t, "TimeoutStartSec"))
	notes := make(chan string, 8)
	go func() {
		for b := make([]byte, 4096); ; {
			n, err := sock.Read(b)
			if err != nil {
				return
			}
			notes <- string(b[:n])
		}
	}()
	select {
	case m := <-notes:
		if !strings.HasPrefix(m, "READY=1\n") {
			t.Fatalf("first notification %q", m)
		}
	case err := <-exited:
		t.Fatalf("exited before READY=1: %v\n%s", err, log.String())
	case <-time.After(start):
		t.Fatalf("no READY=1 within TimeoutStartSec=%v", start)
	}
	sig := map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT}[u.one(t, "KillSignal")]
	if sig == 0 {
		t.Fatalf("KillSignal=%s: not one sctpgw drains on", u.one(t, "KillSignal"))
	}
	daemon.Process.Signal(sig)
	stop := seconds(t, "TimeoutStopSec", u.one(t, "TimeoutStopSec"))
	for stopping := false; !stopping; {
		select {
		case m := <-notes:
			// A keep-alive may come first on a slow machine.
			if stopping = strings.HasPrefix(m, "STOPPING=1\n"); !stopping && m != "WATCHDOG=1" {
				t.Fatalf("after %v: %q", sig, m)
			}
		case <-time.After(stop):
			t.Fatalf("no STOPPING=1 within TimeoutStopSec=%v", stop)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, log.String())
		}
	case <-time.After(stop):
		t.Fatalf("no exit within TimeoutStopSec=%v", stop)
	}
}

func freeTCPAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// notifySocket is systemd's end of sd_notify: a unix datagram socket.
func notifySocket(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

// analyze runs systemd-analyze on a copy of the unit whose command lines
// name a binary that exists here (verify checks that they do).
func analyze(t *testing.T, text string, args ...string) (string, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), unitFile)
	if err := os.WriteFile(f, []byte(localized(text, sctpgw(t), installCfg)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemd-analyze", append(args, f)...).CombinedOutput()
	return string(out), err
}

// TestSystemdAnalyze: systemd-analyze verify finds nothing to say about the
// unit (but does about a misspelt key), and its offline security review
// rates the unit's exposure 2.5 or better (10 is a unit with no sandbox).
// Documentation= names the man page sctpgw man writes; --man=no because a
// test machine need not have it installed.
func TestSystemdAnalyze(t *testing.T) {
	testlab.NeedTool(t, "systemd-analyze")
	_, text := loadUnit(t)
	if out, err := analyze(t, text, "verify", "--man=no"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	bad := strings.Replace(text, "ProtectHome=yes", "ProtectHomes=yes", 1)
	if out, _ := analyze(t, bad, "verify", "--man=no"); !strings.Contains(out, "ProtectHomes") {
		t.Fatalf("verify let a misspelt key pass:\n%s", out)
	}
	out, err := analyze(t, text, "security", "--offline=yes", "--threshold=25", "--no-pager")
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	i := strings.LastIndex(out, "Overall exposure level")
	if i < 0 {
		t.Fatalf("systemd-analyze security:\n%s", out)
	}
	t.Log(strings.TrimSpace(out[i:]))
}

// probeUnit runs inside the booted container once sctpgw.service has
// started: it records what systemd and the kernel say about the service,
// stops it, records how it ended, and powers the container off.
const probeUnit = `[Unit]
Description=probe sctpgw.service
Wants=sctpgw.service
After=sctpgw.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'exec > /out/result 2>&1; \
  systemctl show sctpgw -p ActiveState -p SubState -p StatusText -p User; \
  echo "check: $(%[1]s status --check)"; \
  grep -E "^(Uid|CapEff|CapAmb|CapBnd|NoNewPrivs|Seccomp):" /proc/$(systemctl show -p MainPID --value sctpgw)/status; \
  systemctl stop sctpgw; \
  systemctl show sctpgw -p Result -p ExecMainStatus -p ActiveState | sed "s/^/after-/"; \
  journalctl -u sctpgw --no-pager'
ExecStartPost=/bin/systemctl poweroff
`

// TestUnitUnderSystemd boots this host's own system read-only in a
// container (systemd-nspawn --volatile=yes, a private network) with the
// unit installed, and checks what systemd makes of it: the service is
// active once sctpgw notified READY=1 ("serving 1 routes"), runs as the
// dynamic user sctpgw with CAP_NET_RAW as its only capability (effective,
// ambient and bounding), no new privileges and a seccomp filter, answers
// status --check, and `systemctl stop` drains it to a clean exit. The
// route forwards natively, so the raw socket is opened under the sandbox.
func TestUnitUnderSystemd(t *testing.T) {
	testlab.NeedRoot(t, "systemd-nspawn boots a container")
	testlab.NeedTool(t, "systemd-nspawn")
	bin := sctpgw(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	const optBin = "/opt/sctpgw/sctpgw" // /usr is the host's, read-only
	files := map[string]string{
		"sctpgw.yaml": "udp: {listen: \"127.0.0.1:9899\"}\ndrain_timeout: 3s\nroutes:\n" +
			"  - {name: s1ap, listen: \"udp://127.0.0.1:9899/36412\", forward: \"sctp://127.0.0.2:36412\"}\n",
		"probe.service": fmt.Sprintf(probeUnit, optBin),
		"probe.target":  "[Unit]\nRequires=probe.service\nAfter=probe.service\n",
	}
	_, text := loadUnit(t)
	files[unitFile] = localized(text, optBin, installCfg)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	machine := fmt.Sprintf("sgwunit-%d", os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "systemd-nspawn", "-D", "/", "--volatile=yes", "--register=no", "--keep-unit",
		"--private-network", "-M", machine,
		"--bind="+out+":/out",
		"--bind-ro="+bin+":"+optBin,
		"--bind-ro="+filepath.Join(dir, "sctpgw.yaml")+":"+installCfg,
		"--bind-ro="+filepath.Join(dir, unitFile)+":/etc/systemd/system/"+unitFile,
		"--bind-ro="+filepath.Join(dir, "probe.service")+":/etc/systemd/system/probe.service",
		"--bind-ro="+filepath.Join(dir, "probe.target")+":/etc/systemd/system/probe.target",
		// The container has no network to wait for, and no nftables
		// ruleset of the host's to load.
		"--bind-ro=/dev/null:/etc/systemd/system/systemd-networkd-wait-online.service",
		"--bind-ro=/dev/null:/etc/systemd/system/nftables.service",
		"-b", "systemd.unit=probe.target", "systemd.firstboot=off")
	// SIGTERM asks the container to shut down; SIGKILL only after that.
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	c.WaitDelay = 15 * time.Second
	console, err := c.CombinedOutput()
	result, _ := os.ReadFile(filepath.Join(out, "result"))
	if err != nil && len(result) == 0 {
		t.Fatalf("systemd-nspawn: %v\n%s", err, console)
	}
	got := map[string]string{}
	for _, ln := range strings.Split(string(result), "\n") {
		if k, v, ok := strings.Cut(ln, "="); ok && !strings.Contains(k, " ") {
			got[k] = v
		} else if k, v, ok := strings.Cut(ln, ":"); ok && !strings.Contains(k, " ") {
			got[k] = strings.TrimSpace(v)
		}
	}
	const netRaw = "0000000000002000" // 1 << CAP_NET_RAW (13)
	for k, v := range map[string]string{
		"ActiveState": "active", "SubState": "running", "StatusText": "serving 1 routes", "User": "sctpgw",
		"check": "ready", "CapEff": netRaw, "CapAmb": netRaw, "CapBnd": netRaw, "NoNewPrivs": "1", "Seccomp": "2",
		"after-Result": "success", "after-ExecMainStatus": "0", "after-ActiveState": "inactive",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if uid := strings.Fields(got["Uid"]); len(uid) == 0 || uid[0] == "0" {
		t.Errorf("runs as uid %q", got["Uid"])
	}
	if !strings.Contains(string(result), "msg=draining") {
		t.Errorf("no drain in the journal")
	}
	if t.Failed() {
		t.Logf("probe:\n%s\nconsole:\n%s", result, console)
	}
}
