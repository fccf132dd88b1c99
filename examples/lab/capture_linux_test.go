//go:build linux

package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
)

// capture is dumpcap writing what crosses one interface of the lab.
type capture struct {
	l    *lab
	p    *proc
	file string
}

// startCapture captures UDP on dev in role's namespace; nil (and a log
// line) when Wireshark's dumpcap and tshark are not installed.
func startCapture(t *testing.T, l *lab, role, dev string) *capture {
	t.Helper()
	for _, tool := range []string{"dumpcap", "tshark"} {
		if !testlab.HaveTool(t, tool, "capturing and decoding the tunnel") {
			return nil
		}
	}
	c := &capture{l: l, file: filepath.Join(t.TempDir(), role+"-"+dev+".pcapng")}
	keepCaptureOnFailure(t, c.file)
	c.p = l.start(role, 5*time.Minute, nil, "dumpcap", "-i", dev, "-f", "udp", "-w", c.file)
	// dumpcap prints "Capturing on" before it opens the interface, and
	// under load it took long enough to open it that a test's first
	// exchange (the DTLS handshake, without which tshark cannot parse a
	// connection-ID record) went by uncaptured. It prints "File:" once
	// the interface is open with its filter and the file created
	// (dumpcap.c, capture_loop_start): from then on every packet is kept.
	testlab.WaitFor(t, 15*time.Second, "dumpcap to open the interface", func() bool {
		return strings.Contains(c.p.out.String(), "File: ") || c.p.exited()
	})
	if c.p.exited() {
		t.Fatalf("dumpcap: %s", c.p.out)
	}
	return c
}

// keepCaptureOnFailure copies a failed test's capture into the directory
// LAB_KEEP_CAPTURES names, to be read after the run (tshark -V, hex): a
// lab failure that does not repeat is diagnosed from its packets.
func keepCaptureOnFailure(t *testing.T, file string) {
	dir := os.Getenv("LAB_KEEP_CAPTURES")
	if dir == "" {
		return
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		b, err := os.ReadFile(file)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		kept := filepath.Join(dir, fmt.Sprintf("%s-%d-%s", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano(), filepath.Base(file)))
		if err == nil {
			err = os.WriteFile(kept, b, 0o644)
		}
		if err != nil {
			t.Logf("keeping the capture: %v", err)
			return
		}
		t.Logf("capture kept: %s", kept)
	})
}

// check stops the capture and has tshark decode it as SCTP in UDP (port
// udpPort) with CRC32c and UDP checksum verification on: every packet must
// be well-formed with good checksums, and the chunk types and PPIDs listed
// must all appear.
func (c *capture) check(t *testing.T, udpPort int, chunkTypes, ppids []string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // the last packets reach the file
	c.p.signal(syscall.SIGTERM)
	if !c.p.wait(10 * time.Second) {
		t.Fatal("dumpcap did not stop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The payloads are test patterns, not S1AP, NGAP, Diameter or M3UA:
	// tshark must not dissect them by their PPIDs.
	cmd := exec.CommandContext(ctx, "tshark", "-n", "-r", c.file, "-d", fmt.Sprintf("udp.port==%d,sctp", udpPort),
		"--disable-protocol", "s1ap", "--disable-protocol", "ngap", "--disable-protocol", "diameter", "--disable-protocol", "m3ua",
		"-o", "sctp.checksum:crc-32c", "-o", "udp.check_checksum:TRUE", "-Y", "sctp",
		"-T", "fields", "-E", "separator=|", "-e", "udp.checksum.status", "-e", "sctp.checksum.status",
		"-e", "sctp.chunk_type", "-e", "sctp.data_payload_proto_id", "-e", "_ws.malformed")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", c.file, err)
	}
	types, protos := map[string]int{}, map[string]int{}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, ln := range lines {
		f := strings.Split(ln, "|")
		// Checksum status 1 is Good (0 Bad, 2 Unverified).
		if len(f) != 5 || f[0] != "1" || f[1] != "1" || f[4] != "" {
			t.Errorf("tshark: UDP checksum %q, CRC32c %q, malformed %q in %q", f[0], f[1], f[min(4, len(f)-1)], ln)
			continue
		}
		for _, ct := range strings.Split(f[2], ",") {
			types[ct]++
		}
		for _, p := range strings.Split(f[3], ",") {
			if p != "" {
				protos[p]++
			}
		}
	}
	t.Logf("tunnel capture: %d SCTP-in-UDP packets, chunk types %v, PPIDs %v", len(lines), types, protos)
	for _, ct := range chunkTypes {
		if types[ct] == 0 {
			t.Errorf("the capture has no chunk of type %s", ct)
		}
	}
	for _, p := range ppids {
		if protos[p] == 0 {
			t.Errorf("the capture has no DATA with PPID %s", p)
		}
	}
}
