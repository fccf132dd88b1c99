//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tsctpBin finds Debian's tsctp (package libusrsctp-examples).
func tsctpBin() string {
	const p = "/usr/lib/usrsctp/tsctp"
	if _, err := os.Stat(p); err == nil {
		return p
	}
	out, err := exec.Command("dpkg", "-L", "libusrsctp-examples").Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(line, "/tsctp") {
			return line
		}
	}
	return ""
}

// Debian builds libusrsctp-examples with SCTP_DEBUG, and tsctp then calls
// usrsctp_sysctl_set_sctp_debug_on(SCTP_DEBUG_ALL) unconditionally: every
// packet prints dozens of lines. tsctp has no flag against it (its -v and
// -V, verbose, are off by default). A tiny preloaded library makes that
// call a no-op, so usrsctp keeps its default, debugging off.
const noDebugC = `#include <stdint.h>
int usrsctp_sysctl_set_sctp_debug_on(uint32_t value) { (void)value; return 0; }
`

var (
	shimOnce sync.Once
	shimPath string
	shimErr  error
)

// noDebugShim compiles the library with the system's C compiler, once: it
// is kept in the temporary directory under a name derived from its source
// and reused by later runs, so a killed run leaves nothing new behind. An
// error means tsctp would run with its debug output on.
func noDebugShim() (string, error) {
	shimOnce.Do(func() {
		sum := sha256.Sum256([]byte(noDebugC))
		so := filepath.Join(os.TempDir(), fmt.Sprintf("sgwbench-nodebug-%x.so", sum[:6]))
		if _, err := os.Stat(so); err == nil {
			shimPath = so
			return
		}
		cc, err := exec.LookPath("cc")
		if err != nil {
			shimErr = errors.New("no C compiler (cc) to build the preload that turns usrsctp's debug output off")
			return
		}
		dir, err := os.MkdirTemp("", "sgwbench-shim-")
		if err != nil {
			shimErr = err
			return
		}
		defer os.RemoveAll(dir)
		src, tmp := filepath.Join(dir, "nodebug.c"), filepath.Join(dir, "nodebug.so")
		if err := os.WriteFile(src, []byte(noDebugC), 0o644); err != nil {
			shimErr = err
			return
		}
		if out, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-o", tmp, src).CombinedOutput(); err != nil {
			shimErr = fmt.Errorf("cc: %v: %s", err, out)
			return
		}
		b, err := os.ReadFile(tmp)
		if err == nil {
			// Written beside the final name and renamed: atomic.
			part := so + fmt.Sprintf(".%d", os.Getpid())
			if err = os.WriteFile(part, b, 0o755); err == nil {
				err = os.Rename(part, so)
			}
		}
		if err != nil {
			shimErr = err
			return
		}
		shimPath = so
	})
	return shimPath, shimErr
}

// freeUDPPort asks the kernel for a UDP port free on every address of both
// families, as usrsctp binds its encapsulation port.
func freeUDPPort() (int, error) {
	var port int
	err := inNS(func() error {
		c, err := net.ListenUDP("udp", &net.UDPAddr{})
		if err != nil {
			return err
		}
		port = c.LocalAddr().(*net.UDPAddr).Port
		return c.Close()
	})
	return port, err
}

// udpPortTaken reports whether someone has bound port on the IPv4 wildcard.
func udpPortTaken(port int) bool {
	taken := false
	inNS(func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: port})
		if err != nil {
			taken = errors.Is(err, syscall.EADDRINUSE)
			return nil
		}
		return c.Close()
	})
	return taken
}

// tsctp's server prints, when an association ends: first message length,
// messages, recv calls, bytes, seconds (first message to end), bytes/s,
// notifications.
var tsctpResult = regexp.MustCompile(`(?m)^(\d+), (\d+), (\d+), (\d+), ([0-9.]+), ([0-9.]+), (\d+)$`)

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil // bounded: only the result line matters
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// child is a process we started.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when reaped
}

func startChild(c *exec.Cmd) (*child, error) {
	if err := c.Start(); err != nil {
		return nil, err
	}
	ch := &child{cmd: c, exited: make(chan struct{})}
	go func() {
		c.Wait()
		close(ch.exited)
	}()
	return ch, nil
}

// stop ends the child, by its pid, and waits until it is reaped; it may be
// called any number of times.
func (ch *child) stop() {
	select {
	case <-ch.exited:
		return
	default:
	}
	ch.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-ch.exited:
		return
	case <-time.After(2 * time.Second):
	}
	ch.cmd.Process.Kill()
	<-ch.exited
}

func cpuOf(c *exec.Cmd) time.Duration {
	if c.ProcessState == nil {
		return 0
	}
	return c.ProcessState.UserTime() + c.ProcessState.SystemTime()
}

// benchUDPUsrsctp runs tsctp once for -benchtime (whole seconds, at least
// one), whatever b.N is: a process pair is no loop to scale. That single
// call takes longer than -benchtime, so the framework makes no other.
func benchUDPUsrsctp(b *testing.B, w workload) {
	bin := tsctpBin()
	if bin == "" {
		b.Skip("usrsctp's tsctp is not installed (Debian package libusrsctp-examples)")
	}
	secs := int(math.Ceil(benchTime(3 * time.Second).Seconds()))
	env := os.Environ()
	note := fmt.Sprintf("tsctp -T %d -l %d, Nagle on (as ours), -R/-S %d", secs, w.size, usrsctpBuffer)
	if shim, err := noDebugShim(); err == nil {
		env = append(env, "LD_PRELOAD="+shim)
	} else {
		note += "; DEBUG OUTPUT ON (" + err.Error() + "): figures understate usrsctp"
	}
	if _, err := benchNS(); err != nil {
		b.Fatal(err)
	}
	if nsName != "" {
		note += "; in netns " + nsName
	}
	sport, err := freeUDPPort()
	if err != nil {
		b.Fatal(err)
	}
	cport, err := freeUDPPort()
	for i := 0; i < 10 && err == nil && cport == sport; i++ {
		cport, err = freeUDPPort()
	}
	if err != nil {
		b.Fatal(err)
	}
	const sctpPortTS = "5001"

	var srvOut, cliOut lockedBuffer
	srv := nsCommand(bin, "-E", strconv.Itoa(sport), "-p", sctpPortTS, "-R", strconv.Itoa(usrsctpBuffer))
	srv.Env, srv.Stdout, srv.Stderr = env, &srvOut, &srvOut
	srvChild, err := startChild(srv)
	if err != nil {
		b.Fatalf("start tsctp server: %v", err)
	}
	defer srvChild.stop()
	// Wait for the server's UDP port, so the first INIT is not lost (its
	// retransmission would come after usrsctp's 3 s initial RTO).
	for deadline := time.Now().Add(5 * time.Second); !udpPortTaken(sport); {
		if time.Now().After(deadline) {
			b.Fatalf("tsctp server did not bind UDP port %d within 5 s; output:\n%s", sport, tail(srvOut.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}

	b.ResetTimer()
	cli := nsCommand(bin, "-E", strconv.Itoa(cport), "-U", strconv.Itoa(sport), "-p", sctpPortTS,
		"-l", strconv.Itoa(w.size), "-T", strconv.Itoa(secs), "-S", strconv.Itoa(usrsctpBuffer), lo4.String())
	cli.Env, cli.Stdout, cli.Stderr = env, &cliOut, &cliOut
	cliChild, err := startChild(cli)
	if err != nil {
		b.Fatalf("start tsctp client: %v", err)
	}
	defer cliChild.stop()
	select {
	case <-cliChild.exited:
	case <-time.After(time.Duration(secs)*time.Second + 30*time.Second):
		cliChild.stop()
		b.Fatalf("tsctp client still running %d s after its %d s run; output:\n%s", 30, secs, tail(cliOut.String()))
	}
	// The server prints its figures when the association has ended.
	var m []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if m = tsctpResult.FindStringSubmatch(srvOut.String()); m != nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("no result line from the tsctp server; server output:\n%s\nclient output:\n%s",
				tail(srvOut.String()), tail(cliOut.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	srvChild.stop()

	msgs, _ := strconv.ParseFloat(m[2], 64)
	total, _ := strconv.ParseFloat(m[4], 64)
	sec, _ := strconv.ParseFloat(m[5], 64)
	if msgs == 0 || sec == 0 {
		b.Fatalf("tsctp server measured nothing: %q", m[0])
	}
	if first, _ := strconv.Atoi(m[1]); first != w.size {
		b.Fatalf("tsctp server saw %d-byte messages, want %d: %q", first, w.size, m[0])
	}
	cpu := cpuOf(srv) + cpuOf(cli)
	figs := map[string]float64{
		figMBps:       total / sec / 1e6,
		figMbitps:     total * 8 / sec / 1e6,
		figMsgps:      msgs / sec,
		figCPUPerKiB:  float64(cpu.Nanoseconds()) / (total / 1024),
		figMsgsPerCPU: msgs / cpu.Seconds(),
		figLoad:       loadAvg(),
	}
	b.ReportMetric(1e9*sec/msgs, "ns/op")
	b.ReportMetric(total/sec/1e6, "MB/s")
	b.ReportMetric(figs[figMsgps], figMsgps)
	b.ReportMetric(figs[figMbitps], figMbitps)
	b.ReportMetric(figs[figCPUPerKiB], figCPUPerKiB)
	note += fmt.Sprintf("; server: %s messages, %s recv calls in %s s; CPU of both processes %v",
		m[2], m[3], m[5], cpu.Round(time.Millisecond))
	recordFinal("UDP", w.name, "usrsctp", int(msgs), figs, note)
}

func tail(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func platformCleanup() { removeBenchNS() }
