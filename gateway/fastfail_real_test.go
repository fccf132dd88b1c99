package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

// Issue 13 part 4 over a real socket: a gateway forwarding to a UDP port
// nothing listens on (a stopped core) gets the kernel's ICMP port
// unreachable for its INIT, fails the dial at once, and the eNB's connect
// fails with the reason; the failed pair is logged and gone from status.
func TestRefusedEgressOverRealUDP(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dead := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	var logs syncBuffer
	enbLink, gwLink := memlink.Pair(link.Native, enbAddr, edgeNative)
	g := startGateway(t, fmt.Sprintf(`udp: {listen: "127.0.0.1:0"}
routes:
  - name: edge
    listen: sctp://198.18.1.1:36412
    forward: udp://127.0.0.1:%d/36412
`, dead), gateway.Options{Native: gwLink, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	enb, err := stack.New(stack.Config{Links: []link.Link{enbLink}})
	if err != nil {
		t.Fatal(err)
	}
	defer enb.Close("")
	// Longer than any retransmission would take: a dial that waits for
	// them fails by its error, not by a clock.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = enb.Dial(ctx, 0, link.Path{Local: enbAddr, Remote: edgeNative}, 0, 36412, stack.Options{})
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.CantStartAssoc || reasonOf(&ae.Event) != refusedReason {
		t.Fatalf("dial: %v, want CANT_STR_ASSOC with %q", err, refusedReason)
	}
	for i := 0; i < 100 && len(g.Snapshot().Pairs) != 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if s := g.Snapshot(); len(s.Pairs) != 0 || s.Gateway.PairsFailed != 1 {
		t.Fatalf("status: %d pairs, %d failed", len(s.Pairs), s.Gateway.PairsFailed)
	}
	if !strings.Contains(logs.String(), `"msg":"pair failed"`) || !strings.Contains(logs.String(), "refused: ICMP protocol or port unreachable") {
		t.Fatalf("no pair-failed line naming the refusal:\n%s", logs.String())
	}
}
