package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/acl"
	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/wire"
)

func policy(t *testing.T, yaml string) *acl.Policy {
	t.Helper()
	p, err := acl.ParsePolicyYAML([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A denied eNB gets an ABORT whose User-Initiated Abort reason says it was
// refused by policy, at its INIT: no cookie, no state, no egress.
func TestACLDenyAbortsWithReason(t *testing.T) {
	g := newGLab(t, labOpts{seed: 50, routeFn: func(edge, _ *gateway.Route) {
		edge.Policy = policy(t, "default: allow\nrules:\n  - deny from 198.18.1.0/24 port 36412\n")
	}})
	_, rec := g.dial(0, engine.Config{})
	g.net.RunUntil(rec.ended, time.Minute)
	ev := rec.find(engine.CantStartAssoc)
	if ev == nil || len(ev.Causes) != 1 {
		t.Fatalf("eNB events %s", rec.types())
	}
	uia, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause)
	if !ok || !strings.Contains(string(uia.Reason), "refused by policy") || !strings.Contains(string(uia.Reason), "deny from 198.18.1.0/24") {
		t.Fatalf("cause %#v", ev.Causes[0])
	}
	if g.mmeRec() != nil || g.coreGW.Pairs() != 0 {
		t.Fatal("a denied association reached the core")
	}
	if n := g.edgeGW.Counters().PairsRefused; n != 1 {
		t.Fatalf("the edge counts %d refusals, want 1", n)
	}
}

// A dropped eNB hears nothing at all: its connect times out.
func TestACLDropIsSilent(t *testing.T) {
	g := newGLab(t, labOpts{seed: 51, routeFn: func(edge, _ *gateway.Route) {
		edge.Policy = policy(t, "default: deny\nrules:\n  - drop from 198.18.1.10\n")
	}})
	answers := 0
	g.net.Trace = func(_ time.Time, from, to *simNode, _ []byte) {
		if from == g.edge && to == g.enb {
			answers++
		}
	}
	_, rec := g.dial(0, engine.Config{InitMsg: engine.InitMsg{MaxAttempts: 2}})
	g.net.RunUntil(rec.ended, 10*time.Minute)
	if ev := rec.find(engine.CantStartAssoc); ev == nil || ev.Err != engine.ErrPeerUnreachable || answers != 0 {
		t.Fatalf("eNB events %s, %d answers from the edge", rec.types(), answers)
	}
	// MaxAttempts 2: the INIT and two retransmissions, each refused.
	if n := g.edgeGW.Counters().PairsRefused; n != 3 {
		t.Fatalf("the edge counts %d refusals, want 3 (each INIT dropped)", n)
	}
}

// Rate limits apply on the valid COOKIE ECHO: beyond the burst, further
// associations from the same source are refused with a reason naming the
// limit; the others stay up.
func TestACLRateLimit(t *testing.T) {
	g := newGLab(t, labOpts{seed: 52, routeFn: func(edge, _ *gateway.Route) {
		edge.Policy = policy(t, "default: allow\nrate:\n  per_source: {rate: 1/h, burst: 2}\n")
	}})
	var recs []*recorder
	for i := 0; i < 3; i++ {
		_, rec := g.dial(0, engine.Config{})
		g.net.RunUntil(func() bool { return rec.has(engine.CommUp) || rec.ended() }, time.Minute)
		recs = append(recs, rec)
	}
	if !recs[0].has(engine.CommUp) || !recs[1].has(engine.CommUp) {
		t.Fatalf("within the burst: %s / %s", recs[0].types(), recs[1].types())
	}
	ev := recs[2].find(engine.CantStartAssoc)
	if ev == nil || len(ev.Causes) != 1 {
		t.Fatalf("third association: %s", recs[2].types())
	}
	if uia, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause); !ok || !strings.Contains(string(uia.Reason), "rate limit") {
		t.Fatalf("cause %#v", ev.Causes[0])
	}
	if g.edgeGW.Counters().PairsRefused != 1 {
		t.Fatalf("refused %d", g.edgeGW.Counters().PairsRefused)
	}
}
