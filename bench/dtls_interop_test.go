package bench

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/pion/dtls/v4"
	pionlog "github.com/pion/logging"
	"github.com/pion/sctp"

	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
)

// TestDTLSInteropPionSCTP: RFC 8261 with a stack we did not write. pion's
// SCTP (the one WebRTC data channels use) runs over a pion/dtls client
// conn, SCTP packets directly as DTLS application data, against our
// stack on the DTLS link, with mutual certificates. One association, both
// ways, stream and PPID intact, then pion closes it.
func TestDTLSInteropPionSCTP(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	cf, kf := ca.IssueValid(t, "core.lab")
	core, err := dtlslink.Files{CertFile: cf, KeyFile: kf, CAFile: ca.File}.Load()
	if err != nil {
		t.Fatal(err)
	}
	port := testlab.FreeUDPPort(t)
	l, err := dtlslink.New(dtlslink.Config{Listen: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Credentials: core})
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.New(stack.Config{Links: []link.Link{l}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close("done")
	ln, err := st.Listen(5000, stack.Options{NoDelay: true}) // pion/sctp's fixed port
	if err != nil {
		t.Fatal(err)
	}
	ctx := testlab.Ctx(t, 20*time.Second)

	// The pion side: a client certificate of the same CA.
	ef, ek := ca.IssueValid(t, "edge.lab")
	cert, err := tls.LoadX509KeyPair(ef, ek)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(ca.File)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	dc, err := dtls.Client(sock, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)},
		dtls.WithCertificates(cert), dtls.WithRootCAs(roots), dtls.WithServerName("core.lab"),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret))
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if err := dc.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	quiet := pionlog.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = pionlog.LogLevelError
	pa, err := sctp.ClientWithOptions(sctp.Config{NetConn: dc, LoggerFactory: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pa.OpenStream(3, sctp.PayloadTypeWebRTCBinary)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.WriteSCTP([]byte("over DTLS from pion"), sctp.PayloadTypeWebRTCBinary); err != nil {
		t.Fatal(err)
	}
	m, err := ours.RecvMsg(ctx)
	if err != nil || string(m.Data) != "over DTLS from pion" || m.Stream != 3 || m.PPID != uint32(sctp.PayloadTypeWebRTCBinary) {
		t.Fatalf("ours received %q stream %d PPID %d, %v", m.Data, m.Stream, m.PPID, err)
	}
	if err := ours.SendMsg(ctx, []byte("and back from sctpgw"), stack.SndInfo{Stream: 3, PPID: uint32(sctp.PayloadTypeWebRTCString)}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, ppi, err := ps.ReadSCTP(buf)
	if err != nil || string(buf[:n]) != "and back from sctpgw" || ppi != sctp.PayloadTypeWebRTCString {
		t.Fatalf("pion received %q PPID %d, %v", buf[:n], ppi, err)
	}
	if s := l.Sessions(); len(s) != 1 || s[0].Identity != "CN=edge.lab" {
		t.Fatalf("sessions %+v", s)
	}
	t.Logf("pion/sctp over pion/dtls: one association with sctpgw, cipher %s", l.Sessions()[0].Cipher)
	pa.Close()
}
