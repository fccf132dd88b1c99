package gateway_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v3/vnet"

	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// dtlsLab: eNB -native- edge =DTLS through a NAT= core -native- MME, the
// gateways planned from YAML with their tls blocks, over pion's vnet.
type dtlsLab struct {
	enb, mme   *stack.Stack
	mmeLn      *stack.Listener
	edge, core *gateway.Gateway
}

func newDTLSLab(t *testing.T, coreTLS, edgeTLS string) *dtlsLab {
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
	coreNet, err := vnet.NewNet(&vnet.NetConfig{StaticIP: "203.0.113.10"})
	must(err)
	must(wan.AddNet(coreNet))
	lan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.1.0.0/24", StaticIPs: []string{"203.0.113.1"}, LoggerFactory: lf,
		NATType: &vnet.NATType{MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointAddrPortDependent}})
	must(err)
	must(wan.AddRouter(lan))
	edgeNet, err := vnet.NewNet(&vnet.NetConfig{StaticIP: "10.1.0.2"})
	must(err)
	must(lan.AddNet(edgeNet))
	must(wan.Start())
	t.Cleanup(func() { wan.Stop() })

	enbAddr, edgeNative := netip.MustParseAddr("198.18.1.10"), netip.MustParseAddr("198.18.1.1")
	coreNative, mmeAddr := netip.MustParseAddr("198.18.2.1"), netip.MustParseAddr("198.18.2.10")
	enbLink, edgeNat := memlink.Pair(link.Native, enbAddr, edgeNative)
	coreNat, mmeLink := memlink.Pair(link.Native, coreNative, mmeAddr)
	plan := func(doc string) *gateway.Plan {
		c, err := gateway.ParseConfig([]byte(doc))
		must(err)
		p, err := c.Plan(nil)
		must(err)
		return p
	}
	l := &dtlsLab{}
	l.edge, err = gateway.New(plan(fmt.Sprintf(`
routes:
  - name: s1ap
    listen: sctp://198.18.1.1:36412
    forward: dtls://203.0.113.10:4740/36412
    %s
`, edgeTLS)), gateway.Options{Native: edgeNat, DTLSNet: edgeNet})
	must(err)
	t.Cleanup(func() { l.edge.Close() })
	l.core, err = gateway.New(plan(fmt.Sprintf(`
routes:
  - name: s1ap
    listen: dtls://203.0.113.10:4740/36412
    forward: sctp://198.18.2.10:36412
    %s
`, coreTLS)), gateway.Options{Native: coreNat, DTLSNet: coreNet})
	must(err)
	t.Cleanup(func() { l.core.Close() })
	for _, x := range []struct {
		s  **stack.Stack
		lk link.Link
	}{{&l.enb, enbLink}, {&l.mme, mmeLink}} {
		st, err := stack.New(stack.Config{Links: []link.Link{x.lk}})
		must(err)
		t.Cleanup(func() { st.Close("") })
		*x.s = st
	}
	l.mmeLn, err = l.mme.Listen(36412, enbOpts)
	must(err)
	return l
}

var enbOpts = stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 10, MaxInStreams: 10}}

func tlsBlock(f dtlslink.Files) string {
	return fmt.Sprintf("tls: {cert_file: %q, key_file: %q, ca_file: %q}", f.CertFile, f.KeyFile, f.CAFile)
}

func dtlsLink(s gateway.Snapshot) gateway.LinkStatus {
	for _, l := range s.Links {
		if l.Kind == "dtls" {
			return l
		}
	}
	return gateway.LinkStatus{}
}

// TestPairOverDTLS: the pair through the DTLS tunnel carries messages with
// stream, PPID and unordered flag intact both ways; the status shows the
// one session and its identity.
func TestPairOverDTLS(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	cf, kf := ca.IssueValid(t, "core.lab")
	ef, ek := ca.IssueValid(t, "edge.lab")
	l := newDTLSLab(t, tlsBlock(dtlslink.Files{CertFile: cf, KeyFile: kf, CAFile: ca.File}),
		tlsBlock(dtlslink.Files{CertFile: ef, KeyFile: ek, CAFile: ca.File}))
	ctx := testlab.Ctx(t, 30*time.Second)
	for i := 0; i < 2; i++ {
		c, s := testlab.DialAccept(t, ctx, l.enb, link.Path{Remote: netip.MustParseAddr("198.18.1.1")}, 0, 36412, enbOpts, l.mmeLn)
		if _, _, err := testlab.Exchange(ctx, c, s, uint32(1+2*i), 200, 20000, 0); err != nil {
			t.Fatal(err)
		}
	}
	es, cs := l.edge.Snapshot(), l.core.Snapshot()
	if d := dtlsLink(es); d.Sessions != 1 || d.SessionsOpened != 1 {
		t.Fatalf("edge's DTLS link %+v: want one session for both pairs", d)
	}
	if len(cs.DTLSSessions) != 1 || cs.DTLSSessions[0].Identity != "CN=edge.lab" || len(cs.Pairs) != 2 {
		t.Fatalf("core: sessions %+v, %d pairs", cs.DTLSSessions, len(cs.Pairs))
	}
	if k := cs.Pairs[0].Ingress.Link; k != "dtls" {
		t.Fatalf("core's ingress side is on link %q, want dtls", k)
	}
}

// TestDTLSRefusalIsNoPair: an edge whose certificate is of another CA gets
// no pair: the eNB's connect fails with an ABORT whose reason names the
// DTLS session, the MME never hears an INIT (nothing is dialled before the
// session is authenticated), and the core counts the refusal as
// unknown_ca in its status.
func TestDTLSRefusalIsNoPair(t *testing.T) {
	ca, rogue := testlab.NewCA(t, "lab"), testlab.NewCA(t, "rogue")
	cf, kf := ca.IssueValid(t, "core.lab")
	ef, ek := rogue.IssueValid(t, "edge.lab")
	l := newDTLSLab(t, tlsBlock(dtlslink.Files{CertFile: cf, KeyFile: kf, CAFile: ca.File}),
		tlsBlock(dtlslink.Files{CertFile: ef, KeyFile: ek, CAFile: ca.File}))
	ctx := testlab.Ctx(t, 30*time.Second)
	_, err := l.enb.Dial(ctx, 0, link.Path{Remote: netip.MustParseAddr("198.18.1.1")}, 0, 36412, enbOpts)
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.CantStartAssoc || len(ae.Event.Causes) != 1 {
		t.Fatalf("eNB's connect: %v; want refused with an ABORT", err)
	}
	u, ok := ae.Event.Causes[0].(*wire.UserInitiatedAbortCause)
	if !ok || !strings.Contains(string(u.Reason), "dtls session to 203.0.113.10:4740") {
		t.Fatalf("ABORT cause %v; want a reason naming the DTLS session", ae.Event.Causes[0])
	}
	t.Logf("eNB's connect refused: %q", u.Reason)
	testlab.WaitFor(t, 5*time.Second, "the core counting unknown_ca", func() bool {
		return dtlsLink(l.core.Snapshot()).Refused[dtlslink.ReasonUnknownCA] == 1
	})
	if st := l.mme.Stats(); st.InSCTPPacks != 0 {
		t.Fatalf("the MME received %d packets: the core dialled for an unauthenticated edge", st.InSCTPPacks)
	}
	if s := l.core.Snapshot(); len(s.Pairs) != 0 || s.SNMP["SctpInSCTPPacks"] != 0 {
		t.Fatalf("the core's stack saw SCTP from a refused edge: %+v", s.SNMP)
	}
	if c := l.edge.Snapshot().Gateway; c.PairsFailed != 1 {
		t.Fatalf("edge counters %+v: want one failed pair", c)
	}
}

// TestACLLinkDTLS: a core route whose ACL admits only the encrypted tunnel
// ("allow link dtls", "drop link udp") takes the pair over DTLS; one that
// denies "link dtls" refuses it with an ABORT naming the policy, even
// though it allows "link udp": a DTLS side is a link kind of its own.
func TestACLLinkDTLS(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	cf, kf := ca.IssueValid(t, "core.lab")
	ef, ek := ca.IssueValid(t, "edge.lab")
	coreTLS := tlsBlock(dtlslink.Files{CertFile: cf, KeyFile: kf, CAFile: ca.File})
	edgeTLS := tlsBlock(dtlslink.Files{CertFile: ef, KeyFile: ek, CAFile: ca.File})
	enbAt := link.Path{Remote: netip.MustParseAddr("198.18.1.1")}

	l := newDTLSLab(t, coreTLS+`
    acl: {default: deny, rules: ["drop link udp", "allow from 203.0.113.0/24 port 36412 link dtls"]}`, edgeTLS)
	ctx := testlab.Ctx(t, 30*time.Second)
	c, s := testlab.DialAccept(t, ctx, l.enb, enbAt, 0, 36412, enbOpts, l.mmeLn)
	if _, _, err := testlab.Exchange(ctx, c, s, 1, 50, 2000, 0); err != nil {
		t.Fatal(err)
	}

	l = newDTLSLab(t, coreTLS+`
    acl: {default: deny, rules: ["deny link dtls", "allow link udp"]}`, edgeTLS)
	_, err := l.enb.Dial(ctx, 0, enbAt, 0, 36412, enbOpts)
	var ae *stack.AssocError
	if !errors.As(err, &ae) || len(ae.Event.Causes) != 1 {
		t.Fatalf("eNB's connect through a core denying link dtls: %v; want refused with an ABORT", err)
	}
	u, ok := ae.Event.Causes[0].(*wire.UserInitiatedAbortCause)
	if !ok || !strings.Contains(string(u.Reason), "deny link dtls") {
		t.Fatalf("ABORT cause %v; want the policy's rule named", ae.Event.Causes[0])
	}
	if st := l.mme.Stats(); st.InSCTPPacks != 0 {
		t.Fatalf("the MME received %d packets from a denied pair", st.InSCTPPacks)
	}
}
