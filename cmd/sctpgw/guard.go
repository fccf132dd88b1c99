package main

import (
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/logs"
	"github.com/sctpgw/sctpgw/portguard"
)

func allowKernelSCTPFlag() cli.Flag {
	return &cli.BoolFlag{Name: "allow-kernel-sctp", EnvVars: []string{"SCTPGW_ALLOW_KERNEL_SCTP"},
		Usage: "where the kernel's sctp module is loaded, start native routes without CAP_NET_ADMIN and install no " +
			"nftables rule: you keep the kernel from answering for our ports yourself; overrides allow_kernel_sctp"}
}

// startGuard starts the kernel SCTP guard for a plan with native routes and
// sets the options that tie it to the raw sockets and report it (status,
// metrics); it refuses (a *portguard.Refusal) where the module is loaded
// and cannot be guarded. The caller closes it after the gateway, which
// removes the rule.
func startGuard(plan *gateway.Plan, log *slog.Logger, opts *gateway.Options) (*portguard.Guard, error) {
	dials := false
	for _, r := range plan.Routes {
		dials = dials || r.Forward.Native()
	}
	g, err := portguard.Start(portguard.Config{
		Allow:  plan.AllowKernelSCTP,
		Dials:  dials,
		Logger: log.With(logs.ScopeKey, "link"),
	}, plan.NativePorts)
	if err != nil {
		return nil, err
	}
	opts.NativeMark, opts.NativePortUse, opts.KernelGuard = g.Mark(), g.SetPort, g
	return g, nil
}
