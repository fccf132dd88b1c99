//go:build linux

package kernel

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/test/kernel/ksock"
	"github.com/sctpgw/sctpgw/test/kernel/report"
)

// The cases, in the order the guest runs them in one boot. The first must
// find the sctp module not yet loaded.
var cases = []struct {
	name  string
	check func(t *testing.T, r report.Result, host hostLogs)
}{
	{report.LoadedLater, checkLoadedLater},
	{report.Unprotected, checkUnprotected},
	{report.Protected, checkProtected},
	{report.NoNetAdmin, checkNoNetAdmin},
	{report.OwnerMismatch, checkOwnerMismatch},
	{report.Multihomed, checkMultihomed},
	{report.ThroughNative, checkThroughNative},
	{report.KernelEncapToCore, checkKernelEncapToCore},
	{report.EdgeToKernelEncap, checkEdgeToKernelEncap},
	{report.AuthKernelToCore, checkAuthKernelToCore},
	{report.AuthKernelNoKey, checkAuthKernelNoKey},
	{report.AuthEdgeToKernelEn, checkAuthEdgeToKernel},
}

// TestKernelSCTP boots Debian's kernel under qemu once and runs every case
// in it; each case is a subtest judged from what the guest observed.
func TestKernelSCTP(t *testing.T) {
	k := requirements(t)
	dir := t.TempDir()
	guest, sctpgw := buildBinaries(t, dir)
	var plan report.Plan
	for _, c := range cases {
		plan.Cases = append(plan.Cases, c.name)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	plan.AuthKey = hex.EncodeToString(key)
	initrd := filepath.Join(dir, "initrd.cpio")
	packInitramfs(t, k, guest, sctpgw, plan, initrd)
	h := newHostNet(t)
	hostGWs := startHostGateways(t, h, sctpgw, dir, plan.AuthKey)
	results, notes := boot(t, k, initrd, h, dir)
	logs := hostLogs{}
	for name, p := range hostGWs {
		logs[name] = p.Out.String()
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := results[c.name]
			if !ok {
				t.Fatalf("the guest reported nothing for this case; its notes:\n%s", strings.Join(notes, "\n"))
			}
			// Deferred, so a Fatal in a check still shows what was seen.
			defer func() {
				if t.Failed() {
					dump(t, r)
					if strings.HasPrefix(c.name, "through-gateways/") {
						for name, log := range logs {
							t.Logf("host %s log:\n%s", name, log)
						}
					}
				}
			}()
			if r.Err != "" {
				t.Errorf("guest: %s", r.Err)
			}
			c.check(t, r, logs)
		})
	}
}

// hostLogs are the host gateways' logs by name (edge, core).
type hostLogs map[string]string

func dump(t *testing.T, r report.Result) {
	t.Helper()
	if r.Client != nil {
		t.Logf("client: %+v", *r.Client)
	}
	for _, a := range r.Server {
		t.Logf("server: %+v", a)
	}
	if r.Watch != nil {
		t.Logf("packets the client's namespace received:\n  %s", strings.Join(r.Watch.Packets, "\n  "))
	}
	for _, d := range r.Daemons {
		t.Logf("daemon %s %v: started %v exit %d table %v dropped %d table after %v\n  %s",
			d.Name, d.Args, d.Started, d.Exit, d.Table, d.Dropped, d.TableAfter, strings.Join(d.Log, "\n  "))
	}
	for _, n := range r.Notes {
		t.Logf("note: %s", n)
	}
}

// worked checks one association end to end: up, every message at the
// server and back with its stream, PPID and unordered flag, a graceful
// shutdown at both ends, and no ABORT arriving at the client at all.
func worked(t *testing.T, r report.Result, port uint16) {
	t.Helper()
	c := r.Client
	if c == nil {
		t.Fatal("no client report")
	}
	if c.ConnectErr != "" || c.Err != "" {
		t.Fatalf("client: connect %q, then %q", c.ConnectErr, c.Err)
	}
	if !sameMsgs(c.Sent, c.Echoed) || len(c.Sent) != 3 {
		t.Errorf("echoes differ from what was sent:\n sent %v\n back %v", c.Sent, c.Echoed)
	}
	if !c.ShutdownComplete {
		t.Errorf("the client's graceful shutdown did not complete; events %v", c.Events)
	}
	if !slices.Contains(c.Events, "ASSOC_CHANGE COMM_UP error=0") {
		t.Errorf("no COMM_UP; events %v", c.Events)
	}
	if len(r.Server) != 1 {
		t.Fatalf("the kernel server saw %d associations end, want 1: %+v", len(r.Server), r.Server)
	}
	a := r.Server[0]
	if a.Port != port || !sameMsgs(a.Received, c.Sent) || a.End != "graceful" {
		t.Errorf("server: port %d (want %d), end %q, received %v", a.Port, port, a.End, a.Received)
	}
	if r.Watch == nil || r.Watch.Aborts != 0 {
		t.Errorf("an ABORT reached the client's namespace: %+v", r.Watch)
	}
}

func sameMsgs(a, b []ksock.Msg) bool {
	key := func(m ksock.Msg) string { return fmt.Sprintf("%d/%d/%v/%s", m.Stream, m.PPID, m.Unordered, m.Data) }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

func daemon(t *testing.T, r report.Result, name string) report.Daemon {
	t.Helper()
	d, ok := r.Daemon(name)
	if !ok {
		t.Fatalf("no daemon %s in the report", name)
	}
	return d
}

// guarded checks a daemon that installed its rule: the log says what and
// why, the kernel's replies hit its counter, it exited cleanly and took the
// table with it.
func guarded(t *testing.T, d report.Daemon, logged string) {
	t.Helper()
	if !d.LogHas(logged, "module=/sys/module/sctp", "table inet sctpgw_", "sctp sport @ports meta mark != 0x5c7 counter drop") {
		t.Errorf("%s: no log line saying %q with the module and the rule", d.Name, logged)
	}
	if !d.Table || d.Dropped == 0 {
		t.Errorf("%s: table present %v, kernel replies dropped %d: the kernel should have tried to answer and been stopped", d.Name, d.Table, d.Dropped)
	}
	// sctpgw's own status says so too (read just before the table).
	if s := d.Status; s == nil || s.Error != "" || !s.Installed || s.Module == "" || s.Dropped == 0 || s.Dropped > d.Dropped {
		t.Errorf("%s: status kernel_sctp_guard %+v; want installed, the module named, 1 to %d replies dropped", d.Name, s, d.Dropped)
	}
	if d.Exit != 0 || d.TableAfter {
		t.Errorf("%s: exit %d, table left after exit %v", d.Name, d.Exit, d.TableAfter)
	}
	if !d.LogHas("removed table inet sctpgw_", "kernel_replies_dropped=") {
		t.Errorf("%s: the removal is not logged", d.Name)
	}
}

func checkLoadedLater(t *testing.T, r report.Result, _ hostLogs) {
	worked(t, r, report.SameSrvPort)
	for _, name := range []string{"edge", "core"} {
		guarded(t, daemon(t, r, name), "kernel SCTP was loaded while sctpgw runs: installed")
	}
}

func checkProtected(t *testing.T, r report.Result, _ hostLogs) {
	worked(t, r, report.SameSrvPort)
	// The edge's rule dropped the kernel's ABORT to the client's INIT; the
	// core's, its answers to what the server sent the core's dialled port.
	for _, name := range []string{"edge", "core"} {
		guarded(t, daemon(t, r, name), "kernel SCTP is loaded: installed")
	}
}

// The failure stack/rawip/README.md describes: the kernel answers the
// client's INIT with an ABORT before sctpgw's INIT ACK, and the client
// gives up.
func checkUnprotected(t *testing.T, r report.Result, _ hostLogs) {
	c := r.Client
	if c == nil || !strings.Contains(c.ConnectErr, "connection refused") {
		t.Errorf("the client's connect should fail on the kernel's ABORT: %+v", c)
	}
	if r.Watch == nil || r.Watch.Aborts == 0 ||
		!slices.ContainsFunc(r.Watch.Packets, func(p string) bool {
			return strings.HasPrefix(p, fmt.Sprintf("%s:%d ", report.SameEdge, report.SamePort)) && strings.Contains(p, "ABORT(T=0)")
		}) {
		t.Errorf("no ABORT from the edge's address and port reached the client: %+v", r.Watch)
	}
	if len(r.Server) != 0 {
		t.Errorf("the server saw an association: %+v", r.Server)
	}
	edge := daemon(t, r, "edge")
	if edge.Table || !edge.LogHas("--allow-kernel-sctp is set: installing no rule", "module=/sys/module/sctp") {
		t.Errorf("edge: table %v; want no table and a warning that names the module", edge.Table)
	}
	if s := edge.Status; s == nil || s.Error != "" || s.Installed || s.Module != "/sys/module/sctp" {
		t.Errorf("edge: status kernel_sctp_guard %+v; want the module loaded and no rule", s)
	}
}

func checkNoNetAdmin(t *testing.T, r report.Result, _ hostLogs) {
	refused := daemon(t, r, "edge-refused")
	if refused.Exit == 0 || refused.Started {
		t.Errorf("without CAP_NET_ADMIN the edge started (exit %d, started %v)", refused.Exit, refused.Started)
	}
	for _, want := range []string{
		"kernel SCTP is loaded (/sys/module/sctp exists)", "CAP_NET_ADMIN",
		"setcap cap_net_raw,cap_net_admin+ep", "--allow-kernel-sctp",
		fmt.Sprintf("nft add rule inet sctpgw output meta l4proto sctp sctp sport { %d } meta skuid %d accept", report.SamePort, report.UnprivUID),
		fmt.Sprintf("nft add rule inet sctpgw output meta l4proto sctp sctp sport { %d } drop", report.SamePort),
	} {
		if !refused.LogHas(want) {
			t.Errorf("the refusal does not say %q", want)
		}
	}
	// With that rule in place and allow_kernel_sctp in its file, the same
	// unprivileged edge works.
	worked(t, r, report.SameSrvPort)
	allowed := daemon(t, r, "edge-allowed")
	if !allowed.LogHas("--allow-kernel-sctp is set: installing no rule") {
		t.Error("edge-allowed: allow_kernel_sctp in the file was not honoured")
	}
	if allowed.Dropped == 0 {
		t.Error("the operator's rule dropped nothing: the kernel's replies should have hit it")
	}
}

// Why the hand-written rule accepts by owner first: "skuid != U drop" never
// matches the kernel's control socket, and the kernel's ABORT goes out.
func checkOwnerMismatch(t *testing.T, r report.Result, _ hostLogs) {
	if r.Watch == nil || r.Watch.Aborts == 0 {
		t.Errorf("with 'meta skuid != %d drop' no kernel ABORT reached the client; the README's advice against it would be wrong: %+v", report.UnprivUID, r.Watch)
	}
	if d := daemon(t, r, "edge"); d.Dropped != 0 {
		t.Errorf("the inverted owner rule dropped %d packets", d.Dropped)
	}
}

func checkThroughNative(t *testing.T, r report.Result, _ hostLogs) {
	worked(t, r, report.VMServerPort)
}

// The kernel client encapsulates (net.sctp.encap_port) straight to the
// host's core, which has no native listener: the association can only come
// up over UDP, and the VM's UDP counters show it.
func checkKernelEncapToCore(t *testing.T, r report.Result, host hostLogs) {
	worked(t, r, report.VMServerPort)
	if r.UDPIn < 3 {
		t.Errorf("UDP datagrams in %d: the client's SCTP did not come back over UDP", r.UDPIn)
	}
	// The core saw the association come in over UDP from the VM itself
	// (not from the edge), from the kernel's encapsulation port.
	if !strings.Contains(host["core"], fmt.Sprintf("ingress_peer=udp://%s:%d/", report.VMAddr, report.UDPPort)) {
		t.Errorf("the host core logged no pair from udp://%s:%d", report.VMAddr, report.UDPPort)
	}
}

// The host's edge tunnels to the VM kernel's RFC 6951 port
// (net.sctp.udp_port): the kernel is the far end over UDP.
func checkEdgeToKernelEncap(t *testing.T, r report.Result, host hostLogs) {
	worked(t, r, report.VMEncapPort)
	if r.UDPIn < 3 {
		t.Errorf("UDP datagrams in %d: the edge did not reach the kernel over UDP", r.UDPIn)
	}
	if len(r.Server) == 1 && !strings.HasPrefix(r.Server[0].Peer, report.HostEdge+":") {
		t.Errorf("the kernel server's peer is %s, want the host edge", r.Server[0].Peer)
	}
	if !strings.Contains(host["edge"], fmt.Sprintf("egress_peer=udp://%s:%d/%d", report.VMAddr, report.UDPPort, report.VMEncapPort)) {
		t.Errorf("the host edge logged no pair to udp://%s:%d/%d", report.VMAddr, report.UDPPort, report.VMEncapPort)
	}
}

// checkMultihomed: the kernel client bound to two addresses reached the
// edge at both (the edge's INIT ACK named its two addresses, which the
// kernel reports), and when its first link went down in the middle of the
// messages the association carried on over the second: every message
// reached the kernel server and came back, the shutdown was graceful, and
// no ABORT reached the client.
func checkMultihomed(t *testing.T, r report.Result, _ hostLogs) {
	c := r.Client
	if c == nil {
		t.Fatal("no client report")
	}
	if c.ConnectErr != "" || c.Err != "" {
		t.Fatalf("client: connect %q, then %q", c.ConnectErr, c.Err)
	}
	if !slices.Contains(c.PeerAddrs, report.SameEdge) || !slices.Contains(c.PeerAddrs, report.SameEdge2) {
		t.Errorf("the kernel knows the edge at %v, want %s and %s", c.PeerAddrs, report.SameEdge, report.SameEdge2)
	}
	if len(c.Sent) != report.MultihomedMsgs || !sameMsgs(c.Sent, c.Echoed) {
		t.Errorf("sent %d, %d echoed back (want all %d, unchanged)", len(c.Sent), len(c.Echoed), report.MultihomedMsgs)
	}
	if !c.ShutdownComplete {
		t.Errorf("the client's graceful shutdown did not complete; events %v", c.Events)
	}
	if len(r.Server) != 1 || r.Server[0].End != "graceful" || !sameMsgs(r.Server[0].Received, c.Sent) {
		t.Errorf("kernel server: %+v", r.Server)
	}
	if r.Watch == nil || r.Watch.Aborts != 0 {
		t.Errorf("an ABORT reached the client's namespace: %+v", r.Watch)
	}
}
