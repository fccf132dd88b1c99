package clocktest_test

import (
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/clock"
	"github.com/sctpgw/sctpgw/internal/clock/clocktest"
	"github.com/sctpgw/sctpgw/internal/testlab"
)

var _ clock.Clock = (*clocktest.Fake)(nil)

// The stack's timer loop arms absolute deadlines through this optional
// interface (stack.TimerAt); a Timer without it would be armed with Reset
// and land late when a test moves the clock from another goroutine.
var _ interface{ ResetAt(time.Time) } = (*clocktest.Timer)(nil)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// expiry is what t's channel holds now, if anything.
func expiry(t *clocktest.Timer) (time.Time, bool) {
	select {
	case at := <-t.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

func newTimer(c *clocktest.Fake, d time.Duration) *clocktest.Timer {
	return c.NewTimer(d).(*clocktest.Timer)
}

// TestFiringOrder: a move fires exactly the timers it reaches, each with
// the clock's new time, and leaves the later ones armed.
func TestFiringOrder(t *testing.T) {
	c := clocktest.New(start)
	t3 := newTimer(c, 3*time.Second)
	t1 := newTimer(c, time.Second)
	t2 := newTimer(c, 2*time.Second)
	want := []time.Time{start.Add(time.Second), start.Add(2 * time.Second), start.Add(3 * time.Second)}
	if got := c.Deadlines(); !slices.Equal(got, want) {
		t.Fatalf("Deadlines %v, want %v", got, want)
	}
	c.Advance(1500 * time.Millisecond)
	if at, ok := expiry(t1); !ok || !at.Equal(start.Add(1500*time.Millisecond)) {
		t.Fatalf("the 1 s timer after 1.5 s: %v %v, want the clock's time", at, ok)
	}
	for _, tm := range []*clocktest.Timer{t2, t3} {
		if at, ok := expiry(tm); ok {
			t.Fatalf("a timer not due fired at %v", at)
		}
	}
	if got := c.Deadlines(); !slices.Equal(got, want[1:]) {
		t.Fatalf("Deadlines after 1.5 s %v, want %v", got, want[1:])
	}
	c.Set(start.Add(3 * time.Second))
	for _, tm := range []*clocktest.Timer{t2, t3} {
		if at, ok := expiry(tm); !ok || !at.Equal(start.Add(3*time.Second)) {
			t.Fatalf("a timer due by 3 s: %v %v", at, ok)
		}
	}
	if got := c.Deadlines(); len(got) != 0 {
		t.Fatalf("Deadlines after every timer fired: %v", got)
	}
	if now := c.Now(); !now.Equal(start.Add(3 * time.Second)) {
		t.Fatalf("Now %v after Set", now)
	}
	// Due at once, as time.NewTimer(0).
	if _, ok := expiry(newTimer(c, 0)); !ok {
		t.Fatal("a timer made with 0 did not fire at once")
	}
}

// TestResetBeforeFiring: a timer re-armed later before its time does not
// fire at the old time, and an expiry unread when it is re-armed is
// discarded, as with a *time.Timer.
func TestResetBeforeFiring(t *testing.T) {
	c := clocktest.New(start)
	tm := newTimer(c, time.Second)
	tm.Reset(3 * time.Second)
	c.Advance(2 * time.Second)
	if at, ok := expiry(tm); ok || c.Owed() {
		t.Fatalf("re-armed for 3 s, it fired at %v (owed %v)", at, c.Owed())
	}
	c.Advance(time.Second)
	if _, ok := expiry(tm); !ok {
		t.Fatal("re-armed for 3 s, it did not fire at 3 s")
	}
	c.Advance(time.Second)
	tm.Reset(time.Second)
	c.Advance(time.Second) // fires, nobody reads
	tm.Reset(time.Second)
	if at, ok := expiry(tm); ok {
		t.Fatalf("an expiry from before Reset was read after it: %v", at)
	}
	if c.Owed() {
		t.Fatal("owed after Reset for a time not due")
	}
}

// TestStop: a stopped timer never fires; Stop discards an unread expiry
// but leaves it owed (its user has not seen it), while a Stop after the
// expiry was read owes nothing.
func TestStop(t *testing.T) {
	c := clocktest.New(start)
	tm := newTimer(c, time.Second)
	tm.Stop()
	c.Advance(time.Hour)
	if at, ok := expiry(tm); ok || c.Owed() || len(c.Deadlines()) != 0 {
		t.Fatalf("stopped, it fired at %v (owed %v, deadlines %v)", at, c.Owed(), c.Deadlines())
	}

	tm.Reset(time.Second)
	c.Advance(time.Second)
	tm.Stop()
	if at, ok := expiry(tm); ok {
		t.Fatalf("an expiry from before Stop was read after it: %v", at)
	}
	if !c.Owed() {
		t.Fatal("stopped with its expiry unread, it is not owed")
	}

	tm.Reset(0) // the stack's loop re-arms for a due time: fires at once
	if _, ok := expiry(tm); !ok {
		t.Fatal("re-armed for now, it did not fire")
	}
	tm.Stop()
	if c.Owed() {
		t.Fatal("stopped after its expiry was read, it is still owed")
	}
}

// TestResetAt: ResetAt arms for the absolute time given, even when the
// clock moved since the user read it, and fires at once for a time past.
func TestResetAt(t *testing.T) {
	c := clocktest.New(start)
	tm := newTimer(c, time.Hour)
	read := c.Now()
	c.Advance(2 * time.Second) // another goroutine moves the clock meanwhile
	tm.ResetAt(read.Add(3 * time.Second))
	if !c.ArmedAt(read.Add(3*time.Second)) || c.ArmedAt(read.Add(time.Hour)) {
		t.Fatalf("ResetAt(+3 s): Deadlines %v", c.Deadlines())
	}
	if !c.ArmedAt(read.Add(3 * time.Second).In(time.FixedZone("x", 3600))) {
		t.Fatal("ArmedAt compared with ==, not Equal: the same instant in another zone was not found")
	}
	c.Advance(time.Second)
	if at, ok := expiry(tm); !ok || !at.Equal(start.Add(3*time.Second)) {
		t.Fatalf("armed for +3 s, at +3 s: %v %v", at, ok)
	}
	tm.ResetAt(read)
	if at, ok := expiry(tm); !ok || !at.Equal(start.Add(3*time.Second)) {
		t.Fatalf("armed for a time past: %v %v, want at once with the clock's time", at, ok)
	}
	if !c.Owed() || len(c.Deadlines()) != 0 {
		t.Fatalf("fired at once: owed %v, deadlines %v", c.Owed(), c.Deadlines())
	}
}

// TestOwed: an expiry is owed from its firing until its user re-arms the
// timer, whether or not it read it; any timer owed makes the clock owed.
func TestOwed(t *testing.T) {
	c := clocktest.New(start)
	a, b := newTimer(c, time.Second), newTimer(c, 2*time.Second)
	if c.Owed() {
		t.Fatal("owed before anything fired")
	}
	c.Advance(2 * time.Second)
	expiry(a)
	if !c.Owed() {
		t.Fatal("not owed after two timers fired")
	}
	a.Reset(time.Minute)
	if !c.Owed() {
		t.Fatal("a re-armed, b fired and unanswered: not owed")
	}
	expiry(b)
	b.ResetAt(start.Add(time.Minute))
	if c.Owed() {
		t.Fatal("owed after both were re-armed")
	}
	want := []time.Time{start.Add(time.Minute), start.Add(time.Minute + 2*time.Second)}
	if got := c.Deadlines(); !slices.Equal(got, want) {
		t.Fatalf("Deadlines %v, want %v (b at, a 1 min after the move)", got, want)
	}
}

// TestNeverBlocks: timers whose channels nobody reads fire move after
// move without the clock waiting, each channel holding one expiry, and a
// reader in another goroutine sees every timer fire (go test -race checks
// the Fake's locking with it).
func TestNeverBlocks(t *testing.T) {
	c := clocktest.New(start)
	var ts []*clocktest.Timer
	for i := range 50 {
		ts = append(ts, newTimer(c, time.Duration(i)*time.Millisecond))
	}
	moved := make(chan struct{})
	go func() {
		defer close(moved)
		for range 100 {
			c.Advance(time.Millisecond)
			for _, tm := range ts {
				tm.ResetAt(start) // due: fires again at once, unread
			}
		}
	}()
	select {
	case <-moved:
	case <-time.After(10 * time.Second):
		t.Fatal("the clock blocked on a timer nobody reads")
	}
	for i, tm := range ts {
		if n := len(tm.C()); n != 1 {
			t.Fatalf("timer %d holds %d expiries, want 1", i, n)
		}
	}

	// One goroutine reads and re-arms, as the stack's timer loop does,
	// while the test moves the clock and waits for nothing to be owed:
	// every move is answered before the next. (A clock of its own: the
	// timers above stay owed, nobody answers them.)
	c = clocktest.New(start)
	tm := newTimer(c, time.Second)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 20 {
			<-tm.C()
			tm.Reset(time.Second)
		}
	})
	for i := range 20 {
		c.Advance(time.Second)
		for end := time.Now().Add(10 * time.Second); c.Owed(); time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("move %d: the reader did not re-arm within 10 s", i)
			}
		}
		if !c.ArmedAt(c.Now().Add(time.Second)) {
			t.Fatalf("move %d: re-armed, but not for a second later: %v", i, c.Deadlines())
		}
	}
	wg.Wait()
}

// TestNoProductionImport: clocktest is test support; no package of the
// module imports it outside its tests.
func TestNoProductionImport(t *testing.T) {
	goTool := testlab.NeedTool(t, "go")
	out, err := exec.Command(goTool, "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "github.com/sctpgw/sctpgw/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const self = "github.com/sctpgw/sctpgw/internal/clock/clocktest"
	n := 0
	for line := range strings.Lines(string(out)) {
		pkg, deps, _ := strings.Cut(strings.TrimSpace(line), " ")
		n++
		if pkg != self && slices.Contains(strings.Fields(deps), self) {
			t.Errorf("%s imports %s outside its tests", pkg, self)
		}
	}
	if n < 10 {
		t.Fatalf("go list listed %d packages:\n%s", n, out)
	}
}
