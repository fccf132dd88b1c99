// Package lab is sctpgw's end-to-end lab in network namespaces (root):
//
//	enb 198.18.1.10 --veth-- 198.18.1.1 edge 198.18.10.2 --veth-- 198.18.10.1 nat 198.19.0.1 --veth-- 198.19.0.10 core 198.18.2.1 --veth-- 198.18.2.10 mme
//
// The edge gateway takes native SCTP from the eNB namespace and tunnels it
// over UDP 9899 through the nat namespace (nftables masquerade) to the core
// gateway, which speaks native SCTP to the mme namespace. See README.md.
package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lab is the running topology.
type lab struct {
	t      *testing.T
	prefix string
	ns     map[string]string // role -> namespace name
	bin    string
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root: it creates network namespaces and raw SCTP sockets")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the lab needs %s (CI installs it)", tool)
		}
	}
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newLab(t *testing.T) *lab {
	t.Helper()
	need(t, "ip", "nft")
	l := &lab{t: t, prefix: fmt.Sprintf("sgwl-%d-", os.Getpid()), ns: map[string]string{}}
	for _, r := range []string{"enb", "edge", "nat", "core", "mme"} {
		l.ns[r] = l.prefix + r
		run(t, "ip", "netns", "add", l.ns[r])
	}
	t.Cleanup(func() {
		for _, n := range l.ns {
			exec.Command("ip", "netns", "del", n).Run()
		}
	})
	link := func(a, ia, addrA, b, ib, addrB string) {
		run(t, "ip", "link", "add", ia, "netns", l.ns[a], "type", "veth", "peer", "name", ib, "netns", l.ns[b])
		for _, x := range [][3]string{{a, ia, addrA}, {b, ib, addrB}} {
			run(t, "ip", "-n", l.ns[x[0]], "addr", "add", x[2], "dev", x[1])
			run(t, "ip", "-n", l.ns[x[0]], "link", "set", x[1], "up")
		}
	}
	link("enb", "enb0", "198.18.1.10/24", "edge", "e-enb", "198.18.1.1/24")
	link("edge", "e-nat", "198.18.10.2/24", "nat", "n-edge", "198.18.10.1/24")
	link("nat", "n-core", "198.19.0.1/24", "core", "c-nat", "198.19.0.10/24")
	link("core", "c-mme", "198.18.2.1/24", "mme", "m0", "198.18.2.10/24")
	for _, n := range l.ns {
		run(t, "ip", "-n", n, "link", "set", "lo", "up")
	}
	run(t, "ip", "-n", l.ns["edge"], "route", "add", "default", "via", "198.18.10.1")
	run(t, "ip", "netns", "exec", l.ns["nat"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "netns", "exec", l.ns["nat"], "nft", "add table ip lab; add chain ip lab post { type nat hook postrouting priority 100; }; add rule ip lab post oifname n-core masquerade")
	l.bin = filepath.Join(t.TempDir(), "sctpgw")
	build := exec.Command("go", "build", "-o", l.bin, "github.com/sctpgw/sctpgw/cmd/sctpgw")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return l
}

// proc is a process the lab started; it is ended by its pid in cleanup.
type proc struct {
	cmd *exec.Cmd
	out *syncBuf
}

func (l *lab) start(role string, args ...string) *proc {
	l.t.Helper()
	full := append([]string{"netns", "exec", l.ns[role], "timeout", "-s", "KILL", "170"}, args...)
	p := &proc{cmd: exec.Command("ip", full...), out: &syncBuf{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.cmd.Wait()
	})
	return p
}

// gateways starts the edge and core daemons for SCTP port sport.
func (l *lab) gateways(sport int) (edge, core *proc) {
	edge = l.start("edge", l.bin, "run", "--log", "warn", "--admin", "127.0.0.1:9900",
		"--listen", fmt.Sprintf("sctp://198.18.1.1:%d", sport), "--forward", fmt.Sprintf("udp://198.19.0.10:9899/%d", sport))
	core = l.start("core", l.bin, "run", "--log", "warn", "--admin", "127.0.0.1:9900",
		"--listen", fmt.Sprintf("udp://198.19.0.10:9899/%d", sport), "--forward", fmt.Sprintf("sctp://198.18.2.10:%d", sport))
	time.Sleep(500 * time.Millisecond)
	return edge, core
}

// status runs `sctpgw status` in a role's namespace.
func (l *lab) status(role string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "ip", "netns", "exec", l.ns[role], l.bin, "status", "--admin", "127.0.0.1:9900").CombinedOutput()
	return string(out)
}

// usrsctp finds a Debian libusrsctp-examples program.
func usrsctp(t *testing.T, name string) string {
	for _, dir := range []string{"/usr/lib/usrsctp", "/usr/lib/x86_64-linux-gnu/usrsctp"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	out, _ := exec.Command("dpkg", "-L", "libusrsctp-examples").Output()
	for _, ln := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(ln, "/"+name) {
			return ln
		}
	}
	t.Skipf("usrsctp's %s is not installed (libusrsctp-examples; CI installs it)", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestE2ELabUsrsctp: usrsctp's client in enb, through edge, NAT and core, to
// usrsctp's echo_server in mme, all native SCTP at the ends: lines come back
// intact. Then usrsctp's client speaking UDP encapsulation straight to the
// core gateway.
func TestE2ELabUsrsctp(t *testing.T) {
	need(t, "ip", "nft", "stdbuf")
	client, server := usrsctp(t, "client"), usrsctp(t, "echo_server")
	l := newLab(t)
	_, _ = l.gateways(7) // echo_server serves SCTP port 7
	echo := l.start("mme", "stdbuf", "-oL", server, "0")
	time.Sleep(time.Second) // its raw socket opens
	lines := []string{"S1SetupRequest from usrsctp", "InitialUEMessage", "UEContextReleaseRequest"}
	got := usrsctpClient(t, l, "enb", client, "198.18.1.1", "0", lines)
	for _, ln := range lines {
		if !strings.Contains(got, ln) {
			t.Fatalf("usrsctp client through both gateways did not get %q back:\n%s\necho_server: %s", ln, got, echo.out.String())
		}
	}
	// Encapsulated straight to the core, from the nat namespace (the far
	// side of the NAT, where nothing else speaks SCTP).
	got = usrsctpClient(t, l, "nat", client, "198.19.0.10", "9899", lines[:1])
	if !strings.Contains(got, lines[0]) {
		t.Fatalf("usrsctp client over UDP to the core did not get its line back:\n%s", got)
	}
}

// usrsctpClient runs usrsctp's client (remote address, port 7, local port
// 0, local encaps port 0 or 9899's counterpart, remote encaps port) with
// lines on stdin, bounded, and returns its output.
func usrsctpClient(t *testing.T, l *lab, role, client, remote, encap string, lines []string) string {
	t.Helper()
	localEncap := "0"
	if encap != "0" {
		localEncap = "9900"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.ns[role], "timeout", "15", "stdbuf", "-oL", client, remote, "7", "0", localEncap, encap)
	stdin, _ := cmd.StdinPipe()
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, ln := range lines {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintln(stdin, ln)
	}
	// Wait for the echoes before closing stdin, which makes it shut down.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(out.String(), lines[len(lines)-1]+"") {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	stdin.Close()
	cmd.Wait()
	return out.String()
}

// TestE2ELabOwnStack: our stack at both ends (helper processes in enb and
// mme): many streams, PPIDs and unordered messages checked at the far end,
// graceful shutdown and abort; then 100 associations at once through the
// pair, with the NAT's conntrack flushed in the middle.
func TestE2ELabOwnStack(t *testing.T) {
	need(t, "ip", "nft", "conntrack")
	l := newLab(t)
	l.gateways(36412)
	self, _ := os.Executable()
	srv := l.startEnv("mme", []string{"SGW_LAB_ROLE=server"}, self, "-test.run=^TestLabHelper$", "-test.v")
	waitFor(t, 20*time.Second, "the server to listen", func() bool { return strings.Contains(srv.out.String(), "LISTENING") })

	gate := filepath.Join(t.TempDir(), "go-on")
	cli := l.startEnv("enb", []string{"SGW_LAB_ROLE=client", "SGW_LAB_GATE=" + gate, "SGW_LAB_N=100"}, self, "-test.run=^TestLabHelper$", "-test.v")
	waitFor(t, 60*time.Second, "phase 1 (100 associations up and echoing)", func() bool {
		return strings.Contains(cli.out.String(), "PHASE1 OK") || strings.Contains(cli.out.String(), "FAIL")
	})
	if !strings.Contains(cli.out.String(), "PHASE1 OK") {
		t.Fatalf("client:\n%s\nserver:\n%s", cli.out.String(), srv.out.String())
	}
	st := l.status("edge")
	if !strings.Contains(st, "101 pairs") && !strings.Contains(st, "100 pairs") {
		t.Fatalf("edge status:\n%s", st)
	}
	if !strings.Contains(l.status("core"), "ESTABLISHED") {
		t.Fatalf("core status:\n%s", l.status("core"))
	}
	run(t, "ip", "netns", "exec", l.ns["nat"], "conntrack", "-F")
	os.WriteFile(gate, nil, 0o644)
	waitFor(t, 90*time.Second, "phase 2 (after the conntrack flush)", func() bool {
		return strings.Contains(cli.out.String(), "ALL OK") || strings.Contains(cli.out.String(), "FAIL")
	})
	if !strings.Contains(cli.out.String(), "ALL OK") || !strings.Contains(cli.out.String(), "STREAMS OK, SHUTDOWN OK") {
		t.Fatalf("client:\n%s\nserver:\n%s", cli.out.String(), srv.out.String())
	}
	// The eNB's abort reason crossed both gateways byte for byte.
	if !strings.Contains(srv.out.String(), `causes "\x00\f\x00\x14lab: eNB reset \x01"`) {
		t.Fatalf("the MME side did not get the abort reason intact:\n%s", srv.out.String())
	}
	t.Logf("client:\n%s", cli.out.String())
}

func (l *lab) startEnv(role string, env []string, args ...string) *proc {
	l.t.Helper()
	full := append([]string{"netns", "exec", l.ns[role], "timeout", "-s", "KILL", "170"}, args...)
	p := &proc{cmd: exec.Command("ip", full...), out: &syncBuf{}}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.cmd.Wait()
	})
	return p
}

func waitFor(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuf collects a process's output for polling from the test.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
