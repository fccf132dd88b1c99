package testlab

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Buffer collects a child's output (its first 8 MiB) while the test reads
// it. It is safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 8<<20 {
		s.b.Write(p)
	}
	return len(p), nil
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tail is the last n lines of s: a failing test's own message must stay on
// the screen above a chatty child's output.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return strings.Join(lines, "\n")
	}
	return fmt.Sprintf("[%d lines before]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}

// ProcOptions say how Start runs a child.
type ProcOptions struct {
	// NS is the network namespace to run in; "" is the test's own.
	NS string
	// Limit bounds the child's life (whole seconds, at least one).
	Limit time.Duration
	// Stdin makes Proc.Stdin feed the child's standard input.
	Stdin bool
	// Env is added to the test's environment.
	Env []string
	// MergeOutput sends standard error to Out as well.
	MergeOutput bool
}

// Proc is a child process the test started, always under timeout(1), so
// that it never outlives its limit even if the test binary dies. timeout
// leads a process group of its own (the child and what it starts), and
// passes SIGTERM on to the child; only that group is ever signalled, never
// anything found by name.
type Proc struct {
	Name     string
	Cmd      *exec.Cmd
	Stdin    io.WriteCloser // with ProcOptions.Stdin
	Out, Err *Buffer        // the same Buffer with MergeOutput
	done     chan struct{}
	waitErr  error
}

// Start runs argv as o says. When the test ends the child is stopped
// (SIGTERM, then SIGKILL to its group after 5 s), and if the test failed
// the tails of its output are logged.
func Start(tb testing.TB, o ProcOptions, argv ...string) *Proc {
	tb.Helper()
	secs := max(int(o.Limit/time.Second), 1)
	full := []string{"timeout", "-k", "3", strconv.Itoa(secs)}
	if o.NS != "" {
		full = append(full, "ip", "netns", "exec", o.NS) // which execs the program
	}
	full = append(full, argv...)
	p := &Proc{Cmd: exec.Command(full[0], full[1:]...), Out: &Buffer{}, done: make(chan struct{})}
	for _, a := range argv {
		if a == "stdbuf" || a == "env" || strings.HasPrefix(a, "-") || strings.Contains(a, "=") {
			continue
		}
		p.Name = a[strings.LastIndexByte(a, '/')+1:]
		break
	}
	p.Err = p.Out
	if !o.MergeOutput {
		p.Err = &Buffer{}
	}
	if len(o.Env) > 0 {
		p.Cmd.Env = append(os.Environ(), o.Env...)
	}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Out, p.Err
	if o.Stdin {
		w, err := p.Cmd.StdinPipe()
		if err != nil {
			tb.Fatal(err)
		}
		p.Stdin = w
	}
	if err := p.Cmd.Start(); err != nil {
		tb.Fatalf("start %v: %v", full, err)
	}
	go func() {
		p.waitErr = p.Cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Stop(5 * time.Second)
		if tb.Failed() {
			if p.Err == p.Out {
				tb.Logf("%s output (tail):\n%s", p.Name, Tail(p.Out.String(), 30))
			} else {
				tb.Logf("%s stdout (tail):\n%s\n%s stderr (tail):\n%s", p.Name, Tail(p.Out.String(), 30), p.Name, Tail(p.Err.String(), 30))
			}
		}
	})
	return p
}

// Done is closed once the child has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to d for the child to exit and returns its exit error.
func (p *Proc) Wait(d time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.waitErr
	case <-time.After(d):
		return false, nil
	}
}

// Signal sends sig to the child (timeout(1) passes it on) if it still runs.
func (p *Proc) Signal(sig syscall.Signal) {
	if !p.Exited() {
		p.Cmd.Process.Signal(sig)
	}
}

// Stop ends the child if it still runs: SIGTERM, then SIGKILL to its
// process group after grace. It returns once the child has exited.
func (p *Proc) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	p.Signal(syscall.SIGTERM)
	if ok, _ := p.Wait(grace); !ok {
		syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		p.Cmd.Process.Kill()
		<-p.done
	}
}

// WaitOutput waits up to d for the child's standard output to hold s.
func (p *Proc) WaitOutput(tb testing.TB, d time.Duration, s string) {
	tb.Helper()
	if !Poll(d, func() bool { return strings.Contains(p.Out.String(), s) }) {
		tb.Fatalf("%s's output lacks %q after %v", p.Name, s, d)
	}
}
