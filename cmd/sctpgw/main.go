// Command sctpgw is the SCTP-over-UDP tunnel gateway: run it as a daemon,
// check its configuration with `sctpgw check`, try it with `sctpgw demo`,
// inspect it with `sctpgw status`, probe SCTP endpoints with `sctpgw ping`,
// and measure this machine with `sctpgw bench`.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "sctpgw:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	info, _, _ := buildInfo()
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, versionText()) }
	return &cli.App{
		Name:    "sctpgw",
		Usage:   "SCTP-over-UDP tunnel gateway (RFC 6951) with its own SCTP stack",
		Version: info.Version,
		Description: `sctpgw terminates native SCTP associations (IP protocol 132) and bridges
each one over RFC 6951 UDP encapsulation to another sctpgw or any RFC 6951
stack, keeping streams, PPIDs, unordered flags, message boundaries, graceful
shutdown and aborts with their causes. Every flag can also be given in its
environment variable (SCTPGW_...).`,
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			runCommand(),
			checkCommand(),
			demoCommand(),
			statusCommand(),
			pingCommand(),
			benchCommand(),
			completionCommand(),
			manCommand(),
		},
	}
}
