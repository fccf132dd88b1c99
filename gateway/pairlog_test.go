package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// endLines returns the pair end lines ("pair closed", "pair failed") one
// gateway of the lab logged.
func endLines(t *testing.T, logs *syncBuffer, gw string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ln := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if ln == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("log line %q: %v", ln, err)
		}
		if m["gateway"] == gw && (m["msg"] == "pair closed" || m["msg"] == "pair failed") {
			out = append(out, m)
		}
	}
	return out
}

// wantLine checks one end line's fields; a want ending in "*" is a prefix.
func wantLine(t *testing.T, m map[string]any, want map[string]string) {
	t.Helper()
	for k, w := range want {
		got := fmt.Sprint(m[k])
		if p, ok := strings.CutSuffix(w, "*"); ok && strings.HasPrefix(got, p) || got == w {
			continue
		}
		t.Errorf("%s: %q, want %q\nline %v", k, got, w, m)
	}
}

// Every pair's end is logged once, by each gateway, with the route, both
// peers, how each side ended, the duration and the traffic each way: a
// SHUTDOWN from the eNB, an ABORT from the MME with its reason, a drain,
// and an egress that cannot be reached.
func TestPairEndLine(t *testing.T) {
	t.Run("shutdown by eNB", func(t *testing.T) {
		var logs syncBuffer
		g := newGLab(t, labOpts{seed: 70, logs: &logs})
		a, rec := g.up(engine.Config{})
		mme := g.mmeRec()
		for i := 0; i < 3; i++ {
			a.Send(g.net.Now(), make([]byte, 100), engine.SndInfo{PPID: 18})
		}
		mme.a.Send(g.net.Now(), make([]byte, 40), engine.SndInfo{PPID: 18})
		g.net.RunFor(2 * time.Second)
		a.Shutdown(g.net.Now())
		if !g.net.RunUntil(func() bool { return rec.ended() && g.edgeGW.Pairs() == 0 && g.coreGW.Pairs() == 0 }, time.Minute) {
			t.Fatal("not closed")
		}
		edge := endLines(t, &logs, "edge")
		if len(edge) != 1 {
			t.Fatalf("edge logged %d end lines:\n%s", len(edge), logs.String())
		}
		wantLine(t, edge[0], map[string]string{
			"msg": "pair closed", "route": "edge", "scope": "<nil>",
			"ingress_peer": fmt.Sprintf("sctp://%s:%d", enbAddr, a.LocalPort()),
			"egress_peer":  fmt.Sprintf("udp://%s:9899/%d", coreUDP, s1ap),
			"ingress_end":  "SHUTDOWN by peer", "egress_end": "SHUTDOWN by gateway (the ingress peer shut down)",
			"msgs_in_to_out": "3", "bytes_in_to_out": "300", "msgs_out_to_in": "1", "bytes_out_to_in": "40",
			"duration": "2.0*",
		})
		core := endLines(t, &logs, "core")
		if len(core) != 1 {
			t.Fatalf("core logged %d end lines:\n%s", len(core), logs.String())
		}
		wantLine(t, core[0], map[string]string{"ingress_end": "SHUTDOWN by peer", "egress_end": "SHUTDOWN by gateway*",
			"egress_peer": fmt.Sprintf("sctp://%s:%d", mmeAddr, s1ap), "ingress_peer": fmt.Sprintf("udp://%s:9899/%d", edgeUDP, a.LocalPort())})
	})
	t.Run("abort by MME", func(t *testing.T) {
		var logs syncBuffer
		g := newGLab(t, labOpts{seed: 71, logs: &logs})
		_, rec := g.up(engine.Config{})
		g.mmeRec().a.Abort(g.net.Now(), &wire.UserInitiatedAbortCause{Reason: []byte("S1AP reset \"now\"")})
		g.net.RunUntil(func() bool { return rec.ended() && g.edgeGW.Pairs() == 0 && g.coreGW.Pairs() == 0 }, time.Minute)
		want := `: cause 12 (User-Initiated Abort) "S1AP reset \"now\""`
		for _, gw := range []string{"core", "edge"} {
			l := endLines(t, &logs, gw)
			if len(l) != 1 {
				t.Fatalf("%s logged %d end lines:\n%s", gw, len(l), logs.String())
			}
			wantLine(t, l[0], map[string]string{"egress_end": "ABORT by peer" + want, "ingress_end": "ABORT relayed from the egress peer" + want})
		}
	})
	t.Run("drain", func(t *testing.T) {
		var logs syncBuffer
		g := newGLab(t, labOpts{seed: 72, logs: &logs})
		g.up(engine.Config{})
		g.edgeGW.Drain(g.net.Now())
		g.edge.Host.HandleTimeout(g.net.Now())
		g.net.RunUntil(func() bool { return g.edgeGW.Pairs() == 0 && g.coreGW.Pairs() == 0 }, time.Minute)
		l := endLines(t, &logs, "edge")
		if len(l) != 1 {
			t.Fatalf("edge logged %d end lines:\n%s", len(l), logs.String())
		}
		wantLine(t, l[0], map[string]string{"ingress_end": "SHUTDOWN by gateway (drain)", "egress_end": "SHUTDOWN by gateway (drain)"})
	})
	t.Run("egress refused", func(t *testing.T) {
		var logs syncBuffer
		g := newGLab(t, labOpts{seed: 73, logs: &logs})
		g.mmeAccept = func(r *engine.AcceptRequest) {
			r.Reject(g.net.Now(), &wire.UserInitiatedAbortCause{Reason: []byte("MME overloaded")})
		}
		_, rec := g.dial(0, engine.Config{})
		g.net.RunUntil(func() bool { return rec.ended() && g.edgeGW.Pairs() == 0 && g.coreGW.Pairs() == 0 }, time.Minute)
		l := endLines(t, &logs, "core")
		if len(l) != 1 {
			t.Fatalf("core logged %d end lines:\n%s", len(l), logs.String())
		}
		wantLine(t, l[0], map[string]string{"msg": "pair failed", "egress_end": `ABORT by peer: cause 12 (User-Initiated Abort) "MME overloaded"`,
			"ingress_end": "connect refused*", "msgs_in_to_out": "0"})
	})
	t.Run("egress unreachable", func(t *testing.T) {
		var logs syncBuffer
		g := newGLab(t, labOpts{seed: 75, logs: &logs, noMME: true, routeFn: func(_, core *gateway.Route) {
			core.Egress.InitMsg.MaxAttempts = 2
		}})
		_, rec := g.dial(0, engine.Config{InitMsg: engine.InitMsg{MaxAttempts: 10}})
		g.net.RunUntil(func() bool { return rec.ended() && g.edgeGW.Pairs() == 0 && g.coreGW.Pairs() == 0 }, 10*time.Minute)
		l := endLines(t, &logs, "core")
		if len(l) != 1 {
			t.Fatalf("core logged %d end lines:\n%s", len(l), logs.String())
		}
		wantLine(t, l[0], map[string]string{"msg": "pair failed", "egress_end": "timeout: peer unreachable"})
	})
	t.Run("bounded causes", func(t *testing.T) {
		var logs syncBuffer
		g := newGLab(t, labOpts{seed: 74, logs: &logs})
		_, rec := g.up(engine.Config{})
		var causes []wire.Cause
		for i := 0; i < 9; i++ {
			causes = append(causes, &wire.UserInitiatedAbortCause{Reason: []byte(strings.Repeat("x", 100))})
		}
		g.mmeRec().a.Abort(g.net.Now(), causes...)
		g.net.RunUntil(func() bool { return rec.ended() && g.coreGW.Pairs() == 0 }, time.Minute)
		l := endLines(t, &logs, "core")
		if len(l) != 1 {
			t.Fatalf("core logged %d end lines", len(l))
		}
		if e := fmt.Sprint(l[0]["egress_end"]); strings.Count(e, "cause 12") != 4 || !strings.HasSuffix(e, "(5 more)") {
			t.Fatalf("egress_end %q: want 4 causes and a count of the rest", e)
		}
	})
}
