package testlab

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Poll checks cond every 10 ms for up to d and reports whether it held.
func Poll(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// WaitBlocked waits up to d until at least n goroutines are parked (in a
// select or a channel operation) inside a function whose name contains
// frame, such as "stack.(*Assoc).RecvMsg": the readiness a test of
// concurrent waiters needs before it wakes them, observed instead of
// assumed after a sleep. It fails the test after d. Goroutines of other
// tests may be parked there too: count them first with Blocked and add.
func WaitBlocked(tb testing.TB, d time.Duration, frame string, n int) {
	tb.Helper()
	got := 0
	if Poll(d, func() bool { got = Blocked(frame); return got >= n }) {
		return
	}
	tb.Fatalf("%d goroutines blocked in %s after %v, want %d", got, frame, d, n)
}

// Blocked counts the goroutines parked in a function whose name contains
// frame.
func Blocked(frame string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, stack, _ := strings.Cut(g, "\n")
		_, state, _ := strings.Cut(header, "[")
		parked := strings.HasPrefix(state, "select") || strings.HasPrefix(state, "chan receive") || strings.HasPrefix(state, "chan send")
		if parked && strings.Contains(stack, frame) {
			count++
		}
	}
	return count
}

// WaitFor polls cond for up to d and fails the test, naming what it waited
// for, if cond never held.
func WaitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Poll(d, cond) {
		tb.Fatalf("timed out after %v waiting for %s", d, what)
	}
}
