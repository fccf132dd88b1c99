package gateway_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/internal/testlab"
)

// The tls / psk_file block of a dtls:// route: required there, refused
// elsewhere, loaded at planning (a missing file is named), one set of
// credentials for the listening socket and per peer gateway.
func TestPlanDTLSCredentials(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	cf, kf := ca.IssueValid(t, "core.lab")
	tls := `tls: {cert_file: "` + cf + `", key_file: "` + kf + `", ca_file: "` + ca.File + `"}`
	other := `tls: {cert_file: "` + cf + `", key_file: "` + kf + `", ca_file: "` + ca.File + `", peer_name: edge.lab}`
	for _, tc := range []struct{ name, doc, want string }{
		{"no credentials", "  - {listen: \"dtls://0.0.0.0:4740/36412\", forward: \"sctp://198.18.2.10:36412\"}\n",
			"routes[0]: a dtls:// side needs tls"},
		{"credentials without dtls", "  - {listen: \"sctp://0.0.0.0:36412\", forward: \"udp://198.18.2.10:9899/36412\", " + tls + "}\n",
			"routes[0].tls: the route has no dtls:// side"},
		{"missing file", "  - {listen: \"dtls://0.0.0.0:4740/36412\", forward: \"sctp://198.18.2.10:36412\", tls: {cert_file: /nonexistent.pem, key_file: /x.key, ca_file: /ca.pem}}\n",
			"routes[0].tls: cert_file \"/nonexistent.pem\""},
		{"both kinds", "  - {listen: \"dtls://0.0.0.0:4740/36412\", forward: \"sctp://198.18.2.10:36412\", psk_file: /k, " + tls + "}\n",
			"tls and psk_file: choose one"},
		{"listen credentials differ", "  - {listen: \"dtls://0.0.0.0:4740/36412\", forward: \"sctp://198.18.2.10:36412\", " + tls + "}\n" +
			"  - {listen: \"dtls://0.0.0.0:4740/38412\", forward: \"sctp://198.18.2.10:38412\", " + other + "}\n",
			"routes[1].tls: differs from routes[0].tls"},
		{"two DTLS sockets", "  - {listen: \"dtls://0.0.0.0:4740/36412\", forward: \"sctp://198.18.2.10:36412\", " + tls + "}\n" +
			"  - {listen: \"dtls://0.0.0.0:4741/38412\", forward: \"sctp://198.18.2.10:38412\", " + tls + "}\n",
			"one DTLS socket serves every dtls:// listen route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gateway.ParseConfig([]byte("routes:\n" + tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	c, err := gateway.ParseConfig([]byte("routes:\n  - {listen: \"sctp://0.0.0.0:36412\", forward: \"dtls://core.example:4740/36412\", " + tls + "}\n" +
		"  - {listen: \"sctp://0.0.0.0:38412\", forward: \"dtls://core.example:4740/38412\", " + tls + "}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(func(string) (netip.Addr, error) { return netip.MustParseAddr("203.0.113.10"), nil })
	if err != nil {
		t.Fatal(err)
	}
	peer := netip.MustParseAddrPort("203.0.113.10:4740")
	if !p.NeedDTLS || p.NeedUDP || p.DTLS.IsValid() || len(p.DTLSPeers) != 1 || p.DTLSPeers[peer] == nil || p.DTLSPeers[peer].Creds.Certificate == nil {
		t.Fatalf("plan: need %v, listen %v, peers %v", p.NeedDTLS, p.DTLS, p.DTLSPeers)
	}
}
