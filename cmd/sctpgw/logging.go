package main

import (
	"fmt"
	"strings"

	"github.com/pion/logging"
)

// loggerFactory builds pion loggers from "info" or "info,sctp=debug,pair=warn".
func loggerFactory(spec string) (logging.LoggerFactory, error) {
	lf := logging.NewDefaultLoggerFactory()
	lf.ScopeLevels = map[string]logging.LogLevel{}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		scope, lvl, scoped := strings.Cut(part, "=")
		if !scoped {
			lvl = scope
		}
		l, err := parseLevel(lvl)
		if err != nil {
			return nil, fmt.Errorf("--log %q: %v", spec, err)
		}
		if !scoped {
			if i != 0 {
				return nil, fmt.Errorf("--log %q: the default level comes first, then scope=level pairs", spec)
			}
			lf.DefaultLogLevel = l
			continue
		}
		lf.ScopeLevels[scope] = l
	}
	return lf, nil
}

func parseLevel(s string) (logging.LogLevel, error) {
	switch strings.ToLower(s) {
	case "error":
		return logging.LogLevelError, nil
	case "warn", "warning":
		return logging.LogLevelWarn, nil
	case "info":
		return logging.LogLevelInfo, nil
	case "debug":
		return logging.LogLevelDebug, nil
	case "trace":
		return logging.LogLevelTrace, nil
	case "off", "disabled":
		return logging.LogLevelDisabled, nil
	}
	return 0, fmt.Errorf("level %q: expected error, warn, info, debug, trace or off", s)
}
