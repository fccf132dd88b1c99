package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/gateway"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the running daemon's pairs, counters and, per route, acl rule hits and limit refusals",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "admin", Value: "127.0.0.1:9900", EnvVars: []string{"SCTPGW_ADMIN"}, Usage: "the daemon's admin address"},
			&cli.BoolFlag{Name: "json", Usage: "print the raw JSON"},
		},
		Action: func(c *cli.Context) error {
			cl := &http.Client{Timeout: 5 * time.Second}
			resp, err := cl.Get("http://" + c.String("admin") + "/status")
			if err != nil {
				return fmt.Errorf("is the daemon running with --admin %s? %w", c.String("admin"), err)
			}
			defer resp.Body.Close()
			var s gateway.Snapshot
			if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
				return fmt.Errorf("status: %w", err)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			fmt.Fprint(c.App.Writer, gateway.FormatSnapshot(s))
			return nil
		},
	}
}
