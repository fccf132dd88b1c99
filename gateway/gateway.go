package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pion/logging"

	"github.com/sctpgw/sctpgw/acl"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
	"github.com/sctpgw/sctpgw/udpencap"
)

// Options are what the daemon, the demo and tests inject.
type Options struct {
	// Native and UDP links; nil ones are opened from the configuration
	// (raw IP sockets, the UDP socket of udp.listen).
	Native, UDP link.Link
	// Resolve turns forward host names into addresses (nil: the system's).
	Resolve       func(string) (netip.Addr, error)
	Clock         stack.Clock
	Rand          io.Reader
	LoggerFactory logging.LoggerFactory
	// Pcap, when set, receives a pcap of every SCTP packet the gateway
	// sends and receives, native ones as raw IP, encapsulated ones in
	// IP/UDP, as Wireshark decodes them.
	Pcap io.Writer
}

// Gateway is a running gateway: its links, stack and pairing core.
type Gateway struct {
	cfg    *Config
	st     *stack.Stack
	core   *Core
	log    logging.LeveledLogger
	native link.Link
	udp    link.Link
	routes []*Route

	mu     sync.Mutex
	closed bool
}

const (
	linkNative = iota
	linkUDP
)

// New opens the links the routes need and starts the gateway.
func New(cfg *Config, o Options) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lf := o.LoggerFactory
	if lf == nil {
		lf = logging.NewDefaultLoggerFactory()
	}
	g := &Gateway{cfg: cfg, log: lf.NewLogger("gateway")}
	resolve := o.Resolve
	if resolve == nil {
		resolve = ResolveHost
	}
	needNative, needUDP := false, false
	type parsed struct{ l, f Endpoint }
	eps := make([]parsed, len(cfg.Routes))
	var nativeAddrs []netip.Addr
	var nativePorts []uint16
	udpListen := cfg.UDP.Listen
	for i, rc := range cfg.Routes {
		l, err := ParseEndpoint(rc.Listen, nil)
		if err != nil {
			return nil, fmt.Errorf("routes[%d].listen: %w", i, err)
		}
		f, err := ParseEndpoint(rc.Forward, resolve)
		if err != nil {
			return nil, fmt.Errorf("routes[%d].forward: %w", i, err)
		}
		eps[i] = parsed{l, f}
		for _, e := range []Endpoint{l, f} {
			if e.Encap {
				needUDP = true
			} else {
				needNative = true
			}
		}
		if l.Encap && udpListen == "" {
			udpListen = netip.AddrPortFrom(l.Addr, l.UDPPort).String()
		}
		if !l.Encap {
			nativePorts = append(nativePorts, l.SCTPPort)
			if !l.Addr.IsUnspecified() {
				nativeAddrs = append(nativeAddrs, l.Addr)
			}
		}
	}
	g.native, g.udp = o.Native, o.UDP
	var links []link.Link
	nativeIdx, udpIdx := -1, -1
	if needNative {
		if g.native == nil {
			rl, err := rawip.Listen(rawip.Config{Addrs: nativeAddrs, Ports: nativePorts})
			if err != nil {
				return nil, fmt.Errorf("gateway: native link: %w", err)
			}
			if w := rawip.KernelSCTPWarning(os.DirFS("/")); w != "" {
				g.log.Warn(w)
			}
			g.native = rl
		}
		nativeIdx = len(links)
		links = append(links, g.native)
	}
	if needUDP {
		if g.udp == nil {
			var ap netip.AddrPort
			if udpListen != "" {
				ap = netip.MustParseAddrPort(udpListen)
			}
			ul, err := udpencap.Listen(udpencap.Config{Addr: ap, ReadBuffer: 4 << 20, WriteBuffer: 4 << 20})
			if err != nil {
				g.closeLinks()
				return nil, fmt.Errorf("gateway: UDP link: %w", err)
			}
			g.udp = ul
		}
		udpIdx = len(links)
		links = append(links, g.udp)
	}
	linkFor := func(e Endpoint) int {
		if e.Encap {
			return udpIdx
		}
		return nativeIdx
	}
	for i, rc := range cfg.Routes {
		l, f := eps[i].l, eps[i].f
		ecfg, _ := rc.SCTP.Engine()
		r := &Route{
			Name: rc.Name, ListenLink: linkFor(l), ListenPort: l.SCTPPort,
			ForwardLink: linkFor(f), ForwardPath: link.Path{Remote: f.Addr}, ForwardPort: f.SCTPPort,
			Ingress: ecfg, Egress: ecfg,
		}
		if f.Encap {
			r.ForwardPath.RemotePort = f.UDPPort
		}
		if rc.ACL != nil {
			p, err := acl.Compile(*rc.ACL)
			if err != nil {
				g.closeLinks()
				return nil, fmt.Errorf("routes[%d].acl: %w", i, err)
			}
			r.Policy = p
			// A rule that can never match is almost always a mistake in
			// order; say so once, at start, where the operator looks.
			for _, w := range p.Warnings() {
				g.log.Warnf("route %s: acl: %s", rc.Name, w)
			}
		}
		g.routes = append(g.routes, r)
	}
	var err error
	var portUse func(int, uint16, bool)
	if rl, ok := g.native.(*rawip.Link); ok && needNative {
		portUse = func(i int, port uint16, on bool) {
			if i != nativeIdx {
				return
			}
			var err error
			if on {
				err = rl.AddPort(port)
			} else {
				err = rl.RemovePort(port)
			}
			if err != nil {
				g.log.Warnf("native link: port %d: %v", port, err)
			}
		}
	}
	var tap func(bool, int, link.Path, []byte)
	if o.Pcap != nil {
		if tap, err = pcapTap(o.Pcap, links, o.Clock, g.log); err != nil {
			g.closeLinks()
			return nil, err
		}
	}
	st, err := stack.New(stack.Config{Links: links, Clock: o.Clock, Rand: o.Rand, LoggerFactory: lf, PortUse: portUse, Tap: tap})
	if err != nil {
		g.closeLinks()
		return nil, err
	}
	g.st = st
	var cerr error
	st.Do(func(h *engine.Host, _ time.Time) {
		g.core, cerr = NewCore(h, g.routes, lf.NewLogger("pair"))
	})
	if cerr != nil {
		st.Close("")
		return nil, cerr
	}
	for i, r := range g.routes {
		g.log.Infof("route %s: listening on %s, forwarding to %s", r.Name, cfg.Routes[i].Listen, cfg.Routes[i].Forward)
	}
	return g, nil
}

func (g *Gateway) closeLinks() {
	for _, l := range []link.Link{g.native, g.udp} {
		if l != nil {
			l.Close()
		}
	}
}

// Stack is the gateway's SCTP stack.
func (g *Gateway) Stack() *stack.Stack { return g.st }

// UDPLink is the gateway's UDP link, if it has one.
func (g *Gateway) UDPLink() link.Link { return g.udp }

// Snapshot is everything `sctpgw status` shows.
type Snapshot struct {
	Pairs    []PairStatus      `json:"pairs"`
	Gateway  Counters          `json:"gateway"`
	ACL      []ACLStatus       `json:"acl,omitempty"` // routes with a policy
	SNMP     map[string]uint64 `json:"snmp"`
	Draining bool              `json:"draining"`
}

// Snapshot takes the current figures.
func (g *Gateway) Snapshot() Snapshot {
	var s Snapshot
	g.st.Do(func(h *engine.Host, _ time.Time) {
		g.core.EachPair(func(p PairStatus) { s.Pairs = append(s.Pairs, p) })
		s.Gateway = g.core.Counters()
		s.ACL = g.core.ACL()
		s.SNMP = SNMP(h.Stats())
		s.Draining = g.core.draining
	})
	return s
}

// SNMP names the engine's counters as /proc/net/sctp/snmp does.
func SNMP(st engine.Stats) map[string]uint64 {
	return map[string]uint64{
		"SctpCurrEstab": uint64(st.CurrEstab), "SctpActiveEstabs": st.ActiveEstabs,
		"SctpPassiveEstabs": st.PassiveEstabs, "SctpAborteds": st.Aborteds, "SctpShutdowns": st.Shutdowns,
		"SctpOutOfBlues": st.OutOfBlues, "SctpChecksumErrors": st.ChecksumErrors,
		"SctpOutCtrlChunks": st.OutCtrlChunks, "SctpOutOrderChunks": st.OutOrderChunks,
		"SctpInCtrlChunks": st.InCtrlChunks, "SctpInOrderChunks": st.InOrderChunks,
		"SctpInUnorderChunks": st.InUnorderChunks, "SctpFragUsrMsgs": st.FragUsrMsgs,
		"SctpReasmUsrMsgs": st.ReasmUsrMsgs, "SctpOutSCTPPacks": st.OutSCTPPacks, "SctpInSCTPPacks": st.InSCTPPacks,
		"SctpT1InitExpireds": st.T1InitExpireds, "SctpT1CookieExpireds": st.T1CookieExpireds,
		"SctpT2ShutdownExpireds": st.T2ShutdownExpireds, "SctpT3RtxExpireds": st.T3RtxExpireds,
		"SctpT5ShutdownGuardExpireds": st.T5ShutdownGuardExpireds, "SctpDelaySackExpireds": st.DelaySackExpireds,
	}
}

// Drain shuts every pair down gracefully, refusing new ones, and aborts what
// is left when ctx ends (docs/design.md 2.8). It then stops the gateway.
func (g *Gateway) Drain(ctx context.Context) error {
	g.st.Do(func(_ *engine.Host, now time.Time) { g.core.Drain(now) })
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		n := 0
		g.st.Do(func(*engine.Host, time.Time) { n = g.core.Pairs() })
		if n == 0 {
			return g.Close()
		}
		select {
		case <-ctx.Done():
			g.log.Warnf("drain deadline: aborting %d pairs", n)
			g.st.Do(func(_ *engine.Host, now time.Time) { g.core.AbortAll(now, "sctpgw: gateway shutting down") })
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
	err := g.st.Close("sctpgw: gateway stopped")
	if errors.Is(err, stack.ErrClosed) {
		err = nil
	}
	return err
}

// Routes describes the routes, one line each.
func (g *Gateway) Routes() string {
	var b strings.Builder
	for i, r := range g.cfg.Routes {
		fmt.Fprintf(&b, "%s: %s -> %s\n", g.routes[i].Name, r.Listen, r.Forward)
	}
	return b.String()
}
