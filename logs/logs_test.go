package logs_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/logs"
)

// Each scope logs at its own level; the pion bridge's loggers carry their
// scope and go through the same filter; trace has its own name.
func TestScopesAndPionBridge(t *testing.T) {
	lv, err := logs.ParseSpec("warn,pair=debug,sctp=trace,link=off")
	if err != nil {
		t.Fatal(err)
	}
	if lv.String() != "warn,link=off,pair=debug,sctp=trace" {
		t.Fatalf("levels %s", lv)
	}
	var b bytes.Buffer
	l, err := logs.New(&b, "text", lv)
	if err != nil {
		t.Fatal(err)
	}
	l.With(logs.ScopeKey, "gateway").Info("gateway info")
	l.With(logs.ScopeKey, "gateway").Warn("gateway warn")
	l.With(logs.ScopeKey, "pair").Debug("pair debug")
	l.With(logs.ScopeKey, "link").Error("link error")
	sctp := logs.Pion(l).NewLogger("sctp")
	sctp.Tracef("sctp %s", "trace")
	logs.Pion(l).NewLogger("other").Infof("other %s", "info")
	got := b.String()
	for _, want := range []string{`level=WARN msg="gateway warn" scope=gateway`, `level=DEBUG msg="pair debug" scope=pair`,
		`level=TRACE msg="sctp trace" scope=sctp`} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	for _, not := range []string{"gateway info", "link error", "other info"} {
		if strings.Contains(got, not) {
			t.Errorf("%q logged:\n%s", not, got)
		}
	}
	for _, bad := range []string{"pair=loud", "debug,info", "x=info,=", "verbose"} {
		if _, err := logs.ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) accepted", bad)
		}
	}
	if _, err := logs.New(&b, "xml", lv); err == nil {
		t.Error("format xml accepted")
	}
	b.Reset()
	j, _ := logs.New(&b, "json", logs.Levels{Default: slog.LevelInfo})
	j.With(logs.ScopeKey, "pair").Info("up", "route", "s1ap")
	if !strings.Contains(b.String(), `"msg":"up","scope":"pair","route":"s1ap"`) {
		t.Fatalf("json: %s", b.String())
	}
}
