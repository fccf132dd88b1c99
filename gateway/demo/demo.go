// Package demo is a whole sctpgw lab in one process, with no root and no
// setup: a simulated eNB speaks native SCTP to an edge gateway, which
// tunnels it over UDP through a NAT to a core gateway, which speaks native
// SCTP to a simulated MME.
//
//	eNB 198.18.1.10 --sctp--> edge 198.18.1.1 | edge 198.18.10.2 --udp--> NAT 198.19.0.1 --> core 198.19.0.10:9899 | core 198.18.2.1 --sctp--> MME 198.18.2.10
//
// The native legs are in-memory links; the UDP leg runs the real RFC 6951
// link over pion's virtual network with a NAT (vnet). Run checks what it
// shows and returns an error when something does not hold.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v3/vnet"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/stack/wire"
	"github.com/sctpgw/sctpgw/udpencap"
)

var (
	enbAddr    = netip.MustParseAddr("198.18.1.10")
	edgeNative = netip.MustParseAddr("198.18.1.1")
	edgeLAN    = "198.18.10.2"
	natPublic  = "198.19.0.1"
	coreWAN    = "198.19.0.10"
	coreNative = netip.MustParseAddr("198.18.2.1")
	mmeAddr    = netip.MustParseAddr("198.18.2.10")
)

const (
	s1apPort = 36412
	ppidS1AP = 18 // IANA PPID for S1AP
)

// Options tune the demo.
type Options struct {
	// Messages is how many S1AP-like messages the eNB sends (default 12).
	Messages int
	// Logger receives the gateways' logs (nil: warnings and errors on
	// standard error).
	Logger *slog.Logger
}

// Report is what the demo measured.
type Report struct {
	Sent, Received   int
	Replies          int
	Handshake        time.Duration
	NATPort          uint16 // the UDP port the core saw the edge at
	ShutdownComplete bool
	AbortReason      string
	EdgeStatus       string
	Elapsed          time.Duration
}

type lab struct {
	w          io.Writer
	wan        *vnet.Router
	edge, core *gateway.Gateway
	enb, mme   *stack.Stack
	mmeLn      *stack.Listener
}

// Run builds the lab, runs the scenario, prints what happens to w and tears
// everything down.
func Run(ctx context.Context, w io.Writer, o Options) (*Report, error) {
	if o.Messages <= 0 {
		o.Messages = 12
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	start := time.Now()
	l := &lab{w: w}
	defer l.close()
	if err := l.build(o); err != nil {
		return nil, err
	}
	rep := &Report{}
	err := l.scenario(ctx, o, rep)
	rep.Elapsed = time.Since(start)
	return rep, err
}

func (l *lab) say(f string, a ...any) { fmt.Fprintf(l.w, f+"\n", a...) }

func (l *lab) build(o Options) error {
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelError

	// The UDP leg: a LAN behind a NAT (endpoint-independent mapping,
	// port-restricted filtering: the common home router), a public WAN.
	var err error
	l.wan, err = vnet.NewRouter(&vnet.RouterConfig{CIDR: "198.19.0.0/24", LoggerFactory: quiet})
	if err != nil {
		return err
	}
	coreNet, err := vnet.NewNet(&vnet.NetConfig{StaticIP: coreWAN})
	if err != nil {
		return err
	}
	if err := l.wan.AddNet(coreNet); err != nil {
		return err
	}
	lan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "198.18.10.0/24", StaticIPs: []string{natPublic}, LoggerFactory: quiet,
		NATType: &vnet.NATType{MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointAddrPortDependent}})
	if err != nil {
		return err
	}
	if err := l.wan.AddRouter(lan); err != nil {
		return err
	}
	edgeNet, err := vnet.NewNet(&vnet.NetConfig{StaticIP: edgeLAN})
	if err != nil {
		return err
	}
	if err := lan.AddNet(edgeNet); err != nil {
		return err
	}
	if err := l.wan.Start(); err != nil {
		return err
	}
	edgeUDP, err := udpencap.Listen(udpencap.Config{Net: edgeNet, Addr: netip.MustParseAddrPort(edgeLAN + ":9899")})
	if err != nil {
		return err
	}
	coreUDP, err := udpencap.Listen(udpencap.Config{Net: coreNet, Addr: netip.MustParseAddrPort(coreWAN + ":9899")})
	if err != nil {
		return err
	}
	// The native legs: in-memory links.
	enbLink, edgeNat := memlink.Pair(link.Native, enbAddr, edgeNative)
	coreNat, mmeLink := memlink.Pair(link.Native, coreNative, mmeAddr)

	edgeCfg, err := gateway.ParseConfig([]byte(fmt.Sprintf(`
routes:
  - name: s1ap-edge
    listen: sctp://%s:%d
    forward: udp://%s:9899/%d
    acl: {default: allow}
`, edgeNative, s1apPort, coreWAN, s1apPort)))
	if err != nil {
		return err
	}
	coreCfg, err := gateway.ParseConfig([]byte(fmt.Sprintf(`
udp: {listen: "%s:9899"}
routes:
  - name: s1ap-core
    listen: udp://%s:9899/%d
    forward: sctp://%s:%d
    acl:
      default: deny
      rules: ["allow from %s/32 port %d link udp"]
`, coreWAN, coreWAN, s1apPort, mmeAddr, s1apPort, natPublic, s1apPort)))
	if err != nil {
		return err
	}
	edgePlan, err := edgeCfg.Plan(nil)
	if err != nil {
		return err
	}
	corePlan, err := coreCfg.Plan(nil)
	if err != nil {
		return err
	}
	if l.edge, err = gateway.New(edgePlan, gateway.Options{Native: edgeNat, UDP: edgeUDP, Logger: o.Logger.With("gateway", "edge")}); err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	if l.core, err = gateway.New(corePlan, gateway.Options{Native: coreNat, UDP: coreUDP, Logger: o.Logger.With("gateway", "core")}); err != nil {
		return fmt.Errorf("core: %w", err)
	}
	if l.enb, err = stack.New(stack.Config{Links: []link.Link{enbLink}, LoggerFactory: quiet}); err != nil {
		return err
	}
	if l.mme, err = stack.New(stack.Config{Links: []link.Link{mmeLink}, LoggerFactory: quiet}); err != nil {
		return err
	}
	l.mmeLn, err = l.mme.Listen(s1apPort, stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 8}})
	return err
}

func (l *lab) close() {
	for _, s := range []*stack.Stack{l.enb, l.mme} {
		if s != nil {
			s.Close("")
		}
	}
	for _, g := range []*gateway.Gateway{l.edge, l.core} {
		if g != nil {
			g.Close()
		}
	}
	if l.wan != nil {
		l.wan.Stop()
	}
}

// s1apMessages are S1AP-like payloads: procedure names standing in for the
// ASN.1, on the streams S1AP uses (0 for non-UE signalling, others per UE).
func s1apMessages(n int) []struct {
	data      []byte
	stream    uint16
	unordered bool
} {
	names := []string{"S1SetupRequest", "InitialUEMessage", "UplinkNASTransport", "InitialContextSetupResponse",
		"UECapabilityInfoIndication", "UEContextReleaseRequest", "ENBConfigurationUpdate", "Reset"}
	out := make([]struct {
		data      []byte
		stream    uint16
		unordered bool
	}, n)
	for i := range out {
		out[i].data = fmt.Appendf(nil, "%s #%d %s", names[i%len(names)], i, bytes.Repeat([]byte{'.'}, 40+i*97))
		out[i].stream = uint16(i % 4)
		out[i].unordered = i%5 == 4
	}
	return out
}

func (l *lab) scenario(ctx context.Context, o Options, rep *Report) error {
	l.say("sctpgw demo: eNB -> edge gateway -> UDP through a NAT -> core gateway -> MME, all in this process")
	l.say("  eNB %s --native SCTP--> edge %s | edge %s --SCTP/UDP 9899--> NAT %s --> core %s | core %s --native SCTP--> MME %s",
		enbAddr, edgeNative, edgeLAN, natPublic, coreWAN, coreNative, mmeAddr)
	l.say("")
	t0 := time.Now()
	// The eNB connects to its gateway as if it were the MME.
	enb, err := l.enb.Dial(ctx, 0, link.Path{Local: enbAddr, Remote: edgeNative}, 0, s1apPort,
		stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 8}})
	if err != nil {
		return fmt.Errorf("eNB connect: %w", err)
	}
	rep.Handshake = time.Since(t0)
	mme, err := l.mmeLn.Accept(ctx)
	if err != nil {
		return fmt.Errorf("MME accept: %w", err)
	}
	out, in := enb.Streams()
	l.say("1. association up in %v: eNB has %d outbound / %d inbound streams (what the MME granted, end to end)", rep.Handshake.Round(time.Microsecond), out, in)
	snap := l.core.Snapshot()
	if len(snap.Pairs) == 1 {
		rep.NATPort = snap.Pairs[0].Ingress.EncapPort
		l.say("   the core sees the edge at %s udp/%d: the NAT's mapping, learned from the packets (RFC 6951 5.4)", snap.Pairs[0].Ingress.RemoteAddr, rep.NATPort)
	}

	msgs := s1apMessages(o.Messages)
	l.say("2. eNB sends %d S1AP messages (PPID %d) on streams 0-3, some unordered:", len(msgs), ppidS1AP)
	for _, m := range msgs {
		if err := enb.SendMsg(ctx, m.data, stack.SndInfo{Stream: m.stream, PPID: ppidS1AP, Unordered: m.unordered}); err != nil {
			return fmt.Errorf("eNB send: %w", err)
		}
		rep.Sent++
	}
	got := map[string]bool{}
	for i := range msgs {
		m, err := mme.RecvMsg(ctx)
		if err != nil {
			return fmt.Errorf("MME receive %d: %w", i, err)
		}
		want := -1
		for j := range msgs {
			if bytes.Equal(msgs[j].data, m.Data) {
				want = j
			}
		}
		if want < 0 || got[string(m.Data)] {
			return fmt.Errorf("MME got an unexpected or duplicate message of %d bytes", len(m.Data))
		}
		got[string(m.Data)] = true
		sm := msgs[want]
		if m.Stream != sm.stream || m.PPID != ppidS1AP || m.Unordered != sm.unordered {
			return fmt.Errorf("message %d arrived on stream %d ppid %d unordered %v, sent on %d/%d/%v", want, m.Stream, m.PPID, m.Unordered, sm.stream, ppidS1AP, sm.unordered)
		}
		flag := ""
		if m.Unordered {
			flag = " unordered"
		}
		name, _, _ := bytes.Cut(m.Data, []byte(" "))
		l.say("   MME <- %-28s stream %d ppid %d%s, %d bytes intact", name, m.Stream, m.PPID, flag, len(m.Data))
		rep.Received++
		if i == 0 {
			// The MME answers the first one, back through both gateways.
			if err := mme.SendMsg(ctx, []byte("S1SetupResponse"), stack.SndInfo{Stream: 0, PPID: ppidS1AP}); err != nil {
				return err
			}
		}
	}
	r, err := enb.RecvMsg(ctx)
	if err != nil || string(r.Data) != "S1SetupResponse" || r.PPID != ppidS1AP {
		return fmt.Errorf("eNB reply: %v %q", err, r.Data)
	}
	rep.Replies++
	l.say("   eNB <- S1SetupResponse stream %d ppid %d", r.Stream, r.PPID)
	rep.EdgeStatus = gateway.FormatSnapshot(l.edge.Snapshot())

	l.say("3. eNB shuts down gracefully: SHUTDOWN travels through both gateways")
	mmeDone := make(chan error, 1)
	go func() {
		_, err := mme.RecvMsg(ctx)
		var ae *stack.AssocError
		if errors.As(err, &ae) && ae.Event.Type == engine.ShutdownComp {
			mmeDone <- nil
			return
		}
		mmeDone <- fmt.Errorf("MME side ended with %v", err)
	}()
	if err := enb.Shutdown(ctx); err != nil {
		return fmt.Errorf("eNB shutdown: %w", err)
	}
	if err := <-mmeDone; err != nil {
		return err
	}
	rep.ShutdownComplete = true
	l.say("   SHUTDOWN COMPLETE on both ends")

	l.say("4. a second association; this time the MME aborts with a cause")
	enb2, err := l.enb.Dial(ctx, 0, link.Path{Local: enbAddr, Remote: edgeNative}, 0, s1apPort, stack.Options{NoDelay: true})
	if err != nil {
		return fmt.Errorf("second connect: %w", err)
	}
	mme2, err := l.mmeLn.Accept(ctx)
	if err != nil {
		return err
	}
	const reason = "MME overload: S1AP reset"
	mme2.Abort(&wire.UserInitiatedAbortCause{Reason: []byte(reason)})
	_, err = enb2.RecvMsg(ctx)
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.CommLost || len(ae.Event.Causes) != 1 {
		return fmt.Errorf("eNB after the abort: %v", err)
	}
	uia, ok := ae.Event.Causes[0].(*wire.UserInitiatedAbortCause)
	if !ok || string(uia.Reason) != reason {
		return fmt.Errorf("eNB got cause %#v", ae.Event.Causes[0])
	}
	rep.AbortReason = string(uia.Reason)
	l.say("   eNB got ABORT, cause 12 User-Initiated Abort %q, byte for byte", rep.AbortReason)
	l.say("")
	l.say("report: %d/%d messages delivered with stream, PPID and flags intact, %d reply, graceful shutdown %v, abort cause intact, handshake %v",
		rep.Received, rep.Sent, rep.Replies, rep.ShutdownComplete, rep.Handshake.Round(time.Microsecond))
	return nil
}
