package metrics_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sctpgw/sctpgw/internal/testlab"
)

// TestAlertRules: the example alerting rules ask only for metrics the
// collector exports, each is shown firing by the rules' own test, and
// promtool finds them valid and their test passing: each rule fires when
// its test says and stays quiet where the test expects no alert.
func TestAlertRules(t *testing.T) {
	dir := filepath.Join("..", "examples", "prometheus")
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	readYAML(t, filepath.Join(dir, "sctpgw-alerts.yaml"), &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	readYAML(t, filepath.Join(dir, "sctpgw-alerts.test.yaml"), &tests)
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			fires[a.Alertname] = fires[a.Alertname] || len(a.ExpAlerts) > 0
		}
	}
	known, used, n := exportedNames(), 0, 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			for _, name := range unknownMetrics(r.Expr, known, &used) {
				t.Errorf("alert %s uses %s, which is not exported", r.Alert, name)
			}
			if !fires[r.Alert] {
				t.Errorf("alert %s: no test shows it firing", r.Alert)
			}
		}
	}
	if n < 9 || used < 9 {
		t.Fatalf("%d rules naming %d sctpgw metrics", n, used)
	}

	promtool := testlab.NeedTool(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "sctpgw-alerts.yaml"}, {"test", "rules", "sctpgw-alerts.test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
