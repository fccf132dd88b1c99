package udpencap

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// Association-level helpers: the udpencap link under the full stack
// (stack.New over one or more links), for the tests in *_assoc_test.go.

// SCTP ports the association tests use: S1AP's and NGAP's, as a lab would.
const (
	portS1AP = 36412
	portNGAP = 38412
)

// fastOpts are the association settings of tests that provoke losses (NAT
// rebinding): a short retransmission timer, so that recovery takes tenths
// of seconds rather than seconds, and a SACK delay below RTO.Min, so that a
// lone DATA chunk's delayed SACK does not trigger a spurious
// retransmission. Heartbeats are kept out of the way (one would refresh a
// NAT mapping a test wants to expire); tests that want them set
// PeerAddr.HBInterval.
var fastOpts = stack.Options{
	NoDelay:    true,
	RTO:        stack.RTOInfo{Initial: 300 * time.Millisecond, Min: 200 * time.Millisecond, Max: 2 * time.Second},
	DelayedAck: engine.DelayedAck{Delay: 50 * time.Millisecond},
	PeerAddr:   engine.PeerAddrParams{HBInterval: time.Hour},
}

// newStackT starts a stack on links; the test's cleanup closes it (and with
// it the links) before the links' own cleanups run.
func newStackT(t testing.TB, links ...link.Link) *stack.Stack {
	t.Helper()
	s, err := stack.New(stack.Config{Links: links})
	if err != nil {
		t.Fatalf("stack.New: %v", err)
	}
	t.Cleanup(func() { s.Close("test over") })
	return s
}

// listenS listens on port with opts or fails the test.
func listenS(t testing.TB, s *stack.Stack, port uint16, opts stack.Options) *stack.Listener {
	t.Helper()
	ln, err := s.Listen(port, opts)
	if err != nil {
		t.Fatalf("Listen(%d): %v", port, err)
	}
	return ln
}

// flowLarge is the largest message of the flows these tests move
// (testlab.Msg): every 16th message is fragmented, every 64th this large.
const flowLarge = 20000

// exchange moves n messages each way at once between the two ends of an
// association, on flows flow (a to b) and flow+1 (b to a).
func exchange(ctx context.Context, a, b *stack.Assoc, flow uint32, n int) error {
	return exchangePaced(ctx, a, b, flow, n, 0)
}

// exchangePaced is exchange with both senders pausing gap after each
// message.
func exchangePaced(ctx context.Context, a, b *stack.Assoc, flow uint32, n int, gap time.Duration) error {
	_, _, err := testlab.Exchange(ctx, a, b, flow, n, flowLarge, gap)
	return err
}

// exchangeT is exchange failing the test.
func exchangeT(t testing.TB, ctx context.Context, a, b *stack.Assoc, flow uint32, n int) {
	t.Helper()
	if err := exchange(ctx, a, b, flow, n); err != nil {
		t.Fatal(err)
	}
}

// shutdownT is testlab.Shutdown failing the test.
func shutdownT(t testing.TB, ctx context.Context, x, y *stack.Assoc) {
	t.Helper()
	if err := testlab.Shutdown(ctx, x, y); err != nil {
		t.Fatal(err)
	}
}

// primary is an association's primary path.
func primary(x *stack.Assoc) link.Path { return x.Status().Primary.Path }

// acceptKey names an accepted association by the peer's address and SCTP
// port, which its dialler knows too.
type acceptKey struct {
	remote netip.Addr
	port   uint16
}

// acceptor accepts on a listener in the background and hands each
// association to the goroutine that asks for it by acceptKey, so that many
// dialers can meet their peers in any order.
type acceptor struct {
	mu    sync.Mutex
	slots map[acceptKey]chan *stack.Assoc
	done  chan struct{}
}

func startAcceptor(t testing.TB, ctx context.Context, ln *stack.Listener) *acceptor {
	a := &acceptor{slots: map[acceptKey]chan *stack.Assoc{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(a.done)
		for {
			x, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			st := x.Status()
			a.slot(acceptKey{st.Primary.Path.Remote, st.RemotePort}) <- x
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-a.done
	})
	return a
}

func (a *acceptor) slot(k acceptKey) chan *stack.Assoc {
	a.mu.Lock()
	defer a.mu.Unlock()
	ch := a.slots[k]
	if ch == nil {
		ch = make(chan *stack.Assoc, 1)
		a.slots[k] = ch
	}
	return ch
}

// get waits for the association accepted from remote's SCTP port.
func (a *acceptor) get(ctx context.Context, remote netip.Addr, port uint16) (*stack.Assoc, error) {
	select {
	case x := <-a.slot(acceptKey{remote, port}):
		return x, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no association accepted from %v port %d: %w", remote, port, ctx.Err())
	}
}
