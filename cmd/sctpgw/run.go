package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/logs"
	"github.com/sctpgw/sctpgw/metrics"
)

// defaultAdmin is the admin listener when neither flag nor file says.
const defaultAdmin = "127.0.0.1:9900"

// configFlags describe the gateway: run uses them, check checks them.
func configFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"SCTPGW_CONFIG"}, Usage: "YAML route configuration"},
		&cli.StringFlag{Name: "listen", EnvVars: []string{"SCTPGW_LISTEN"}, Usage: "listen side: sctp://ADDR:PORT or udp://ADDR:UDPPORT/SCTPPORT"},
		&cli.StringFlag{Name: "forward", EnvVars: []string{"SCTPGW_FORWARD"}, Usage: "forward side: sctp://HOST:PORT, udp://HOST:UDPPORT/SCTPPORT or dtls://HOST:PORT/SCTPPORT"},
		&cli.StringFlag{Name: "tls-cert", EnvVars: []string{"SCTPGW_TLS_CERT"}, Usage: "dtls:// side: our certificate (PEM); with --tls-key and --tls-ca"},
		&cli.StringFlag{Name: "tls-key", EnvVars: []string{"SCTPGW_TLS_KEY"}, Usage: "dtls:// side: our private key (PEM)"},
		&cli.StringFlag{Name: "tls-ca", EnvVars: []string{"SCTPGW_TLS_CA"}, Usage: "dtls:// side: the CA the peer gateway's certificate must chain to"},
		&cli.StringFlag{Name: "tls-peer-name", EnvVars: []string{"SCTPGW_TLS_PEER_NAME"}, Usage: "dtls:// side: the name the peer's certificate must carry (optional)"},
		&cli.StringFlag{Name: "psk-file", EnvVars: []string{"SCTPGW_PSK_FILE"}, Usage: "dtls:// side: a pre-shared key file ([IDENTITY:]HEXKEY) instead of certificates"},
		&cli.StringFlag{Name: "udp", EnvVars: []string{"SCTPGW_UDP"}, Usage: "UDP address for encapsulation (default 0.0.0.0:9899); overrides udp.listen"},
		&cli.StringFlag{Name: "auth-key-file", EnvVars: []string{"SCTPGW_AUTH_KEY_FILE"}, Usage: "SCTP-AUTH (RFC 4895) key file for the udp:// side of the --listen/--forward route (lines \"<key id> <hex secret> [active]\", mode 600)"},
		&cli.StringFlag{Name: "admin", Value: defaultAdmin, EnvVars: []string{"SCTPGW_ADMIN"}, Usage: "admin endpoint: status, metrics, health (empty: off); overrides the file's admin"},
		&cli.DurationFlag{Name: "drain-timeout", Value: 10 * time.Second, EnvVars: []string{"SCTPGW_DRAIN_TIMEOUT"}, Usage: "how long SIGTERM waits for graceful shutdowns; overrides drain_timeout"},
		&cli.DurationFlag{Name: "dial-timeout", Value: gateway.DefaultDialTimeout, EnvVars: []string{"SCTPGW_DIAL_TIMEOUT"}, Usage: "bound on each egress handshake: the client's connect then fails with a reason; overrides every route's dial_timeout"},
		allowKernelSCTPFlag(),
	}, logFlags()...)
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run the gateway",
		Description: `Routes come from --config FILE, or for the common single route from
--listen and --forward:
  sctpgw run --listen sctp://0.0.0.0:36412 --forward udp://core.example:9899/36412
  sctpgw run --listen udp://0.0.0.0:9899/36412 --forward sctp://198.18.2.10:36412
A flag given on the command line (or in its environment variable) wins
over the file. SIGTERM and SIGINT drain: every pair is shut down gracefully
within --drain-timeout, then what remains is aborted with a reason. SIGHUP
re-reads the routes' SCTP-AUTH key files (they are also re-read within 10 s
of a change); the routes themselves are fixed for the life of the process
(restart to change them; existing pairs would otherwise have to be
re-homed). Under systemd
(Type=notify) it sends READY=1 once every route listens, STOPPING=1 when
it drains, and WATCHDOG=1 keep-alives under WatchdogSec=. Go runtime
defaults for a daemon, each overridden by its environment variable:
GOGC=200, GOMEMLIMIT at 90 % of the cgroup's memory limit when there is
one, and GOMAXPROCS=1 when no route is dtls:// (the packet path runs
under one lock; more threads only hand work between them). With one P,
the memory returned after a mass close (thousands of pairs ending at
once) stalls the packet path for a few milliseconds.`,
		Flags: append(configFlags(),
			&cli.StringFlag{Name: "pcap", EnvVars: []string{"SCTPGW_PCAP"}, Usage: "write every SCTP packet sent and received to this pcap file"},
			&cli.BoolFlag{Name: "pprof", EnvVars: []string{"SCTPGW_PPROF"}, Usage: "serve Go's profiler (CPU, heap, execution trace) under /debug/pprof/ on the admin endpoint"},
		),
		Action: func(c *cli.Context) error {
			plan, err := planFromFlags(c, nil)
			if err != nil {
				return err
			}
			log, err := logs.New(c.App.ErrWriter, plan.Log.Format, plan.Log.Levels)
			if err != nil {
				return err
			}
			return run(c, plan, log)
		},
	}
}

func run(c *cli.Context, plan *gateway.Plan, log *slog.Logger) error {
	gcPercent, memLimit := applyGCDefaults(os.Getenv, os.ReadFile)
	procs := applyProcsDefault(os.Getenv, plan.NeedDTLS, runtime.GOMAXPROCS)
	logGCDefaults(log, gcPercent, memLimit, procs)
	opts := gateway.Options{Logger: log}
	if f := c.String("pcap"); f != "" {
		pf, err := os.Create(f)
		if err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
		defer pf.Close()
		opts.Pcap = pf
	}
	// The admin listener is bound before the gateway starts: a daemon that
	// cannot be watched must not run as if it could.
	var admin net.Listener
	if plan.Admin != "" {
		var err error
		if admin, err = net.Listen("tcp", plan.Admin); err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
		defer admin.Close()
	}
	if plan.NeedNative {
		guard, err := startGuard(plan, log, &opts)
		if err != nil {
			return err
		}
		defer guard.Close()
	}
	g, err := gateway.New(plan, opts)
	if err != nil {
		return err
	}
	glog := log.With(logs.ScopeKey, "gateway")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	adminDone := make(chan error, 1)
	if admin != nil {
		mux := g.AdminMux()
		info, _, _ := buildInfo()
		mux.Handle("/metrics", metrics.Handler(g, info))
		if c.Bool("pprof") {
			mountPprof(mux)
		}
		go func() { adminDone <- gateway.ServeAdmin(ctx, admin, mux) }()
		glog.Info("admin listening", "addr", admin.Addr().String())
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sig)
	// Under systemd (Type=notify): ready now, every route listens.
	note := notifier{log: glog}
	note.ready(len(plan.Routes))
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go note.watchdog(wctx, func() bool { return g.Ready() == nil })
wait:
	for {
		select {
		case s := <-sig:
			if s != syscall.SIGHUP {
				break wait
			}
			if err := g.ReloadAuthKeys(); err != nil {
				glog.Error("SIGHUP: auth key files", "err", err)
			}
			if err := g.ReloadCredentials(); err != nil {
				glog.Error("SIGHUP: dtls credentials (the old ones stay in use)", "err", err)
			}
			glog.Warn("SIGHUP: routes are fixed while running; restart to reload them (auth key files and dtls credentials are re-read)")
		case err := <-adminDone:
			// The admin server stopped on its own: say so and keep the
			// pairs up; a health check will notice the listener is gone.
			glog.Error("admin listener stopped", "err", err)
		}
	}
	timeout := c.Duration("drain-timeout")
	if !c.IsSet("drain-timeout") && plan.DrainTimeout != 0 {
		timeout = plan.DrainTimeout
	}
	glog.Info("draining", "timeout", timeout.String())
	wcancel()
	note.stopping(timeout)
	dctx, dcancel := context.WithTimeout(context.Background(), timeout)
	defer dcancel()
	return g.Drain(dctx)
}

// planFromFlags reads --config, or builds a one-route configuration from
// --listen and --forward, lets the flags given override the file, and plans
// it, looking forward names up with resolve (nil: the system's resolver):
// everything run checks before it opens a socket.
func planFromFlags(c *cli.Context, resolve func(string) (netip.Addr, error)) (*gateway.Plan, error) {
	cfg, err := configFromFlags(c)
	if err != nil {
		return nil, err
	}
	plan, err := cfg.Plan(resolve)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if err := applyLogFlags(c, &plan.Log); err != nil {
		return nil, err
	}
	return plan, nil
}

func configFromFlags(c *cli.Context) (*gateway.Config, error) {
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
		if f := c.String("auth-key-file"); f != "" {
			cfg.Routes[0].Auth = &gateway.AuthConfig{KeyFile: f}
		}
		if c.String("tls-cert") != "" || c.String("tls-key") != "" || c.String("tls-ca") != "" {
			cfg.Routes[0].TLS = &gateway.TLSConfig{CertFile: c.String("tls-cert"), KeyFile: c.String("tls-key"),
				CAFile: c.String("tls-ca"), PeerName: c.String("tls-peer-name")}
		}
		cfg.Routes[0].PSKFile = c.String("psk-file")
	}
	if c.String("config") != "" && (c.String("tls-cert") != "" || c.String("psk-file") != "") {
		return nil, errors.New("--tls-* and --psk-file go with --listen/--forward; with --config give each dtls:// route a tls block or psk_file")
	}
	if c.String("auth-key-file") != "" && c.String("config") != "" {
		return nil, errors.New("--auth-key-file goes with --listen/--forward; with --config give each route an auth block")
	}
	if v := c.String("udp"); v != "" {
		cfg.UDP.Listen = v
	}
	// The file's admin, even "" (off), stands unless --admin is given;
	// the flag's default applies only where the file does not say.
	if c.IsSet("admin") || cfg.Admin == nil {
		admin := c.String("admin")
		cfg.Admin = &admin
	}
	if c.IsSet("dial-timeout") {
		if c.Duration("dial-timeout") <= 0 {
			return nil, fmt.Errorf("--dial-timeout: %v: expected a positive duration such as 5s", c.Duration("dial-timeout"))
		}
		for i := range cfg.Routes {
			cfg.Routes[i].DialTimeout = gateway.Duration(c.Duration("dial-timeout"))
		}
	}
	if c.IsSet("allow-kernel-sctp") {
		cfg.AllowKernelSCTP = c.Bool("allow-kernel-sctp")
	}
	return cfg, nil
}
