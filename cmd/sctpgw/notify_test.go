package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
)

// fakeNotifySocket is what systemd listens on for a Type=notify service:
// a unix datagram socket whose path goes to the daemon in NOTIFY_SOCKET.
func fakeNotifySocket(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

// nextNotify returns the next datagram on the fake socket, or fails the test
// after d.
func nextNotify(t *testing.T, c *net.UnixConn, d time.Duration, logs fmt.Stringer) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("no notification within %v: %v\ndaemon: %s", d, err, logs)
	}
	return string(b[:n])
}

// TestSystemdNotify runs the daemon as systemd runs a Type=notify unit
// with WatchdogSec: READY=1 arrives once the route's UDP port is bound and
// /readyz answers 200, WATCHDOG=1 follows at half the watchdog interval,
// SIGTERM brings STOPPING=1 before the drain, and the daemon exits 0.
func TestSystemdNotify(t *testing.T) {
	bin := buildBinary(t)
	sock, path := fakeNotifySocket(t)
	gwPort, admin := testlab.FreeUDPPort(t), freeTCPAddr(t)
	daemon := exec.Command(bin, "run",
		"--listen", fmt.Sprintf("udp://127.0.0.1:%d/36412", gwPort),
		"--forward", "udp://127.0.0.1:9/5000", "--admin", admin, "--log", "warn", "--drain-timeout", "3s")
	daemon.Env = append(os.Environ(), "NOTIFY_SOCKET="+path, "WATCHDOG_USEC=200000")
	dlog := &syncWriter{}
	daemon.Stdout, daemon.Stderr = dlog, dlog
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	defer func() {
		if daemon.ProcessState == nil {
			daemon.Process.Kill()
		}
	}()

	if m := nextNotify(t, sock, 20*time.Second, dlog); m != "READY=1\nSTATUS=serving 1 routes" {
		t.Fatalf("first notification %q", m)
	}
	// Ready means serving: the route's port is taken and /readyz agrees.
	if c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(gwPort)}); err == nil {
		c.Close()
		t.Fatalf("READY=1 before UDP port %d was bound", gwPort)
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("READY=1 sent while /readyz says %d %q", resp.StatusCode, body)
	}
	for i := 0; i < 2; i++ {
		if m := nextNotify(t, sock, 5*time.Second, dlog); m != "WATCHDOG=1" {
			t.Fatalf("keep-alive %d: %q", i, m)
		}
	}

	daemon.Process.Signal(syscall.SIGTERM)
	for {
		// A keep-alive may already be on its way when the signal lands.
		m := nextNotify(t, sock, 10*time.Second, dlog)
		if m == "WATCHDOG=1" {
			continue
		}
		if m != "STOPPING=1\nSTATUS=draining (at most 3s)" {
			t.Fatalf("after SIGTERM %q", m)
		}
		break
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("daemon exit: %v\n%s", err, dlog)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not exit after SIGTERM\n%s", dlog)
	}
}

// TestWatchdogStopsWhenNotAlive: the keep-alives stop while the gateway does
// not answer, so systemd's watchdog fires; without WatchdogSec none are sent.
func TestWatchdogStopsWhenNotAlive(t *testing.T) {
	sock, path := fakeNotifySocket(t)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "20000")
	n := notifier{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var alive atomic.Bool
	alive.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.watchdog(ctx, alive.Load); close(done) }()
	if m := nextNotify(t, sock, 5*time.Second, &syncWriter{}); m != "WATCHDOG=1" {
		t.Fatalf("%q", m)
	}
	alive.Store(false)
	// Drain what was sent before the switch, then expect silence over many
	// intervals.
	sock.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	for b := make([]byte, 64); ; {
		if _, err := sock.Read(b); err != nil {
			break
		}
	}
	sock.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := sock.Read(make([]byte, 64)); err == nil {
		t.Fatalf("keep-alive sent while not alive (%d bytes)", n)
	}
	cancel()
	<-done

	t.Setenv("WATCHDOG_USEC", "")
	returned := make(chan struct{})
	go func() { n.watchdog(context.Background(), alive.Load); close(returned) }()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("watchdog ran without WATCHDOG_USEC")
	}
}
