//go:build linux

package bench

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/internal/usrsctptool"
)

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
	bin := testlab.NeedUsrsctp(b, "tsctp")
	secs := int(math.Ceil(benchTime(3 * time.Second).Seconds()))
	env := os.Environ()
	note := fmt.Sprintf("tsctp -T %d -l %d, Nagle on (as ours), -R/-S %d", secs, w.size, usrsctpBuffer)
	if shim, err := usrsctptool.NoDebugShim(); err == nil {
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
			b.Fatalf("tsctp server did not bind UDP port %d within 5 s; output:\n%s", sport, testlab.Tail(srvOut.String(), 20))
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
		b.Fatalf("tsctp client still running %d s after its %d s run; output:\n%s", 30, secs, testlab.Tail(cliOut.String(), 20))
	}
	// The server prints its figures when the association has ended.
	var res usrsctptool.TsctpResult
	for deadline := time.Now().Add(10 * time.Second); ; {
		var ok bool
		if res, ok = usrsctptool.ParseTsctp(srvOut.String()); ok {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("no result line from the tsctp server (or it measured nothing); server output:\n%s\nclient output:\n%s",
				testlab.Tail(srvOut.String(), 20), testlab.Tail(cliOut.String(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	srvChild.stop()

	msgs, total, sec := float64(res.Messages), float64(res.Bytes), res.Seconds
	if res.FirstLen != w.size {
		b.Fatalf("tsctp server saw %d-byte messages, want %d: %q", res.FirstLen, w.size, res.Line)
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
	note += fmt.Sprintf("; server: %d messages, %d recv calls in %.3f s; CPU of both processes %v",
		res.Messages, res.RecvCalls, res.Seconds, cpu.Round(time.Millisecond))
	recordFinal("UDP", w.name, "usrsctp", int(msgs), figs, note)
}

func platformCleanup() { removeBenchNS() }
