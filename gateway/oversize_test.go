package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// A route whose two sides would not take the same messages is refused:
// what one side accepts the other must be able to send, both ways, or a
// message the gateway acknowledged could not be forwarded. Defaults count:
// a small receive buffer lowers the default MaxMessage.
func TestNewCoreRefusesUnequalMaxMessage(t *testing.T) {
	for name, tc := range map[string]struct{ in, out engine.Config }{
		"ingress larger": {engine.Config{MaxMessage: 64 << 10}, engine.Config{MaxMessage: 16 << 10}},
		"egress larger":  {engine.Config{MaxMessage: 16 << 10}, engine.Config{MaxMessage: 64 << 10}},
		"by default":     {engine.Config{}, engine.Config{RecvBuffer: 32 << 10}},
	} {
		n := sim.New(1).AddNode("198.18.1.1", link.Native)
		r := &gateway.Route{Name: "s1ap", ListenPort: s1ap, ForwardPort: s1ap, Ingress: tc.in, Egress: tc.out}
		if _, err := gateway.NewCore(n.Host, []*gateway.Route{r}, nil); err == nil || !strings.Contains(err.Error(), "route s1ap: Ingress.MaxMessage") {
			t.Errorf("%s: NewCore: %v", name, err)
		}
	}
	n := sim.New(1).AddNode("198.18.1.1", link.Native)
	same := engine.Config{MaxMessage: 16 << 10}
	if _, err := gateway.NewCore(n.Host, []*gateway.Route{{Name: "s1ap", ListenPort: s1ap, ForwardPort: s1ap, Ingress: same, Egress: same}}, nil); err != nil {
		t.Errorf("equal sides: %v", err)
	}
}

// Should a message still be larger than the far side's MaxMessage (a Route
// changed after NewCore checked it), it is not dropped after its sender
// was told it arrived: the pair is aborted toward the sender with the
// reason, and the message counted as oversize and lost to the abort.
func TestOversizeMessageAbortsTowardItsSender(t *testing.T) {
	var edge *gateway.Route
	g := newGLab(t, labOpts{seed: 6, routeFn: func(e, _ *gateway.Route) { edge = e }})
	edge.Egress.MaxMessage = 1000 // the egress side dialled from now on
	a, rec := g.up(engine.Config{})
	if err := a.Send(g.net.Now(), make([]byte, 999), engine.SndInfo{PPID: 18}); err != nil {
		t.Fatal(err)
	}
	if !g.net.RunUntil(func() bool { return len(g.mmeRec().msgs) == 1 }, time.Minute) {
		t.Fatalf("a message within max_message did not arrive: %s", rec.types())
	}
	if err := a.Send(g.net.Now(), make([]byte, 1001), engine.SndInfo{PPID: 18}); err != nil {
		t.Fatal(err)
	}
	if !g.net.RunUntil(func() bool { return rec.ended() && g.mmeRec().ended() }, time.Minute) {
		t.Fatalf("the pair was not ended: eNB %s, MME %s", rec.types(), g.mmeRec().types())
	}
	ev := rec.find(engine.CommLost)
	if ev == nil || len(ev.Causes) != 1 {
		t.Fatalf("eNB: %s, want COMM_LOST with a cause", rec.types())
	}
	if uia, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause); !ok || string(uia.Reason) != "sctpgw: a message of 1001 bytes is larger than the egress side's max_message" {
		t.Errorf("eNB's abort causes %v", ev.Causes)
	}
	if !g.mmeRec().has(engine.CommLost) {
		t.Errorf("MME: %s, want the pair aborted", g.mmeRec().types())
	}
	if c := g.edgeGW.Counters(); c.OversizeMsgs != 1 || c.AbortedMsgs != 1 || c.MsgsForwarded[0] != 1 {
		t.Errorf("edge counters: oversize %d, aborted %d, forwarded %d; want 1, 1, 1", c.OversizeMsgs, c.AbortedMsgs, c.MsgsForwarded[0])
	}
}
