package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/internal/testlab"
)

// --version prints the module version, the VCS revision and time the
// toolchain stamped, and the Go version.
func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/sctpgw/sctpgw", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "5e43b9a0c0ffee"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := formatVersion(describeBuild(bi, true)), "sctpgw v0.3.0, revision 5e43b9a0c0ffee (modified), committed 2026-12-01T10:00:00Z, built with go1.26.8"; got != want {
		t.Fatalf("%q\nwant %q", got, want)
	}
	// The binary says what the toolchain stamped into it, which go
	// version -m reads back: "(devel)" and no revision where the tree has
	// no VCS information (an exported tree), a pseudo-version and the
	// revision in a git checkout (Go 1.24 on).
	bin := buildBinary(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v %q", err, out)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	version, revision := "", ""
	for _, ln := range strings.Split(string(meta), "\n") {
		f := strings.Fields(ln)
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/sctpgw/sctpgw":
			version = f[2]
		case len(f) >= 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			revision = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	got := string(out)
	if version == "" || !strings.HasPrefix(got, "sctpgw "+version+",") || !strings.Contains(got, "built with "+runtime.Version()) {
		t.Fatalf("--version: %q; the binary's module version is %q (go version -m)", got, version)
	}
	if revision != "" && !strings.Contains(got, "revision "+revision) {
		t.Fatalf("--version: %q lacks the stamped revision %s", got, revision)
	}
}

// The bash completion script completes subcommands and flags by asking
// the binary; the man page is roff with every subcommand.
func TestCompletionAndManPage(t *testing.T) {
	bin := buildBinary(t)
	testlab.NeedTool(t, "bash") // to check the completion script
	script, err := exec.Command(bin, "completion", "bash").Output()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "sctpgw.bash")
	os.WriteFile(f, script, 0o644)
	complete := func(words ...string) string {
		t.Helper()
		cmd := exec.Command("bash", "-c", `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _sctpgw; echo "${COMPREPLY[*]}"`, "x", f)
		cmd.Args = append(cmd.Args, words...)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := complete("sctpgw", "ch"); got != "check" {
		t.Fatalf("sctpgw ch<TAB>: %q", got)
	}
	if got := complete("sctpgw", "status", "--ch"); got != "--check" {
		t.Fatalf("sctpgw status --ch<TAB>: %q", got)
	}
	for _, sh := range []string{"zsh", "fish"} {
		if out, err := exec.Command(bin, "completion", sh).Output(); err != nil || !strings.Contains(string(out), "sctpgw") {
			t.Fatalf("completion %s: %v", sh, err)
		}
	}
	man, err := exec.Command(bin, "man").Output()
	if err != nil || !strings.Contains(string(man), ".TH sctpgw 8") {
		t.Fatalf("man: %v\n%.200s", err, man)
	}
	for _, c := range []string{"run", "check", "status", "ping", "--log-format"} {
		if !strings.Contains(string(man), c) {
			t.Errorf("the man page lacks %s", c)
		}
	}
}
