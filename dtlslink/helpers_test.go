package dtlslink

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v3/vnet"

	"github.com/sctpgw/sctpgw/internal/clock/clocktest"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// The lab: a core gateway's DTLS link on a public address, edges in a LAN
// behind a NAT that forgets idle mappings after natLifetime (pion's vnet).
const (
	natLifetime = 2 * time.Second
	dtlsPort    = 4740
	portS1AP    = 36412
)

// newFakeClock is a clock whose time moves only when the test says, so
// that the handshake rate and timeouts are exact while datagrams still
// cross real sockets. It starts at the wall clock's now because the test
// certificates are valid from an hour before the test to a day after it,
// and certificates are checked on the link's clock.
func newFakeClock() *clocktest.Fake { return clocktest.New(time.Now()) }

var (
	coreAddr = netip.MustParseAddr("203.0.113.10")
	corePeer = netip.AddrPortFrom(coreAddr, dtlsPort)
	toCore   = link.Path{Remote: coreAddr, RemotePort: dtlsPort}
	natAddr  = netip.MustParseAddr("203.0.113.1")
)

type lab struct {
	core  *vnet.Net
	edges []*vnet.Net
}

// newLab builds the WAN with the core and a port-restricted NAT with n
// edge hosts (10.1.0.2, ...).
func newLab(t *testing.T, n int) *lab {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "203.0.113.0/24", LoggerFactory: lf})
	must(err)
	core, err := vnet.NewNet(&vnet.NetConfig{StaticIP: coreAddr.String()})
	must(err)
	must(wan.AddNet(core))
	nt := vnet.NATType{MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointAddrPortDependent, MappingLifeTime: natLifetime}
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.1.0.0/24", StaticIPs: []string{natAddr.String()}, LoggerFactory: lf, NATType: &nt})
	must(err)
	must(wan.AddRouter(r))
	l := &lab{core: core}
	for i := 0; i < n; i++ {
		h, err := vnet.NewNet(&vnet.NetConfig{StaticIP: netip.AddrFrom4([4]byte{10, 1, 0, byte(2 + i)}).String()})
		must(err)
		must(r.AddNet(h))
		l.edges = append(l.edges, h)
	}
	must(wan.Start())
	t.Cleanup(func() { wan.Stop() })
	return l
}

// creds loads a gateway's credentials from files, as the gateway does.
func creds(t testing.TB, f Files) *Credentials {
	t.Helper()
	c, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// certFiles issues name a certificate from ca and returns its files with
// roots as the CA to verify peers by.
func certFiles(t testing.TB, ca *testlab.CA, name string, roots *testlab.CA) Files {
	cf, kf := ca.IssueValid(t, name)
	return Files{CertFile: cf, KeyFile: kf, CAFile: roots.File}
}

func newLinkT(t testing.TB, cfg Config) *Link {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func coreLink(t testing.TB, nw *vnet.Net, c *Credentials) *Link {
	return newLinkT(t, Config{Net: nw, Listen: corePeer, Credentials: c})
}

func edgeLink(t testing.TB, nw *vnet.Net, c *Credentials) *Link {
	return newLinkT(t, Config{Net: nw, Peers: map[netip.AddrPort]*Credentials{corePeer: c}})
}

// fastOpts: quick recovery from what a rebinding loses, no heartbeats in
// the way of a mapping that must expire.
var fastOpts = stack.Options{
	NoDelay:    true,
	RTO:        stack.RTOInfo{Initial: 300 * time.Millisecond, Min: 200 * time.Millisecond, Max: 2 * time.Second},
	DelayedAck: engine.DelayedAck{Delay: 50 * time.Millisecond},
	PeerAddr:   engine.PeerAddrParams{HBInterval: time.Hour},
}

func newStackT(t testing.TB, links ...link.Link) *stack.Stack {
	t.Helper()
	s, err := stack.New(stack.Config{Links: links})
	if err != nil {
		t.Fatalf("stack.New: %v", err)
	}
	t.Cleanup(func() { s.Close("test over") })
	return s
}

func listenS(t testing.TB, s *stack.Stack, port uint16, opts stack.Options) *stack.Listener {
	t.Helper()
	ln, err := s.Listen(port, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func exchangeT(t testing.TB, ctx context.Context, a, b *stack.Assoc, flow uint32, n int) {
	t.Helper()
	if _, _, err := testlab.Exchange(ctx, a, b, flow, n, 20000, 0); err != nil {
		t.Fatalf("exchange on flow %d: %v", flow, err)
	}
}

func primary(a *stack.Assoc) link.Path { return a.Status().Primary.Path }

func peersOf(c *Credentials) map[netip.AddrPort]*Credentials {
	return map[netip.AddrPort]*Credentials{corePeer: c}
}

// crash ends the link as a killed process would: the socket closes first,
// so not even a close_notify leaves.
func (l *Link) crash() {
	l.sock.Close()
	l.Close()
}
