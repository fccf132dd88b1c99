package gateway_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/gateway"
)

const (
	hexKey1 = "3f5c0e1d2c3b4a5968778695a4b3c2d1e0f1e2d3c4b5a69788796a5b4c3d2e1f"
	hexKey2 = "9a41d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff"
)

// writeKeyFile writes content with mode and returns its path.
func writeKeyFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tunnel.key")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestParseKeys(t *testing.T) {
	keys, err := gateway.ParseKeys([]byte("# tunnel keys\n\n1 " + hexKey1 + "\n  2 " + hexKey2 + " active  \n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != 1 || keys[0].Active || keys[1].ID != 2 || !keys[1].Active || len(keys[1].Secret) != 32 {
		t.Fatalf("keys %v", keys)
	}
	if s := fmt.Sprint(keys); strings.Contains(s, hexKey1[:8]) || s != "[1 2 (active)]" {
		t.Errorf("keys print as %q", s)
	}
	one, err := gateway.ParseKeys([]byte("7 " + hexKey1))
	if err != nil || len(one) != 1 || !one[0].Active {
		t.Fatalf("a single key is the active one: %v %v", one, err)
	}
	for _, c := range []struct{ in, want string }{
		{"", "no key"},
		{"1 " + hexKey1 + "\n1 " + hexKey2, "line 2: key id 1 given twice"},
		{"1 " + hexKey1 + "\n2 " + hexKey2, "none marked active"},
		{"1 " + hexKey1 + " active\n2 " + hexKey2 + " active", "2 keys marked active"},
		{"1 00112233", "key 1: 4 bytes, expected 16"},
		{"1 " + hexKey1[:60] + "zz", "key 1: the secret is not hex"},
		{"70000 " + hexKey1, "key id \"70000\""},
		{"1 " + hexKey1 + " spare", "expected \"<key id> <secret in hex> [active]\""},
	} {
		_, err := gateway.ParseKeys([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), hexKey1[:16]) {
			t.Errorf("an error shows the secret: %v", err)
		}
	}
}

// TestKeyFileMode: a key file others can read is refused, naming the
// mode and the remedy.
func TestKeyFileMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		p := writeKeyFile(t, "1 "+hexKey1+"\n", mode)
		_, err := gateway.LoadKeyFile(p)
		if !errors.Is(err, gateway.ErrKeyFileMode) || !strings.Contains(err.Error(), fmt.Sprintf("%04o", mode)) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if _, err := gateway.LoadKeyFile(writeKeyFile(t, "1 "+hexKey1+"\n", mode)); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
}

// TestAuthConfigPlan: the auth block is checked when the configuration is
// planned (sctpgw check, sctpgw run before any socket), with the field
// path in every error.
func TestAuthConfigPlan(t *testing.T) {
	good := writeKeyFile(t, "1 "+hexKey1+"\n", 0o600)
	open := writeKeyFile(t, "1 "+hexKey1+"\n", 0o644)
	route := func(listen, forward, auth string) string {
		return fmt.Sprintf("routes:\n  - name: r\n    listen: %s\n    forward: %s\n    auth: %s\n", listen, forward, auth)
	}
	for _, c := range []struct {
		yaml, want string
	}{
		{route("udp://0.0.0.0:9899/36412", "sctp://198.18.2.10:36412", "{key_file: "+open+"}"), "routes[0].auth.key_file: " + open + ": readable by group or others (mode 0644)"},
		{route("udp://0.0.0.0:9899/36412", "sctp://198.18.2.10:36412", "{hmac: sha256}"), "routes[0].auth.key_file: missing"},
		{route("udp://0.0.0.0:9899/36412", "sctp://198.18.2.10:36412", "{key_file: "+good+", hmac: md5}"), "routes[0].auth.hmac: \"md5\": expected sha256 or sha1"},
		{route("sctp://0.0.0.0:36412", "sctp://198.18.2.10:36412", "{key_file: "+good+"}"), "routes[0].auth: the route has no udp:// side"},
		{route("udp://0.0.0.0:9899/36412", "sctp://198.18.2.10:36412", "{key_file: /nonexistent/tunnel.key}"), "routes[0].auth.key_file: stat /nonexistent/tunnel.key"},
		{route("udp://0.0.0.0:9899/36412", "sctp://198.18.2.10:36412", "{key_file: "+good+", keyfile: x}"), "keyfile"},
	} {
		_, err := gateway.ParseConfig([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %q", c.yaml, err, c.want)
		}
	}
	cfg, err := gateway.ParseConfig([]byte(route("sctp://0.0.0.0:36412", "udp://198.19.0.2:9899/36412", "{key_file: "+good+", hmac: sha1}")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Plan(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Routes[0].Auth
	if a == nil || a.KeyFile != good || len(a.Keys) != 1 || !slices.Equal(a.HMACs, []string{"sha1"}) {
		t.Fatalf("plan %+v", a)
	}
}

// TestKeyEntryPrintsNoSecret: no verb prints a key's secret, alone, in a
// slice or in an AuthPlan.
func TestKeyEntryPrintsNoSecret(t *testing.T) {
	k := gateway.KeyEntry{ID: 3, Secret: []byte("0123456789abcdef-secret"), Active: true}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{k, []gateway.KeyEntry{k}, gateway.AuthPlan{KeyFile: "f", Keys: []gateway.KeyEntry{k}}} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, "secret") || strings.Contains(out, "48 49 50") || strings.Contains(out, "0x30") {
				t.Fatalf("%s of %T prints the secret: %s", verb, v, out)
			}
		}
	}
}
