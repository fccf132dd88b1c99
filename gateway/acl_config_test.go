package gateway_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/gateway"
)

// A bad rule inside routes[].acl is rejected with the line of the file it
// is on, whether YAML decoding (a rule that does not parse) or compiling (a
// rule that parses but is invalid) finds it, and LoadConfig names the file.
func TestACLConfigErrorNamesFileLine(t *testing.T) {
	head := `udp: {listen: "0.0.0.0:9899"}
admin: "127.0.0.1:9900"
routes:
  - name: first
    listen: sctp://0.0.0.0:36412
    forward: udp://198.18.0.1:9899/36412
  - name: second
    listen: sctp://0.0.0.0:38412
    forward: udp://198.18.0.1:9899/38412
    sctp: {rto_min: 200ms}
    acl:
      default: deny
      rules:
        - allow from 198.18.0.0/15
`
	headLines := strings.Count(head, "\n")
	for _, tc := range []struct {
		name, tail string
		at         int // the bad line, counted from the first after head
		want       string
	}{
		{"unparsable", "        - allow from 198.18.0.0/33\n", 1, "198.18.0.0/33"},
		{"unknown action", "        - permit from 198.18.0.0/15\n", 1, "permit"},
		{"host bits", "        - deny from 2001:db8::/32\n        - deny from 10.1.2.3/8\n", 2, "10.1.2.3/8"},
		{"inverted ports", "        - allow from 198.18.0.0/15 port 2000-1000\n", 1, "2000-1000"},
		{"mapping", "        - {action: allow, from: 198.18.0.0/15, port: 0x}\n", 1, "0x"},
		{"colon in rule", "        - deny from fe80::1 port: 1\n", 1, "quote the rule"},
		{"unknown key", "        - deny from 2001:db8::/32\n      max_pair: 3\n", 2, "max_pair"},
		{"bad rate", "      rate:\n        total: {rate: 0/s}\n", 2, "0/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := head + tc.tail
			line := "line " + strconv.Itoa(headLines+tc.at) + ": "
			_, err := gateway.ParseConfig([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), line) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseConfig: %v\nwant %q and %q", err, line, tc.want)
			}
			path := filepath.Join(t.TempDir(), "gw.yaml")
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = gateway.LoadConfig(path)
			if err == nil || !strings.HasPrefix(err.Error(), "config "+path+": ") || !strings.Contains(err.Error(), line) {
				t.Fatalf("LoadConfig: %v\nwant the path %s and %q", err, path, line)
			}
		})
	}
	// The same document with a good rule loads.
	if _, err := gateway.ParseConfig([]byte(head + "        - deny from 198.18.1.0/24 port 36412\n")); err != nil {
		t.Fatalf("good config: %v", err)
	}
}
