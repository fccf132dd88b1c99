package testlab

import (
	"strings"
	"testing"
	"time"
)

// A child's output is there to wait for; Stop ends a child that would run
// on; Limit ends one nobody stops.
func TestProc(t *testing.T) {
	NeedTool(t, "timeout")
	p := Start(t, ProcOptions{Limit: time.Minute, MergeOutput: true}, "sh", "-c", "echo ready; exec sleep 50")
	p.WaitOutput(t, 10*time.Second, "ready")
	start := time.Now()
	p.Stop(5 * time.Second)
	if !p.Exited() || time.Since(start) > 4*time.Second {
		t.Fatalf("Stop took %v, exited %v: want a prompt exit on SIGTERM", time.Since(start), p.Exited())
	}
	q := Start(t, ProcOptions{Limit: time.Second}, "sleep", "50")
	if exited, err := q.Wait(10 * time.Second); !exited || err == nil {
		t.Fatalf("after its 1 s limit: exited %v, %v; want ended by timeout(1)", exited, err)
	}
	if got := Tail("a\nb\nc\n", 2); !strings.HasSuffix(got, "b\nc") || !strings.Contains(got, "[1 lines before]") {
		t.Fatalf("Tail: %q", got)
	}
}
