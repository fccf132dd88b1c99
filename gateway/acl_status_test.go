package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/acl"
	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

const statusPolicy = `default: deny
rules:
  - deny from 198.18.1.0/24 sport 1000
  - allow from 198.18.0.0/15
  - drop from 198.18.1.10
rate:
  per_source: {rate: 1/h, burst: 1}
max_pairs: 50
`

func canon(t *testing.T, rule string) string {
	t.Helper()
	r, err := acl.ParseRule(rule)
	if err != nil {
		t.Fatal(err)
	}
	return r.String()
}

// The status shows each rule with what it matched and each limit with what
// it refused: one INIT denied by rule 1, two COOKIE ECHOs allowed by rule 2
// of which the per-source rate refuses the second.
func TestACLCountsInStatus(t *testing.T) {
	g := newGLab(t, labOpts{seed: 61, routeFn: func(edge, _ *gateway.Route) {
		edge.Policy = policy(t, statusPolicy)
	}})
	_, rec := g.dial(1000, engine.Config{})
	g.net.RunUntil(rec.ended, time.Minute)
	if !rec.has(engine.CantStartAssoc) {
		t.Fatalf("from port 1000: %s", rec.types())
	}
	// The INIT alone counts: rule 1 is visible before any COOKIE ECHO.
	if a := g.edgeGW.ACL(); len(a) != 1 || a[0].Rules[0].Hits != 1 || a[0].Rules[1].Hits != 0 {
		t.Fatalf("after the denied INIT: %+v", a)
	}
	g.up(engine.Config{})
	_, rec = g.dial(0, engine.Config{})
	g.net.RunUntil(rec.ended, time.Minute)
	if !rec.has(engine.CantStartAssoc) {
		t.Fatalf("over the rate: %s", rec.types())
	}
	got := g.edgeGW.ACL()
	wantRules := []gateway.RuleStatus{
		{Rule: canon(t, "deny from 198.18.1.0/24 sport 1000"), Hits: 1},
		{Rule: canon(t, "allow from 198.18.0.0/15"), Hits: 2},
		{Rule: canon(t, "drop from 198.18.1.10"), Hits: 0},
	}
	wantLimits := []gateway.LimitStatus{
		{Limit: "per_source_rate", Setting: "rate 1/h burst 1 per source (/32 IPv4, /64 IPv6)", Refused: 1},
		{Limit: "max_pairs", Setting: "50", Refused: 0},
	}
	if len(got) != 1 || got[0].Route != "edge" || got[0].Default != "deny" || got[0].DefaultHits != 0 ||
		!slices.Equal(got[0].Rules, wantRules) || !slices.Equal(got[0].Limits, wantLimits) ||
		got[0].Pairs != 1 || len(got[0].Warnings) != 1 {
		t.Fatalf("acl status %+v\nwant rules %+v\nlimits %+v, 1 pair held, 1 warning", got, wantRules, wantLimits)
	}
	if n := g.edgeGW.Counters().PairsRefused; n != 2 {
		t.Fatalf("PairsRefused %d, want 2", n)
	}
	if a := g.coreGW.ACL(); len(a) != 0 {
		t.Fatalf("the core has no policy but reports %+v", a)
	}

	// sctpgw status prints it: count, rule number and rule on one line.
	text := gateway.FormatSnapshot(gateway.Snapshot{ACL: got})
	lines := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		lines[strings.Join(strings.Fields(l), " ")] = true
	}
	for i, r := range wantRules {
		if l := fmt.Sprintf("%d %d: %s", r.Hits, i+1, r.Rule); !lines[l] {
			t.Errorf("no line %q in\n%s", l, text)
		}
	}
	for _, l := range wantLimits {
		if l := fmt.Sprintf("%d %s: %s", l.Refused, l.Limit, l.Setting); !lines[l] {
			t.Errorf("no line %q in\n%s", l, text)
		}
	}
	for _, l := range []string{"acl edge: default deny, 1 pairs held, 1 sources tracked (0 evicted)", "0 default deny", "warning: " + got[0].Warnings[0]} {
		if !lines[l] {
			t.Errorf("no line %q in\n%s", l, text)
		}
	}
}

// A gateway built from a config logs each rule that can never match at
// start, with its route, and reports the policy in its Snapshot.
func TestGatewayLogsACLWarningsAndSnapshotsCounts(t *testing.T) {
	var logs syncBuffer
	enbLink, gwLink := memlink.Pair(link.Native, enbAddr, edgeNative)
	g := startGateway(t, `routes:
  - name: s1ap-edge
    listen: sctp://198.18.1.1:36412
    forward: sctp://198.18.2.10:36412
    acl:
      default: allow
      rules:
        - deny from 198.18.1.0/24
        - allow from 198.18.1.10
`, gateway.Options{Native: gwLink, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	want := `acl: rule 2 (line 9) "` + canon(t, "allow from 198.18.1.10") + `" is never reached: rule 1 (line 8) "` +
		canon(t, "deny from 198.18.1.0/24") + `" matches everything it does`
	if n := countLines(t, logs.String(), map[string]string{"msg": want, "route": "s1ap-edge", "scope": "gateway", "level": "WARN"}); n != 1 {
		t.Fatalf("want the warning %q once in\n%s", want, logs.String())
	}

	enb, err := stack.New(stack.Config{Links: []link.Link{enbLink}})
	if err != nil {
		t.Fatal(err)
	}
	defer enb.Close("")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = enb.Dial(ctx, 0, link.Path{Local: enbAddr, Remote: edgeNative}, 0, 36412, stack.Options{})
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.CantStartAssoc {
		t.Fatalf("dial: %v, want CANT_START_ASSOC", err)
	}
	s := g.Snapshot()
	if len(s.ACL) != 1 || s.ACL[0].Route != "s1ap-edge" || len(s.ACL[0].Rules) != 2 ||
		s.ACL[0].Rules[0].Hits != 1 || s.ACL[0].Rules[1].Hits != 0 || s.Gateway.PairsRefused != 1 {
		t.Fatalf("snapshot acl %+v, refused %d", s.ACL, s.Gateway.PairsRefused)
	}
	if countLines(t, logs.String(), map[string]string{"msg": "INIT refused", "route": "s1ap-edge", "scope": "pair"}) != 1 ||
		!strings.Contains(logs.String(), `"from":"`+enbAddr.String()+":") {
		t.Fatalf("the refusal is not logged:\n%s", logs.String())
	}
}

// countLines counts the JSON log lines that have every key of want with
// its value.
func countLines(t *testing.T, text string, want map[string]string) int {
	t.Helper()
	n := 0
	for _, ln := range strings.Split(strings.TrimSpace(text), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", ln, err)
		}
		ok := true
		for k, v := range want {
			ok = ok && fmt.Sprint(m[k]) == v
		}
		if ok {
			n++
		}
	}
	return n
}
