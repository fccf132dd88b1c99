// Package testlab is what sctpgw's tests share to build labs on this
// machine: the rule for a test that needs root or a tool (it skips outside
// CI and fails in CI), and, as they move here, network namespaces named
// after the test process, commands and child processes bounded in time,
// free ports, and generated message flows with their checkers. Only tests
// and benchmarks import it.
package testlab

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/sctpgw/sctpgw/internal/usrsctptool"
)

// InCI reports whether the tests run in CI: CI=true (or any other true
// value strconv.ParseBool accepts), as .ci/run sets it.
func InCI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Missing reports that the test cannot run here, and why. Outside CI it
// skips the test with the reason; in CI it fails it with the reason,
// because there nothing may quietly not run: CI runs as root and installs
// every tool the tests use (.ci/run).
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		tb.Fatalf("%s (CI=true: a test that cannot run fails; install it in .ci/run)", msg)
	}
	tb.Skip(msg)
}

// NeedRoot applies Missing unless the test runs as root; why says what
// root is for (namespaces, raw sockets).
func NeedRoot(tb testing.TB, why string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Missing(tb, "root is needed: %s", why)
	}
}

// packages names the Debian package of each tool the tests run.
var packages = map[string]string{
	"ip":              "iproute2",
	"nft":             "nftables",
	"conntrack":       "conntrack",
	"ethtool":         "ethtool",
	"tshark":          "tshark",
	"dumpcap":         "wireshark-common, with tshark",
	"sysctl":          "procps",
	"timeout":         "coreutils",
	"stdbuf":          "coreutils",
	"setpriv":         "util-linux",
	"podman":          "podman",
	"runc":            "runc",
	"podman-compose":  "podman-compose",
	"systemd-analyze": "systemd",
	"systemd-nspawn":  "systemd-container",
	"promtool":        "prometheus",
}

// NeedTool applies Missing unless tool is on PATH, and returns its path.
func NeedTool(tb testing.TB, tool string) string {
	tb.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if pkg := packages[tool]; pkg != "" {
			Missing(tb, "%s is needed (Debian package %s)", tool, pkg)
		} else {
			Missing(tb, "%s is needed: %v", tool, err)
		}
	}
	return p
}

// NeedTools is NeedTool for each of tools.
func NeedTools(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		NeedTool(tb, tool)
	}
}

// NeedUsrsctp applies Missing unless name (client, echo_server, tsctp, ...)
// of Debian's libusrsctp-examples is installed, and returns its path.
func NeedUsrsctp(tb testing.TB, name string) string {
	tb.Helper()
	p := usrsctptool.Bin(name)
	if p == "" {
		Missing(tb, "usrsctp's %s is needed (Debian package libusrsctp-examples)", name)
	}
	return p
}

// HaveTool reports whether tool is on PATH, for a test that can still show
// most of what it shows without it: what names the part that needs the
// tool ("decoding the capture"). Outside CI a missing tool is logged and
// that part left out; in CI it fails the test, as Missing does.
func HaveTool(tb testing.TB, tool, what string) bool {
	tb.Helper()
	if _, err := exec.LookPath(tool); err == nil {
		return true
	}
	msg := fmt.Sprintf("%s is not installed: %s left out", tool, what)
	if pkg := packages[tool]; pkg != "" {
		msg += " (Debian package " + pkg + ")"
	}
	if InCI() {
		tb.Fatalf("%s (CI=true: nothing may quietly not run; install it in .ci/run)", msg)
	}
	tb.Log(msg)
	return false
}
