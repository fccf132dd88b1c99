package main

import (
	"os/exec"
	"strings"
	"testing"
)

// dial_timeout comes from the file per route, 5s by default, and
// --dial-timeout (or SCTPGW_DIAL_TIMEOUT) overrides every route's.
func TestDialTimeoutFlag(t *testing.T) {
	bin := buildBinary(t)
	cfg := writeFile(t, "dt.yaml", `routes:
  - {name: a, listen: "sctp://0.0.0.0:36412", forward: "udp://198.18.0.1:9899/36412", dial_timeout: 2s}
  - {name: b, listen: "sctp://0.0.0.0:38412", forward: "udp://198.18.0.1:9899/38412"}
`)
	for _, tc := range []struct {
		args []string
		env  string
		want []string
	}{
		{nil, "", []string{"dial_timeout 2s", "dial_timeout 5s"}},
		{[]string{"--dial-timeout", "3s"}, "", []string{"dial_timeout 3s", "dial_timeout 3s"}},
		{nil, "SCTPGW_DIAL_TIMEOUT=4s", []string{"dial_timeout 4s", "dial_timeout 4s"}},
	} {
		cmd := exec.Command(bin, append([]string{"check", "--config", cfg}, tc.args...)...)
		if tc.env != "" {
			cmd.Env = append(cmd.Environ(), tc.env)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v %s: %v\n%s", tc.args, tc.env, err, out)
		}
		var got []string
		for _, l := range strings.Split(string(out), "\n") {
			if i := strings.Index(l, "dial_timeout "); i >= 0 {
				got = append(got, l[i:])
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Fatalf("%v %s: %q, want %q\n%s", tc.args, tc.env, got, tc.want, out)
		}
	}
	out, err := exec.Command(bin, "check", "--config", cfg, "--dial-timeout", "0s").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--dial-timeout") {
		t.Fatalf("--dial-timeout 0s: %v\n%s", err, out)
	}
}
