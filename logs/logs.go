// Package logs is sctpgw's logging setup over log/slog: levels per scope
// ("info,sctp=debug,pair=warn"), text or JSON output, and a bridge that
// gives the stack's pion/logging loggers the same handler, so one format
// and one set of levels cover the gateway, the stack and the links.
//
// A logger's scope is its "scope" attribute: Handler reads it when a
// logger is derived with With("scope", name) and filters by the scope's
// level from then on.
package logs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
)

// LevelTrace is below debug: per-chunk detail from the stack.
const LevelTrace = slog.LevelDebug - 4

// LevelOff silences a scope.
const LevelOff = slog.Level(1 << 20)

// ScopeKey is the attribute that names a logger's scope.
const ScopeKey = "scope"

// Levels is a default level and per-scope exceptions.
type Levels struct {
	Default slog.Level
	Scopes  map[string]slog.Level
}

// For is the level of scope.
func (l Levels) For(scope string) slog.Level {
	if v, ok := l.Scopes[scope]; ok {
		return v
	}
	return l.Default
}

// String writes the levels as ParseSpec reads them.
func (l Levels) String() string {
	parts := []string{LevelName(l.Default)}
	keys := make([]string, 0, len(l.Scopes))
	for k := range l.Scopes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+LevelName(l.Scopes[k]))
	}
	return strings.Join(parts, ",")
}

// ParseLevel reads error, warn, info, debug, trace or off.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return slog.LevelError, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "trace":
		return LevelTrace, nil
	case "off", "disabled":
		return LevelOff, nil
	}
	return 0, fmt.Errorf("%q: expected error, warn, info, debug, trace or off", s)
}

// LevelName is the name ParseLevel reads for l.
func LevelName(l slog.Level) string {
	switch {
	case l >= LevelOff:
		return "off"
	case l == LevelTrace:
		return "trace"
	}
	return strings.ToLower(l.String())
}

// ParseSpec reads "LEVEL[,scope=LEVEL...]": the default level first, then
// exceptions per scope.
func ParseSpec(spec string) (Levels, error) {
	l := Levels{Default: slog.LevelInfo, Scopes: map[string]slog.Level{}}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		scope, name, scoped := strings.Cut(part, "=")
		if !scoped {
			name = scope
		}
		v, err := ParseLevel(name)
		if err != nil {
			return l, err
		}
		if !scoped {
			if i != 0 {
				return l, fmt.Errorf("%q: the default level comes first, then scope=level pairs", spec)
			}
			l.Default = v
			continue
		}
		l.Scopes[strings.TrimSpace(scope)] = v
	}
	return l, nil
}

// Formats are the output formats New takes.
var Formats = []string{"text", "json"}

// New returns a logger writing to w in format ("text" or "json"; "" is
// text), filtered by levels per scope.
func New(w io.Writer, format string, levels Levels) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: LevelTrace, ReplaceAttr: levelNames}
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: expected text or json", format)
	}
	return slog.New(NewHandler(h, levels)), nil
}

// levelNames writes LevelTrace as TRACE rather than DEBUG-4.
func levelNames(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l == LevelTrace {
			a.Value = slog.StringValue("TRACE")
		}
	}
	return a
}

// Handler filters records by the level of the logger's scope.
type Handler struct {
	inner  slog.Handler
	levels Levels
	min    slog.Level // the level of the current scope
}

// NewHandler wraps inner with per-scope levels.
func NewHandler(inner slog.Handler, levels Levels) *Handler {
	return &Handler{inner: inner, levels: levels, min: levels.Default}
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.inner.Enabled(ctx, l)
}

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	for _, a := range as {
		if a.Key == ScopeKey {
			n.min = h.levels.For(a.Value.String())
		}
	}
	n.inner = h.inner.WithAttrs(as)
	return &n
}

func (h *Handler) WithGroup(name string) slog.Handler {
	n := *h
	n.inner = h.inner.WithGroup(name)
	return &n
}

// Discard is a logger that writes nothing.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
