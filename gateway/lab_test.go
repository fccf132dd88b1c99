package gateway_test

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
)

const s1ap = 36412

// recorder keeps an association's events and reads its messages.
type recorder struct {
	net    *sim.Network
	a      *engine.Association
	events []engine.Event
	msgs   []engine.Message
	noRead bool
}

func (r *recorder) HandleEvent(a *engine.Association, ev engine.Event) {
	r.a = a
	r.events = append(r.events, ev)
}

func (r *recorder) HandleSignal(a *engine.Association, s engine.Signal) {
	r.a = a
	if s.Type == engine.Readable && !r.noRead {
		r.drain()
	}
}

func (r *recorder) drain() {
	for i := 0; i < 1_000_000; i++ {
		m, ok := r.a.Read(r.net.Now())
		if !ok {
			return
		}
		r.msgs = append(r.msgs, m)
	}
}

func (r *recorder) find(t engine.EventType) *engine.Event {
	if r == nil {
		return nil
	}
	for i := range r.events {
		if r.events[i].Type == t {
			return &r.events[i]
		}
	}
	return nil
}

func (r *recorder) has(t engine.EventType) bool { return r.find(t) != nil }

func (r *recorder) ended() bool {
	return r != nil && (r.has(engine.CommLost) || r.has(engine.ShutdownComp) || r.has(engine.CantStartAssoc))
}

func (r *recorder) types() string {
	if r == nil {
		return "<none>"
	}
	s := ""
	for _, ev := range r.events {
		s += ev.Type.String() + " "
	}
	return s
}

// glab is eNB --native-- edge ==udp== core --native-- MME.
type glab struct {
	t                    *testing.T
	net                  *sim.Network
	enb, edge, core, mme *sim.Node
	edgeGW, coreGW       *gateway.Core
	mmeRecs              []*recorder
	mmeAccept            func(r *engine.AcceptRequest) // default: accept with a recorder
}

var (
	enbAddr    = netip.MustParseAddr("198.18.1.10")
	edgeNative = netip.MustParseAddr("198.18.1.1")
	edgeUDP    = netip.MustParseAddr("198.19.0.1")
	coreUDP    = netip.MustParseAddr("198.19.0.2")
	coreNative = netip.MustParseAddr("198.18.2.1")
	mmeAddr    = netip.MustParseAddr("198.18.2.10")
)

type labOpts struct {
	seed    uint64
	mmeCfg  engine.Config
	routeFn func(edge, core *gateway.Route)
	noMME   bool // no listener at the MME: its port is nobody's
	// filterPorts makes every native link deliver only the ports its host
	// asked for (sim.Iface.FilterPorts), as stack/rawip does.
	filterPorts bool
	// logs, when set, receives both cores' logs as JSON lines, each with
	// "gateway": "edge" or "core".
	logs io.Writer
}

func newGLab(t *testing.T, o labOpts) *glab {
	t.Helper()
	g := &glab{t: t, net: sim.New(o.seed)}
	// What arrives together is handled as one batch, as stack's reader
	// does with one read.
	g.net.Batch = 64
	f := o.filterPorts
	g.enb = g.net.AddMultiNode(sim.Iface{Addr: enbAddr, Kind: link.Native, FilterPorts: f})
	g.edge = g.net.AddMultiNode(sim.Iface{Addr: edgeNative, Kind: link.Native, FilterPorts: f}, sim.Iface{Addr: edgeUDP, Kind: link.UDP, UDPPort: 9899})
	g.core = g.net.AddMultiNode(sim.Iface{Addr: coreUDP, Kind: link.UDP, UDPPort: 9899}, sim.Iface{Addr: coreNative, Kind: link.Native, FilterPorts: f})
	g.mme = g.net.AddMultiNode(sim.Iface{Addr: mmeAddr, Kind: link.Native, FilterPorts: f})
	for _, nd := range []*sim.Node{g.enb, g.edge, g.core, g.mme} {
		nd.Imp.Delay = 2 * time.Millisecond
	}
	gcfg := engine.Config{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 65535, MaxInStreams: 65535}}
	edgeRoute := &gateway.Route{Name: "edge", ListenLink: 0, ListenPort: s1ap, ForwardLink: 1,
		ForwardPath: link.Path{Local: edgeUDP, Remote: coreUDP, RemotePort: 9899}, ForwardPort: s1ap,
		Ingress: gcfg, Egress: gcfg}
	coreRoute := &gateway.Route{Name: "core", ListenLink: 0, ListenPort: s1ap, ForwardLink: 1,
		ForwardPath: link.Path{Local: coreNative, Remote: mmeAddr}, ForwardPort: s1ap,
		Ingress: gcfg, Egress: gcfg}
	if o.routeFn != nil {
		o.routeFn(edgeRoute, coreRoute)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.logs != nil {
		log = slog.New(slog.NewJSONHandler(o.logs, nil))
	}
	var err error
	if g.edgeGW, err = gateway.NewCore(g.edge.Host, []*gateway.Route{edgeRoute}, log.With("gateway", "edge")); err != nil {
		t.Fatal(err)
	}
	if g.coreGW, err = gateway.NewCore(g.core.Host, []*gateway.Route{coreRoute}, log.With("gateway", "core")); err != nil {
		t.Fatal(err)
	}
	if !o.noMME {
		g.mmeAccept = func(r *engine.AcceptRequest) {
			rec := &recorder{net: g.net}
			g.mmeRecs = append(g.mmeRecs, rec)
			r.Accept(g.net.Now(), rec)
		}
		mcfg := o.mmeCfg
		mcfg.NoDelay = true
		if err := g.mme.Host.Listen(s1ap, mcfg, engine.AcceptFunc(func(r *engine.AcceptRequest) { g.mmeAccept(r) })); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func (g *glab) mmeRec() *recorder {
	if len(g.mmeRecs) == 0 {
		return nil
	}
	return g.mmeRecs[len(g.mmeRecs)-1]
}

// dial connects the eNB to the edge from port (0: ephemeral).
func (g *glab) dial(port uint16, cfg engine.Config) (*engine.Association, *recorder) {
	g.t.Helper()
	rec := &recorder{net: g.net}
	cfg.NoDelay = true
	a, err := g.enb.Host.Dial(0, link.Path{Local: enbAddr, Remote: edgeNative}, port, s1ap, cfg, rec, g.net.Now())
	if err != nil {
		g.t.Fatal(err)
	}
	rec.a = a
	return a, rec
}

func (g *glab) up(cfg engine.Config) (*engine.Association, *recorder) {
	g.t.Helper()
	a, rec := g.dial(0, cfg)
	if !g.net.RunUntil(func() bool { return rec.has(engine.CommUp) || rec.ended() }, time.Minute) || !rec.has(engine.CommUp) {
		g.t.Fatalf("eNB not up: %s", rec.types())
	}
	if m := g.mmeRec(); m == nil || !m.has(engine.CommUp) {
		g.t.Fatalf("MME not up: %s", g.mmeRec().types())
	}
	return a, rec
}
