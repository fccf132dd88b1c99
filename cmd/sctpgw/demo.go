package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/gateway/demo"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "a whole lab in one process: eNB -> edge -> UDP through a NAT -> core -> MME",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "messages", Value: 12, Usage: "S1AP-like messages to send"},
			&cli.BoolFlag{Name: "status", Usage: "also print the edge gateway's status while the pair is up"},
		},
		Action: func(c *cli.Context) error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := demo.Run(ctx, os.Stdout, demo.Options{Messages: c.Int("messages")})
			if err != nil {
				return fmt.Errorf("demo failed: %w", err)
			}
			if c.Bool("status") {
				fmt.Println("\nedge gateway status while the first pair was up:")
				fmt.Print(rep.EdgeStatus)
			}
			fmt.Printf("demo finished in %v\n", rep.Elapsed.Round(time.Millisecond))
			return nil
		},
	}
}
