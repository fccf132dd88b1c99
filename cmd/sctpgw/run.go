package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/gateway"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run the gateway",
		Description: `Routes come from --config FILE, or for the common single route from
--listen and --forward:

  sctpgw run --listen sctp://0.0.0.0:36412 --forward udp://core.example:9899/36412
  sctpgw run --listen udp://0.0.0.0:9899/36412 --forward sctp://198.18.2.10:36412

SIGTERM and SIGINT drain: every pair is shut down gracefully within
--drain-timeout, then what remains is aborted with a reason. SIGHUP is
ignored: routes are fixed for the life of the process (restart to change
them; existing pairs would otherwise have to be re-homed).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"SCTPGW_CONFIG"}, Usage: "YAML route configuration"},
			&cli.StringFlag{Name: "listen", EnvVars: []string{"SCTPGW_LISTEN"}, Usage: "listen side: sctp://ADDR:PORT or udp://ADDR:UDPPORT/SCTPPORT"},
			&cli.StringFlag{Name: "forward", EnvVars: []string{"SCTPGW_FORWARD"}, Usage: "forward side: sctp://HOST:PORT or udp://HOST:UDPPORT/SCTPPORT"},
			&cli.StringFlag{Name: "udp", EnvVars: []string{"SCTPGW_UDP"}, Usage: "UDP address for encapsulation (default 0.0.0.0:9899)"},
			&cli.StringFlag{Name: "admin", Value: "127.0.0.1:9900", EnvVars: []string{"SCTPGW_ADMIN"}, Usage: "status endpoint address (empty: off)"},
			&cli.DurationFlag{Name: "drain-timeout", Value: 10 * time.Second, EnvVars: []string{"SCTPGW_DRAIN_TIMEOUT"}, Usage: "how long SIGTERM waits for graceful shutdowns"},
			&cli.StringFlag{Name: "pcap", EnvVars: []string{"SCTPGW_PCAP"}, Usage: "write every SCTP packet sent and received to this pcap file"},
			&cli.StringFlag{Name: "log", Value: "info", EnvVars: []string{"SCTPGW_LOG"}, Usage: "log levels: LEVEL[,scope=LEVEL...] (scopes: gateway, pair, sctp)"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := runConfig(c)
			if err != nil {
				return err
			}
			lf, err := loggerFactory(c.String("log"))
			if err != nil {
				return err
			}
			opts := gateway.Options{LoggerFactory: lf}
			if f := c.String("pcap"); f != "" {
				pf, err := os.Create(f)
				if err != nil {
					return fmt.Errorf("--pcap: %w", err)
				}
				defer pf.Close()
				opts.Pcap = pf
			}
			g, err := gateway.New(cfg, opts)
			if err != nil {
				return err
			}
			log := lf.NewLogger("gateway")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if cfg.Admin != "" {
				go func() {
					if err := g.ServeAdmin(ctx, cfg.Admin); err != nil {
						log.Errorf("%v", err)
					}
				}()
			}
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
			for s := range sig {
				if s == syscall.SIGHUP {
					log.Warn("SIGHUP: routes are fixed while running; restart to reload them")
					continue
				}
				break
			}
			timeout := c.Duration("drain-timeout")
			if cfg.DrainTimeout != 0 {
				timeout = time.Duration(cfg.DrainTimeout)
			}
			log.Infof("draining (up to %v)", timeout)
			dctx, dcancel := context.WithTimeout(context.Background(), timeout)
			defer dcancel()
			return g.Drain(dctx)
		},
	}
}

// runConfig reads --config, or builds a one-route configuration from
// --listen and --forward.
func runConfig(c *cli.Context) (*gateway.Config, error) {
	var cfg *gateway.Config
	switch {
	case c.String("config") != "" && (c.String("listen") != "" || c.String("forward") != ""):
		return nil, errors.New("--config and --listen/--forward exclude each other")
	case c.String("config") != "":
		var err error
		if cfg, err = gateway.LoadConfig(c.String("config")); err != nil {
			return nil, err
		}
	case c.String("listen") == "" || c.String("forward") == "":
		return nil, errors.New("give --config FILE, or both --listen URL and --forward URL")
	default:
		cfg = &gateway.Config{Routes: []gateway.RouteConfig{{Name: "default", Listen: c.String("listen"), Forward: c.String("forward")}}}
	}
	if v := c.String("udp"); v != "" {
		cfg.UDP.Listen = v
	}
	if cfg.Admin == "" {
		cfg.Admin = c.String("admin")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}
