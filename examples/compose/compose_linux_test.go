//go:build linux

package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/internal/testlab"
)

// Everything the test creates is named sgwc-<pid>...: the compose project
// (so its containers sgwc-<pid>_<service>_1 and networks sgwc-<pid>_<net>)
// and the images localhost/sgwc-<pid>-sctpgw and -lab. Parallel runs do not
// collide, and a later run removes what a killed one left behind.
const prefix = "sgwc"

// The compose file's settings the test relies on.
const (
	drainTimeout = 5 * time.Second  // edge.yaml, core.yaml
	stopGrace    = 20               // seconds, compose.yaml's stop_grace_period
	messages     = 300              // per simulator, compose.yaml
	natPortLo    = 20000            // natbox -ports in compose.yaml
	natPortHi    = 29999            //
	labTimeout   = 90 * time.Second // from up to both simulators holding
)

// TestComposeLab builds the images from this repository, brings
// examples/compose/compose.yaml up with podman-compose, and checks: an eNB
// (S1AP) and a gNB (NGAP) each exchange 300 messages with the MME through
// edge, NAT and core with every stream, PPID, unordered flag and payload
// intact both ways; the gateways run as UID 65532 with only CAP_NET_RAW and
// their image's HEALTHCHECK passes; the core sees the tunnel from the NAT's
// address and a translated port; `podman-compose stop -t 20 edge` drains:
// the edge exits 0 well inside the grace period, the eNB and gNB see a
// graceful SHUTDOWN, and so does the MME through the core. The image's
// entrypoint runs `demo` with every capability dropped. Everything is
// removed at the end, failed or not.
func TestComposeLab(t *testing.T) {
	testlab.NeedRoot(t, "podman runs the lab's containers and networks as root")
	// iptables: netavark 1.4 sets the lab's networks up with it, and
	// without it fails every container with only "No such file or
	// directory".
	testlab.NeedTools(t, "podman", "runc", "podman-compose", "iptables")
	sweepStale(t)
	l := newLab(t)
	t.Cleanup(l.teardown) // before anything exists: it removes what does
	l.buildImages()
	l.checkDemo()
	l.up()
	l.waitHolding("enb1", "gnb1")
	l.checkGateways()
	l.checkNAT()
	l.stopEdge()
}

type lab struct {
	t       *testing.T
	repo    string
	project string
	image   string // sctpgw
	labImg  string // s1sim, natbox
	env     []string
}

func newLab(t *testing.T) *lab {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	p := fmt.Sprintf("%s-%d", prefix, os.Getpid())
	l := &lab{t: t, repo: repo, project: p,
		image: "localhost/" + p + "-sctpgw:test", labImg: "localhost/" + p + "-lab:test"}
	l.env = append(os.Environ(), "SCTPGW_IMAGE="+l.image, "SCTPGW_LAB_IMAGE="+l.labImg, "CGO_ENABLED=0")
	return l
}

// run runs a command bounded by timeout and returns its combined output.
func (l *lab) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Env, c.Dir, c.WaitDelay = l.env, l.repo, 5*time.Second
	out, err := c.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (after %v)", ctx.Err(), timeout)
	}
	return string(out), err
}

func (l *lab) must(timeout time.Duration, name string, args ...string) string {
	l.t.Helper()
	out, err := l.run(timeout, name, args...)
	if err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// podman runs podman with the runtime that works here (crun fails on
// setrlimit with this machine's hybrid cgroups).
func (l *lab) podman(args ...string) string {
	l.t.Helper()
	return l.must(2*time.Minute, "podman", append([]string{"--runtime", "runc"}, args...)...)
}

// compose runs podman-compose on the lab's compose file as project
// sgwc-<pid>, passing the runtime to every podman command it runs.
func (l *lab) compose(args ...string) (string, error) {
	base := []string{"-p", l.project, "-f", filepath.Join(l.repo, "examples/compose/compose.yaml"), "--podman-args=--runtime runc"}
	return l.run(3*time.Minute, "podman-compose", append(base, args...)...)
}

func (l *lab) container(service string) string { return l.project + "_" + service + "_1" }

// buildImages builds the static binaries into a fresh build context and
// the images from the repository's Containerfiles, as `make image
// compose-images` does, in docker format so that the HEALTHCHECK stays.
func (l *lab) buildImages() {
	ctx := l.t.TempDir()
	l.must(5*time.Minute, "go", "build", "-trimpath", "-o", filepath.Join(ctx, "bin/image")+"/",
		"./cmd/sctpgw", "./examples/compose/s1sim", "./examples/compose/natbox")
	ignore, err := os.ReadFile(filepath.Join(l.repo, ".containerignore"))
	if err != nil {
		l.t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctx, ".containerignore"), ignore, 0o644)
	os.WriteFile(filepath.Join(ctx, "not-in-image"), []byte("the ignore file keeps this out"), 0o644)
	l.podman("build", "--format", "docker", "-f", filepath.Join(l.repo, "Containerfile"), "-t", l.image, ctx)
	l.podman("build", "--format", "docker", "-f", filepath.Join(l.repo, "examples/compose/Containerfile"), "-t", l.labImg, ctx)
	cfg := l.podman("image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Healthcheck.Test}}", l.image)
	if want := `65532:65532 ["/usr/bin/sctpgw"] ["CMD","/usr/bin/sctpgw","status","--check","--timeout","3s"]`; strings.TrimSpace(cfg) != want {
		l.t.Fatalf("image config %q, want %q", strings.TrimSpace(cfg), want)
	}
}

// checkDemo: `podman run IMAGE demo` runs the demo, with no capability.
func (l *lab) checkDemo() {
	out := l.podman("run", "--rm", "--cap-drop", "ALL", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096", l.image, "demo")
	if !strings.Contains(out, "12/12 messages delivered") || !strings.Contains(out, "abort cause intact") {
		l.t.Fatalf("demo in the image:\n%s", out)
	}
}

func (l *lab) up() {
	if out, err := l.compose("up", "-d", "--no-build"); err != nil {
		l.t.Fatalf("podman-compose up: %v\n%s", err, out)
	}
}

// logs returns a container's output (stdout and stderr).
func (l *lab) logs(service string) string {
	out, _ := l.run(30*time.Second, "podman", "logs", l.container(service))
	return out
}

// state returns a container's status and exit code.
func (l *lab) state(service string) (string, int) {
	out, err := l.run(30*time.Second, "podman", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", l.container(service))
	f := strings.Fields(out)
	if err != nil || len(f) != 2 {
		return "missing", -1
	}
	code, _ := strconv.Atoi(f[1])
	return f[0], code
}

// waitHolding waits until each simulator has checked its exchange and
// holds its association.
func (l *lab) waitHolding(sims ...string) {
	deadline := time.Now().Add(labTimeout)
	for _, s := range sims {
		for !strings.Contains(l.logs(s), "holding the association") {
			if st, code := l.state(s); st != "running" {
				l.t.Fatalf("%s is %s (exit %d):\n%s", s, st, code, l.logs(s))
			}
			if time.Now().After(deadline) {
				l.t.Fatalf("%s not holding after %v:\n%s", s, labTimeout, l.logs(s))
			}
			time.Sleep(500 * time.Millisecond)
		}
		want := fmt.Sprintf("%d/%d answers intact", messages, messages)
		if out := l.logs(s); !strings.Contains(out, want) {
			l.t.Fatalf("%s:\n%s", s, out)
		}
	}
}

// checkGateways: non-root with only CAP_NET_RAW, healthy by the image's
// HEALTHCHECK, and a pair per route in status.
func (l *lab) checkGateways() {
	for _, gw := range []string{"edge", "core"} {
		top := strings.Fields(l.podman("top", l.container(gw), "user", "capeff"))
		if len(top) != 5 || top[3] != "65532" || top[4] != "NET_RAW" {
			l.t.Fatalf("%s runs as %q", gw, top)
		}
		if out, err := l.run(time.Minute, "podman", "healthcheck", "run", l.container(gw)); err != nil {
			l.t.Fatalf("%s HEALTHCHECK: %v\n%s", gw, err, out)
		}
	}
}

// status returns a gateway's status, read inside its container.
func (l *lab) status(gw string) gateway.Snapshot {
	var s gateway.Snapshot
	out := l.podman("exec", l.container(gw), "/usr/bin/sctpgw", "status", "--json")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		l.t.Fatalf("%s status: %v\n%s", gw, err, out)
	}
	return s
}

// addrs returns a container's address on each of its networks.
func (l *lab) addrs(service string) map[string]string {
	out := l.podman("inspect", "--format", "{{json .NetworkSettings.Networks}}", l.container(service))
	var nets map[string]struct{ IPAddress string }
	if err := json.Unmarshal([]byte(out), &nets); err != nil {
		l.t.Fatalf("%s networks: %v\n%s", service, err, out)
	}
	a := map[string]string{}
	for n, v := range nets {
		a[strings.TrimPrefix(n, l.project+"_")] = v.IPAddress
	}
	return a
}

// checkNAT: the tunnel crosses the NAT. The edge sends to the NAT's wan
// address on 9899; the core sees the NAT's pub address and a port the NAT
// chose; each route carried the setup and every message.
func (l *lab) checkNAT() {
	nat, enb, gnb := l.addrs("nat"), l.addrs("enb1"), l.addrs("gnb1")
	sims := map[string]string{"s1ap": enb["ran"], "ngap": gnb["ran"]}
	edge, core := l.status("edge"), l.status("core")
	if len(edge.Pairs) != 2 || len(core.Pairs) != 2 {
		l.t.Fatalf("pairs: edge %d, core %d", len(edge.Pairs), len(core.Pairs))
	}
	for _, p := range edge.Pairs {
		in, out := p.Ingress, p.Egress
		if in.RemoteAddr != sims[p.Route] || out.RemoteAddr != nat["wan"] || out.EncapPort != 9899 || p.MsgsIn != messages+1 || p.MsgsOut != messages+1 {
			l.t.Fatalf("edge pair %+v; want from %s, to the NAT %s:9899", p, sims[p.Route], nat["wan"])
		}
	}
	for _, p := range core.Pairs {
		in := p.Ingress
		if in.RemoteAddr != nat["pub"] || in.EncapPort < natPortLo || in.EncapPort > natPortHi || p.MsgsIn != messages+1 {
			l.t.Fatalf("core pair %+v; want from the NAT's %s, UDP port %d-%d", p, nat["pub"], natPortLo, natPortHi)
		}
	}
}

// stopEdge stops the edge as an operator would, with a grace period longer
// than its drain_timeout: it drains and exits 0, every association through
// it ends with a graceful SHUTDOWN at both ends.
func (l *lab) stopEdge() {
	t0 := time.Now()
	if out, err := l.compose("stop", "-t", strconv.Itoa(stopGrace), "edge"); err != nil {
		l.t.Fatalf("podman-compose stop: %v\n%s", err, out)
	}
	took := time.Since(t0)
	if st, code := l.state("edge"); st != "exited" || code != 0 {
		l.t.Fatalf("edge after stop: %s, exit %d (137: killed before the drain ended)\n%s", st, code, l.logs("edge"))
	}
	// Well inside the drain timeout: the pairs shut down, none waited
	// for the abort.
	if took > drainTimeout {
		l.t.Fatalf("stop took %v, drain_timeout is %v", took, drainTimeout)
	}
	if out := l.logs("edge"); !strings.Contains(out, "msg=draining") || strings.Count(out, `ingress_end="SHUTDOWN by gateway (drain)" egress_end="SHUTDOWN by gateway (drain)"`) != 2 {
		l.t.Fatalf("edge log:\n%s", out)
	}
	for _, s := range []string{"enb1", "gnb1"} {
		if out, err := l.run(time.Minute, "podman", "wait", l.container(s)); err != nil || strings.TrimSpace(out) != "0" {
			l.t.Fatalf("%s exit %q %v:\n%s", s, out, err, l.logs(s))
		}
		if out := l.logs(s); !strings.Contains(out, "association ended: SHUTDOWN_COMP (graceful)") {
			l.t.Fatalf("%s:\n%s", s, out)
		}
	}
	// The MME sees the same graceful end through the core.
	ended := func(name string, port int) bool {
		for _, ln := range strings.Split(l.logs("mme"), "\n") {
			if strings.HasPrefix(ln, "mme: "+name+" (") &&
				strings.HasSuffix(ln, fmt.Sprintf("on port %d ended: SHUTDOWN_COMP (graceful) after %d answers", port, messages+1)) {
				return true
			}
		}
		return false
	}
	testlab.WaitFor(l.t, 10*time.Second, "the MME's log of both graceful ends", func() bool {
		return ended("enb1", 36412) && ended("gnb1", 38412)
	})
}

// teardown removes the project's containers (podman-compose down, as a
// user would, then by label whatever is left), its networks (podman-compose
// 1.0.3 leaves them) and the images, and fails the test if any remains.
func (l *lab) teardown() {
	if l.t.Failed() {
		for _, s := range []string{"mme", "core", "nat", "edge", "enb1", "gnb1"} {
			l.t.Logf("== %s (%s)\n%s", s, fmt.Sprint(l.state(s)), l.logs(s))
		}
	}
	if out, err := l.compose("down", "-t", strconv.Itoa(stopGrace)); err != nil {
		l.t.Logf("podman-compose down: %v\n%s", err, out)
	}
	removeProject(l.t, l.project)
	l.run(time.Minute, "podman", "rmi", "-f", l.image, l.labImg)
	if left := leftovers(l.t, func(name string) bool { return strings.HasPrefix(name, l.project) }); len(left) > 0 {
		l.t.Errorf("left behind: %v", left)
	}
}

// removeProject force-removes a project's containers and networks.
func removeProject(t *testing.T, project string) {
	ids := strings.Fields(testlab.Cmd(t, false, "podman", "ps", "-a", "-q", "--filter", "label=io.podman.compose.project="+project))
	if len(ids) > 0 {
		testlab.Cmd(t, false, "podman", append([]string{"rm", "-f", "-t", "0"}, ids...)...)
	}
	for _, n := range strings.Fields(testlab.Cmd(t, false, "podman", "network", "ls", "--format", "{{.Name}}")) {
		if strings.HasPrefix(n, project+"_") {
			testlab.Cmd(t, false, "podman", "network", "rm", "-f", n)
		}
	}
}

// leftovers lists the containers, networks and images whose name match.
func leftovers(t *testing.T, match func(string) bool) []string {
	var left []string
	for _, ls := range [][]string{
		{"ps", "-a", "--format", "{{.Names}}"},
		{"network", "ls", "--format", "{{.Name}}"},
		{"images", "--format", "{{.Repository}}"},
	} {
		for _, n := range strings.Fields(testlab.Cmd(t, false, "podman", ls...)) {
			if match(strings.TrimPrefix(n, "localhost/")) {
				left = append(left, n)
			}
		}
	}
	return left
}

// sweepStale removes what a test process killed before its cleanup left:
// containers, networks and images named sgwc-<pid> of processes gone.
func sweepStale(t *testing.T) {
	stale := func(name string) bool {
		rest, ok := strings.CutPrefix(name, prefix+"-")
		if !ok {
			return false
		}
		notDigit := func(r rune) bool { return r < '0' || r > '9' }
		pid, err := strconv.Atoi(rest[:strings.IndexFunc(rest+"x", notDigit)])
		return err == nil && pid > 0 && pid != os.Getpid() && errors.Is(unix.Kill(pid, 0), unix.ESRCH)
	}
	for _, n := range leftovers(t, stale) {
		t.Logf("removing %s, left behind by a test process that is gone", n)
		name := strings.TrimPrefix(n, "localhost/")
		project, _, _ := strings.Cut(name, "_")
		project = strings.TrimSuffix(strings.TrimSuffix(project, "-sctpgw"), "-lab")
		removeProject(t, project)
		testlab.Cmd(t, false, "podman", "rmi", "-f", n)
	}
}
