// Package usrsctptool finds and tames Debian's usrsctp example programs
// (package libusrsctp-examples) for sctpgw's interoperability tests and
// benchmarks, which compare against usrsctp in the same run. Only tests
// and benchmarks use it.
package usrsctptool

import (
	"crypto/sha256"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Bin is the path of one of the example programs (client, echo_server,
// tsctp, ...), or "" when the package is not installed.
func Bin(name string) string {
	p := filepath.Join("/usr/lib/usrsctp", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	out, err := exec.Command("dpkg", "-L", "libusrsctp-examples").Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(line, "/"+name) {
			return line
		}
	}
	return ""
}

// Debian builds libusrsctp-examples with SCTP_DEBUG, and tsctp (like
// discard_server) then calls usrsctp_sysctl_set_sctp_debug_on(SCTP_DEBUG_ALL)
// unconditionally: every packet prints dozens of lines, which makes the
// program slow and its output huge. It has no flag against it. A tiny
// preloaded library makes that call a no-op, so usrsctp keeps its
// default, debugging off.
const noDebugC = `#include <stdint.h>
int usrsctp_sysctl_set_sctp_debug_on(uint32_t value) { (void)value; return 0; }
`

var shim struct {
	once sync.Once
	path string
	err  error
}

// NoDebugShim returns the path of that library for LD_PRELOAD, compiling
// it with the system's C compiler the first time: it is kept in the
// temporary directory under a name derived from its source and reused by
// later runs, so a killed run leaves nothing new behind. An error means the
// programs would run with their debug output on.
func NoDebugShim() (string, error) {
	shim.once.Do(func() { shim.path, shim.err = buildShim() })
	return shim.path, shim.err
}

func buildShim() (string, error) {
	sum := sha256.Sum256([]byte(noDebugC))
	so := filepath.Join(os.TempDir(), fmt.Sprintf("sgwbench-nodebug-%x.so", sum[:6]))
	if _, err := os.Stat(so); err == nil {
		return so, nil
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		return "", errors.New("usrsctptool: no C compiler (cc) to build the preload that turns usrsctp's debug output off")
	}
	dir, err := os.MkdirTemp("", "sgwbench-shim-")
	if err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	defer os.RemoveAll(dir)
	src, tmp := filepath.Join(dir, "nodebug.c"), filepath.Join(dir, "nodebug.so")
	if err := os.WriteFile(src, []byte(noDebugC), 0o644); err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-o", tmp, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("usrsctptool: cc: %v: %s", err, out)
	}
	b, err := os.ReadFile(tmp)
	if err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	// Written beside the final name and renamed: concurrent runs never see
	// half a library.
	part := fmt.Sprintf("%s.%d", so, os.Getpid())
	if err := os.WriteFile(part, b, 0o755); err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	if err := os.Rename(part, so); err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	return so, nil
}

// TsctpResult is what tsctp's server prints when an association ends.
type TsctpResult struct {
	FirstLen  int     // length of the first message
	Messages  int     // messages received
	RecvCalls int     // receive calls
	Bytes     int64   // bytes received
	Seconds   float64 // from the first message to the end
	Line      string  // the line itself
}

// Mbitps is the goodput in Mbit/s.
func (r TsctpResult) Mbitps() float64 { return float64(r.Bytes) * 8 / r.Seconds / 1e6 }

// Msgps is messages per second.
func (r TsctpResult) Msgps() float64 { return float64(r.Messages) / r.Seconds }

// first message length, messages, recv calls, bytes, seconds, bytes/s,
// notifications.
var tsctpLine = regexp.MustCompile(`(?m)^(\d+), (\d+), (\d+), (\d+), ([0-9.]+), ([0-9.]+), (\d+)$`)

// ParseTsctp finds the first result line in a tsctp server's output.
func ParseTsctp(out string) (TsctpResult, bool) {
	m := tsctpLine.FindStringSubmatch(out)
	if m == nil {
		return TsctpResult{}, false
	}
	var r TsctpResult
	r.Line = m[0]
	r.FirstLen, _ = strconv.Atoi(m[1])
	r.Messages, _ = strconv.Atoi(m[2])
	r.RecvCalls, _ = strconv.Atoi(m[3])
	r.Bytes, _ = strconv.ParseInt(m[4], 10, 64)
	r.Seconds, _ = strconv.ParseFloat(m[5], 64)
	return r, r.Seconds > 0 && r.Messages > 0
}

//go:embed c/authpeer.c
var authPeerC []byte

//go:embed c/relay.c
var relayC []byte

// program is a small usrsctp program of ours, compiled once per process.
type program struct {
	name string
	src  []byte
	once sync.Once
	path string
	err  error
}

var (
	authPeer = &program{name: "authpeer", src: authPeerC}
	relay    = &program{name: "relay", src: relayC}
)

// AuthPeer returns the path of authpeer, a small usrsctp program with
// SCTP-AUTH keys (authpeer.c says how to run it), compiled with the
// system's C compiler against libusrsctp-dev the first time. Like the
// shim it is kept in the temporary directory under a name derived from
// its source. An error says what is missing.
func AuthPeer() (string, error) { return authPeer.build() }

// Relay returns the path of relay, an SCTP relay built on usrsctp (relay.c
// says how to run it): the gateway a lab engineer would otherwise write,
// which the lab benchmark compares sctpgw's pair with. Built as AuthPeer.
func Relay() (string, error) { return relay.build() }

func (p *program) build() (string, error) {
	p.once.Do(func() { p.path, p.err = buildProgram(p.name, p.src) })
	return p.path, p.err
}

func buildProgram(name string, src []byte) (string, error) {
	sum := sha256.Sum256(src)
	bin := filepath.Join(os.TempDir(), fmt.Sprintf("sgw-%s-%x", name, sum[:6]))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		return "", fmt.Errorf("usrsctptool: no C compiler (cc) to build %s", name)
	}
	if _, err := os.Stat("/usr/include/usrsctp.h"); err != nil {
		return "", errors.New("usrsctptool: libusrsctp-dev is not installed (no /usr/include/usrsctp.h)")
	}
	dir, err := os.MkdirTemp("", "sgw-"+name+"-")
	if err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	defer os.RemoveAll(dir)
	srcPath, tmp := filepath.Join(dir, name+".c"), filepath.Join(dir, name)
	if err := os.WriteFile(srcPath, src, 0o644); err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	if out, err := exec.Command(cc, "-O2", "-Wall", "-o", tmp, srcPath, "-lusrsctp", "-lpthread").CombinedOutput(); err != nil {
		return "", fmt.Errorf("usrsctptool: cc %s.c: %v: %s", name, err, out)
	}
	b, err := os.ReadFile(tmp)
	if err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	part := fmt.Sprintf("%s.%d", bin, os.Getpid())
	if err := os.WriteFile(part, b, 0o755); err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	if err := os.Rename(part, bin); err != nil {
		return "", fmt.Errorf("usrsctptool: %w", err)
	}
	return bin, nil
}
