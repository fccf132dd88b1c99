package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

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
		ArgsUsage: "sctp://HOST:PORT | udp://HOST:UDPPORT/SCTPPORT",
		Description: `Opens an association (natively, which needs CAP_NET_RAW, or over RFC 6951
UDP encapsulation), reports the handshake time and the negotiated streams,
sends on-demand heartbeats and reports their round-trip percentiles, then
shuts down gracefully. A refused or failed connect prints the peer's ABORT
causes.`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "count", Aliases: []string{"n"}, Value: 10, EnvVars: []string{"SCTPGW_PING_COUNT"}, Usage: "heartbeats to send"},
			&cli.DurationFlag{Name: "interval", Aliases: []string{"i"}, Value: 200 * time.Millisecond, EnvVars: []string{"SCTPGW_PING_INTERVAL"}, Usage: "time between heartbeats"},
			&cli.IntFlag{Name: "streams", Value: 10, EnvVars: []string{"SCTPGW_PING_STREAMS"}, Usage: "outbound streams to ask for"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, EnvVars: []string{"SCTPGW_PING_TIMEOUT"}, Usage: "give up on the handshake after this long"},
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
	if ep.Encap {
		l, err = udpencap.Listen(udpencap.Config{EphemeralPort: true})
		p.RemotePort = ep.UDPPort
	} else {
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
	a, err := st.Dial(ctx, 0, p, localPort, ep.SCTPPort, stack.Options{NoDelay: true,
		InitMsg: engine.InitMsg{OutStreams: uint16(c.Int("streams")), MaxInStreams: 65535}})
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
	fmt.Fprintf(w, "connected to %s in %v: streams out %d in %d (from local port %d)\n", ep, hs.Round(time.Microsecond), out, in, localPort)
	var rtts []time.Duration
	for i := 0; i < c.Int("count"); i++ {
		hctx, hcancel := context.WithTimeout(c.Context, 5*time.Second)
		rtt, err := a.Heartbeat(hctx)
		hcancel()
		if err != nil {
			fmt.Fprintf(w, "heartbeat %d: %v\n", i+1, err)
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			break
		}
		rtts = append(rtts, rtt)
		fmt.Fprintf(w, "heartbeat %d: rtt %v\n", i+1, rtt.Round(time.Microsecond))
		time.Sleep(c.Duration("interval"))
	}
	if len(rtts) > 0 {
		slices.Sort(rtts)
		pc := func(q float64) time.Duration {
			return rtts[min(len(rtts)-1, int(q*float64(len(rtts))))].Round(time.Microsecond)
		}
		fmt.Fprintf(w, "rtt min %v p50 %v p90 %v p99 %v max %v (%d/%d answered)\n", rtts[0].Round(time.Microsecond), pc(0.5), pc(0.9), pc(0.99), rtts[len(rtts)-1].Round(time.Microsecond), len(rtts), c.Int("count"))
	}
	sctx, scancel := context.WithTimeout(c.Context, 5*time.Second)
	defer scancel()
	if err := a.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(w, "shut down gracefully")
	return nil
}

func describeCause(c engine.Cause) string {
	if u, ok := c.(*wire.UserInitiatedAbortCause); ok {
		return fmt.Sprintf("%v: %q", c.CauseCode(), u.Reason)
	}
	return fmt.Sprintf("%v %+v", c.CauseCode(), c)
}
