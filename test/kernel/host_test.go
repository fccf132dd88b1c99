//go:build linux

package kernel

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/test/kernel/report"
	"github.com/sctpgw/sctpgw/test/kernel/vm"
)

// requirements skips (or, under CI=true, fails) when the machine cannot
// boot the VM, naming what is missing.
func requirements(t *testing.T) *vm.Kernel {
	t.Helper()
	const how = "apt-get install qemu-system-x86 && test/kernel/fetch-kernel.sh (as root; .ci/run does both)"
	testlab.NeedRoot(t, "the kernel-SCTP tests create network namespaces, a tap device and raw sockets")
	testlab.NeedTools(t, "ip")
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		testlab.Missing(t, "qemu-system-x86_64 is needed to boot the kernel: %s", how)
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		testlab.Missing(t, "/dev/net/tun is needed for the VM's tap: %v", err)
	}
	dir := os.Getenv("SCTPGW_KERNEL_DIR")
	if dir == "" {
		dir = ".kernel"
	}
	k, err := vm.FindKernel(dir)
	if err != nil {
		testlab.Missing(t, "no unpacked kernel package in %s (%v): %s", dir, err, how)
	}
	return k
}

func must(t *testing.T, name string, args ...string) { t.Helper(); testlab.Cmd(t, true, name, args...) }

// buildBinaries builds the guest's /init and sctpgw, static (the guest has
// no libc), into dir.
func buildBinaries(t *testing.T, dir string) (guest, sctpgw string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	guest, sctpgw = filepath.Join(dir, "init"), filepath.Join(dir, "sctpgw")
	for _, b := range []struct{ dir, out, pkg string }{{".", guest, "./guest"}, {root, sctpgw, "./cmd/sctpgw"}} {
		cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", b.out, b.pkg)
		cmd.Dir = b.dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return guest, sctpgw
}

// packInitramfs writes the guest's initramfs: /init, /bin/sctpgw, the
// modules in two load lists (base at boot, sctp when a case asks), the
// plan.
func packInitramfs(t *testing.T, k *vm.Kernel, guest, sctpgw string, plan report.Plan, out string) {
	t.Helper()
	r := vm.NewInitramfs()
	r.Copy("init", 0o755, guest)
	r.Copy("bin/sctpgw", 0o755, sctpgw)
	have := map[string]bool{}
	for _, group := range []struct {
		list  string
		names []string
	}{
		{"base.order", []string{"virtio_pci", "virtio_net", "veth", "nf_tables"}},
		{"sctp.order", []string{"sctp"}},
	} {
		mods, err := k.LoadOrder(have, group.names...)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range mods {
			r.Copy("lib/modules/"+m.Name+".ko", 0o644, m.Path)
			names = append(names, m.Name)
		}
		r.File("lib/modules/"+group.list, 0o644, []byte(strings.Join(names, "\n")+"\n"))
	}
	b, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	r.File(report.PlanPath, 0o644, b)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := r.WriteTo(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// hostNet is the host side of the through-gateways cases: namespace edge
// with the VM's tap, namespace core behind it (report's addresses).
type hostNet struct {
	edge, core, tap string
}

func newHostNet(t *testing.T) *hostNet {
	t.Helper()
	testlab.SweepStaleNS(t, "sgwk")
	base := testlab.NSName("sgwk")
	h := &hostNet{edge: base + "-edge", core: base + "-core", tap: "ktap0"}
	testlab.AddNS(t, h.edge)
	testlab.AddNS(t, h.core)
	must(t, "ip", "-n", h.edge, "tuntap", "add", "dev", h.tap, "mode", "tap")
	must(t, "ip", "-n", h.edge, "addr", "add", report.HostEdge+"/24", "dev", h.tap)
	must(t, "ip", "-n", h.edge, "link", "set", h.tap, "up")
	must(t, "ip", "-n", h.edge, "link", "add", "ew0", "type", "veth", "peer", "name", "cw0", "netns", h.core)
	must(t, "ip", "-n", h.edge, "addr", "add", report.HostEdgeWAN+"/24", "dev", "ew0")
	must(t, "ip", "-n", h.core, "addr", "add", report.HostCore+"/24", "dev", "cw0")
	must(t, "ip", "-n", h.edge, "link", "set", "ew0", "up")
	must(t, "ip", "-n", h.core, "link", "set", "cw0", "up")
	// The edge namespace routes between the VM and the core: the kernel's
	// own encapsulated packets go to the core, the core's native ones to
	// the VM's server. Its raw socket never sees forwarded packets.
	must(t, "ip", "netns", "exec", h.edge, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	must(t, "ip", "-n", h.core, "route", "add", report.VMAddr+"/32", "via", report.HostEdgeWAN)
	return h
}

// startHostGateways runs the host's edge (three routes: to the core over
// UDP, straight to the VM kernel's RFC 6951 port, and the same with
// SCTP-AUTH to the VM's keyed server) and core (two routes, UDP in, native
// out to the VM's kernel server: one plain, one requiring SCTP-AUTH).
// authKey (hex) is the key of the authenticated routes, as key
// report.AuthKeyID.
func startHostGateways(t *testing.T, h *hostNet, bin, dir, authKey string) map[string]*testlab.Proc {
	t.Helper()
	keyFile := filepath.Join(dir, "tunnel.key")
	if err := os.WriteFile(keyFile, []byte(fmt.Sprintf("%d %s\n", report.AuthKeyID, authKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "host-edge.yaml")
	yaml := fmt.Sprintf(`admin: ""
drain_timeout: 2s
routes:
  - name: via-core
    listen: sctp://%[1]s:%[2]d
    forward: udp://%[3]s:%[4]d/%[5]d
  - name: to-kernel-encap
    listen: sctp://%[1]s:%[6]d
    forward: udp://%[7]s:%[4]d/%[8]d
  - name: to-kernel-auth
    listen: sctp://%[1]s:%[9]d
    forward: udp://%[7]s:%[4]d/%[10]d
    auth: {key_file: %[11]s}
`, report.HostEdge, report.EdgePort, report.HostCore, report.UDPPort, report.VMServerPort,
		report.EdgePortEnc, report.VMAddr, report.VMEncapPort, report.EdgePortAuth, report.VMAuthPort, keyFile)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	coreCfg := filepath.Join(dir, "host-core.yaml")
	yaml = fmt.Sprintf(`admin: ""
drain_timeout: 2s
routes:
  - name: core
    listen: udp://%[1]s:%[2]d/%[3]d
    forward: sctp://%[4]s:%[3]d
  - name: core-auth
    listen: udp://%[1]s:%[2]d/%[5]d
    forward: sctp://%[4]s:%[3]d
    auth: {key_file: %[6]s}
`, report.HostCore, report.UDPPort, report.VMServerPort, report.VMAddr, report.AuthCorePort, keyFile)
	if err := os.WriteFile(coreCfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	gws := map[string]*testlab.Proc{}
	for _, g := range []struct {
		name, ns string
		args     []string
	}{
		{"core", h.core, []string{"--config", coreCfg}},
		{"edge", h.edge, []string{"--config", cfg}},
	} {
		argv := append([]string{bin, "run", "--admin", "", "--drain-timeout", "2s"}, g.args...)
		p := testlab.Start(t, testlab.ProcOptions{NS: g.ns, Limit: 10 * time.Minute, MergeOutput: true}, argv...)
		p.WaitOutput(t, 30*time.Second, "route listening")
		gws[g.name] = p
	}
	return gws
}

// boot runs the VM once with plan and returns each case's result, and the
// guest's notes.
func boot(t *testing.T, k *vm.Kernel, initrd string, h *hostNet, dir string) (map[string]report.Result, []string) {
	t.Helper()
	results := map[string]report.Result{}
	var notes []string
	done := false
	console := filepath.Join(dir, "console.log")
	t0 := time.Now()
	var first time.Time // the guest's first line: the kernel has booted
	err := vm.Run(context.Background(), vm.Machine{
		Kernel: k.Vmlinuz, Initrd: initrd, MemMB: 512, CPUs: 2,
		Netns: h.edge, Tap: h.tap, Console: console, Timeout: 6 * time.Minute,
	}, func(line string) {
		if first.IsZero() {
			first = time.Now()
		}
		r, ok, err := report.Parse(line)
		switch {
		case !ok:
			notes = append(notes, line)
		case strings.TrimPrefix(line, report.LinePrefix) == "DONE":
			done = true
		case err != nil:
			notes = append(notes, fmt.Sprintf("bad report line: %v: %s", err, line))
		default:
			results[r.Case] = r
			t.Logf("%s: %.1f s in the guest", r.Case, r.Seconds)
		}
	})
	t.Logf("VM: %.1f s from qemu start to exit, the guest's first line after %.1f s; kernel %s",
		time.Since(t0).Seconds(), first.Sub(t0).Seconds(), k.Version)
	for _, n := range notes {
		if strings.Contains(n, ", up ") {
			t.Log(n)
		}
	}
	if err != nil || !done {
		t.Errorf("VM run: err %v, guest finished %v\nguest notes:\n%s\nconsole:\n%s",
			err, done, strings.Join(notes, "\n"), vm.Tail(console, 40))
	}
	return results, notes
}
