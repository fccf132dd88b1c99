package main

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
)

// dtlsServer runs a stack serving SCTP port 5000 behind a DTLS listener on
// loopback, as a core gateway's dtls:// side, with a certificate of ca.
func dtlsServer(t *testing.T, ca *testlab.CA) uint16 {
	t.Helper()
	port := testlab.FreeUDPPort(t)
	cf, kf := ca.IssueValid(t, "core.lab")
	creds, err := dtlslink.Files{CertFile: cf, KeyFile: kf, CAFile: ca.File}.Load()
	if err != nil {
		t.Fatal(err)
	}
	l, err := dtlslink.New(dtlslink.Config{Listen: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.New(stack.Config{Links: []link.Link{l}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close("") })
	if _, err := st.Listen(5000, stack.Options{NoDelay: true}); err != nil {
		t.Fatal(err)
	}
	return port
}

// TestPingDTLS: ping dtls:// opens the association through a DTLS session
// authenticated with the flags' certificate and measures heartbeats over
// it; with a certificate of another CA the DTLS handshake is refused and
// ping exits 1 naming the session and the reason.
func TestPingDTLS(t *testing.T) {
	bin := buildBinary(t)
	ca, rogue := testlab.NewCA(t, "lab"), testlab.NewCA(t, "rogue")
	port := dtlsServer(t, ca)
	url := fmt.Sprintf("dtls://127.0.0.1:%d/5000", port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ef, ek := ca.IssueValid(t, "edge.lab")
	out, err := exec.CommandContext(ctx, bin, "ping", "-n", "3", "-i", "20ms", "--tls-cert", ef, "--tls-key", ek, "--tls-ca", ca.File,
		"--tls-peer-name", "core.lab", url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "connected to "+url) || !strings.Contains(string(out), "3 answered") {
		t.Fatalf("ping %s: %v\n%s", url, err, out)
	}
	t.Logf("%s", out)

	rf, rk := rogue.IssueValid(t, "edge.lab")
	out, err = exec.CommandContext(ctx, bin, "ping", "-n", "3", "--tls-cert", rf, "--tls-key", rk, "--tls-ca", rogue.File, url).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "dtls session to 127.0.0.1") ||
		!strings.Contains(string(out), "(unknown_ca)") {
		t.Fatalf("ping %s with a rogue certificate: %v\n%s", url, err, out)
	}
	t.Logf("%s", out)

	out, err = exec.CommandContext(ctx, bin, "ping", url).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--tls-cert") {
		t.Fatalf("ping %s without credentials: %v\n%s", url, err, out)
	}
}
