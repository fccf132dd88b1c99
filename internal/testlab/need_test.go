package testlab

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Missing skips outside CI and fails under CI=true, with the reason either
// way. The test runs itself as a child, once per CI value.
func TestMissingSkipsOutsideCIAndFailsInCI(t *testing.T) {
	if os.Getenv("TESTLAB_CHILD") == "1" {
		Missing(t, "the tool of test %d", 42)
		t.Log("after Missing")
		return
	}
	for _, c := range []struct {
		ci, want string
		fail     bool
	}{{"", "--- SKIP", false}, {"false", "--- SKIP", false}, {"true", "--- FAIL", true}, {"1", "--- FAIL", true}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingSkipsOutsideCIAndFailsInCI$", "-test.v", "-test.count=1")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CI=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "TESTLAB_CHILD=1", "CI="+c.ci)
		out, err := cmd.CombinedOutput()
		s := string(out)
		if (err != nil) != c.fail || !strings.Contains(s, c.want) || !strings.Contains(s, "the tool of test 42") || strings.Contains(s, "after Missing") {
			t.Errorf("CI=%q: exit %v, want failure %v and %q with the reason, nothing after Missing:\n%s", c.ci, err, c.fail, c.want, s)
		}
	}
}

// WaitBlocked sees goroutines parked in a named function, and only once
// they are.
func TestWaitBlocked(t *testing.T) {
	if got := Blocked("testlab.parkHere"); got != 0 {
		t.Fatalf("%d goroutines parked before any was started", got)
	}
	release := make(chan struct{})
	defer close(release)
	for range 2 {
		go parkHere(release)
	}
	WaitBlocked(t, 5*time.Second, "testlab.parkHere", 2)
}

func parkHere(release chan struct{}) {
	select {
	case <-release:
	case <-time.After(time.Minute):
	}
}
