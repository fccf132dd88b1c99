package gateway_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// syncBuffer is a log sink safe to read while a stack goroutine writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) count(sub string) int { return strings.Count(s.String(), sub) }

// An INIT flood from a denied source is refused in full and counted in full,
// but the route logs at most RefusalLogPerSecond lines a second; the first
// line after the window says how many it left out.
func TestACLRefusalLogIsRateLimited(t *testing.T) {
	net := sim.New(60)
	enb := net.AddMultiNode(sim.Iface{Addr: enbAddr, Kind: link.Native})
	edge := net.AddMultiNode(sim.Iface{Addr: edgeNative, Kind: link.Native})
	for _, nd := range []*sim.Node{enb, edge} {
		nd.Imp.Delay = 2 * time.Millisecond
	}
	route := &gateway.Route{Name: "edge", ListenPort: s1ap, ForwardPath: link.Path{Remote: mmeAddr}, ForwardPort: s1ap,
		Policy: policy(t, "default: allow\nrules:\n  - deny from 198.18.1.0/24\n")}
	var logs syncBuffer
	core, err := gateway.NewCore(edge.Host, []*gateway.Route{route},
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// When the INITs reach the edge: the summary says how long it held back.
	var arrivals []time.Time
	net.Trace = func(now time.Time, _, to *sim.Node, _ []byte) {
		if to == edge {
			arrivals = append(arrivals, now)
		}
	}
	flood := func(n int) {
		t.Helper()
		arrivals = arrivals[:0]
		var recs []*recorder
		for i := 0; i < n; i++ {
			rec := &recorder{net: net}
			if _, err := enb.Host.Dial(0, link.Path{Local: enbAddr, Remote: edgeNative}, 0, s1ap, engine.Config{}, rec, net.Now()); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
		net.RunUntil(func() bool {
			for _, r := range recs {
				if !r.has(engine.CantStartAssoc) {
					return false
				}
			}
			return true
		}, time.Second/2)
		for i, r := range recs {
			if !r.has(engine.CantStartAssoc) {
				t.Fatalf("INIT %d was not refused: %s", i, r.types())
			}
		}
	}
	const line = `msg="INIT refused" route=edge from=198.18.1.10:`
	n := 2*gateway.RefusalLogPerSecond + 5
	flood(n)
	if got := logs.count(line); got != gateway.RefusalLogPerSecond {
		t.Fatalf("%d refusals logged %d lines, want %d:\n%s", n, got, gateway.RefusalLogPerSecond, logs.String())
	}
	if !strings.Contains(logs.String(), `reason="sctpgw: refused by policy (rule 1: deny from 198.18.1.0/24)"`) {
		t.Fatalf("the line does not give the reason:\n%s", logs.String())
	}
	if logs.count("not logged") != 0 {
		t.Fatalf("a summary before the window ended:\n%s", logs.String())
	}
	first := arrivals[0]
	if last := arrivals[len(arrivals)-1]; !last.Equal(first) {
		t.Fatalf("the flood spread from %v to %v: the test wants one window", first, last)
	}
	net.RunFor(time.Second)
	flood(1)
	held := arrivals[0].Sub(first)
	if held < time.Second {
		t.Fatalf("second flood %v after the first", held)
	}
	summary := fmt.Sprintf(`msg="%d refusals not logged in %v (more than %d per second)" route=edge`,
		n-gateway.RefusalLogPerSecond, held, gateway.RefusalLogPerSecond)
	if logs.count(summary) != 1 || logs.count(line) != gateway.RefusalLogPerSecond+1 {
		t.Fatalf("after the window: want %q and one more line:\n%s", summary, logs.String())
	}
	if c := core.Counters().PairsRefused; c != uint64(n+1) {
		t.Fatalf("PairsRefused %d, want %d", c, n+1)
	}
	if a := core.ACL(); len(a) != 1 || len(a[0].Rules) != 1 || a[0].Rules[0].Hits != uint64(n+1) {
		t.Fatalf("acl status %+v, want rule 1 with %d hits", a, n+1)
	}
}

// The ABORT causes are kept per rule after the first refusal: each INIT
// still gets the reason of the rule that refused it.
func TestACLInitAbortReasonPerRule(t *testing.T) {
	g := newGLab(t, labOpts{seed: 62, routeFn: func(edge, _ *gateway.Route) {
		edge.Policy = policy(t, "default: deny\nrules:\n  - deny from 198.18.1.0/24 sport 1000\n  - deny from 198.18.1.0/24 sport 2000\n  - allow sport 3000\n")
	}})
	for _, tc := range []struct {
		port uint16
		want string
	}{
		{1000, "(rule 1: "}, {2000, "(rule 2: "}, {1000, "(rule 1: "}, {4000, "(default deny)"}, {2000, "(rule 2: "}, {4000, "(default deny)"},
	} {
		_, rec := g.dial(tc.port, engine.Config{})
		g.net.RunUntil(rec.ended, time.Minute)
		ev := rec.find(engine.CantStartAssoc)
		if ev == nil || len(ev.Causes) != 1 {
			t.Fatalf("from port %d: %s", tc.port, rec.types())
		}
		if uia, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause); !ok || !strings.Contains(string(uia.Reason), tc.want) {
			t.Fatalf("from port %d: cause %v, want %q", tc.port, ev.Causes[0], tc.want)
		}
	}
}
