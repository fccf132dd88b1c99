package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/udpencap"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure this machine: one association, one direction, in memory or over loopback UDP",
		Description: `Sends messages of --size bytes for --duration over an in-memory link
(--link mem: the stack alone) or RFC 6951 UDP on 127.0.0.1 (--link udp: the
stack plus the kernel), and prints messages/s and throughput. For
comparisons with pion/sctp and usrsctp, see bench/README.md.`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "size", Value: 1024, Usage: "message size in bytes"},
			&cli.DurationFlag{Name: "duration", Value: 3 * time.Second, Usage: "how long to send"},
			&cli.StringFlag{Name: "link", Value: "mem", Usage: "mem or udp"},
		},
		Action: func(c *cli.Context) error {
			return runBench(c, c.String("link"), c.Int("size"), c.Duration("duration"))
		},
	}
}

func runBench(c *cli.Context, kind string, size int, d time.Duration) error {
	a := netip.MustParseAddr("127.0.0.1")
	var la, lb link.Link
	var p link.Path
	switch kind {
	case "mem":
		ea, eb := memlink.Pair(link.UDP, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"))
		la, lb = ea, eb
		p = link.Path{Remote: netip.MustParseAddr("198.18.0.2"), RemotePort: 9899}
	case "udp":
		ua, err := udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(a, 0), EphemeralPort: true, ReadBuffer: 8 << 20, WriteBuffer: 8 << 20})
		if err != nil {
			return err
		}
		ub, err := udpencap.Listen(udpencap.Config{Addr: netip.AddrPortFrom(a, 0), EphemeralPort: true, ReadBuffer: 8 << 20, WriteBuffer: 8 << 20})
		if err != nil {
			ua.Close()
			return err
		}
		la, lb = ua, ub
		p = link.Path{Remote: a, RemotePort: ub.LocalPort()}
	default:
		return fmt.Errorf("--link %q: expected mem or udp", kind)
	}
	lf := toolLogger(os.Stderr, slog.LevelError)
	sa, err := stack.New(stack.Config{Links: []link.Link{la}, LoggerFactory: lf})
	if err != nil {
		return err
	}
	defer sa.Close("")
	sb, err := stack.New(stack.Config{Links: []link.Link{lb}, LoggerFactory: lf})
	if err != nil {
		return err
	}
	defer sb.Close("")
	opts := stack.Options{NoDelay: true, RecvBuffer: 4 << 20, SendBuffer: 4 << 20}
	ln, err := sb.Listen(5000, opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, d+30*time.Second)
	defer cancel()
	got := make(chan [2]int, 1)
	go func() {
		x, err := ln.Accept(ctx)
		if err != nil {
			got <- [2]int{}
			return
		}
		n, bytes := 0, 0
		for {
			m, err := x.RecvMsg(ctx)
			if err != nil {
				break
			}
			n++
			bytes += len(m.Data)
		}
		got <- [2]int{n, bytes}
	}()
	x, err := sa.Dial(ctx, 0, p, 0, 5000, opts)
	if err != nil {
		return err
	}
	start := time.Now()
	sent := 0
	for time.Since(start) < d {
		if err := x.SendMsg(ctx, make([]byte, size), stack.SndInfo{PPID: 18}); err != nil {
			return err
		}
		sent++
	}
	if err := x.Shutdown(ctx); err != nil {
		return err
	}
	el := time.Since(start)
	r := <-got
	if r[0] != sent {
		return fmt.Errorf("sent %d messages, %d arrived", sent, r[0])
	}
	fmt.Fprintf(c.App.Writer, "%s link, %d-byte messages: %d in %v: %.0f msgs/s, %.1f MB/s (%.0f Mbit/s)\n",
		kind, size, r[0], el.Round(time.Millisecond), float64(r[0])/el.Seconds(), float64(r[1])/el.Seconds()/1e6, float64(r[1])*8/el.Seconds()/1e6)
	return nil
}
