package stack_test

import (
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/stackhost"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// refusingLink is a link whose kernel refuses the packets to one address
// (EMSGSIZE, as a socket with DF set refuses a packet above the interface
// MTU), reporting it as Link.WriteBatch says: a short count and an error
// about the packet at that index.
type refusingLink struct {
	link.Link
	refuse netip.Addr
	mu     sync.Mutex
	sent   []netip.Addr
}

func (l *refusingLink) WriteBatch(pkts []link.Packet) (int, error) {
	for i, p := range pkts {
		if p.Path.Remote == l.refuse {
			return i, fmt.Errorf("test: sending to %v: %w", p.Path.Remote, syscall.EMSGSIZE)
		}
		if _, err := l.Link.WriteBatch(pkts[i : i+1]); err != nil {
			return i, err
		}
		l.mu.Lock()
		l.sent = append(l.sent, p.Path.Remote)
		l.mu.Unlock()
	}
	return len(pkts), nil
}

// Issue 12 defect 3: a packet the link refused was written to the capture
// as if it had been sent, and every packet after it in the same batch was
// neither sent nor retried. Now the capture holds what the link took, and
// the rest of the batch goes out.
func TestRefusedPacketNotCapturedRestSent(t *testing.T) {
	la, _ := memlink.Pair(link.UDP, addrA, addrB)
	refused, ok := netip.MustParseAddr("198.18.7.1"), netip.MustParseAddr("198.18.7.2")
	rl := &refusingLink{Link: la, refuse: refused}
	var mu sync.Mutex
	var tapped []netip.Addr
	s, err := stack.New(stack.Config{Links: []link.Link{rl}, Clock: newVClock(), Tap: func(in bool, _ int, p link.Path, _ []byte) {
		if !in {
			mu.Lock()
			tapped = append(tapped, p.Remote)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close("")
	if _, err := s.Listen(5000, stack.Options{}); err != nil {
		t.Fatal(err)
	}
	// Two INITs handled in one go: their INIT ACKs leave in one batch, the
	// refused one first.
	err = stackhost.Do(s, func(h *engine.Host, now time.Time) {
		for _, src := range []netip.Addr{refused, ok} {
			ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 7, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
			pkt := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: 4000, DstPort: 5000}, ini)
			h.HandlePacket(0, link.Path{Local: addrA, Remote: src, RemotePort: 9899}, pkt, now)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if len(rl.sent) != 1 || rl.sent[0] != ok {
		t.Errorf("link sent to %v, want the packet after the refused one sent", rl.sent)
	}
	if len(tapped) != 1 || tapped[0] != ok {
		t.Errorf("capture holds packets to %v, want only the one the link took (to %v)", tapped, ok)
	}
}
