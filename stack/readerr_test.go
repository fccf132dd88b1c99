package stack_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

// errAfterPackets is a link whose first ReadBatch that has packets also
// reports an error met after them, as rawip's does when its second
// socket fails after the first delivered.
type errAfterPackets struct {
	link.Link
	fired atomic.Bool
}

func (l *errAfterPackets) ReadBatch(pkts []link.Packet) (int, error) {
	n, err := l.Link.ReadBatch(pkts)
	if err == nil && n > 0 && l.fired.CompareAndSwap(false, true) {
		return n, errors.New("test: the second socket failed")
	}
	return n, err
}

// Packets a link returns together with an error reach the engine: the
// INIT the server reads with one is answered. The virtual clocks never
// move, so a lost INIT is never retransmitted and the dial could not
// complete. The stack threw such batches away.
func TestPacketsReadWithAnErrorAreTaken(t *testing.T) {
	la, lb := memlink.Pair(link.Native, addrA, addrB)
	lbe := &errAfterPackets{Link: lb}
	sa, err := stack.New(stack.Config{Links: []link.Link{la}, Clock: newVClock()})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := stack.New(stack.Config{Links: []link.Link{lbe}, Clock: newVClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sa.Close("")
		sb.Close("")
	})
	if _, err := sb.Listen(5000, stack.Options{}); err != nil {
		t.Fatal(err)
	}
	x, err := sa.Dial(shortCtx(t), 0, link.Path{Local: addrA, Remote: addrB}, 0, 5000, stack.Options{})
	if err != nil {
		t.Fatalf("dial: %v (the server's link reported an error with the INIT: %v)", err, lbe.fired.Load())
	}
	if !lbe.fired.Load() {
		t.Fatal("the link never returned packets with an error")
	}
	x.Abort()
}

func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	t.Cleanup(cancel)
	return ctx
}
