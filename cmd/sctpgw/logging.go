package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/pion/logging"
	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/logs"
)

// logFlags are the logging flags of the commands that run a gateway.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log", Value: "info", EnvVars: []string{"SCTPGW_LOG"},
			Usage: "log levels: LEVEL[,scope=LEVEL...] (scopes: gateway, pair, sctp, link); overrides the file's log block"},
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"SCTPGW_LOG_FORMAT"},
			Usage: "log line format: text (key=value) or json; overrides the file's log.format"},
	}
}

// applyLogFlags lets --log and --log-format, when given, override the
// levels and format the configuration file asked for.
func applyLogFlags(c *cli.Context, lp *gateway.LogPlan) error {
	if c.IsSet("log") {
		l, err := logs.ParseSpec(c.String("log"))
		if err != nil {
			return fmt.Errorf("--log: %v", err)
		}
		lp.Levels = l
	}
	if c.IsSet("log-format") {
		lp.Format = c.String("log-format")
	}
	switch lp.Format {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: expected text or json", lp.Format)
	}
	return nil
}

// toolLogger is the pion logger factory of the client commands (ping,
// bench): only what goes wrong, as text on w.
func toolLogger(w io.Writer, level slog.Level) logging.LoggerFactory {
	l, _ := logs.New(w, "text", logs.Levels{Default: level})
	return logs.Pion(l)
}
