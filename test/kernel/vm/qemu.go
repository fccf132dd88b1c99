package vm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Machine is one boot.
type Machine struct {
	Kernel string // bzImage
	Initrd string
	// Append is added to the kernel command line after the console and
	// quiet settings.
	Append string
	MemMB  int // default 512
	CPUs   int // default 1
	// Netns and Tap: the guest's one NIC is tap Tap in network namespace
	// Netns (created beforehand, e.g. "ip tuntap add"); empty: no NIC.
	Netns, Tap string
	MAC        string
	// Console receives the kernel's own log (first serial port).
	Console string
	// Timeout bounds the whole boot; qemu is killed after it.
	Timeout time.Duration
}

// ErrNoQemu is returned when qemu-system-x86_64 is not installed.
var ErrNoQemu = errors.New("vm: qemu-system-x86_64 not found (apt-get install qemu-system-x86)")

// Run boots m and calls line for each line the guest writes on its second
// serial port (ttyS1), until qemu exits: the guest's /init reboots (with
// -no-reboot qemu then exits), the kernel panics (panic=-1), or Timeout.
func Run(ctx context.Context, m Machine, line func(string)) error {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return ErrNoQemu
	}
	if m.MemMB == 0 {
		m.MemMB = 512
	}
	if m.CPUs == 0 {
		m.CPUs = 1
	}
	if m.Console == "" {
		m.Console = os.DevNull
	}
	ctx, cancel := context.WithTimeout(ctx, m.Timeout)
	defer cancel()
	cmdline := "console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off " + m.Append
	args := []string{
		"-nodefaults", "-display", "none", "-no-reboot", "-no-user-config",
		// TCG: the machine this runs on has no KVM. "-cpu max" gives the
		// guest every instruction TCG emulates (Go binaries want x86-64-v1
		// only, the kernel is happier with more).
		"-machine", "pc", "-accel", "tcg,thread=multi", "-cpu", "max",
		"-smp", fmt.Sprint(m.CPUs), "-m", fmt.Sprint(m.MemMB),
		"-kernel", m.Kernel, "-initrd", m.Initrd, "-append", cmdline,
		"-serial", "file:" + m.Console,
		"-chardev", "stdio,id=out,signal=off", "-serial", "chardev:out",
		"-monitor", "none",
	}
	if m.Tap != "" {
		mac := m.MAC
		if mac == "" {
			mac = "52:54:00:12:34:56"
		}
		// Every offload off: the guest computes each checksum itself, as on
		// a real wire, so what the host sees is what a peer would.
		const offloads = "csum=off,gso=off,guest_csum=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off," +
			"host_tso4=off,host_tso6=off,host_ecn=off,host_ufo=off,mrg_rxbuf=off"
		args = append(args,
			"-netdev", "tap,id=n0,ifname="+m.Tap+",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev=n0,mac="+mac+","+offloads)
	}
	name := qemu
	if m.Netns != "" {
		// The tap lives in the namespace: qemu opens it from there.
		args = append([]string{"netns", "exec", m.Netns, qemu}, args...)
		name = "ip"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("vm: starting qemu: %w", err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line(strings.TrimRight(sc.Text(), "\r"))
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("vm: qemu killed after %v: %w", m.Timeout, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("vm: qemu: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Tail returns the last n lines of a file (the console log), for a failure
// message.
func Tail(path string, n int) string {
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
