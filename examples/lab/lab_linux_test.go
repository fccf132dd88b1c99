//go:build linux

package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
)

// The lab's addresses, all in 198.18.0.0/15 (RFC 2544, set aside for
// benchmarking):
//
//	enb  enb0     198.18.1.10/24 (+ 198.18.3.10/24, a source the edge's ACL refuses)
//	edge edge-ran 198.18.1.1/24   edge-wan 198.18.10.2/24
//	nat  nat-in   198.18.10.1/24  nat-out  198.19.0.1/24 (masquerade)
//	core core-wan 198.19.0.10/24  core-cn  198.18.2.1/24
//	mme  mme0     198.18.2.10/24 (+ 198.18.2.20/24, the AMF)
const (
	enbAddr   = "198.18.1.10"
	enbAlt    = "198.18.3.10"
	edgeRAN   = "198.18.1.1"
	edgeWAN   = "198.18.10.2"
	natInside = "198.18.10.1"
	natPublic = "198.19.0.1"
	coreWAN   = "198.19.0.10"
	coreCN    = "198.18.2.1"
	mmeAddr   = "198.18.2.10"
	amfAddr   = "198.18.2.20"
)

// Each gateway's admin endpoint, on 127.0.0.1 inside its own namespace.
const (
	edgeAdmin = "127.0.0.1:9901"
	coreAdmin = "127.0.0.1:9902"
)

var veths = []struct{ a, aDev, aAddr, b, bDev, bAddr string }{
	{"enb", "enb0", enbAddr, "edge", "edge-ran", edgeRAN},
	{"edge", "edge-wan", edgeWAN, "nat", "nat-in", natInside},
	{"nat", "nat-out", natPublic, "core", "core-wan", coreWAN},
	{"core", "core-cn", coreCN, "mme", "mme0", mmeAddr},
}

// lab is the running topology: five namespaces named sgwl-<pid>-<n>-<role>.
type lab struct {
	tb testing.TB
	ns map[string]string // role -> namespace
}

var labSeq atomic.Int32

// needRoot skips a test that cannot build the lab (fails it in CI).
func needRoot(tb testing.TB, tools ...string) {
	tb.Helper()
	testlab.NeedRoot(tb, "the lab creates network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN) and raw SCTP sockets (CAP_NET_RAW)")
	testlab.NeedTools(tb, append([]string{"ip", "nft", "timeout", "sysctl"}, tools...)...)
}

// newLab builds the topology; it is torn down when the test ends, passed
// or failed. The gateways are not started: see startGateways.
func newLab(tb testing.TB) *lab {
	tb.Helper()
	needRoot(tb)
	testlab.SweepStaleNS(tb, "sgwl")
	l := &lab{tb: tb, ns: map[string]string{}}
	n := labSeq.Add(1)
	for _, r := range []string{"enb", "edge", "nat", "core", "mme"} {
		ns := fmt.Sprintf("sgwl-%d-%d-%s", os.Getpid(), n, r)
		l.ns[r] = ns
		tb.Cleanup(func() { testlab.Cmd(tb, false, "ip", "netns", "del", ns) })
		l.must("ip", "netns", "add", ns)
		l.must("ip", "-n", ns, "link", "set", "lo", "up")
	}
	haveEthtool := testlab.HaveTool(tb, "ethtool", "turning checksum offload off (captures show partial UDP checksums)")
	// LAB_VETH_OFFLOAD=on keeps the veths' offloads as the kernel sets
	// them (a container's veth has them): a GSO datagram then crosses the
	// NAT to the core whole. Off, the sender's veth cuts it into packets
	// and checksums each in software.
	keepOffload := os.Getenv("LAB_VETH_OFFLOAD") == "on"
	for _, v := range veths {
		l.must("ip", "-n", l.ns[v.a], "link", "add", v.aDev, "type", "veth", "peer", "name", v.bDev, "netns", l.ns[v.b])
		for _, end := range [][3]string{{v.a, v.aDev, v.aAddr}, {v.b, v.bDev, v.bAddr}} {
			l.must("ip", "-n", l.ns[end[0]], "addr", "add", end[2]+"/24", "dev", end[1])
			l.must("ip", "-n", l.ns[end[0]], "link", "set", end[1], "up")
			// Checksums computed in software: a capture then shows UDP
			// checksums as they leave, not "partial" (offloaded) ones.
			if haveEthtool && !keepOffload {
				testlab.Cmd(tb, false, "ip", "netns", "exec", l.ns[end[0]], "ethtool", "-K", end[1], "tx", "off")
			}
		}
	}
	l.must("ip", "-n", l.ns["enb"], "addr", "add", enbAlt+"/24", "dev", "enb0")
	l.must("ip", "-n", l.ns["mme"], "addr", "add", amfAddr+"/24", "dev", "mme0")
	l.must("ip", "-n", l.ns["enb"], "route", "add", "default", "via", edgeRAN)
	l.must("ip", "-n", l.ns["edge"], "route", "add", "default", "via", natInside)
	l.must("ip", "-n", l.ns["edge"], "route", "add", "198.18.3.0/24", "via", enbAddr)
	l.must("ip", "-n", l.ns["mme"], "route", "add", "default", "via", coreCN)
	// The NAT routes back to the edge side, and on to the core network for
	// the direct (gateway-less) paths of the benchmark; the edge and the
	// core forward nothing unless the benchmark turns forwarding on.
	for _, r := range [][2]string{{"198.18.1.0/24", edgeWAN}, {"198.18.3.0/24", edgeWAN}, {"198.18.2.0/24", coreWAN}} {
		l.must("ip", "-n", l.ns["nat"], "route", "add", r[0], "via", r[1])
	}
	l.must("ip", "netns", "exec", l.ns["nat"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
	l.masquerade("")
	return l
}

func (l *lab) must(name string, args ...string) string {
	l.tb.Helper()
	return testlab.Cmd(l.tb, true, name, args...)
}

// in runs a command inside role's namespace, for at most 20 s.
func (l *lab) in(role string, args ...string) string {
	l.tb.Helper()
	return testlab.Cmd(l.tb, true, "ip", append([]string{"netns", "exec", l.ns[role]}, args...)...)
}

// masquerade (re)writes the NAT: everything leaving toward the core gets
// the NAT's public address; UDP gets a source port from udpPorts when set
// ("40000-40099"), else keeps its own port where it can.
func (l *lab) masquerade(udpPorts string) {
	l.tb.Helper()
	udp := ""
	if udpPorts != "" {
		udp = "    oifname \"nat-out\" meta l4proto udp masquerade to :" + udpPorts + "\n"
	}
	rules := "table ip sgwlab {\n  chain post {\n    type nat hook postrouting priority srcnat; policy accept;\n" +
		udp + "    oifname \"nat-out\" masquerade\n  }\n}\n"
	testlab.Cmd(l.tb, false, "ip", "netns", "exec", l.ns["nat"], "nft", "delete", "table", "ip", "sgwlab")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "ip", "netns", "exec", l.ns["nat"], "nft", "-f", "-")
	c.Stdin = strings.NewReader(rules)
	if out, err := c.CombinedOutput(); err != nil {
		l.tb.Fatalf("nft -f: %v\n%s\n%s", err, out, rules)
	}
}

// flushConntrack makes the NAT forget every mapping.
func (l *lab) flushConntrack() {
	l.tb.Helper()
	l.in("nat", "conntrack", "-F")
}

// The sctpgw binary, built once per test process.
var build struct {
	once     sync.Once
	dir, bin string
	err      error
}

func sctpgwBin(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		// go test puts its own GOROOT/bin first in the test's PATH.
		goBin, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("the go command is needed to build sctpgw: %w", err)
			return
		}
		if build.dir, build.err = os.MkdirTemp("", "sgwlab-bin-"); build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "sctpgw")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goBin, "build", "-o", build.bin, "github.com/sctpgw/sctpgw/cmd/sctpgw").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.bin
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(scaleServerEnv); spec != "" {
		os.Exit(scaleServerMain(spec)) // BenchmarkLabScale's far server
	}
	if spec := os.Getenv(forwarderEnv); spec != "" {
		os.Exit(forwarderMain(spec)) // BenchmarkLab's packet forwarder
	}
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// proc is a process the lab started (testlab.Start: under timeout(1), in
// its own process group, ended when the test ends), under the names the
// lab's tests use.
type proc struct {
	*testlab.Proc
	name string
	cmd  *exec.Cmd
	out  *testlab.Buffer // stdout and stderr
}

// syncBuf collects output while the test reads it.
type syncBuf = testlab.Buffer

// start runs args in role's namespace for at most limit.
func (l *lab) start(role string, limit time.Duration, env []string, args ...string) *proc {
	l.tb.Helper()
	tp := testlab.Start(l.tb, testlab.ProcOptions{NS: l.ns[role], Limit: limit, Env: env, MergeOutput: true}, args...)
	return &proc{Proc: tp, name: role + ": " + filepath.Base(args[0]), cmd: tp.Cmd, out: tp.Out}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool { return p.Exited() }

// signal sends sig to the process (timeout(1) passes it on to its child).
func (p *proc) signal(sig syscall.Signal) { p.Signal(sig) }

// wait waits up to d for the process to end.
func (p *proc) wait(d time.Duration) bool {
	ok, _ := p.Wait(d)
	return ok
}

// kill ends the process: SIGTERM, then after 3 s SIGKILL to its group.
func (p *proc) kill() { p.Stop(3 * time.Second) }

// gw is a running sctpgw daemon.
type gw struct {
	l     *lab
	role  string
	admin string
	p     *proc
}

// startGateway runs `sctpgw run args...` in role's namespace (its admin
// endpoint on admin) and waits until it answers `sctpgw status`.
func (l *lab) startGateway(role, admin string, args ...string) *gw {
	l.tb.Helper()
	g := &gw{l: l, role: role, admin: admin}
	g.p = l.start(role, 10*time.Minute, strings.Fields(os.Getenv("LAB_GW_ENV")), append([]string{sctpgwBin(l.tb), "run", "--admin", admin}, args...)...)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := g.statusText(); err == nil {
			return g
		}
		if g.p.exited() || time.Now().After(deadline) {
			l.tb.Fatalf("sctpgw in %s did not come up:\n%s", role, g.p.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gateways starts the pair for one SCTP port the usual way, with flags:
// the edge takes native SCTP on 198.18.1.1:port and tunnels it to the core's
// UDP 9899, the core hands it to 198.18.2.10:port natively.
func (l *lab) gateways(port int) (edge, core *gw) {
	l.tb.Helper()
	var prof []string
	if os.Getenv("LAB_PROFILE_DIR") != "" {
		prof = []string{"--pprof"} // a benchmark may take profiles
	}
	edge = l.startGateway("edge", edgeAdmin, append([]string{"--log", "warn",
		"--listen", fmt.Sprintf("sctp://%s:%d", edgeRAN, port),
		"--forward", fmt.Sprintf("udp://%s:9899/%d", coreWAN, port)}, prof...)...)
	core = l.startGateway("core", coreAdmin, append([]string{"--log", "warn",
		"--listen", fmt.Sprintf("udp://%s:9899/%d", coreWAN, port),
		"--forward", fmt.Sprintf("sctp://%s:%d", mmeAddr, port)}, prof...)...)
	return edge, core
}

// gatewaysMulti starts the pair with one route per port, from generated
// route files.
func (l *lab) gatewaysMulti(ports ...int) (edge, core *gw) {
	l.tb.Helper()
	dir := l.tb.TempDir()
	var e, c strings.Builder
	e.WriteString("udp: {listen: \"0.0.0.0:9899\"}\nlog: {level: warn}\nroutes:\n")
	c.WriteString("udp: {listen: \"" + coreWAN + ":9899\"}\nlog: {level: warn}\nroutes:\n")
	sctp := ""
	if s := os.Getenv("LAB_SCTP"); s != "" { // e.g. "{sack_freq: 4}": both gateways' routes, to try a setting
		sctp = ", sctp: " + s
	}
	for _, p := range ports {
		fmt.Fprintf(&e, "  - {name: p%d, listen: \"sctp://%s:%d\", forward: \"udp://%s:9899/%d\"%s}\n", p, edgeRAN, p, coreWAN, p, sctp)
		fmt.Fprintf(&c, "  - {name: p%d, listen: \"udp://%s:9899/%d\", forward: \"sctp://%s:%d\"%s}\n", p, coreWAN, p, mmeAddr, p, sctp)
	}
	ef, cf := filepath.Join(dir, "edge.yaml"), filepath.Join(dir, "core.yaml")
	if err := os.WriteFile(ef, []byte(e.String()), 0o644); err != nil {
		l.tb.Fatal(err)
	}
	if err := os.WriteFile(cf, []byte(c.String()), 0o644); err != nil {
		l.tb.Fatal(err)
	}
	// --pprof: the benchmark may take profiles (LAB_PROFILE_DIR).
	return l.startGateway("edge", edgeAdmin, "--config", ef, "--pprof"), l.startGateway("core", coreAdmin, "--config", cf, "--pprof")
}

// statusText runs `sctpgw status` in the gateway's namespace.
func (g *gw) statusText() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", g.l.ns[g.role], build.bin, "status", "--admin", g.admin).CombinedOutput()
	return string(out), err
}

// snapshot runs `sctpgw status --json` in the gateway's namespace.
func (g *gw) snapshot() gateway.Snapshot {
	g.l.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", g.l.ns[g.role], build.bin, "status", "--json", "--admin", g.admin).Output()
	if err != nil {
		g.l.tb.Fatalf("sctpgw status --json in %s: %v\n%s", g.role, err, out)
	}
	var s gateway.Snapshot
	if err := json.Unmarshal(out, &s); err != nil {
		g.l.tb.Fatalf("sctpgw status --json in %s: %v\n%s", g.role, err, out)
	}
	return s
}

// inNS runs f on a thread that has entered role's namespace; sockets f
// opens stay there. The thread stays locked and dies with its goroutine,
// so it never carries the namespace back into the scheduler's pool.
func (l *lab) inNS(role string, f func() error) error {
	return testlab.InNS(l.ns[role], f)
}

// nativeStack is our SCTP stack on a raw-socket link in role's namespace,
// serving addrs; its port filter follows the ports it uses, as the
// gateway's does. It is closed when the test ends.
func (l *lab) nativeStack(role string, addrs ...string) *stack.Stack {
	l.tb.Helper()
	cfg := rawip.Config{RecvBuffer: 4 << 20, SendBuffer: 4 << 20}
	for _, a := range addrs {
		cfg.Addrs = append(cfg.Addrs, netip.MustParseAddr(a))
	}
	var rl *rawip.Link
	if err := l.inNS(role, func() (err error) { rl, err = rawip.Listen(cfg); return err }); err != nil {
		l.tb.Fatalf("raw link in %s: %v", role, err)
	}
	st, err := stack.New(stack.Config{Links: []link.Link{rl}, PortUse: func(_ int, p uint16, on bool) {
		if on {
			rl.AddPort(p)
		} else {
			rl.RemovePort(p)
		}
	}})
	if err != nil {
		rl.Close()
		l.tb.Fatal(err)
	}
	l.tb.Cleanup(func() { st.Close("lab: test over") })
	return st
}

// usrsctpBin finds a program of Debian's libusrsctp-examples or skips
// (fails in CI).
func usrsctpBin(tb testing.TB, name string) string {
	tb.Helper()
	return testlab.NeedUsrsctp(tb, name)
}
