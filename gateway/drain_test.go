package gateway_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// countingEchoer is a server that sends every message back at once, on the same
// stream with the same PPID; what its send buffer cannot take waits for
// Writable. It keeps what it received and what its stack accepted to send.
type countingEchoer struct {
	net     *sim.Network
	a       *engine.Association
	events  []engine.Event
	got     []int // request indexes received
	echoed  []int // indexes whose echo the stack accepted
	failed  []int // indexes of echoes reported in SEND_FAILED
	backlog []engine.Message
}

func (e *countingEchoer) HandleEvent(a *engine.Association, ev engine.Event) {
	e.a = a
	e.events = append(e.events, ev)
	if ev.Type == engine.SendFailed {
		for _, f := range ev.Failed {
			e.failed = append(e.failed, reqIndex(f.Data))
		}
	}
	e.flush()
}

func (e *countingEchoer) HandleSignal(a *engine.Association, s engine.Signal) {
	e.a = a
	if s.Type == engine.Readable {
		for i := 0; i < 1<<20; i++ {
			m, ok := a.Read(e.net.Now())
			if !ok {
				break
			}
			e.got = append(e.got, reqIndex(m.Data))
			e.backlog = append(e.backlog, m)
		}
	}
	e.flush()
}

func (e *countingEchoer) flush() {
	for len(e.backlog) > 0 {
		m := e.backlog[0]
		if err := e.a.Send(e.net.Now(), m.Data, engine.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered}); err != nil {
			if errors.Is(err, engine.ErrFull) {
				return
			}
			// Shut down or closed: the echo is not sent, and the stack
			// said so.
			e.backlog = e.backlog[1:]
			continue
		}
		e.echoed = append(e.echoed, reqIndex(m.Data))
		e.backlog = e.backlog[1:]
	}
}

func (e *countingEchoer) ended() bool { return endedBy(e.events) }

func (e *countingEchoer) has(t engine.EventType) bool {
	for _, ev := range e.events {
		if ev.Type == t {
			return true
		}
	}
	return false
}

func endedBy(evs []engine.Event) bool {
	for _, ev := range evs {
		switch ev.Type {
		case engine.CommLost, engine.ShutdownComp, engine.CantStartAssoc:
			return true
		}
	}
	return false
}

func reqIndex(b []byte) int { return int(binary.BigEndian.Uint32(b)) }

// requester is a client sending numbered requests and keeping the answers
// and what its stack reported unsent.
type requester struct {
	*recorder
	sent    []int
	answers []int
	failed  []int
}

func (q *requester) HandleEvent(a *engine.Association, ev engine.Event) {
	q.recorder.HandleEvent(a, ev)
	if ev.Type == engine.SendFailed {
		for _, f := range ev.Failed {
			q.failed = append(q.failed, reqIndex(f.Data))
		}
	}
}

func (q *requester) HandleSignal(a *engine.Association, s engine.Signal) {
	q.recorder.HandleSignal(a, s)
	for _, m := range q.recorder.msgs {
		q.answers = append(q.answers, reqIndex(m.Data))
	}
	q.recorder.msgs = q.recorder.msgs[:0]
}

// send offers request i; it reports whether the stack took it.
func (q *requester) send(now time.Time, i int, size int) bool {
	b := make([]byte, max(size, 4))
	binary.BigEndian.PutUint32(b, uint32(i))
	for j := 4; j < len(b); j++ {
		b[j] = byte(i + j)
	}
	if err := q.a.Send(now, b, engine.SndInfo{Stream: uint16(i % 4), PPID: 18, Unordered: i%7 == 0}); err != nil {
		return false
	}
	q.sent = append(q.sent, i)
	return true
}

type drainCase struct {
	which string // "edge" or "core"
	rate  int    // requests per second per client
	// quiet: the clients stop sending just before the drain starts, with
	// requests and answers still on their way: every pair closes
	// gracefully.
	quiet bool
}

// TestDrainLosesNothing is the contract of docs/design.md 2.8 under request/response
// traffic: while clients keep sending, the edge (or the core) drains. Every
// request a client's stack accepted is answered, or reported unsent to the
// client in SEND_FAILED, or (a core drain only, where the edge has
// acknowledged requests the core can no longer take) the client's
// association is aborted; an association that closes gracefully has every
// request answered. Every echo the server's stack accepted reaches the
// client unless the server is told (ABORT or SEND_FAILED). Nothing is
// delivered twice, and the drain ends by itself, before the drain timeout.
func TestDrainLosesNothing(t *testing.T) {
	var cases []drainCase
	for _, w := range []string{"edge", "core"} {
		for _, r := range []int{20, 200, 1000} {
			cases = append(cases, drainCase{which: w, rate: r})
		}
		cases = append(cases, drainCase{which: w, rate: 1000, quiet: true})
	}
	for _, dc := range cases {
		for seed := uint64(0); seed < 4; seed++ {
			name := fmt.Sprintf("%s/%d/%d", dc.which, dc.rate, seed)
			if dc.quiet {
				name = fmt.Sprintf("%s/quiet/%d", dc.which, seed)
			}
			t.Run(name, func(t *testing.T) {
				drainRun(t, dc, 500+seed)
			})
		}
	}
}

func drainRun(t *testing.T, dc drainCase, seed uint64) {
	g := newGLab(t, labOpts{seed: seed})
	var servers []*countingEchoer
	g.mmeAccept = func(r *engine.AcceptRequest) {
		e := &countingEchoer{net: g.net}
		servers = append(servers, e)
		r.Accept(g.net.Now(), e)
	}
	rnd := g.net.Rand()
	// Each node its own one-way delay, so the hops race differently.
	for _, nd := range []*simNode{g.enb, g.edge, g.core, g.mme} {
		nd.Imp.Delay = time.Millisecond + time.Duration(rnd.Int64N(int64(30*time.Millisecond)))
	}
	const clients = 2
	var qs []*requester
	for c := 0; c < clients; c++ {
		_, rec := g.dial(0, engine.Config{InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 4}})
		q := &requester{recorder: rec}
		rec.a.SetHandler(q)
		qs = append(qs, q)
	}
	if !g.net.RunUntil(func() bool {
		for _, q := range qs {
			if !q.has(engine.CommUp) {
				return false
			}
		}
		return true
	}, time.Minute) {
		t.Fatal("clients not up")
	}
	gw, other := g.edgeGW, g.coreGW
	if dc.which == "core" {
		gw, other = g.coreGW, g.edgeGW
	}
	interval := time.Second / time.Duration(dc.rate)
	next := 0
	tick := func() {
		for _, q := range qs {
			if !endedBy(q.events) {
				size := 8 + rnd.IntN(300)
				if rnd.IntN(20) == 0 {
					size = 1500 + rnd.IntN(3000) // fragmented
				}
				q.send(g.net.Now(), next, size)
				next++
			}
		}
	}
	// Traffic, then the drain at a random moment, traffic going on.
	warm := time.Second + time.Duration(rnd.Int64N(int64(time.Second)))
	for end := g.net.Now().Add(warm); g.net.Now().Before(end); {
		tick()
		g.net.RunFor(interval)
	}
	if dc.quiet {
		// The last requests reach the gateway; the drain starts with them
		// and their answers on the way.
		g.net.RunFor(g.enb.Imp.Delay + g.edge.Imp.Delay + time.Millisecond)
	}
	drainStart := g.net.Now()
	gw.Drain(drainStart)
	const drainTimeout = 10 * time.Second
	done := func() bool {
		for _, q := range qs {
			if !endedBy(q.events) {
				return false
			}
		}
		for _, e := range servers {
			if !e.ended() {
				return false
			}
		}
		return gw.Pairs() == 0 && other.Pairs() == 0
	}
	for g.net.Now().Sub(drainStart) < drainTimeout && !done() {
		if !dc.quiet {
			tick()
		}
		g.net.RunFor(interval)
	}
	drainTook := g.net.Now().Sub(drainStart)
	timedOut := !done()
	if timedOut {
		gw.AbortAll(g.net.Now(), "sctpgw: gateway shutting down")
		g.net.RunUntil(done, time.Minute)
	}
	if !done() {
		t.Fatalf("not over a minute after the drain timeout: pairs %d/%d", gw.Pairs(), other.Pairs())
	}

	// Exact accounting, both ways.
	type tally struct{ sent, answered, failed, got, echoed, echoFailed int }
	ts := map[int]*tally{}
	at := func(i int) *tally {
		if ts[i] == nil {
			ts[i] = &tally{}
		}
		return ts[i]
	}
	aborted := map[int]bool{} // request index -> its client was aborted
	graceful, abortedClients := 0, 0
	for _, q := range qs {
		ab := q.has(engine.CommLost)
		if ab {
			abortedClients++
		} else if q.has(engine.ShutdownComp) {
			graceful++
		}
		for _, i := range q.sent {
			at(i).sent++
			aborted[i] = ab
		}
		for _, i := range q.answers {
			at(i).answered++
		}
		for _, i := range q.failed {
			at(i).failed++
		}
	}
	serverAborted := map[int]bool{}
	for _, e := range servers {
		ab := e.has(engine.CommLost)
		for _, i := range e.got {
			at(i).got++
		}
		for _, i := range e.echoed {
			at(i).echoed++
			serverAborted[i] = ab
		}
		for _, i := range e.failed {
			at(i).echoFailed++
		}
	}
	answered, reported, coveredByAbort := 0, 0, 0
	for i, x := range ts {
		switch {
		case x.sent != 1 || x.answered > 1 || x.got > 1 || x.echoed > x.got || x.answered > x.echoed:
			t.Fatalf("request %d: sent %d, server got %d, echoed %d, answered %d", i, x.sent, x.got, x.echoed, x.answered)
		case x.answered == 1:
			answered++
		case x.failed == 1:
			reported++
		case aborted[i] && dc.which == "core":
			coveredByAbort++
		default:
			for _, q := range qs {
				t.Logf("client: %s", q.types())
				if ev := q.find(engine.CommLost); ev != nil {
					t.Logf("  lost: %v %v", ev.Err, ev.Causes)
				}
			}
			for _, e := range servers {
				t.Logf("server: %d events, ended %v", len(e.events), e.ended())
			}
			t.Fatalf("request %d lost silently: server got %d, echoed %d, client aborted %v, drain of the %s", i, x.got, x.echoed, aborted[i], dc.which)
		}
		if x.echoed == 1 && x.answered == 0 && x.echoFailed == 0 && !serverAborted[i] {
			t.Fatalf("echo %d accepted by the server's stack never arrived, and the server was not told", i)
		}
	}
	for _, q := range qs {
		if q.has(engine.ShutdownComp) {
			for _, i := range q.sent {
				if ts[i].answered == 0 {
					t.Fatalf("graceful close with request %d unanswered", i)
				}
			}
		}
		if ev := q.find(engine.CommLost); ev != nil {
			if len(ev.Causes) != 1 {
				t.Fatalf("client aborted with causes %v", ev.Causes)
			}
			if u, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause); !ok || len(u.Reason) < 7 || string(u.Reason[:7]) != "sctpgw:" {
				t.Fatalf("client aborted with %#v, want a reason from sctpgw", ev.Causes[0])
			}
		}
	}
	if dc.quiet && (graceful != clients || answered != len(ts)) {
		t.Fatalf("quiet clients: %d of %d closed gracefully, %d of %d requests answered", graceful, clients, answered, len(ts))
	}
	if timedOut {
		t.Fatalf("the drain did not finish within %v (it needed the deadline's ABORT)", drainTimeout)
	}
	if c := g.edgeGW.Counters(); dc.which == "edge" && c.AbortedMsgs != 0 {
		t.Fatalf("edge discarded %d acknowledged messages", c.AbortedMsgs)
	}
	t.Logf("drain of the %s at %d/s (quiet %v): %v; %d requests: %d answered, %d reported unsent, %d covered by the client's ABORT; clients %d graceful, %d aborted",
		dc.which, dc.rate, dc.quiet, drainTook.Round(time.Millisecond), len(ts), answered, reported, coveredByAbort, graceful, abortedClients)
	_ = gateway.Counters{}
}
