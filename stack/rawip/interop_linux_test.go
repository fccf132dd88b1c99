//go:build linux

package rawip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

const usrsctpEcho = "/usr/lib/usrsctp/echo_server" // Debian's libusrsctp-examples

// collector reads a link in the background and hands over copies.
type collector struct {
	ch chan link.Packet
}

func collect(l *Link) *collector {
	c := &collector{ch: make(chan link.Packet, 256)}
	go func() {
		pkts := newBufs(16)
		for {
			n, err := l.ReadBatch(pkts)
			if err != nil {
				close(c.ch)
				return
			}
			for _, p := range pkts[:n] {
				p.Buf = bytes.Clone(p.Buf)
				select {
				case c.ch <- p:
				default: // the test stopped listening
				}
			}
		}
	}()
	return c
}

// next returns the next SCTP packet, parsed and CRC-checked, within d.
func (c *collector) next(tb testing.TB, d time.Duration, what string) (link.Packet, *wire.Packet) {
	tb.Helper()
	select {
	case p, ok := <-c.ch:
		if !ok {
			tb.Fatalf("waiting for %s: link closed", what)
		}
		var w wire.Packet
		if p.Notice != link.NoticeNone {
			tb.Fatalf("waiting for %s: got notice %v", what, p.Notice)
		}
		if err := w.Unmarshal(p.Buf); err != nil {
			tb.Fatalf("waiting for %s: %v (%x)", what, err, p.Buf)
		}
		if len(w.Chunks) == 1 && w.Chunks[0].Type == wire.TypeInitAck {
			// The answer to an INIT sent again before the first answer came.
			tb.Logf("waiting for %s: skipping a duplicate INIT ACK", what)
			return c.next(tb, d, what)
		}
		return p, &w
	case <-time.After(d):
		tb.Fatalf("no %s within %v", what, d)
	}
	panic("unreachable")
}

func chunkTypes(w *wire.Packet) []wire.ChunkType {
	var ts []wire.ChunkType
	for _, c := range w.Chunks {
		ts = append(ts, c.Type)
	}
	return ts
}

// TestUsrsctpInterop drives an association with usrsctp's echo_server
// running natively (no UDP encapsulation) in namespace B, at link level:
// our link sends the chunks a client would, built with stack/wire, and
// checks usrsctp's answers. A tshark capture of the exchange on the veth,
// with transmit checksum offload off, must show every SCTP checksum valid
// and no malformed packet.
func TestUsrsctpInterop(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat(usrsctpEcho); err != nil {
		testlab.Missing(t, "usrsctp's echo_server is needed (Debian package libusrsctp-examples): %v", err)
	}
	for _, c := range []struct {
		name          string
		local, remote func() link.Path
	}{
		{name: "IPv4"}, {name: "IPv6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := link.Path{Local: addrA, Remote: addrB}
			if c.name == "IPv6" {
				path = link.Path{Local: addrA6, Remote: addrB6}
			}
			interop(t, path)
		})
	}
}

func interop(t *testing.T, path link.Path) {
	lab := newLab(t)
	for _, c := range []struct{ ns, dev string }{{lab.a, "va"}, {lab.b, "vb"}} {
		// Checksums computed in software, so the capture shows real ones.
		if out, err := exec.Command("ip", "netns", "exec", c.ns, "ethtool", "-K", c.dev, "tx", "off").CombinedOutput(); err != nil {
			t.Logf("ethtool -K %s tx off: %v %s", c.dev, err, out)
		}
	}
	// The capture is running, its filter in place, once it holds a start
	// mark; only then does the exchange begin.
	capture := startCapture(t, lab.a, "va", path)

	echoOut := testlab.Start(t, testlab.ProcOptions{NS: lab.b, Limit: 60 * time.Second, MergeOutput: true}, usrsctpEcho, "0").Out
	la := listenIn(t, lab.a, Config{Ports: []uint16{5001}})
	watchdog(t, la, 55*time.Second)
	rx := collect(la)
	const echoPort = 7 // echo_server's fixed port

	// INIT, retried while echo_server starts up. Until it has its raw
	// socket, B's kernel answers with an ICMP protocol unreachable. Then,
	// until it listens, it drops out-of-the-blue packets (its blackhole
	// setting), except in the instant between usrsctp_init and that
	// setting, when it answers an INIT with an ABORT (RFC 9260 8.4 (3)).
	const myTag, myTSN = 0x5c7a9001, 0x5c7a9001 // initPacket starts the TSNs at the tag
	init := initPacket(5001, echoPort, myTag)
	var ack *wire.Packet
	var ackPath link.Path
	for try := 0; ack == nil; try++ {
		if try == 20 {
			t.Fatalf("no INIT ACK after %d INITs; echo_server says:\n%s", try, echoOut)
		}
		send(t, la, path, init)
		select {
		case p, ok := <-rx.ch:
			if !ok {
				t.Fatal("link closed")
			}
			if p.Notice != link.NoticeNone {
				t.Logf("INIT %d: notice %v on %v", try, p.Notice, p.Path)
				continue
			}
			var w wire.Packet
			if err := w.Unmarshal(p.Buf); err != nil {
				t.Fatalf("reply to INIT: %v", err)
			}
			if w.SrcPort == echoPort && w.DstPort == 5001 && w.VerificationTag == myTag &&
				len(w.Chunks) == 1 && w.Chunks[0].Type == wire.TypeAbort {
				t.Logf("INIT %d: ABORT (echo_server is starting up)", try)
				continue
			}
			ack, ackPath = &w, p.Path
		case <-time.After(time.Second): // RTO.Initial (RFC 9260 16)
		}
	}
	if ackPath != (link.Path{Local: path.Local, Remote: path.Remote}) {
		t.Errorf("INIT ACK came on %v, want %v", ackPath, path)
	}
	if ack.SrcPort != echoPort || ack.DstPort != 5001 || ack.VerificationTag != myTag ||
		len(ack.Chunks) != 1 || ack.Chunks[0].Type != wire.TypeInitAck {
		t.Fatalf("reply to INIT: ports %d->%d tag %#x chunks %v", ack.SrcPort, ack.DstPort, ack.VerificationTag, chunkTypes(ack))
	}
	var ia wire.InitAck
	if err := ia.Unmarshal(ack.Chunks[0]); err != nil {
		t.Fatalf("INIT ACK: %v", err)
	}
	cookie, ok := ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam)
	if !ok || len(cookie.Cookie) == 0 {
		t.Fatalf("INIT ACK has no State Cookie: %+v", ia.Params)
	}
	peerTag := ia.InitiateTag
	t.Logf("INIT ACK: peer tag %#x, a_rwnd %d, streams %d/%d, TSN %d, cookie %d bytes",
		peerTag, ia.ARwnd, ia.OutStreams, ia.InStreams, ia.InitialTSN, len(cookie.Cookie))

	hdr := wire.CommonHeader{SrcPort: 5001, DstPort: echoPort, VerificationTag: peerTag}
	send(t, la, path, wire.AppendPacket(nil, hdr, wire.RawChunk{Type: wire.TypeCookieEcho, Value: cookie.Cookie}))
	_, w := rx.next(t, 5*time.Second, "COOKIE ACK")
	if w.VerificationTag != myTag || len(w.Chunks) == 0 || w.Chunks[0].Type != wire.TypeCookieAck {
		t.Fatalf("reply to COOKIE ECHO: tag %#x chunks %v", w.VerificationTag, chunkTypes(w))
	}

	msg := []byte("hello usrsctp, from sctpgw's native link")
	send(t, la, path, wire.AppendPacket(nil, hdr, &wire.Data{
		TSN: myTSN, StreamID: 0, SSN: 0, PPID: 51, Beginning: true, Ending: true, Immediate: true, Payload: msg}))
	var sawSack, sawEcho bool
	for deadline := time.Now().Add(10 * time.Second); !(sawSack && sawEcho); {
		_, w := rx.next(t, time.Until(deadline), "SACK and echoed DATA")
		if w.VerificationTag != myTag {
			t.Fatalf("packet with tag %#x, want %#x", w.VerificationTag, myTag)
		}
		for _, c := range w.Chunks {
			switch c.Type {
			case wire.TypeSack:
				var s wire.Sack
				if err := s.Unmarshal(c); err != nil {
					t.Fatalf("SACK: %v", err)
				}
				if s.CumTSNAck == myTSN {
					sawSack = true
				}
			case wire.TypeData:
				var d wire.Data
				if err := d.Unmarshal(c); err != nil {
					t.Fatalf("DATA: %v", err)
				}
				if !bytes.Equal(d.Payload, msg) || d.PPID != 51 || d.StreamID != 0 {
					t.Fatalf("echoed DATA: stream %d PPID %d %q", d.StreamID, d.PPID, d.Payload)
				}
				sawEcho = true
			}
		}
	}
	send(t, la, path, wire.AppendPacket(nil, hdr, &wire.Abort{}))
	// Nothing answers an ABORT (RFC 9260 8.4 (2), 8.5.1); give it time to show.
	select {
	case p := <-rx.ch:
		var w wire.Packet
		w.Unmarshal(p.Buf)
		t.Errorf("reply to ABORT: %v", chunkTypes(&w))
	case <-time.After(300 * time.Millisecond):
	}
	if st := la.Stats(); st.ChecksumErrors != 0 {
		t.Errorf("checksum errors on our link: %+v", st)
	}
	// A control for the capture check: one packet with a broken CRC32c,
	// which usrsctp drops silently (RFC 9260 6.8) and tshark must flag.
	bad := wire.AppendPacket(nil, hdr, &wire.Data{TSN: myTSN + 1, Beginning: true, Ending: true, Payload: []byte("bad CRC")})
	bad[8] ^= 0x5a
	send(t, la, path, bad)
	if capture != nil {
		capture.check(t, 1)
	}
}

// A capture of the exchange on A's veth, written by dumpcap to a pcap file
// and decoded afterwards by tshark, that does not depend on timing. The
// capture used to be "tshark -w" started and waited for until it printed
// "Capturing on": but tshark prints that before it even starts dumpcap
// (tshark.c, capture(): the message, then sync_pipe_start), and under the
// race detector or on a loaded machine dumpcap took long enough to open
// the interface that the exchange, or all of it but its last packet, went
// by uncaptured. Nor does dumpcap write packets to the file at once (it
// flushes about every half second). So the test sends UDP marks from A,
// which the capture filter also takes in: before the exchange, until one
// is in the file, so the capture is known to be running with its filter;
// after it, an end mark, until that one is in the file, so every packet
// the link sent or read before is in the file too (the packet socket sees
// a veth's packets in the order they cross it). Only then is dumpcap
// stopped, and the file decoded.

// markPort is the UDP port the marks go to; nothing listens there (B's
// kernel answers with ICMP port unreachable, which the filter leaves out).
const markPort = 39998

// Mark payload sizes, which tell the start mark from the end mark.
const startMarkSize, endMarkSize = 17, 19

type wireCapture struct {
	p    *testlab.Proc
	out  *testlab.Buffer // dumpcap's output
	file string
	conn *net.UDPConn // in namespace A
	to   *net.UDPAddr
}

// startCapture starts dumpcap on dev in namespace ns and returns once the
// file holds a start mark sent along path, or returns nil when tshark or
// dumpcap is not installed.
func startCapture(t *testing.T, ns, dev string, path link.Path) *wireCapture {
	t.Helper()
	for _, tool := range []string{"dumpcap", "tshark"} {
		if !testlab.HaveTool(t, tool, "the capture check") {
			return nil
		}
	}
	c := &wireCapture{
		file: filepath.Join(t.TempDir(), "usrsctp.pcap"),
		to:   net.UDPAddrFromAddrPort(netip.AddrPortFrom(path.Remote, markPort)),
	}
	err := testlab.InNS(ns, func() (err error) {
		c.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(path.Local, 0)))
		return err
	})
	if err != nil {
		t.Fatalf("a UDP socket for the capture marks in %s: %v", ns, err)
	}
	t.Cleanup(func() { c.conn.Close() })
	// -P: pcap, which the marks are looked for in while dumpcap writes it.
	// dumpcap stops by itself after 50 s; the test stops it sooner.
	c.p = testlab.Start(t, testlab.ProcOptions{NS: ns, Limit: 60 * time.Second, MergeOutput: true},
		"dumpcap", "-i", dev, "-p", "-P", "-f", fmt.Sprintf("sctp or (udp dst port %d)", markPort),
		"-a", "duration:50", "-w", c.file)
	c.out = c.p.Out
	c.mark(t, startMarkSize, 20*time.Second)
	return c
}

// mark sends a UDP datagram of size bytes to markPort every 100 ms until
// one is in the capture file, within d.
func (c *wireCapture) mark(t *testing.T, size int, d time.Duration) {
	t.Helper()
	payload := make([]byte, size)
	start := time.Now()
	for sent, end := 0, start.Add(d); ; {
		select {
		case <-c.p.Done():
			t.Fatalf("dumpcap exited before the %d-byte mark was captured: %s", size, c.out)
		default:
		}
		if _, err := c.conn.WriteToUDP(payload, c.to); err != nil {
			t.Fatalf("sending a capture mark: %v", err)
		}
		sent++
		time.Sleep(100 * time.Millisecond)
		n, err := c.marks(size)
		if err != nil {
			t.Fatalf("reading the capture file: %v", err)
		}
		if n > 0 {
			t.Logf("capture: a %d-byte mark is in the file after %v (%d sent)", size, time.Since(start).Round(time.Millisecond), sent)
			return
		}
		if time.Now().After(end) {
			t.Fatalf("no %d-byte mark in the capture file within %v; dumpcap says: %s", size, d, c.out)
		}
	}
}

// marks counts the marks of size bytes in the records dumpcap has written
// so far; a record cut short at the end (not yet flushed) is not one.
func (c *wireCapture) marks(size int) (int, error) {
	f, err := os.Open(c.file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, nil // the file header is not written yet
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return n, nil // the end, or a record cut short
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Lazy)
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok &&
			u.DstPort == markPort && len(u.Payload) == size {
			n++
		}
	}
}

// check sends the end mark, waits until it is in the file, stops dumpcap
// and has tshark decode the file with CRC32c verification on: every SCTP
// packet but the wantBad deliberately broken ones must have a good
// checksum, none may be malformed, and the handshake, data and abort must
// all be there.
func (c *wireCapture) check(t *testing.T, wantBad int) {
	t.Helper()
	c.mark(t, endMarkSize, 20*time.Second)
	c.p.Cmd.Process.Signal(syscall.SIGTERM) // timeout(1) passes it on to dumpcap, which closes the file
	select {
	case <-c.p.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("dumpcap did not stop; it says: %s", c.out)
	}
	if !c.p.Cmd.ProcessState.Success() {
		t.Logf("dumpcap: %v: %s", c.p.Cmd.ProcessState, c.out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "tshark", "-r", c.file, "-o", "sctp.checksum:crc-32c",
		"-Y", "sctp", "-T", "fields", "-E", "separator=|",
		"-e", "sctp.checksum.status", "-e", "sctp.chunk_type", "-e", "_ws.malformed", "-e", "_ws.expert.severity")
	cmd.Stderr = &stderr
	fields, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s\ndumpcap says: %s", err, stderr.Bytes(), c.out)
	}
	lines := strings.Split(strings.TrimSpace(string(fields)), "\n")
	types := map[string]int{}
	bad := 0
	for _, ln := range lines {
		f := strings.Split(ln, "|")
		if len(f) < 4 {
			t.Fatalf("tshark line %q", ln)
		}
		// sctp.checksum.status: 1 is "Good" (0 bad, 2 unverified).
		if f[0] == "0" {
			bad++
		} else if f[0] != "1" || f[2] != "" {
			t.Errorf("tshark: checksum status %q, malformed %q, expert %q in %q", f[0], f[2], f[3], ln)
		}
		for _, ct := range strings.Split(f[1], ",") {
			types[ct]++
		}
	}
	t.Logf("capture: %d SCTP packets, chunk types %v, %d bad checksums", len(lines), types, bad)
	if bad != wantBad {
		t.Errorf("tshark saw %d bad checksums, want %d (the deliberately broken packet)", bad, wantBad)
	}
	// INIT 1, INIT ACK 2, SACK 3, ABORT 6, COOKIE ECHO 10, COOKIE ACK 11, DATA 0.
	for _, ct := range []string{"0", "1", "2", "3", "6", "10", "11"} {
		if types[ct] == 0 {
			t.Errorf("capture lacks chunk type %s", ct)
		}
	}
}
