package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
	"github.com/sctpgw/sctpgw/stack/wire"
	"github.com/sctpgw/sctpgw/udpencap"
)

func pingCommand() *cli.Command {
	return &cli.Command{
		Name:      "ping",
		Usage:     "open an association to an SCTP endpoint and measure it",
		ArgsUsage: "sctp://HOST:PORT | udp://HOST:UDPPORT/SCTPPORT | dtls://HOST:PORT/SCTPPORT",
		Description: `Opens an association (natively, which needs CAP_NET_RAW, over RFC 6951
UDP encapsulation, or through the encrypted tunnel of a core gateway's
dtls:// listener with --tls-cert, --tls-key and --tls-ca or --psk-file, as
an edge gateway would: a refused DTLS handshake prints its reason) and reports the handshake time (INIT to COOKIE ACK:
through sctpgw, whose COOKIE ACK waits for the far side, the time to bring
up the whole chain) and the negotiated streams. Then it measures round
trips, and shuts down gracefully:
  by default with on-demand HEARTBEATs, answered by the first SCTP
  endpoint on the path: through gateways, the first gateway;
  with --echo with DATA messages the far peer must echo back (an echo
  server such as examples/echo): the round trip through every gateway.
A refused or failed connect prints the peer's ABORT causes. It exits 1 when
the connect fails, no probe is answered, or the peer ends the association
before the last probe.`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "count", Aliases: []string{"n"}, Value: 10, EnvVars: []string{"SCTPGW_PING_COUNT"}, Usage: "probes to send"},
			&cli.DurationFlag{Name: "interval", Aliases: []string{"i"}, Value: 200 * time.Millisecond, EnvVars: []string{"SCTPGW_PING_INTERVAL"}, Usage: "time between probes"},
			&cli.IntFlag{Name: "streams", Value: 10, EnvVars: []string{"SCTPGW_PING_STREAMS"}, Usage: "outbound streams to ask for"},
			&cli.BoolFlag{Name: "echo", EnvVars: []string{"SCTPGW_PING_ECHO"}, Usage: "measure end to end with DATA the far peer echoes, instead of heartbeats"},
			&cli.IntFlag{Name: "size", Value: 64, EnvVars: []string{"SCTPGW_PING_SIZE"}, Usage: "--echo message size in bytes (at least 8)"},
			&cli.UintFlag{Name: "ppid", EnvVars: []string{"SCTPGW_PING_PPID"}, Usage: "--echo message PPID"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, EnvVars: []string{"SCTPGW_PING_TIMEOUT"}, Usage: "give up on the handshake after this long"},
			&cli.StringFlag{Name: "tls-cert", EnvVars: []string{"SCTPGW_TLS_CERT"}, Usage: "dtls://: our certificate (PEM); with --tls-key and --tls-ca"},
			&cli.StringFlag{Name: "tls-key", EnvVars: []string{"SCTPGW_TLS_KEY"}, Usage: "dtls://: our private key (PEM)"},
			&cli.StringFlag{Name: "tls-ca", EnvVars: []string{"SCTPGW_TLS_CA"}, Usage: "dtls://: the CA the gateway's certificate must chain to"},
			&cli.StringFlag{Name: "tls-peer-name", EnvVars: []string{"SCTPGW_TLS_PEER_NAME"}, Usage: "dtls://: the name the gateway's certificate must carry (optional)"},
			&cli.StringFlag{Name: "psk-file", EnvVars: []string{"SCTPGW_PSK_FILE"}, Usage: "dtls://: a pre-shared key file ([IDENTITY:]HEXKEY) instead of certificates"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("ping takes one URL")
			}
			ep, err := gateway.ParseEndpoint(c.Args().First(), gateway.ResolveHost)
			if err != nil {
				return err
			}
			return ping(c, ep)
		},
	}
}

func ping(c *cli.Context, ep gateway.Endpoint) error {
	w := c.App.Writer
	localPort := uint16(49152 + rand.IntN(16384))
	var l link.Link
	var err error
	p := link.Path{Remote: ep.Addr}
	switch {
	case ep.Encap:
		l, err = udpencap.Listen(udpencap.Config{EphemeralPort: true})
		p.RemotePort = ep.UDPPort
	case ep.DTLS:
		l, err = dtlsLink(c, ep)
		p.RemotePort = ep.UDPPort
	default:
		l, err = rawip.Listen(rawip.Config{Ports: []uint16{localPort}})
	}
	if err != nil {
		return err
	}
	lf := toolLogger(os.Stderr, slog.LevelWarn)
	st, err := stack.New(stack.Config{Links: []link.Link{l}, LoggerFactory: lf})
	if err != nil {
		l.Close()
		return err
	}
	defer st.Close("sctpgw ping: done")
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	t0 := time.Now()
	// A multi-homed target's other addresses are tried when the first does
	// not answer (sctp_connectx).
	a, err := st.DialWith(ctx, 0, p, localPort, ep.SCTPPort, stack.DialOptions{PeerAddrs: ep.Addrs[1:], Options: stack.Options{NoDelay: true,
		InitMsg: engine.InitMsg{OutStreams: uint16(c.Int("streams")), MaxInStreams: 65535}}})
	if err != nil {
		var ae *stack.AssocError
		if errors.As(err, &ae) {
			for _, cs := range ae.Event.Causes {
				fmt.Fprintf(w, "peer cause: %v\n", describeCause(cs))
			}
		}
		return fmt.Errorf("connect %s: %w", ep, err)
	}
	hs := time.Since(t0)
	out, in := a.Streams()
	// Through a gateway the COOKIE ACK waits for the far side to be up:
	// the handshake time covers the whole chain.
	fmt.Fprintf(w, "connected to %s in %v (INIT to COOKIE ACK, through a gateway up to the far end): streams out %d in %d (from local port %d)\n",
		ep, hs.Round(time.Microsecond), out, in, localPort)
	if c.Bool("echo") {
		fmt.Fprintf(w, "measuring end to end: DATA of %d bytes echoed by the far peer (it must echo, like examples/echo)\n", max(c.Int("size"), 8))
		return measure(c, a, "echo", echoProber(a, c.Int("size"), uint32(c.Uint("ppid"))))
	}
	fmt.Fprintln(w, "measuring heartbeat round trips: answered by the first SCTP endpoint on the path (a gateway answers for itself); --echo measures end to end")
	return measure(c, a, "heartbeat", heartbeatProber(a))
}

// dtlsLink is an edge's DTLS link to the one gateway of ep, with the
// credentials of the flags (the run command's names).
func dtlsLink(c *cli.Context, ep gateway.Endpoint) (link.Link, error) {
	files := dtlslink.Files{CertFile: c.String("tls-cert"), KeyFile: c.String("tls-key"), CAFile: c.String("tls-ca"),
		PeerName: c.String("tls-peer-name"), PSKFile: c.String("psk-file")}
	if files == (dtlslink.Files{}) {
		return nil, fmt.Errorf("%s: --tls-cert, --tls-key and --tls-ca (or --psk-file) are needed", ep)
	}
	creds, err := files.Load()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep, err)
	}
	peer := netip.AddrPortFrom(ep.Addr, ep.UDPPort)
	return dtlslink.New(dtlslink.Config{Peers: map[netip.AddrPort]*dtlslink.Credentials{peer: creds},
		HandshakeTimeout: c.Duration("timeout")})
}

func describeCause(c engine.Cause) string {
	if u, ok := c.(*wire.UserInitiatedAbortCause); ok {
		return fmt.Sprintf("%v: %q", c.CauseCode(), u.Reason)
	}
	return fmt.Sprintf("%v %+v", c.CauseCode(), c)
}
