package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// SCTP-AUTH between edge and core (issue 18), in the deterministic
// simulator: the core serves only edges that hold its key, and never dials
// the MME for one that does not.

const tunnelKey = "sctpgw tunnel key for the tests!"

func authKeys(t *testing.T, pairs ...any) *engine.AuthKeys {
	t.Helper()
	k := engine.NewAuthKeys()
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := k.Add(uint16(pairs[i].(int)), []byte(pairs[i+1].(string))); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// withAuth gives the edge's UDP side and the core's UDP side their keys
// (nil: none), as gateway.New does for a route's auth block.
func withAuth(edgeKeys, coreKeys *engine.AuthKeys) func(edge, core *gateway.Route) {
	return func(edge, core *gateway.Route) {
		if edgeKeys != nil {
			edge.Egress.Auth = engine.AuthConfig{Keys: edgeKeys, Required: true}
			edge.Auth = edgeKeys
		}
		if coreKeys != nil {
			core.Ingress.Auth = engine.AuthConfig{Keys: coreKeys, Required: true}
			core.Auth = coreKeys
		}
	}
}

// toMME counts the packets delivered to the MME: a core that dials it for
// an unauthenticated edge shows up here with an INIT.
func toMME(g *glab) *int {
	n := new(int)
	g.net.Trace = func(_ time.Time, _, to *simNode, _ []byte) {
		if to == g.mme {
			*n++
		}
	}
	return n
}

// TestAuthTunnel: edge and core holding the key carry a pair end to end;
// every packet on the tunnel was authenticated and none refused.
func TestAuthTunnel(t *testing.T) {
	ek, ck := authKeys(t, 1, tunnelKey), authKeys(t, 1, tunnelKey)
	g := newGLab(t, labOpts{seed: 1800, routeFn: withAuth(ek, ck)})
	a, rec := g.up(engine.Config{})
	for i := range 50 {
		if err := a.Send(g.net.Now(), fmt.Appendf(nil, "uplink %d", i), engine.SndInfo{Stream: uint16(i % 2), PPID: 18}); err != nil {
			t.Fatal(err)
		}
	}
	g.net.RunFor(time.Second)
	mme := g.mmeRec()
	for i := range 50 {
		if err := mme.a.Send(g.net.Now(), fmt.Appendf(nil, "downlink %d", i), engine.SndInfo{PPID: 18}); err != nil {
			t.Fatal(err)
		}
	}
	g.net.RunFor(time.Second)
	if len(mme.msgs) != 50 || len(rec.msgs) != 50 {
		t.Fatalf("MME got %d, eNB got %d messages", len(mme.msgs), len(rec.msgs))
	}
	a.Shutdown(g.net.Now())
	if !g.net.RunUntil(func() bool { return rec.has(engine.ShutdownComp) }, time.Minute) {
		t.Fatalf("eNB %s", rec.types())
	}
	for name, k := range map[string]*engine.AuthKeys{"edge": ek, "core": ck} {
		st := k.Stats()
		if st.Authenticated == 0 || st.Signed == 0 || st.BadMAC != 0 || st.Unauthenticated != 0 {
			t.Errorf("%s: %+v", name, st)
		}
	}
	if as := g.coreGW.Auth(); len(as) != 1 || as[0].Authenticated != ck.Stats().Authenticated || as[0].ActiveKey != 1 {
		t.Errorf("core auth status %+v", as)
	}
}

// TestAuthEdgeWithoutKey: edges with no SCTP-AUTH, another secret or
// another key id: the eNB's connect fails, the core dials nothing (no
// packet reaches the MME), and the core counts each refusal. Without
// SCTP-AUTH the edge hears why at once: the core's ABORT carries a
// Protocol Violation "SCTP-AUTH required", relayed to the eNB; with a wrong
// key its COOKIE ECHOs go unanswered until it gives up.
func TestAuthEdgeWithoutKey(t *testing.T) {
	for _, c := range []struct {
		name   string
		edge   *engine.AuthKeys
		unauth bool
	}{
		{"no SCTP-AUTH", nil, true},
		{"wrong secret", authKeys(t, 1, "a guess at the tunnel key......."), false},
		{"other key id", authKeys(t, 2, tunnelKey), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ck := authKeys(t, 1, tunnelKey)
			g := newGLab(t, labOpts{seed: 1801, routeFn: func(edge, core *gateway.Route) {
				withAuth(c.edge, ck)(edge, core)
				edge.Egress.InitMsg.MaxAttempts = 3
			}})
			n := toMME(g)
			_, rec := g.dial(0, engine.Config{InitMsg: engine.InitMsg{MaxAttempts: 20}})
			if !g.net.RunUntil(rec.ended, 30*time.Minute) {
				t.Fatalf("eNB %s", rec.types())
			}
			ev := rec.find(engine.CantStartAssoc)
			if ev == nil || len(ev.Causes) != 1 {
				t.Fatalf("eNB events %s", rec.types())
			}
			if c.unauth {
				pv, ok := ev.Causes[0].(*wire.ProtocolViolationCause)
				if !ok || string(pv.Info) != "sctpgw: SCTP-AUTH (RFC 4895) required" {
					t.Errorf("eNB sees %#v", ev.Causes[0])
				}
			} else if uia, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause); !ok || string(uia.Reason) != "sctpgw: egress peer unreachable" {
				t.Errorf("eNB sees %#v", ev.Causes[0])
			}
			if *n != 0 || len(g.mmeRecs) != 0 {
				t.Errorf("%d packets reached the MME", *n)
			}
			st := ck.Stats()
			if (st.Unauthenticated > 0) != c.unauth || (st.BadMAC > 0) == c.unauth || st.Authenticated != 0 {
				t.Errorf("core auth stats %+v", st)
			}
			if c := g.coreGW.Counters(); c.PairsOpened != 0 || g.coreGW.Pairs() != 0 {
				t.Errorf("core pairs: %+v", c)
			}
		})
	}
}

// TestAuthReplayedCookieEcho: a COOKIE ECHO captured on the tunnel (with
// its valid AUTH chunk) and sent again, from another address while the
// pair lives and from the edge's own after it ended, builds nothing and
// dials nothing.
func TestAuthReplayedCookieEcho(t *testing.T) {
	ek, ck := authKeys(t, 1, tunnelKey), authKeys(t, 1, tunnelKey)
	g := newGLab(t, labOpts{seed: 1802, routeFn: withAuth(ek, ck)})
	var echo []byte
	g.net.Trace = func(_ time.Time, from, to *simNode, pkt []byte) {
		if from == g.edge && to == g.core && echo == nil && len(pkt) > 40 &&
			wire.ChunkType(pkt[12]) == wire.TypeAuth && wire.ChunkType(pkt[12+pad4(int(pkt[14])<<8|int(pkt[15]))]) == wire.TypeCookieEcho {
			echo = append([]byte(nil), pkt...)
		}
	}
	a, rec := g.up(engine.Config{})
	if echo == nil {
		t.Fatal("no AUTH + COOKIE ECHO seen on the tunnel")
	}
	n := toMME(g)
	const edgePort = 9899
	replay := func(from link.Path) {
		g.core.Host.HandlePacket(0, from, echo, g.net.Now())
		g.net.RunFor(time.Second)
	}
	replay(link.Path{Local: coreUDP, Remote: edgeNative, RemotePort: edgePort}) // another address
	a.Shutdown(g.net.Now())
	if !g.net.RunUntil(func() bool { return rec.has(engine.ShutdownComp) && g.coreGW.Pairs() == 0 }, time.Minute) {
		t.Fatalf("eNB %s", rec.types())
	}
	*n = 0
	replay(link.Path{Local: coreUDP, Remote: edgeUDP, RemotePort: edgePort})
	if *n != 0 || len(g.mmeRecs) != 1 {
		t.Fatalf("the replays reached the MME: %d packets, %d associations", *n, len(g.mmeRecs))
	}
	if d := g.core.Host.Stats().DiscardedReplayedCookie; d != 2 {
		t.Errorf("%d replays counted, want 2", d)
	}
}

func pad4(n int) int { return (n + 3) &^ 3 }

// TestAuthRotationUnderTraffic rotates the tunnel key while messages flow
// both ways: key 2 added to core and edge, made active on the edge, then on
// the core, key 1 deleted from both. No message is lost, the pair stays up
// and key 2 carries everything at the end.
func TestAuthRotationUnderTraffic(t *testing.T) {
	ek, ck := authKeys(t, 1, tunnelKey), authKeys(t, 1, tunnelKey)
	g := newGLab(t, labOpts{seed: 1803, routeFn: withAuth(ek, ck)})
	for _, nd := range []*simNode{g.edge, g.core} {
		nd.Imp.Loss = 0.01
	}
	a, rec := g.up(engine.Config{})
	mme := g.mmeRec()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	steps := map[int]func(){
		100: func() { must(ck.Add(2, []byte("the next tunnel key"))); must(ek.Add(2, []byte("the next tunnel key"))) },
		200: func() { must(ek.SetActive(2)) },
		300: func() { must(ck.SetActive(2)) },
		400: func() { must(ck.Delete(1)); must(ek.Delete(1)) },
	}
	const n = 500
	for i := range n {
		if f := steps[i]; f != nil {
			f()
		}
		must(a.Send(g.net.Now(), fmt.Appendf(nil, "up %d", i), engine.SndInfo{PPID: 18}))
		must(mme.a.Send(g.net.Now(), fmt.Appendf(nil, "down %d", i), engine.SndInfo{PPID: 18}))
		g.net.RunFor(20 * time.Millisecond)
	}
	g.net.RunFor(10 * time.Second)
	if len(mme.msgs) != n || len(rec.msgs) != n {
		t.Fatalf("MME got %d, eNB got %d of %d", len(mme.msgs), len(rec.msgs), n)
	}
	for i := range n {
		if string(mme.msgs[i].Data) != fmt.Sprintf("up %d", i) || string(rec.msgs[i].Data) != fmt.Sprintf("down %d", i) {
			t.Fatalf("message %d: %q / %q", i, mme.msgs[i].Data, rec.msgs[i].Data)
		}
	}
	if a.State() != engine.StateEstablished || g.coreGW.Pairs() != 1 {
		t.Fatalf("pair did not survive: %v", a.State())
	}
	for name, k := range map[string]*engine.AuthKeys{"edge": ek, "core": ck} {
		st := k.Stats()
		if st.BadMAC != 0 || st.Unauthenticated != 0 || len(st.Keys) != 1 || st.Keys[0].ID != 2 || st.Keys[0].In == 0 {
			t.Errorf("%s after rotation: %+v", name, st)
		}
	}
}
