//go:build linux

package rawip

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
)

// A live tshark capture for the full-stack tests that does not depend on
// timing (the race detector slows the test, a loaded machine slows tshark,
// and "Capturing on ..." is printed before packets are really seen): tshark
// decodes as it captures and prints one line per packet, flushed (-l).
// Before the exchange the test sends UDP "marks" from namespace A until
// tshark has printed one, so the capture is known to run with its filter
// in place; after the exchange it sends an end mark and waits for it the
// same way, so every packet sent before it has been decoded. Only the
// lines between the two marks count. No capture file, no flush delays, no
// sleeps.

// fsMarkPort is the UDP port the marks go to; nothing listens there (B's
// kernel answers with ICMP port unreachable, which the filter leaves out).
const fsMarkPort = 39999

// fsCapPacket is one SCTP packet as tshark decoded it.
type fsCapPacket struct {
	frame     int
	checksum  string   // sctp.checksum.status: "1" good, "0" bad, "2" unverified
	chunks    []string // chunk types, decimal
	malformed bool
	expert    string // expert severities, comma separated
	line      string
}

type fsCapture struct {
	p     *testlab.Proc
	conn  *net.UDPConn // in namespace A
	to    *net.UDPAddr
	start int // frame number of the start mark
}

// fsStartCapture starts tshark on A's veth, or returns nil when tshark is
// not installed. Transmit checksum offload is turned off on both ends of
// the veth first, so that every checksum on the wire was computed in
// software (the engine computes SCTP's CRC32c itself in any case).
func fsStartCapture(t *testing.T, lab *fsLab) *fsCapture {
	t.Helper()
	if !testlab.HaveTool(t, "tshark", "the capture check") {
		return nil
	}
	for _, c := range []struct{ ns, dev string }{{lab.a, fsDevA}, {lab.b, fsDevB}} {
		if out, err := exec.Command("ip", "netns", "exec", c.ns, "ethtool", "-K", c.dev, "tx", "off").CombinedOutput(); err != nil {
			t.Logf("ethtool -K %s tx off: %v %s", c.dev, err, out)
		}
	}
	c := &fsCapture{to: &net.UDPAddr{IP: fsAddrB.AsSlice(), Port: fsMarkPort}}
	err := testlab.InNS(lab.a, func() (err error) {
		c.conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: fsAddrA.AsSlice()})
		return err
	})
	if err != nil {
		t.Fatalf("a UDP socket for the capture marks in %s: %v", lab.a, err)
	}
	t.Cleanup(func() { c.conn.Close() })
	argv := []string{"tshark", "-i", fsDevA, "-n", "-l", "-p", "-B", "32",
		"-f", fmt.Sprintf("sctp or (udp dst port %d)", fsMarkPort),
		"-o", "sctp.checksum:crc-32c",
		"-T", "fields", "-E", "separator=|",
		"-e", "frame.number", "-e", "udp.length", "-e", "sctp.checksum.status", "-e", "sctp.chunk_type",
		"-e", "_ws.malformed", "-e", "_ws.expert.severity"}
	// User messages are decoded as plain data: ours are random bytes under
	// the PPIDs of S1AP, NGAP, Diameter and M3UA, which their dissectors
	// would rightly call malformed. What is checked is the SCTP layer.
	for _, ppid := range testlab.PPIDs {
		argv = append(argv, "-d", fmt.Sprintf("sctp.ppi==%d,data", ppid))
	}
	c.p = testlab.Start(t, testlab.ProcOptions{NS: lab.a, Limit: 55 * time.Second}, argv...)
	c.start = c.mark(t, 17, 20*time.Second)
	return c
}

// mark sends a UDP datagram of size bytes to fsMarkPort every 100 ms until
// tshark has printed one, within d, and returns its frame number.
func (c *fsCapture) mark(t *testing.T, size int, d time.Duration) int {
	t.Helper()
	want := strconv.Itoa(8 + size)
	frame := 0
	found := func() bool {
		for _, line := range strings.Split(c.p.Out.String(), "\n") {
			f := strings.Split(line, "|")
			if len(f) >= 2 && f[1] == want {
				frame, _ = strconv.Atoi(f[0])
				return true
			}
		}
		return false
	}
	payload := make([]byte, size)
	for end := time.Now().Add(d); !found(); {
		if time.Now().After(end) {
			t.Fatalf("tshark printed no %d-byte mark within %v; its stderr: %s", size, d, c.p.Err.String())
		}
		select {
		case <-c.p.Done():
			_, err := c.p.Wait(0)
			t.Fatalf("tshark exited: %v; its stderr: %s", err, c.p.Err.String())
		default:
		}
		if _, err := c.conn.WriteToUDP(payload, c.to); err != nil {
			t.Fatalf("sending a capture mark: %v", err)
		}
		testlab.Poll(100*time.Millisecond, found)
	}
	return frame
}

// finish sends the end mark, waits until tshark has decoded it, stops
// tshark and returns the SCTP packets captured between the two marks.
func (c *fsCapture) finish(t *testing.T) []fsCapPacket {
	t.Helper()
	end := c.mark(t, 19, 20*time.Second)
	c.p.Stop(5 * time.Second)
	var pkts []fsCapPacket
	for _, line := range strings.Split(strings.TrimSpace(c.p.Out.String()), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 6 {
			t.Fatalf("tshark line %q: want 6 fields", line)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("tshark line %q: %v", line, err)
		}
		if n <= c.start || n >= end || f[1] != "" {
			continue // before, at or after the marks, or a mark
		}
		pkts = append(pkts, fsCapPacket{frame: n, checksum: f[2], chunks: strings.Split(f[3], ","),
			malformed: f[4] != "", expert: f[5], line: line})
	}
	if s := c.p.Err.String(); strings.Contains(s, "dropped") {
		t.Logf("tshark: %s", strings.TrimSpace(s))
	}
	return pkts
}

// fsCheckCapture: every SCTP packet has a good CRC32c, none is malformed
// or carries an expert error, and every chunk type in want was seen.
func fsCheckCapture(t *testing.T, pkts []fsCapPacket, want map[string]string) {
	t.Helper()
	types := map[string]int{}
	for _, p := range pkts {
		if p.checksum != "1" || p.malformed || fsExpertError(p.expert) {
			t.Errorf("tshark: frame %d: checksum status %q (1 is good), malformed %v, expert severities %q: %q",
				p.frame, p.checksum, p.malformed, p.expert, p.line)
		}
		for _, ct := range p.chunks {
			types[ct]++
		}
	}
	t.Logf("capture: %d SCTP packets between the marks, chunks by type %v", len(pkts), types)
	for ct, name := range want {
		if types[ct] == 0 {
			t.Errorf("the capture lacks %s chunks (type %s)", name, ct)
		}
	}
}

// fsExpertError reports whether tshark's expert severities include an
// error (PI_ERROR, 0x00800000).
func fsExpertError(sev string) bool {
	for _, s := range strings.Split(sev, ",") {
		if v, err := strconv.ParseUint(s, 0, 32); err == nil && v >= 0x00800000 {
			return true
		}
	}
	return false
}
