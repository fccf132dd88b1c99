// Command sctpgw is the SCTP-over-UDP tunnel gateway: run it as a daemon,
// try it with `sctpgw demo`, inspect it with `sctpgw status`, probe SCTP
// endpoints with `sctpgw ping`, and measure this machine with `sctpgw bench`.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:  "sctpgw",
		Usage: "SCTP-over-UDP tunnel gateway (RFC 6951) with its own SCTP stack",
		Commands: []*cli.Command{
			runCommand(),
			checkCommand(),
			demoCommand(),
			statusCommand(),
			pingCommand(),
			benchCommand(),
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "sctpgw:", err)
		os.Exit(1)
	}
}
