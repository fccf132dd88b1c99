package rawip

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"golang.org/x/net/bpf"
)

func runFilter(t *testing.T, ipv4 bool, ports []uint16, pkt []byte) bool {
	t.Helper()
	raw, err := filterProgram(ipv4, coverFilter(ports, maxKernelRanges).rs)
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("program does not disassemble: %v", ins)
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("program rejected by the VM: %v", err)
	}
	n, err := vm.Run(pkt)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// sctpHeader is a common header to dst from 1234.
func sctpHeader(dst uint16) []byte {
	h := make([]byte, 12)
	binary.BigEndian.PutUint16(h[0:], 1234)
	binary.BigEndian.PutUint16(h[2:], dst)
	return h
}

func ipv4Header(optWords int) []byte {
	h := make([]byte, 20+4*optWords)
	h[0] = 0x40 | byte(5+optWords)
	h[9] = protoSCTP
	for i := 20; i < len(h); i++ {
		h[i] = 1 // NOP
	}
	return h
}

// TestFilterProgram runs the kernel filter in x/net/bpf's VM: IPv4 input
// starts at the IP header of variable length, IPv6 input at the SCTP header.
func TestFilterProgram(t *testing.T) {
	ports := []uint16{38412, 5000, 5001, 5002, 5003, 36412, 9}
	for _, c := range []struct {
		port uint16
		want bool
	}{{38412, true}, {36412, true}, {9, true}, {5000, true}, {5002, true}, {5003, true},
		{4999, false}, {5004, false}, {0, false}, {10, false}, {65535, false}} {
		for opt := range 3 {
			pkt := append(ipv4Header(opt), sctpHeader(c.port)...)
			if got := runFilter(t, true, ports, pkt); got != c.want {
				t.Errorf("IPv4 (IHL %d) port %d: accepted %v, want %v", 5+opt, c.port, got, c.want)
			}
		}
		if got := runFilter(t, false, ports, sctpHeader(c.port)); got != c.want {
			t.Errorf("IPv6 port %d: accepted %v, want %v", c.port, got, c.want)
		}
	}
	// Too short to hold a port: the load fails and the packet is dropped.
	if runFilter(t, true, ports, ipv4Header(0)[:20]) || runFilter(t, false, ports, []byte{0, 1, 0x96}) {
		t.Error("a runt packet passed the filter")
	}
	// No ports: nothing passes.
	if runFilter(t, false, nil, sctpHeader(5000)) {
		t.Error("the empty filter passed a packet")
	}
}

// TestCoverFilter: past maxKernelRanges the kernel filter admits a cover
// of the served ports, whole blocks merged into at most that many ranges,
// so its program stays small; every served port is admitted.
func TestCoverFilter(t *testing.T) {
	var ports []uint16
	for p := 2; p < 20000; p += 2 { // 9999 ranges of one port
		ports = append(ports, uint16(p))
	}
	ports = append(ports, 36412, 38412, 60000, 60001, 60002)
	kf := coverFilter(ports, maxKernelRanges)
	if kf.exact || len(kf.rs) > maxKernelRanges {
		t.Fatalf("cover of %d ports: %d ranges, exact %v; want at most %d", len(ports), len(kf.rs), kf.exact, maxKernelRanges)
	}
	for _, p := range ports {
		if !kf.admits(p) {
			t.Fatalf("served port %d not admitted", p)
		}
	}
	// Blocks of 64 do: 0-20031 is one range, the three others one block
	// each; what lies between stays out.
	if len(kf.rs) != 4 || kf.rs[0] != (portRange{0, 20031}) || kf.rs[1] != (portRange{36352, 36415}) {
		t.Errorf("cover %v", kf.rs)
	}
	for _, p := range []uint16{20032, 30000, 36351, 36416, 38000, 50000, 59967, 60032, 65535} {
		if kf.admits(p) {
			t.Errorf("port %d between the blocks admitted", p)
		}
	}
	// 65 ports 128 apart: 65 blocks of 64 are too many, blocks of 128
	// touch and merge into one range.
	var spread []uint16
	for i := range 65 {
		spread = append(spread, uint16(i*128))
	}
	kf = coverFilter(spread, maxKernelRanges)
	if kf.exact || len(kf.rs) != 1 || kf.rs[0] != (portRange{0, 65*128 - 1}) {
		t.Errorf("65 ports 128 apart: cover %v", kf.rs)
	}
	raw, err := filterProgram(true, kf.rs)
	if err != nil || len(raw) > 3*maxKernelRanges+3 {
		t.Fatalf("cover program: %d instructions, %v", len(raw), err)
	}
	set := newPortSet(ports)
	if got := set.runs(); got != 9999+3 {
		t.Errorf("runs() = %d, want %d", got, 9999+3)
	}
	if got := newPortSet([]uint16{0, 63, 64, 65535, 65534}).runs(); got != 3 {
		t.Errorf("runs across words and at the ends = %d, want 3", got)
	}
	// A run of consecutive ports costs three instructions, whatever its
	// length, and a few ranges stay exact.
	var run []uint16
	for p := 1000; p < 60000; p++ {
		run = append(run, uint16(p))
	}
	kf = coverFilter(run, maxKernelRanges)
	raw, err = filterProgram(true, kf.rs)
	if err != nil || !kf.exact || len(raw) != 6 {
		t.Fatalf("one range: %d instructions, exact %v, %v", len(raw), kf.exact, err)
	}
	if kf.admits(999) || !kf.admits(1000) || !kf.admits(59999) || kf.admits(60000) {
		t.Error("one range admits the wrong ports")
	}
}

func TestPortSet(t *testing.T) {
	s := newPortSet([]uint16{0, 63, 64, 65535, 5000})
	for _, p := range []uint16{0, 63, 64, 65535, 5000} {
		if !s.has(p) {
			t.Errorf("missing %d", p)
		}
	}
	if s.has(1) || s.has(65534) {
		t.Error("extra port")
	}
	s.set(5000, false)
	s.set(7, true)
	s.set(7, true) // idempotent
	s.set(8, false)
	if s.has(5000) || !s.has(7) || s.has(8) {
		t.Error("set did not change the right bit")
	}
	if got := s.list(); !slices.Equal(got, []uint16{0, 7, 63, 64, 65535}) {
		t.Errorf("list %v", got)
	}
}

// TestPortSetAllocations: adding and removing a port allocates nothing
// (a gateway's dialling side changes a port per association).
func TestPortSetAllocations(t *testing.T) {
	s := newPortSet(nil)
	p := uint16(0)
	if n := testing.AllocsPerRun(1000, func() {
		p += 7
		s.set(p, true)
		s.set(p, false)
	}); n != 0 {
		t.Fatalf("%.1f allocations per port added and removed, want 0", n)
	}
}

func TestPermissionError(t *testing.T) {
	err := socketError("IPv4", syscall.EPERM)
	var pe *PermissionError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrPermission) || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("%v: not a PermissionError wrapping EPERM", err)
	}
	for _, want := range []string{"CAP_NET_RAW", "setcap cap_net_raw+ep", "--cap-add NET_RAW", "root", "IPv4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if err := socketError("IPv6", syscall.EACCES); !errors.As(err, &pe) {
		t.Errorf("EACCES: %v", err)
	}
	if err := socketError("IPv6", syscall.EAFNOSUPPORT); errors.As(err, &pe) || !errors.Is(err, syscall.EAFNOSUPPORT) ||
		!strings.Contains(err.Error(), "rawip: ") {
		t.Errorf("EAFNOSUPPORT: %v", err)
	}
}

func TestKernelSCTPWarning(t *testing.T) {
	if w := KernelSCTPWarning(fstest.MapFS{"proc/net/tcp": {}}); w != "" {
		t.Errorf("no SCTP: warning %q", w)
	}
	for _, path := range []string{"proc/net/sctp/assocs", "sys/module/sctp/refcnt"} {
		w := KernelSCTPWarning(fstest.MapFS{path: {Data: []byte("x")}})
		// The remedies must be the README's: a namespace alone and
		// "blacklist" alone are not enough, and the warning must not
		// suggest either by itself.
		for _, want := range []string{"/" + strings.Join(strings.Split(path, "/")[:3], "/"), "ABORT", "nftables",
			"every network namespace", "also needed when sctpgw runs in a network namespace of its own",
			`"install sctp /bin/false"`, `"blacklist sctp" alone does not stop`, "README"} {
			if !strings.Contains(w, want) {
				t.Errorf("%s: warning %q lacks %q", path, w, want)
			}
		}
		for _, bad := range []string{"and blacklist", "or run sctpgw in a network namespace"} {
			if strings.Contains(w, bad) {
				t.Errorf("%s: warning %q suggests %q, which the README says is not enough", path, w, bad)
			}
		}
	}
}
