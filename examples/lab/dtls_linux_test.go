//go:build linux

package lab

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// dtlsPort is the core's DTLS listening port in the lab.
const dtlsPort = 4740

// gatewaysDTLS starts the pair for one SCTP port over the encrypted
// tunnel: the edge tunnels to the core's dtls:// listener with a
// certificate of a lab CA, the core verifies it and pins nothing; both
// check the other's chain.
func (l *lab) gatewaysDTLS(port int) (edge, core *gw) {
	l.tb.Helper()
	ca := testlab.NewCA(l.tb, "sctpgw lab")
	ec, ek := ca.IssueValid(l.tb, "edge.lab")
	cc, ck := ca.IssueValid(l.tb, "core.lab")
	edge = l.startGateway("edge", edgeAdmin, "--log", "warn",
		"--listen", fmt.Sprintf("sctp://%s:%d", edgeRAN, port),
		"--forward", fmt.Sprintf("dtls://%s:%d/%d", coreWAN, dtlsPort, port),
		"--tls-cert", ec, "--tls-key", ek, "--tls-ca", ca.File, "--tls-peer-name", "core.lab")
	core = l.startGateway("core", coreAdmin, "--log", "warn",
		"--listen", fmt.Sprintf("dtls://%s:%d/%d", coreWAN, dtlsPort, port),
		"--forward", fmt.Sprintf("sctp://%s:%d", mmeAddr, port),
		"--tls-cert", cc, "--tls-key", ck, "--tls-ca", ca.File)
	return edge, core
}

// TestE2EDTLSThroughNAT: the pair over the encrypted tunnel through the
// nftables NAT. Our stack at both ends sends 300 messages on 100 streams
// with five PPIDs, some unordered, 1 byte to 200 KB: they arrive whole,
// once, in order per stream, with stream, PPID and flag, and come back the
// same way; the shutdown completes end to end. A capture on the NAT's
// public leg decodes as DTLS and nothing else: no SCTP in it (tshark tries
// SCTP on every UDP payload it can), application data records only after
// a handshake, one DTLS session for the whole run.
func TestE2EDTLSThroughNAT(t *testing.T) {
	needRoot(t, "tshark", "dumpcap")
	l := newLab(t)
	edge, core := l.gatewaysDTLS(36412)
	capture := startCapture(t, l, "nat", "nat-out")
	if capture == nil {
		t.Fatal("no capture tools")
	}

	streams := stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 100, MaxInStreams: 100}}
	far := serveFar(t, l.nativeStack("mme", mmeAddr), streams, 36412)
	enb := l.nativeStack("enb", enbAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, err := dialEdge(ctx, enb, "", 36412, "dtls", streams)
	if err != nil {
		t.Fatalf("connect through the encrypted tunnel: %v", err)
	}
	fa := far.get("dtls", 10*time.Second)
	echoStreamsAndShutdown(ctx, t, a, fa, 300)

	if es := edge.snapshot(); len(es.DTLSSessions) != 1 || es.DTLSSessions[0].Identity != "CN=core.lab" {
		t.Errorf("edge's DTLS sessions %+v: want one, to CN=core.lab", es.DTLSSessions)
	}
	cs := core.snapshot()
	if len(cs.DTLSSessions) != 1 || cs.DTLSSessions[0].Identity != "CN=edge.lab" || cs.DTLSSessions[0].Remote.Addr().String() != natPublic {
		t.Errorf("core's DTLS sessions %+v: want one, from the NAT's public address, CN=edge.lab", cs.DTLSSessions)
	}
	capture.checkDTLS(t, dtlsPort)
}

// checkDTLS stops the capture and has tshark decode every UDP datagram to
// or from port as DTLS: each must be DTLS and none may hold SCTP. It
// checks a handshake came first and application data after it.
func (c *capture) checkDTLS(t *testing.T, port int) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	c.p.signal(syscall.SIGTERM)
	if !c.p.wait(10 * time.Second) {
		t.Fatal("dumpcap did not stop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Every UDP payload on the port is offered to the DTLS dissector; SCTP
	// gets its heuristic chance too (as if the tunnel were plain RFC 6951
	// on that port, which is what a leak would look like).
	out, err := exec.CommandContext(ctx, "tshark", "-n", "-r", c.file, "-d", fmt.Sprintf("udp.port==%d,dtls", port),
		"-Y", fmt.Sprintf("udp.port==%d", port), "-T", "fields", "-E", "separator=|",
		"-e", "frame.protocols", "-e", "dtls.record.content_type", "-e", "dtls.record.special_type", "-e", "_ws.malformed",
		"-e", "dtls.handshake.type").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", c.file, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	// The session's ClientHello must be in the capture: without the
	// handshake tshark does not know the connection IDs' length and
	// reads every tls12_cid record as malformed, which is what a capture
	// started late looks like.
	if f := strings.Split(lines[0], "|"); len(f) != 5 || f[1] != "22" || f[4] != "1" {
		t.Errorf("the capture does not start with the session's ClientHello (handshake type 1): %q", lines[0])
	}
	types := map[string]int{}
	firstData := -1
	for i, ln := range lines {
		f := strings.Split(ln, "|")
		if len(f) != 5 || !strings.Contains(f[0], ":dtls") || strings.Contains(f[0], "sctp") || f[3] != "" {
			t.Errorf("packet %d is not DTLS alone: %q", i+1, ln)
			continue
		}
		// A record's type is its content type, or for a tls12_cid record
		// (RFC 9146, which carries the application data once connection
		// IDs are in use; its real type is encrypted) its special type.
		for _, ct := range append(strings.Split(f[1], ","), strings.Split(f[2], ",")...) {
			if ct == "" {
				continue
			}
			types[ct]++
			if (ct == "23" || ct == "25") && firstData < 0 {
				firstData = i
			}
		}
	}
	t.Logf("capture on the NAT's public leg: %d datagrams, DTLS record types %v", len(lines), types)
	if types["22"] == 0 || firstData < 0 || types["22"] > 20 || len(lines) < 100 {
		t.Errorf("want a handshake (22) and then many application data records (23 or 25): %v over %d datagrams", types, len(lines))
	}
	// The same capture read as plain RFC 6951 must not show one SCTP
	// packet: the payloads are ciphertext.
	out, err = exec.CommandContext(ctx, "tshark", "-n", "-r", c.file, "-d", fmt.Sprintf("udp.port==%d,sctp", port),
		"-o", "sctp.checksum:crc-32c", "-Y", "sctp.checksum.status == 1").Output()
	if err != nil {
		t.Fatalf("tshark -r %s as SCTP: %v", c.file, err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("datagrams on the tunnel that are valid SCTP (a good CRC32c):\n%s", testlab.Tail(s, 2000))
	}
}
