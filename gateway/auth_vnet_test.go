package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v3/vnet"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/udpencap"
)

// SCTP-AUTH through whole gateways (gateway.New from a YAML route with an
// auth block and a key file) over real RFC 6951 links through pion's
// virtual NAT: eNB (memory) -> edge -> NAT -> core -> MME (memory).

type authVLab struct {
	edge, core         *gateway.Gateway
	enb, mme           *stack.Stack
	mmeLn              *stack.Listener
	edgeFile, coreFile string
}

const (
	vEdgeLAN = "198.18.10.2"
	vNAT     = "198.19.0.1"
	vCore    = "198.19.0.10"
)

func newAuthVLab(t *testing.T, edgeKeys, coreKeys string) *authVLab {
	t.Helper()
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelError
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "198.19.0.0/24", LoggerFactory: quiet})
	if err != nil {
		t.Fatal(err)
	}
	coreNet, _ := vnet.NewNet(&vnet.NetConfig{StaticIP: vCore})
	if err := wan.AddNet(coreNet); err != nil {
		t.Fatal(err)
	}
	lan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "198.18.10.0/24", StaticIPs: []string{vNAT}, LoggerFactory: quiet,
		NATType: &vnet.NATType{MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointAddrPortDependent}})
	if err != nil {
		t.Fatal(err)
	}
	if err := wan.AddRouter(lan); err != nil {
		t.Fatal(err)
	}
	edgeNet, _ := vnet.NewNet(&vnet.NetConfig{StaticIP: vEdgeLAN})
	if err := lan.AddNet(edgeNet); err != nil {
		t.Fatal(err)
	}
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wan.Stop() })
	edgeUDPLink, err := udpencap.Listen(udpencap.Config{Net: edgeNet, Addr: netip.MustParseAddrPort(vEdgeLAN + ":9899")})
	if err != nil {
		t.Fatal(err)
	}
	coreUDPLink, err := udpencap.Listen(udpencap.Config{Net: coreNet, Addr: netip.MustParseAddrPort(vCore + ":9899")})
	if err != nil {
		t.Fatal(err)
	}
	enbLink, edgeNat := memlink.Pair(link.Native, enbAddr, edgeNative)
	coreNat, mmeLink := memlink.Pair(link.Native, coreNative, mmeAddr)
	l := &authVLab{edgeFile: writeKeyFile(t, edgeKeys, 0o600), coreFile: writeKeyFile(t, coreKeys, 0o600)}
	// A fast handshake: an edge without the key gives up in a second.
	fast := "sctp: {rto_initial: 100ms, rto_min: 100ms, rto_max: 400ms, max_init_retrans: 3}"
	plan := func(y string) *gateway.Plan {
		cfg, err := gateway.ParseConfig([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		p, err := cfg.Plan(nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	edgePlan := plan(fmt.Sprintf("routes:\n  - name: s1ap-edge\n    listen: sctp://%s:%d\n    forward: udp://%s:9899/%d\n    %s\n    auth: {key_file: %s}\n",
		edgeNative, s1ap, vCore, s1ap, fast, l.edgeFile))
	corePlan := plan(fmt.Sprintf("udp: {listen: \"%s:9899\"}\nroutes:\n  - name: s1ap-core\n    listen: udp://%s:9899/%d\n    forward: sctp://%s:%d\n    %s\n    auth: {key_file: %s, hmac: sha256}\n",
		vCore, vCore, s1ap, mmeAddr, s1ap, fast, l.coreFile))
	if l.edge, err = gateway.New(edgePlan, gateway.Options{Native: edgeNat, UDP: edgeUDPLink, AuthKeyPoll: -1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.edge.Close() })
	if l.core, err = gateway.New(corePlan, gateway.Options{Native: coreNat, UDP: coreUDPLink, AuthKeyPoll: -1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.core.Close() })
	for _, x := range []struct {
		s  **stack.Stack
		lk link.Link
	}{{&l.enb, enbLink}, {&l.mme, mmeLink}} {
		if *x.s, err = stack.New(stack.Config{Links: []link.Link{x.lk}, LoggerFactory: quiet}); err != nil {
			t.Fatal(err)
		}
		s := *x.s
		t.Cleanup(func() { s.Close("") })
	}
	if l.mmeLn, err = l.mme.Listen(s1ap, stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 8, MaxInStreams: 8}}); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *authVLab) dial(ctx context.Context) (*stack.Assoc, error) {
	return l.enb.Dial(ctx, 0, link.Path{Local: enbAddr, Remote: edgeNative}, 0, s1ap, stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 8, MaxInStreams: 8}})
}

func coreAuth(t *testing.T, g *gateway.Gateway) gateway.AuthStatus {
	t.Helper()
	a := g.Snapshot().Auth
	if len(a) != 1 {
		t.Fatalf("snapshot has %d auth entries", len(a))
	}
	return a[0]
}

// TestAuthGatewayTunnel: edge and core holding the key: a pair comes up
// through the NAT and carries messages both ways; status shows the
// authenticated packets per route and per key.
func TestAuthGatewayTunnel(t *testing.T) {
	l := newAuthVLab(t, "1 "+hexKey1+"\n", "1 "+hexKey1+"\n")
	ctx := testlab.Ctx(t, 30*time.Second)
	enb, err := l.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mme, err := l.mmeLn.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := testlab.Exchange(ctx, enb, mme, testlab.SmallFlow, 100, 4000, 0); err != nil {
		t.Fatal(err)
	}
	a := coreAuth(t, l.core)
	// Packets, not messages: the runtime bundles what one read delivers,
	// so under load fewer packets carry the 100 messages.
	if a.Authenticated < 10 || a.Signed < 10 || a.BadMAC != 0 || a.Unauthenticated != 0 || len(a.Keys) != 1 || !a.Keys[0].Active || a.Keys[0].In != a.Authenticated {
		t.Errorf("core auth status %+v", a)
	}
	text := gateway.FormatSnapshot(l.core.Snapshot())
	if !strings.Contains(text, "auth s1ap-core: active key 1; received ") || !strings.Contains(text, "  key 1 (active): in ") {
		t.Errorf("status text:\n%s", text)
	}
	var rs *gateway.RouteStats
	for _, r := range l.core.Stats().Routes {
		if r.Name == "s1ap-core" {
			rs = &r
		}
	}
	if rs == nil || rs.Auth == nil || rs.Auth.Authenticated == 0 {
		t.Errorf("route stats for metrics lack auth: %+v", rs)
	}
}

// TestAuthGatewayWrongKey: an edge with another key: the eNB's connect
// fails, nothing reaches the MME, and the core's status counts the bad
// MACs.
func TestAuthGatewayWrongKey(t *testing.T) {
	l := newAuthVLab(t, "1 "+hexKey2+"\n", "1 "+hexKey1+"\n")
	ctx := testlab.Ctx(t, 30*time.Second)
	if x, err := l.dial(ctx); err == nil {
		t.Fatalf("the eNB got an association: %v", x.Status())
	}
	if n := l.mme.Stats().InSCTPPacks; n != 0 {
		t.Errorf("%d packets reached the MME", n)
	}
	if a := coreAuth(t, l.core); a.BadMAC == 0 || a.Authenticated != 0 || a.Keys[0].BadMAC == 0 {
		t.Errorf("core auth status %+v", a)
	}
	if s := l.core.Snapshot(); s.Discards.BadAuth == 0 || s.Gateway.PairsOpened != 0 {
		t.Errorf("core discards %+v, pairs opened %d", s.Discards, s.Gateway.PairsOpened)
	}
}

// TestAuthGatewayKeyRotation rotates the tunnel key through the key files
// while a pair carries traffic both ways: key 2 added to both files, made
// active in the edge's, then in the core's, key 1 removed from both, each
// step followed by ReloadAuthKeys (what the file watcher does). Nothing is
// lost and the pair stays up. A key file that turns world-readable is
// refused on reload and the keys in use stay.
func TestAuthGatewayKeyRotation(t *testing.T) {
	l := newAuthVLab(t, "1 "+hexKey1+"\n", "1 "+hexKey1+"\n")
	ctx := testlab.Ctx(t, time.Minute)
	enb, err := l.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mme, err := l.mmeLn.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reload := func(gs ...*gateway.Gateway) {
		t.Helper()
		for _, g := range gs {
			if err := g.ReloadAuthKeys(); err != nil {
				t.Fatal(err)
			}
		}
	}
	both := "1 " + hexKey1 + " active\n2 " + hexKey2 + "\n"
	steps := []func(){
		func() { write(l.coreFile, both); write(l.edgeFile, both); reload(l.core, l.edge) },
		func() { write(l.edgeFile, "1 "+hexKey1+"\n2 "+hexKey2+" active\n"); reload(l.edge) },
		func() { write(l.coreFile, "1 "+hexKey1+"\n2 "+hexKey2+" active\n"); reload(l.core) },
		func() {
			write(l.coreFile, "2 "+hexKey2+"\n")
			write(l.edgeFile, "2 "+hexKey2+"\n")
			reload(l.core, l.edge)
		},
	}
	var wg sync.WaitGroup
	var xerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, xerr = testlab.Exchange(ctx, enb, mme, testlab.SmallFlow, 2000, 2000, 2*time.Millisecond)
	}()
	for _, step := range steps {
		time.Sleep(300 * time.Millisecond)
		step()
	}
	wg.Wait()
	if xerr != nil {
		t.Fatalf("traffic during the rotation: %v", xerr)
	}
	if st := enb.Status().State; st != engine.StateEstablished {
		t.Fatalf("eNB association %v after the rotation", st)
	}
	for name, g := range map[string]*gateway.Gateway{"edge": l.edge, "core": l.core} {
		a := coreAuth(t, g)
		if a.ActiveKey != 2 || len(a.Keys) != 1 || a.Keys[0].ID != 2 || a.Keys[0].In == 0 || a.BadMAC != 0 || a.Unauthenticated != 0 {
			t.Errorf("%s after rotation: %+v", name, a)
		}
	}
	// A careless edit: the file becomes readable by others.
	if err := os.Chmod(l.coreFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.core.ReloadAuthKeys(); !errors.Is(err, gateway.ErrKeyFileMode) {
		t.Fatalf("reload of a world-readable file: %v", err)
	}
	if _, _, err := testlab.Exchange(ctx, enb, mme, testlab.SmallFlow+2, 50, 2000, 0); err != nil {
		t.Fatalf("after a refused reload: %v", err)
	}
}
