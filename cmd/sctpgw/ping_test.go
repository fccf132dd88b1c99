package main

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/udpencap"
)

// server runs a stack on a loopback UDP port whose accepted associations
// are handed to serve.
func server(t *testing.T, ctx context.Context, serve func(*stack.Assoc)) uint16 {
	t.Helper()
	port := testlab.FreeUDPPort(t)
	l, err := udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.New(stack.Config{Links: []link.Link{l}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close("") })
	ln, err := st.Listen(5000, stack.Options{NoDelay: true})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			a, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go serve(a)
		}
	}()
	return port
}

// A far side that shuts the association down while ping probes makes ping
// say so and exit 1, not report a graceful shutdown of its own.
func TestPingFarSideShutsDownMidway(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	port := server(t, ctx, func(a *stack.Assoc) {
		time.Sleep(300 * time.Millisecond)
		a.Shutdown(ctx)
	})
	out, err := exec.CommandContext(ctx, bin, "ping", "-n", "50", "-i", "20ms", fmt.Sprintf("udp://127.0.0.1:%d/5000", port)).CombinedOutput()
	s := string(out)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, s)
	}
	if strings.Contains(s, "shut down gracefully") || !strings.Contains(s, "the association ended before the last probe") ||
		!strings.Contains(s, "the peer shut it down (SHUTDOWN)") || strings.Contains(s, "(50/50") {
		t.Fatalf("output:\n%s", s)
	}
	// An ABORT with a reason is reported with it.
	port = server(t, ctx, func(a *stack.Assoc) {
		time.Sleep(200 * time.Millisecond)
		a.AbortReason("maintenance")
	})
	out, err = exec.CommandContext(ctx, bin, "ping", "-n", "50", "-i", "20ms", fmt.Sprintf("udp://127.0.0.1:%d/5000", port)).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), `the peer aborted it (ABORT); User-Initiated Abort: "maintenance"`) {
		t.Fatalf("exit %v\n%s", err, out)
	}
}

// --echo measures with DATA the far peer echoes: every probe comes back,
// and ping says what it measured.
func TestPingEcho(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	port := server(t, ctx, func(a *stack.Assoc) {
		for {
			m, err := a.RecvMsg(ctx)
			if err != nil {
				return
			}
			if m.PPID != 46 || len(m.Data) != 100 {
				a.AbortReason(fmt.Sprintf("unexpected message: ppid %d, %d bytes", m.PPID, len(m.Data)))
				return
			}
			time.Sleep(2 * time.Millisecond) // the far end's delay, which heartbeats do not see
			a.SendMsg(ctx, m.Data, stack.SndInfo{Stream: m.Stream, PPID: m.PPID})
		}
	})
	url := fmt.Sprintf("udp://127.0.0.1:%d/5000", port)
	out, err := exec.CommandContext(ctx, bin, "ping", "--echo", "--size", "100", "--ppid", "46", "-n", "4", "-i", "1ms", url).CombinedOutput()
	s := string(out)
	if err != nil || !strings.Contains(s, "measuring end to end") || !strings.Contains(s, "(4/4 answered)") || !strings.Contains(s, "echo rtt min") || !strings.Contains(s, "shut down gracefully") {
		t.Fatalf("ping --echo: %v\n%s", err, s)
	}
	for _, ln := range strings.Split(s, "\n") {
		if strings.HasPrefix(ln, "echo ") && !strings.HasPrefix(ln, "echo rtt") {
			var n int
			var rtt time.Duration
			var d string
			fmt.Sscanf(ln, "echo %d: rtt %s", &n, &d)
			if rtt, err = time.ParseDuration(d); err != nil || rtt < 2*time.Millisecond {
				t.Fatalf("%q: the echo round trip must include the far end's 2 ms", ln)
			}
		}
	}
	out, err = exec.CommandContext(ctx, bin, "ping", "-n", "2", "-i", "1ms", url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "answered by the first SCTP endpoint on the path") {
		t.Fatalf("ping: %v\n%s", err, out)
	}
}
