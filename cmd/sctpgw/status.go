package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/gateway"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the running daemon's pairs, counters and, per route, acl rule hits and limit refusals",
		Description: `With --check it prints nothing but the daemon's readiness and exits 0 when
the daemon serves every route, 1 when it is draining, stopped or cannot be
reached: a container HEALTHCHECK or a systemd ExecStartPost.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "admin", Value: defaultAdmin, EnvVars: []string{"SCTPGW_ADMIN"}, Usage: "the daemon's admin address"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"SCTPGW_STATUS_JSON"}, Usage: "print the raw JSON"},
			&cli.BoolFlag{Name: "check", EnvVars: []string{"SCTPGW_STATUS_CHECK"}, Usage: "exit 0 if the daemon is ready (GET /readyz), 1 if not"},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, EnvVars: []string{"SCTPGW_STATUS_TIMEOUT"}, Usage: "give up on the daemon after this long"},
		},
		Action: func(c *cli.Context) error {
			cl := &http.Client{Timeout: c.Duration("timeout")}
			if c.Bool("check") {
				return checkReady(c, cl)
			}
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

// checkReady asks /readyz and turns the answer into the exit code.
func checkReady(c *cli.Context, cl *http.Client) error {
	resp, err := cl.Get("http://" + c.String("admin") + "/readyz")
	if err != nil {
		return cli.Exit(fmt.Sprintf("not ready: no answer from %s: %v", c.String("admin"), err), 1)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	msg := strings.TrimSpace(string(b))
	if resp.StatusCode != http.StatusOK {
		return cli.Exit("not ready: "+msg, 1)
	}
	fmt.Fprintln(c.App.Writer, msg)
	return nil
}
