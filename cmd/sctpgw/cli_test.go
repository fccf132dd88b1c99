package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/udpencap"
)

var built struct {
	once sync.Once
	dir  string
	out  []byte
	err  error
}

// buildBinary compiles sctpgw once per test run; TestMain removes it.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "sctpgw-cli-test"); built.err != nil {
			return
		}
		built.out, built.err = exec.Command("go", "build", "-o", filepath.Join(built.dir, "sctpgw"), ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build: %v\n%s", built.err, built.out)
	}
	return filepath.Join(built.dir, "sctpgw")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func freeTCPAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestBadConfigIsRejectedWithFieldValueAndExpectation(t *testing.T) {
	bin := buildBinary(t)
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfg, []byte("routes:\n  - listen: sctp://0.0.0.0:36412\n    forward: udp://198.18.0.1:9899/36412\n    sctp: {rto_min: 5x}\n"), 0o644)
	out, err := exec.Command(bin, "run", "--config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "5x") || !strings.Contains(string(out), "expected a duration") {
		t.Fatalf("err %v, output %s", err, out)
	}
	out, err = exec.Command(bin, "run", "--listen", "sctp://0.0.0.0:99999", "--forward", "udp://198.18.0.1/36412").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "99999") || !strings.Contains(string(out), "1-65535") {
		t.Fatalf("err %v, output %s", err, out)
	}
}

func TestDemoCommand(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "demo").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("SHUTDOWN COMPLETE on both ends")) || !bytes.Contains(out, []byte("12/12 messages delivered")) {
		t.Fatalf("demo: %v\n%s", err, out)
	}
}

// TestRunStatusPingDrain runs the daemon on loopback in front of an echo
// server, pings through it, reads its status, and drains it with SIGTERM.
func TestRunStatusPingDrain(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lo := netip.MustParseAddr("127.0.0.1")

	// The target: our stack on a UDP port, echoing.
	srvPort := testlab.FreeUDPPort(t)
	sl, err := udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(lo, srvPort)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := stack.New(stack.Config{Links: []link.Link{sl}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close("")
	ln, _ := srv.Listen(5000, stack.Options{})
	go func() {
		for {
			x, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				for {
					m, err := x.RecvMsg(ctx)
					if err != nil {
						return
					}
					x.SendMsg(ctx, m.Data, stack.SndInfo{Stream: m.Stream, PPID: m.PPID})
				}
			}()
		}
	}()

	gwPort := testlab.FreeUDPPort(t)
	admin := freeTCPAddr(t)
	pcap := filepath.Join(t.TempDir(), "gw.pcap")
	daemon := exec.Command(bin, "run", "--pcap", pcap,
		"--listen", fmt.Sprintf("udp://127.0.0.1:%d/36412", gwPort),
		"--forward", fmt.Sprintf("udp://127.0.0.1:%d/5000", srvPort),
		"--admin", admin, "--log", "warn")
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
	// Ready once its admin endpoint answers: it serves only after the
	// gateway, links included, has started.
	waitReady(t, admin, dlog)
	// Ready for a container HEALTHCHECK, with the flags from the environment.
	check := exec.CommandContext(ctx, bin, "status")
	check.Env = append(os.Environ(), "SCTPGW_ADMIN="+admin, "SCTPGW_STATUS_CHECK=true")
	if out, err := check.CombinedOutput(); err != nil || string(out) != "ready\n" {
		t.Fatalf("status --check: %v %q", err, out)
	}

	// ping through the gateway.
	out, err := exec.CommandContext(ctx, bin, "ping", "-n", "3", "-i", "10ms", fmt.Sprintf("udp://127.0.0.1:%d/36412", gwPort)).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("connected to")) || !bytes.Contains(out, []byte("3/3 answered")) || !bytes.Contains(out, []byte("shut down gracefully")) {
		t.Fatalf("ping: %v\n%s\ndaemon: %s", err, out, dlog.String())
	}

	// End to end through the gateway: the target echoes.
	out, err = exec.CommandContext(ctx, bin, "ping", "--echo", "-n", "3", "-i", "10ms", fmt.Sprintf("udp://127.0.0.1:%d/36412", gwPort)).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("echo rtt min")) || !bytes.Contains(out, []byte("(3/3 answered)")) {
		t.Fatalf("ping --echo: %v\n%s\ndaemon: %s", err, out, dlog.String())
	}
	// A client of ours through the gateway, kept open for status and drain.
	cl, _ := udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(lo, 0), EphemeralPort: true})
	cs, _ := stack.New(stack.Config{Links: []link.Link{cl}})
	defer cs.Close("")
	a, err := cs.Dial(ctx, 0, link.Path{Remote: lo, RemotePort: gwPort}, 0, 36412, stack.Options{NoDelay: true})
	if err != nil {
		t.Fatalf("dial through the gateway: %v\n%s", err, dlog.String())
	}
	a.SendMsg(ctx, []byte("hello"), stack.SndInfo{Stream: 1, PPID: 46})
	if m, err := a.RecvMsg(ctx); err != nil || string(m.Data) != "hello" || m.Stream != 1 || m.PPID != 46 {
		t.Fatalf("echo through the gateway: %v %+v", err, m)
	}
	out, err = exec.CommandContext(ctx, bin, "status", "--admin", admin).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("1 pairs")) || !bytes.Contains(out, []byte("ESTABLISHED")) || !bytes.Contains(out, []byte("SctpCurrEstab")) {
		t.Fatalf("status: %v\n%s", err, out)
	}

	// /metrics is served beside status, with the pair's figures.
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`sctpgw_pairs_opened_total{route="default"} 3`, `sctpgw_link_packets_total{direction="rx",link="udp"}`, "sctpgw_build_info{"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Fatalf("no %q in /metrics:\n%s", want, metrics)
		}
	}
	// The UDP link's own counters reach status.
	out, err = exec.CommandContext(ctx, bin, "status", "--json", "--admin", admin).Output()
	var snap gateway.Snapshot
	if err != nil || json.Unmarshal(out, &snap) != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if len(snap.Links) != 1 || snap.Links[0].Kind != "udp" || snap.Links[0].Local != fmt.Sprintf("127.0.0.1:%d", gwPort) ||
		snap.Links[0].RxPackets < 10 || snap.Links[0].TxPackets < 10 || snap.Links[0].RxBatches == 0 || snap.Links[0].TxBytes == 0 {
		t.Fatalf("links in status: %+v", snap.Links)
	}
	// SIGTERM drains: our association ends with SHUTDOWN COMPLETE.
	daemon.Process.Signal(syscall.SIGTERM)
	_, err = a.RecvMsg(ctx)
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.ShutdownComp {
		t.Fatalf("after SIGTERM the client saw %v\n%s", err, dlog.String())
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("daemon exit: %v\n%s", err, dlog.String())
		}
	case <-ctx.Done():
		t.Fatal("daemon did not exit after draining")
	}
	out, err = exec.CommandContext(ctx, bin, "status", "--check", "--admin", admin).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.HasPrefix(string(out), "not ready: no answer") {
		t.Fatalf("status --check after exit: %v %q", err, out)
	}
	checkPcap(t, pcap, gwPort, srvPort)
}

// checkPcap has tshark (when installed) decode the daemon's capture: SCTP
// in UDP on both ports, every CRC32c good, nothing malformed.
func checkPcap(t *testing.T, file string, ports ...uint16) {
	st, err := os.Stat(file)
	if err != nil || st.Size() < 1000 {
		t.Fatalf("pcap: %v, %v bytes", err, st)
	}
	if !testlab.HaveTool(t, "tshark", "decoding the capture (only its size was checked)") {
		return
	}
	// Our payloads are not S1AP: keep tshark from decoding them as such.
	args := []string{"-r", file, "-o", "sctp.checksum:crc-32c", "--disable-protocol", "s1ap", "--disable-protocol", "ngap"}
	for _, p := range ports {
		args = append(args, "-d", fmt.Sprintf("udp.port==%d,sctp", p))
	}
	args = append(args, "-T", "fields", "-e", "sctp.checksum.status", "-e", "_ws.malformed")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("tshark decoded %d packets", len(lines))
	}
	for _, ln := range lines {
		f := strings.Split(ln, "\t")
		if f[0] != "1" || (len(f) > 1 && f[1] != "") {
			t.Fatalf("tshark: checksum status %q / malformed in %q", f[0], ln)
		}
	}
}
