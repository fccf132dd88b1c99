// Package gateway pairs SCTP associations across links and keeps the
// end-to-end contract of docs/design.md section 2: handshake coupling,
// messages forwarded whole with their stream, PPID and flags, stream mismatch
// answered like a native receiver would, backpressure instead of loss,
// graceful shutdown and abort (with causes) carried across, restarts and
// draining.
//
// Its pairing logic (core, core.go) is sans-IO: it runs inside an engine
// Host's handlers, so it is driven by a stack runtime in production and by
// the simulator in the package's tests (export_test.go). It is not part of
// the package's API, nor is the engine: Gateway (gateway.go) is the runtime
// around it, configured by a Plan, observed through Snapshot and Stats.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/sctpgw/sctpgw/acl"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// route is one listen side bound to one forward side, with host link
// indexes resolved.
type route struct {
	Name string
	// ListenLink and ListenPort: where ingress associations arrive.
	ListenLink int
	ListenPort uint16
	// ForwardLink, ForwardPath and ForwardPort: where egress goes. For a UDP
	// forward link, ForwardPath.RemotePort is the peer's UDP port.
	// ForwardMore are a multi-homed target's other addresses (native
	// links), dialled with it (engine.Host.DialAddrs).
	ForwardLink int
	ForwardPath link.Path
	ForwardPort uint16
	ForwardMore []netip.Addr
	// Ingress and Egress are the SCTP settings of each side. Egress stream
	// counts are taken from the ingress peer, as docs/design.md 2.1 says.
	Ingress, Egress engine.Config
	// Policy decides who may open a pair; nil admits everyone.
	Policy *acl.Policy
	// Auth holds the SCTP-AUTH keys of the route's udp:// side (set in
	// Ingress.Auth or Egress.Auth); nil without.
	Auth *engine.AuthKeys
	// DialTimeout bounds the egress handshake, whatever T1 and
	// Max.Init.Retransmits allow: the ingress peer's connect then fails
	// with a reason, before its own INIT/COOKIE ECHO retransmissions give
	// up. 0: no bound beyond the engine's.
	DialTimeout time.Duration
}

// Counters are the gateway's own figures, beside the engine's, for one
// route or summed over all.
type Counters struct {
	PairsOpened uint64
	// PairsRefused counts attempts refused by policy: each INIT a rule
	// denies or drops, and each COOKIE ECHO beyond a rate or pair limit.
	// RefusedByRule, RefusedByRate and RefusedByPairLimit split it.
	PairsRefused       uint64
	RefusedByRule      uint64 // a rule or the default
	RefusedByRate      uint64 // rate.per_source or rate.total
	RefusedByPairLimit uint64 // max_pairs or max_pairs_per_source
	// RefusedDraining counts COOKIE ECHOs refused while draining.
	RefusedDraining   uint64
	PairsFailed       uint64 // egress could not be reached
	PairsClosed       uint64
	MsgsForwarded     [2]uint64 // [ingress->egress, egress->ingress]
	BytesForwarded    [2]uint64
	InvalidStreamMsgs uint64 // discarded with an ERROR cause 1 (docs/design.md 2.3)
	// OversizeMsgs counts messages the far side could not send, larger
	// than its MaxMessage: the pair was aborted toward their sender. newCore
	// refuses a route whose sides' MaxMessage differ, so only a route
	// changed after it gets there.
	OversizeMsgs uint64
	// AbortedMsgs counts messages acknowledged to one peer and never
	// delivered to the other because the pair was aborted: the ABORT told
	// their sender (docs/design.md 2.6). A drain discards nothing (2.8).
	AbortedMsgs uint64
	Restarts    uint64
}

// RelayWait bounds how long a side whose partner ended may take to deliver
// what the gateway acknowledged from the partner's peer before the ABORT
// is relayed (docs/design.md 2.6).
const RelayWait = 5 * time.Second

// RefusalLogPerSecond is how many refused attempts a route logs per second;
// beyond it refusals are only counted, and the next line logged says how
// many were not, so an INIT flood costs a counter each, not a log line.
const RefusalLogPerSecond = 10

// refusalLog rate-limits a route's refusal lines on the Host's clock.
type refusalLog struct {
	window     time.Time // start of the current one-second window
	lines      int       // lines written in the window
	suppressed uint64    // refusals not logged since the last summary
	since      time.Time // when suppression began
}

// admit reports whether a refusal at now may be logged and, when a window
// with suppressed lines has ended, how many were suppressed since when.
func (l *refusalLog) admit(now time.Time) (ok bool, suppressed uint64, since time.Time) {
	if d := now.Sub(l.window); d >= time.Second || d < 0 || l.window.IsZero() {
		suppressed, since = l.suppressed, l.since
		l.window, l.lines, l.suppressed = now, 0, 0
	}
	if l.lines < RefusalLogPerSecond {
		l.lines++
		return true, suppressed, since
	}
	if l.suppressed == 0 {
		l.since = now
	}
	l.suppressed++
	return false, suppressed, since
}

// routeState is a route and what the core keeps per route.
type routeState struct {
	r       *route
	cnt     Counters
	setup   Histogram // COOKIE ECHO accepted to egress COMM_UP
	refused refusalLog
	// initAbort holds the causes of the ABORT that refuses an INIT, by
	// Decision.Rule+1, built at first use: an INIT's decision comes from a
	// rule or the default alone, so its reason is fixed, and a flood of
	// denied INITs then allocates nothing here.
	initAbort [][]wire.Cause
}

func (rs *routeState) initRefusal(d acl.Decision) []wire.Cause {
	if d.Verdict != acl.Deny {
		return nil
	}
	i := d.Rule + 1
	if i < 0 || i >= len(rs.initAbort) {
		return refusal(d)
	}
	if rs.initAbort[i] == nil {
		rs.initAbort[i] = refusal(d)
	}
	return rs.initAbort[i]
}

// core is the pairing logic over one engine Host.
type core struct {
	h      *engine.Host
	routes []*routeState
	pairs  map[*pair]struct{}
	log    *slog.Logger
	// draining: no new pairs; existing ones are being shut down.
	draining bool
}

// newCore installs a listener per route on h. It must be called by the
// goroutine that drives h.
func newCore(h *engine.Host, routes []*route, log *slog.Logger) (*core, error) {
	c := &core{h: h, pairs: map[*pair]struct{}{}, log: log}
	for _, r := range routes {
		if err := r.checkMessageSizes(); err != nil {
			return nil, err
		}
		rs := &routeState{r: r, setup: NewHistogram(SetupBuckets)}
		c.routes = append(c.routes, rs)
		if err := h.ListenOn([]int{r.ListenLink}, r.ListenPort, r.Ingress, engine.AcceptFunc(func(req *engine.AcceptRequest) {
			c.accept(rs, req)
		})); err != nil {
			return nil, fmt.Errorf("gateway: route %s: listen on port %d: %w", r.Name, r.ListenPort, err)
		}
		if r.Policy != nil {
			kind := linkKind(h, r.ListenLink)
			rs.initAbort = make([][]wire.Cause, len(r.Policy.Rules())+1)
			// Screen rather than Evaluate: the rules' refusals are made
			// here, before any state (RFC 9260 5.1), and would otherwise
			// never reach the policy's counters.
			if err := h.SetInitFilter(r.ListenPort, func(_ int, p link.Path, src, dst uint16) (engine.Verdict, []wire.Cause) {
				d := r.Policy.Screen(acl.Request{Src: netip.AddrPortFrom(p.Remote, src), DstPort: dst, Link: kind})
				if !d.Allowed() {
					rs.countRefusal(d)
					c.logRefusal(rs, "INIT", p.Remote, src, d)
				}
				return verdict(d), rs.initRefusal(d)
			}); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// checkMessageSizes refuses a route whose two sides would not take the
// same messages: what one side accepts from its peer (up to its
// MaxMessage) the other must be able to send (up to its own), both ways,
// or a message the gateway acknowledged could not be forwarded
// (docs/design.md 2.2). So the two MaxMessage, defaults applied, are
// equal; a route planned from one configuration shares the setting.
func (r *route) checkMessageSizes() error {
	in, out := r.Ingress.WithDefaults().MaxMessage, r.Egress.WithDefaults().MaxMessage
	if in != out {
		return fmt.Errorf("gateway: route %s: Ingress.MaxMessage %d, Egress.MaxMessage %d: a message either side accepts must fit the other side, both ways; make them equal", r.Name, in, out)
	}
	return nil
}

// logRefusal logs a refused attempt unless the route is over its
// RefusalLogPerSecond; the formatting, which allocates, happens only for
// lines that are written.
func (c *core) logRefusal(rs *routeState, what string, src netip.Addr, port uint16, d acl.Decision) {
	now := c.h.Now()
	ok, suppressed, since := rs.refused.admit(now)
	if suppressed > 0 {
		c.log.Info(fmt.Sprintf("%d refusals not logged in %v (more than %d per second)",
			suppressed, now.Sub(since).Round(time.Millisecond), RefusalLogPerSecond), "route", rs.r.Name)
	}
	if !ok {
		return
	}
	how := "refused"
	if d.Verdict == acl.Drop {
		how = "dropped"
	}
	c.log.Info(what+" "+how, "route", rs.r.Name, "from", netip.AddrPortFrom(src, port).String(), "reason", d.Reason())
}

func linkKind(h *engine.Host, i int) acl.LinkKind {
	switch h.LinkKind(i) {
	case link.DTLS:
		return acl.LinkDTLS
	case link.UDP:
		return acl.LinkUDP
	}
	return acl.LinkNative
}

func verdict(d acl.Decision) engine.Verdict {
	switch d.Verdict {
	case acl.Allow:
		return engine.Admit
	case acl.Drop:
		return engine.Ignore
	}
	return engine.Refuse
}

func refusal(d acl.Decision) []wire.Cause {
	if d.Verdict != acl.Deny {
		return nil
	}
	return []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte(d.Reason())}}
}

// countRefusal counts an attempt the policy refused, by what refused it.
func (rs *routeState) countRefusal(d acl.Decision) {
	rs.cnt.PairsRefused++
	switch d.Limit {
	case acl.LimitNone:
		rs.cnt.RefusedByRule++
	case acl.LimitPerSourceRate, acl.LimitTotalRate:
		rs.cnt.RefusedByRate++
	default:
		rs.cnt.RefusedByPairLimit++
	}
}

// Counters returns the gateway's figures, summed over its routes.
func (c *core) Counters() Counters {
	var t Counters
	for _, rs := range c.routes {
		t.add(&rs.cnt)
	}
	return t
}

func (t *Counters) add(c *Counters) {
	t.PairsOpened += c.PairsOpened
	t.PairsRefused += c.PairsRefused
	t.RefusedByRule += c.RefusedByRule
	t.RefusedByRate += c.RefusedByRate
	t.RefusedByPairLimit += c.RefusedByPairLimit
	t.RefusedDraining += c.RefusedDraining
	t.PairsFailed += c.PairsFailed
	t.PairsClosed += c.PairsClosed
	for d := range t.MsgsForwarded {
		t.MsgsForwarded[d] += c.MsgsForwarded[d]
		t.BytesForwarded[d] += c.BytesForwarded[d]
	}
	t.InvalidStreamMsgs += c.InvalidStreamMsgs
	t.OversizeMsgs += c.OversizeMsgs
	t.AbortedMsgs += c.AbortedMsgs
	t.Restarts += c.Restarts
}

// RouteStats is one route's figures, for metrics.
type RouteStats struct {
	Name     string
	Counters Counters
	// Active is the pairs alive, those still dialling included.
	Active int
	// Setup is the time from a valid COOKIE ECHO to the egress side's
	// COMM_UP, when the client's COOKIE ACK goes.
	Setup Histogram
	ACL   *ACLStatus  // nil without a policy
	Auth  *AuthStatus // nil without SCTP-AUTH
}

// RouteStats reports each route's figures.
func (c *core) RouteStats() []RouteStats {
	out := make([]RouteStats, len(c.routes))
	idx := make(map[*routeState]int, len(c.routes))
	for i, rs := range c.routes {
		idx[rs] = i
		out[i] = RouteStats{Name: rs.r.Name, Counters: rs.cnt, Setup: rs.setup.Copy()}
		if rs.r.Policy != nil {
			a := aclStatus(rs.r)
			out[i].ACL = &a
		}
		if rs.r.Auth != nil {
			a := authStatus(rs.r.Name, rs.r.Auth)
			out[i].Auth = &a
		}
	}
	for p := range c.pairs {
		out[idx[p.rs]].Active++
	}
	return out
}

// accept handles a valid COOKIE ECHO on a route: policy, then the egress
// dial; the COOKIE ACK waits for egress (docs/design.md 2.1).
func (c *core) accept(rs *routeState, req *engine.AcceptRequest) {
	r := rs.r
	now := c.h.Now()
	in := req.Association()
	linkIdx, path := in.Path()
	if c.draining {
		rs.cnt.RefusedDraining++
		req.Reject(now, userAbort("sctpgw: gateway is shutting down"))
		return
	}
	if req.Restart {
		rs.cnt.Restarts++
	}
	var slot acl.Slot
	if r.Policy != nil {
		var d acl.Decision
		slot, d = r.Policy.Acquire(acl.Request{Src: netip.AddrPortFrom(path.Remote, in.RemotePort()), DstPort: in.LocalPort(), Link: linkKind(c.h, linkIdx)}, now)
		if !d.Allowed() {
			rs.countRefusal(d)
			c.logRefusal(rs, "COOKIE ECHO", path.Remote, in.RemotePort(), d)
			if d.Verdict == acl.Drop {
				req.Drop(now)
			} else {
				req.Reject(now, userAbort(d.Reason()))
			}
			return
		}
	}
	p := &pair{c: c, r: r, rs: rs, req: req, slot: slot, created: now}
	p.side[dirIn].a = in
	// The pair hears of an ingress that ends before its COOKIE ACK (its peer
	// gives up, or restarts): the dial is then abandoned.
	in.SetHandler(&p.side[dirIn])
	// Both sides hold their SHUTDOWN ACK until the pair's other side is done,
	// and their SHUTDOWN COMPLETE until what their peer sent was delivered
	// (docs/design.md 2.5); set before any SHUTDOWN can arrive.
	in.HoldShutdownAck()
	in.HoldShutdownComplete()
	p.side[dirIn].p, p.side[dirOut].p = p, p
	p.side[dirIn].d, p.side[dirOut].d = dirIn, dirOut
	// The egress side asks for what the ingress peer asked for
	// (docs/design.md 2.1).
	ecfg := r.Egress
	inOut, inIn := in.Streams()
	ecfg.InitMsg.OutStreams, ecfg.InitMsg.MaxInStreams = inIn, inOut
	// Keep the peer's port toward the target when free: traces stay readable.
	out, err := c.h.DialAddrs(r.ForwardLink, r.ForwardPath, r.ForwardMore, in.RemotePort(), r.ForwardPort, ecfg, &p.side[dirOut], now)
	if err == engine.ErrPortInUse {
		out, err = c.h.DialAddrs(r.ForwardLink, r.ForwardPath, r.ForwardMore, 0, r.ForwardPort, ecfg, &p.side[dirOut], now)
	}
	if err != nil {
		slot.Release()
		rs.cnt.PairsFailed++
		req.Reject(now, userAbort("sctpgw: egress dial failed: "+err.Error()))
		return
	}
	p.side[dirOut].a = out
	out.HoldShutdownAck()
	out.HoldShutdownComplete()
	if r.DialTimeout > 0 {
		out.SetAbortDeadline(now, now.Add(r.DialTimeout), nil)
	}
	c.pairs[p] = struct{}{}
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("dialling", "route", r.Name, "from", netip.AddrPortFrom(path.Remote, in.RemotePort()).String(),
			"to", netip.AddrPortFrom(r.ForwardPath.Remote, r.ForwardPort).String())
	}
}

func userAbort(reason string) wire.Cause {
	return &wire.UserInitiatedAbortCause{Reason: []byte(reason)}
}

// Drain shuts every pair down without losing what was acknowledged, and
// refuses new ones (docs/design.md 2.8; see pair.drain). Call AbortAll
// once the drain deadline passes.
func (c *core) Drain(now time.Time) {
	c.draining = true
	for p := range c.pairs {
		p.drain(now)
	}
}

// AbortAll aborts what is left with reason.
func (c *core) AbortAll(now time.Time, reason string) {
	for p := range c.pairs {
		for d := range p.side {
			if s := &p.side[d]; s.a != nil && !s.closed {
				s.abort(now, reason)
			}
		}
		if p.req != nil && !p.accepted {
			p.req.Reject(now, userAbort(reason))
		}
	}
}

// Pairs reports how many pairs are alive.
func (c *core) Pairs() int { return len(c.pairs) }

// EachPair calls f for every pair.
func (c *core) EachPair(f func(PairStatus)) {
	for p := range c.pairs {
		f(p.status())
	}
}
