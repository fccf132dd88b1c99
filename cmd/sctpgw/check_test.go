package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// check prints the plan and exits 0 for a good file; for a bad one it
// exits 1 naming the field, including what only planning finds (two
// routes on one port, a name that does not resolve).
func TestCheckCommand(t *testing.T) {
	bin := buildBinary(t)
	good := writeFile(t, "good.yaml", `routes:
  - name: s1ap
    listen: sctp://0.0.0.0:36412
    forward: udp://localhost:9899/36412
    acl: {default: deny, rules: ["allow from 198.18.0.0/15", "allow from 198.18.1.0/24"]}
`)
	out, err := exec.Command(bin, "check", "--config", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "route s1ap: sctp://0.0.0.0:36412 -> udp://localhost:9899/36412 (localhost is 127.0.0.1)") ||
		!strings.Contains(string(out), "warning: acl: rule 2") || !strings.HasSuffix(string(out), "configuration OK\n") {
		t.Fatalf("check good: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name, doc string
		want      string
	}{
		{"clash", `routes:
  - {listen: "sctp://0.0.0.0:36412", forward: "udp://198.18.0.1:9899/36412"}
  - {listen: "sctp://0.0.0.0:36412", forward: "udp://198.18.0.2:9899/36412"}
`, "routes[1].listen"},
		{"unresolvable", `routes:
  - {listen: "sctp://0.0.0.0:36412", forward: "udp://core.invalid:9899/36412"}
`, `routes[0].forward: "udp://core.invalid:9899/36412": resolving "core.invalid"`},
		{"type", `routes:
  - {listen: "sctp://0.0.0.0:36412", forward: "udp://198.18.0.1:9899/36412", sctp: {max_retrans: ten}}
`, `routes[0].sctp.max_retrans: "ten": expected an integer`},
	} {
		out, err := exec.Command(bin, "check", "--config", writeFile(t, tc.name+".yaml", tc.doc)).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "OK") {
			t.Fatalf("check %s: %v\n%s\nwant %q", tc.name, err, out, tc.want)
		}
	}
	// Flags are checked as run reads them.
	out, err = exec.Command(bin, "check", "--config", good, "--log", "info,sctp=loud").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "loud") {
		t.Fatalf("check --log: %v\n%s", err, out)
	}
}

// An admin address already in use fails the start with a message, rather
// than leaving a gateway running that nobody can watch.
func TestRunFailsWhenAdminCannotBind(t *testing.T) {
	bin := buildBinary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "run", "--listen", fmt.Sprintf("udp://127.0.0.1:%d/36412", testlab.FreeUDPPort(t)),
		"--forward", "udp://127.0.0.1:9/36412", "--admin", taken.Addr().String()).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "admin listener") ||
		!strings.Contains(string(out), "address already in use") {
		t.Fatalf("run with the admin port taken: %v\n%s", err, out)
	}
}

// startLogged starts the daemon and returns the first stderr line that
// contains want, then stops it.
func firstLogLine(t *testing.T, bin, want string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stderr)
	}()
	timeout := time.After(30 * time.Second)
	var seen []string
	for {
		select {
		case ln, ok := <-lines:
			if !ok {
				t.Fatalf("the daemon ended without a line with %q:\n%s", want, strings.Join(seen, "\n"))
			}
			if strings.Contains(ln, want) {
				return ln
			}
			seen = append(seen, ln)
		case <-timeout:
			t.Fatalf("no line with %q in 30 s:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

// The file's log block sets the levels and the format; --log and
// --log-format given on the command line override it.
func TestLogBlockTakesEffectAndFlagsOverride(t *testing.T) {
	bin := buildBinary(t)
	cfg := writeFile(t, "gw.yaml", fmt.Sprintf(`admin: ""
log: {level: debug, scopes: {gateway: info}, format: json}
routes:
  - name: tun
    listen: udp://127.0.0.1:%d/36412
    forward: udp://127.0.0.1:9/36412
`, testlab.FreeUDPPort(t)))
	ln := firstLogLine(t, bin, "route listening", "run", "--config", cfg, "--admin", "")
	var m map[string]any
	if err := json.Unmarshal([]byte(ln), &m); err != nil || m["route"] != "tun" || m["scope"] != "gateway" || m["level"] != "INFO" {
		t.Fatalf("with format: json the line is %q (%v)", ln, err)
	}
	ln = firstLogLine(t, bin, "route listening", "run", "--config", cfg, "--admin", "", "--log-format", "text")
	if !strings.Contains(ln, `level=INFO msg="route listening" scope=gateway route=tun`) {
		t.Fatalf("with --log-format text the line is %q", ln)
	}
	// --log warn drops every info line, the file's debug level included.
	admin := freeTCPAddr(t)
	cmd := exec.Command(bin, "run", "--config", cfg, "--admin", admin, "--log", "warn")
	var buf syncWriter
	cmd.Stderr = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitReady(t, admin, &buf)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, buf.String())
	}
	if strings.Contains(buf.String(), "INFO") {
		t.Fatalf("--log warn still logs info lines:\n%s", buf.String())
	}
}

// syncWriter collects a child's output while the test reads it.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitReady polls the daemon's admin endpoint until it answers /status,
// for at most 30 s.
func waitReady(t *testing.T, admin string, log fmt.Stringer) {
	t.Helper()
	cl := &http.Client{Timeout: time.Second}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		resp, err := cl.Get("http://" + admin + "/status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("the daemon's admin endpoint %s did not answer in 30 s:\n%s", admin, log)
}

// TestCheckAuthKeyFile: --auth-key-file gives the single route SCTP-AUTH;
// check reads the file as run would and refuses one others can read.
func TestCheckAuthKeyFile(t *testing.T) {
	bin := buildBinary(t)
	key := filepath.Join(t.TempDir(), "tunnel.key")
	line := "1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	if err := os.WriteFile(key, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--listen", "udp://0.0.0.0:9899/36412", "--forward", "sctp://198.18.2.10:36412", "--auth-key-file", key}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "auth: SCTP-AUTH on the udp:// side, key file "+key+", keys [1 (active)], hmac sha256, sha1") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "00112233") {
		t.Fatalf("check printed the secret:\n%s", out)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "routes[0].auth.key_file: "+key+": readable by group or others (mode 0644)") {
		t.Fatalf("check of a world-readable key file: %v\n%s", err, out)
	}
}

// The file's admin: "" turns the admin listener off without --admin "";
// a file that does not say gets the default; --admin given wins over the
// file either way.
func TestAdminOffFromTheFile(t *testing.T) {
	bin := buildBinary(t)
	const route = "routes:\n  - {listen: \"udp://127.0.0.1:9899/36412\", forward: \"udp://127.0.0.1:9/36412\"}\n"
	off := writeFile(t, "off.yaml", "admin: \"\"\n"+route)
	unsaid := writeFile(t, "unsaid.yaml", route)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", off}, "admin: off\n"},
		{[]string{"--config", unsaid}, "admin: " + defaultAdmin + "\n"},
		{[]string{"--config", off, "--admin", "127.0.0.1:9912"}, "admin: 127.0.0.1:9912\n"},
		{[]string{"--config", unsaid, "--admin", ""}, "admin: off\n"},
	} {
		cmd := exec.Command(bin, append([]string{"check"}, tc.args...)...)
		for _, kv := range os.Environ() { // an SCTPGW_ADMIN of the caller's would be --admin
			if !strings.HasPrefix(kv, "SCTPGW_ADMIN=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("check %v: %v\n%s\nwant %q", tc.args, err, out, tc.want)
		}
	}
}

// check --no-resolve checks a configuration whose names resolve only
// where it runs (a cluster's Service names) without looking them up, and
// still refuses what is wrong with it; without the flag such a name fails.
func TestCheckNoResolve(t *testing.T) {
	bin := buildBinary(t)
	cluster := writeFile(t, "cluster.yaml", `routes:
  - name: s1ap
    listen: sctp://0.0.0.0:36412
    forward: udp://sctpgw-core.sctpgw.svc.cluster.invalid:9899/36412
  - name: ngap
    listen: sctp://0.0.0.0:38412
    forward: sctp://amf-1.core.invalid,amf-2.core.invalid:38412
`)
	out, err := exec.Command(bin, "check", "--no-resolve", "--config", cluster).CombinedOutput()
	for _, want := range []string{
		"(sctpgw-core.sctpgw.svc.cluster.invalid not resolved (--no-resolve))",
		"(amf-1.core.invalid not resolved (--no-resolve), amf-2.core.invalid not resolved (--no-resolve))",
		"configuration OK\n",
	} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("check --no-resolve: %v\n%s\nwant %q", err, out, want)
		}
	}
	out, err = exec.Command(bin, "check", "--config", cluster).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), `resolving "sctpgw-core.sctpgw.svc.cluster.invalid"`) {
		t.Fatalf("check without --no-resolve: %v\n%s", err, out)
	}
	for name, tc := range map[string]struct{ doc, want string }{
		"bad name": {`routes: [{listen: "sctp://0.0.0.0:36412", forward: "udp://core..svc:9899/36412"}]`, `"core..svc" is not a host name`},
		"clash": {`routes:
  - {listen: "sctp://0.0.0.0:36412", forward: "udp://a.svc:9899/36412"}
  - {listen: "sctp://0.0.0.0:36412", forward: "udp://b.svc:9899/36412"}
`, "routes[1].listen"},
		"type": {`routes: [{listen: "sctp://0.0.0.0:36412", forward: "udp://core.svc:9899/36412", sctp: {rto_min: soon}}]`, "routes[0].sctp.rto_min"},
	} {
		out, err := exec.Command(bin, "check", "--no-resolve", "--config", writeFile(t, "bad.yaml", tc.doc)).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
			t.Errorf("check --no-resolve, %s: %v\n%s\nwant %q", name, err, out, tc.want)
		}
	}
}
