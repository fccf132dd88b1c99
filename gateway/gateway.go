package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/pion/transport/v3"

	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/internal/stackhost"
	"github.com/sctpgw/sctpgw/logs"
	"github.com/sctpgw/sctpgw/portguard"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
	"github.com/sctpgw/sctpgw/udpencap"
)

// Options are what the daemon, the demo and tests inject.
type Options struct {
	// Native and UDP links; nil ones are opened from the plan (raw IP
	// sockets, the UDP socket of udp.listen).
	Native, UDP link.Link
	// DTLS is the RFC 8261 link; nil opens one from the plan (its listen
	// address, the routes' credentials and peers). Tests pass one on a vnet.
	DTLS link.Link
	// DTLSNet is the network the DTLS link opened from the plan uses (nil:
	// the real one; tests pass a pion vnet).
	DTLSNet transport.Net
	Clock   stack.Clock
	Rand    io.Reader
	// Logger receives everything the gateway, its stack and the links it
	// opens log, each line with its scope (gateway, pair, sctp, link); nil
	// discards it. See package logs for levels per scope.
	Logger *slog.Logger
	// Pcap, when set, receives a pcap of every SCTP packet the gateway
	// sends and receives, native ones as raw IP, encapsulated ones in
	// IP/UDP, as Wireshark decodes them.
	Pcap io.Writer
	// NativeMark is set as SO_MARK on the raw sockets New opens, and
	// NativePortUse hears of every port the native link starts or stops
	// serving (the routes' and those of dialled associations): together
	// they let a portguard.Guard keep the kernel's SCTP from answering for
	// them. With NativePortUse nil, New only warns when kernel SCTP is
	// loaded.
	NativeMark    uint32
	NativePortUse func(port uint16, inUse bool)
	// KernelGuard is that guard, when the daemon runs one: Snapshot and
	// Stats report what it does (installed or not, the kernel replies its
	// rule dropped).
	KernelGuard KernelGuard
	// AuthKeyPoll is how often the routes' SCTP-AUTH key files are looked
	// at for changes (zero: DefaultAuthKeyPoll; negative: never, only
	// ReloadAuthKeys).
	AuthKeyPoll time.Duration
}

// KernelGuard is what a gateway reads of the kernel SCTP port guard
// (*portguard.Guard).
type KernelGuard interface {
	Status() portguard.Status
}

// Gateway is a running gateway: its links, stack and pairing core.
type Gateway struct {
	plan   *Plan
	st     *stack.Stack
	core   *core
	log    *slog.Logger
	native link.Link
	udp    link.Link
	dtls   link.Link
	idx    linkIndex // where each link sits in the stack's list
	routes []*route
	guard  KernelGuard
	// auth are the routes' key files; stopAuth ends their watcher.
	auth     []*routeAuth
	stopAuth context.CancelFunc

	mu     sync.Mutex
	closed bool
}

// New opens the links a plan needs and starts the gateway. The plan's
// policies become the gateway's: a plan is used once.
func New(p *Plan, o Options) (*Gateway, error) {
	root := o.Logger
	if root == nil {
		root = logs.Discard()
	}
	g := &Gateway{plan: p, log: root.With(logs.ScopeKey, "gateway"), guard: o.KernelGuard}
	g.native, g.udp, g.dtls = o.Native, o.UDP, o.DTLS
	links, idx, err := g.openLinks(p, o, root.With(logs.ScopeKey, "link"))
	g.idx = idx
	if err != nil {
		g.closeLinks()
		return nil, err
	}
	if err := g.buildRoutes(p, idx); err != nil {
		g.closeLinks()
		return nil, err
	}
	var tap func(bool, int, link.Path, []byte)
	if o.Pcap != nil {
		if tap, err = pcapTap(o.Pcap, links, o.Clock, g.log); err != nil {
			g.closeLinks()
			return nil, err
		}
	}
	// A gateway runs for months with the pair count rising and falling:
	// what thousands of closed pairs held goes back to the system.
	st, err := stack.New(stack.Config{Links: links, Clock: o.Clock, Rand: o.Rand, LoggerFactory: logs.Pion(root),
		PortUse: g.nativePortUse(p, o, idx.native), Tap: tap, ReturnMemory: debug.FreeOSMemory})
	if err != nil {
		g.closeLinks()
		return nil, err
	}
	g.st = st
	var cerr error
	if err := stackhost.Do(st, func(h *engine.Host, _ time.Time) {
		g.core, cerr = newCore(h, g.routes, root.With(logs.ScopeKey, "pair"))
	}); err != nil {
		cerr = err
	}
	if cerr != nil {
		st.Close("")
		return nil, cerr
	}
	for _, rp := range p.Routes {
		g.log.Info("route listening", "route", rp.Name, "listen", rp.Listen.String(), "forward", rp.Forward.String())
	}
	if len(g.auth) > 0 && o.AuthKeyPoll >= 0 {
		var ctx context.Context
		ctx, g.stopAuth = context.WithCancel(context.Background())
		go g.watchAuthKeys(ctx, cmp.Or(o.AuthKeyPoll, DefaultAuthKeyPoll))
	}
	return g, nil
}

// linkIndex is where each kind of link sits in the stack's link list; -1
// where the plan needs none.
type linkIndex struct{ native, udp, dtls int }

// of is the index of the link an endpoint is reached over.
func (x linkIndex) of(e Endpoint) int {
	switch {
	case e.Encap:
		return x.udp
	case e.DTLS:
		return x.dtls
	}
	return x.native
}

// openLinks opens the links the plan needs that Options did not supply
// and lists them in the stack's order. On error the caller closes what
// was opened (closeLinks).
func (g *Gateway) openLinks(p *Plan, o Options, linkLog *slog.Logger) ([]link.Link, linkIndex, error) {
	var links []link.Link
	idx := linkIndex{-1, -1, -1}
	if p.NeedNative {
		if g.native == nil {
			// 4 MiB socket buffers, as on the UDP link: with the
			// default 208 KiB the native socket dropped a sender's
			// burst (about a hundred 1 KiB packets) whenever the
			// reader waited for a CPU, and every drop cost the sender a
			// retransmission and half its cwnd.
			rl, err := rawip.Listen(rawip.Config{Addrs: p.NativeAddrs, Ports: p.NativePorts, Logger: linkLog, Mark: o.NativeMark,
				RecvBuffer: 4 << 20, SendBuffer: 4 << 20})
			if err != nil {
				return nil, idx, fmt.Errorf("gateway: native link: %w", err)
			}
			if w := rawip.KernelSCTPWarning(os.DirFS("/")); w != "" && o.NativePortUse == nil {
				g.log.Warn(w)
			}
			g.native = rl
		}
		idx.native = len(links)
		links = append(links, g.native)
	}
	if p.NeedUDP {
		if g.udp == nil {
			// GSO and GRO: one system call and one pass through the
			// kernel per run of packets (the stack reads into
			// link.MaxPacket buffers, as GRO asks).
			ul, err := udpencap.Listen(udpencap.Config{Addr: p.UDP, ReadBuffer: 4 << 20, WriteBuffer: 4 << 20, Logger: linkLog, GSO: true, GRO: true})
			if err != nil {
				return nil, idx, fmt.Errorf("gateway: UDP link: %w", err)
			}
			g.udp = ul
		}
		idx.udp = len(links)
		links = append(links, g.udp)
	}
	if p.NeedDTLS {
		if g.dtls == nil {
			listen, peers := p.dtlsCredentials()
			dl, err := dtlslink.New(dtlslink.Config{Net: o.DTLSNet, Listen: p.DTLS, Credentials: listen, Peers: peers,
				Logger: linkLog, PionLogger: logs.Pion(linkLog), Clock: o.Clock})
			if err != nil {
				return nil, idx, fmt.Errorf("gateway: DTLS link: %w", err)
			}
			g.dtls = dl
		}
		idx.dtls = len(links)
		links = append(links, g.dtls)
	}
	return links, idx, nil
}

// buildRoutes turns the plan's routes into the pairing core's, on the
// links of idx.
func (g *Gateway) buildRoutes(p *Plan, idx linkIndex) error {
	for _, rp := range p.Routes {
		l, f := rp.Listen, rp.Forward
		r := &route{
			Name: rp.Name, ListenLink: idx.of(l), ListenPort: l.SCTPPort,
			ForwardLink: idx.of(f), ForwardPath: link.Path{Remote: f.Addr}, ForwardPort: f.SCTPPort,
			Ingress: rp.engine, Egress: rp.engine, Policy: rp.Policy, DialTimeout: rp.DialTimeout,
		}
		multihome(r, l, f)
		if f.Tunnel() {
			r.ForwardPath.RemotePort = f.UDPPort
		}
		if rp.Auth != nil {
			if err := g.setupAuth(r, rp, l.Tunnel(), f.Tunnel()); err != nil {
				return err
			}
		}
		if rp.Policy != nil {
			// A rule that can never match is almost always a mistake in
			// order; say so once, at start, where the operator looks.
			for _, w := range rp.Policy.Warnings() {
				g.log.Warn("acl: "+w, "route", rp.Name)
			}
		}
		g.routes = append(g.routes, r)
	}
	return nil
}

// nativePortUse is the stack's PortUse hook for a gateway with a rawip
// native link (link nativeIdx): the link's port filter, and the kernel
// SCTP guard's (Options.NativePortUse), follow the ports in use. The
// guard covers a port before its first packet goes out and until the
// link has let go of it.
func (g *Gateway) nativePortUse(p *Plan, o Options, nativeIdx int) func(int, uint16, bool) {
	rl, ok := g.native.(*rawip.Link)
	if !ok || !p.NeedNative {
		return nil
	}
	return func(i int, port uint16, on bool) {
		if i != nativeIdx {
			return
		}
		var err error
		if on {
			if o.NativePortUse != nil {
				o.NativePortUse(port, true)
			}
			err = rl.AddPort(port)
		} else {
			err = rl.RemovePort(port)
			if o.NativePortUse != nil {
				o.NativePortUse(port, false)
			}
		}
		if err != nil {
			g.log.Warn("native link: port", "port", port, "err", err)
		}
	}
}

// multihome gives route r its native legs' addresses: a listen URL's
// become the ingress side's local addresses (listed in its INIT ACK), a
// forward URL's the target's other addresses (connectx) and its from= the
// egress side's local ones (listed in its INIT, the first the source of
// the primary path).
func multihome(r *route, l, f Endpoint) {
	if l.Native() && l.Multihomed() {
		r.Ingress.LocalAddrs = l.Addrs
	}
	if f.Native() {
		r.ForwardMore = f.Addrs[1:]
		if len(f.From) > 0 {
			r.ForwardPath.Local = f.From[0]
		}
		if len(f.From) > 1 {
			r.Egress.LocalAddrs = f.From
		}
	}
}

func (g *Gateway) closeLinks() {
	for _, l := range []link.Link{g.native, g.udp, g.dtls} {
		if l != nil {
			l.Close()
		}
	}
}

// Snapshot is everything `sctpgw status` shows.
type Snapshot struct {
	Pairs   []PairStatus      `json:"pairs"`
	Gateway Counters          `json:"gateway"`
	ACL     []ACLStatus       `json:"acl,omitempty"`  // routes with a policy
	Auth    []AuthStatus      `json:"auth,omitempty"` // routes with SCTP-AUTH
	SNMP    map[string]uint64 `json:"snmp"`
	Links   []LinkStatus      `json:"links"`
	// DTLSSessions are the DTLS link's sessions, one per peer gateway.
	DTLSSessions []dtlslink.SessionInfo `json:"dtls_sessions,omitempty"`
	// KernelSCTP is the kernel SCTP port guard of the native routes (nil
	// without one: no native route, or a gateway not run by sctpgw run).
	KernelSCTP *portguard.Status `json:"kernel_sctp_guard,omitempty"`
	Discards   DiscardStatus     `json:"discards"`
	Draining   bool              `json:"draining"`
}

// Snapshot takes the current figures.
func (g *Gateway) Snapshot() Snapshot {
	var s Snapshot
	stackhost.Do(g.st, func(h *engine.Host, _ time.Time) {
		g.core.EachPair(func(p PairStatus) { s.Pairs = append(s.Pairs, p) })
		s.Gateway = g.core.Counters()
		s.ACL = g.core.ACL()
		s.Auth = g.core.Auth()
		s.SNMP = sctpStatsOf(h.Stats()).snmp()
		s.Discards = discardStatus(h.Stats())
		s.Draining = g.core.draining
	})
	s.Links = g.linkStatuses()
	s.DTLSSessions = g.DTLSSessions()
	s.KernelSCTP = g.guardStatus()
	return s
}

// Stats is what metrics export: figures per route and per link, the SCTP
// stack's counters, and whether the gateway is draining. It lists no pair:
// its size does not grow with traffic.
type Stats struct {
	Routes     []RouteStats
	SCTP       SCTPStats
	Links      []LinkStatus
	KernelSCTP *portguard.Status // nil without a guard
	Draining   bool
}

// Stats takes the current figures.
func (g *Gateway) Stats() Stats {
	var s Stats
	stackhost.Do(g.st, func(h *engine.Host, _ time.Time) {
		s.Routes = g.core.RouteStats()
		s.SCTP = sctpStatsOf(h.Stats())
		s.Draining = g.core.draining
	})
	s.Links = g.linkStatuses()
	s.KernelSCTP = g.guardStatus()
	return s
}

// guardStatus reads the kernel SCTP guard, outside the stack's lock: it
// may ask nftables for its counter.
func (g *Gateway) guardStatus() *portguard.Status {
	if g.guard == nil {
		return nil
	}
	st := g.guard.Status()
	return &st
}

// Drain shuts every pair down gracefully, refusing new ones, and aborts what
// is left when ctx ends (docs/design.md 2.8). It then stops the gateway.
func (g *Gateway) Drain(ctx context.Context) error {
	stackhost.Do(g.st, func(_ *engine.Host, now time.Time) { g.core.Drain(now) })
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		n := 0
		stackhost.Do(g.st, func(*engine.Host, time.Time) { n = g.core.Pairs() })
		if n == 0 {
			return g.Close()
		}
		select {
		case <-ctx.Done():
			g.log.Warn("drain deadline: aborting the pairs left", "pairs", n)
			stackhost.Do(g.st, func(_ *engine.Host, now time.Time) { g.core.AbortAll(now, "sctpgw: gateway shutting down") })
			return g.Close()
		case <-tick.C:
		}
	}
}

// Close aborts everything at once and releases the links.
func (g *Gateway) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	if g.stopAuth != nil {
		g.stopAuth()
	}
	err := g.st.Close("sctpgw: gateway stopped")
	if errors.Is(err, stack.ErrClosed) {
		err = nil
	}
	return err
}

// Routes describes the routes, one line each.
func (g *Gateway) Routes() string {
	var b strings.Builder
	for _, r := range g.plan.Routes {
		fmt.Fprintf(&b, "%s: %s -> %s\n", r.Name, r.Listen, r.Forward)
	}
	return b.String()
}
