//go:build linux

package gateway_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/internal/usrsctptool"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/udpencap"
)

// Issue 18 interop: usrsctp with SCTP-AUTH as the far end of a core-less
// tunnel, each way. authpeer (internal/usrsctptool/c/authpeer.c) sets the
// tunnel key with usrsctp_setsockopt(SCTP_AUTH_KEY), deletes usrsctp's
// null key and requires DATA, SACK, HEARTBEAT(-ACK), ABORT, SHUTDOWN*,
// ERROR and COOKIE ECHO/ACK authenticated; the gateway requires its own
// list. The gateway's capture is then read by tshark, which must decode the
// AUTH chunks (key id, HMAC id) and the handshake's RANDOM parameters.

var lo4 = netip.MustParseAddr("127.0.0.1")

const authPeerChunks = "0,3,4,5,6,7,8,9,10,11"

// usrsctpLab is a namespace (as root: usrsctp then opens raw sockets,
// which must not see other tests' packets) with a gateway whose UDP link
// is on its loopback and whose native side is an in-memory link to a
// stack of ours (the eNB or the MME).
type usrsctpLab struct {
	ns      string
	bin     string
	key     []byte
	keyFile string
	pcap    string
	udp     *udpencap.Link
	native  *stack.Stack
	g       *gateway.Gateway
}

func newUsrsctpLab(t *testing.T, tag string) *usrsctpLab {
	t.Helper()
	testlab.NeedTool(t, "timeout")
	bin, err := usrsctptool.AuthPeer()
	if err != nil {
		testlab.Missing(t, "authpeer: %v", err)
	}
	l := &usrsctpLab{bin: bin, key: []byte("tunnel key shared with usrsctp!!")}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("ip"); err == nil {
			testlab.SweepStaleNS(t, "sgwga")
			l.ns = fmt.Sprintf("sgwga-%d-%s", os.Getpid(), tag)
			testlab.AddNS(t, l.ns)
		}
	}
	l.keyFile = writeKeyFile(t, "1 "+hex.EncodeToString(l.key)+"\n", 0o600)
	l.pcap = filepath.Join(t.TempDir(), "tunnel.pcap")
	return l
}

// start opens the gateway for route yaml (%s is the key file) on a UDP link
// bound to udpAddr in the namespace, and the stack on its native side.
func (l *usrsctpLab) start(t *testing.T, yaml string, udpAddr netip.AddrPort, nativeLocal, nativeRemote netip.Addr) {
	t.Helper()
	open := func() (err error) {
		l.udp, err = udpencap.Listen(udpencap.Config{Addr: udpAddr})
		return err
	}
	var err error
	if l.ns != "" {
		err = testlab.InNS(l.ns, open)
	} else {
		err = open()
	}
	if err != nil {
		t.Fatal(err)
	}
	ours, gwNative := memlink.Pair(link.Native, nativeRemote, nativeLocal)
	pf, err := os.Create(l.pcap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pf.Close() })
	l.g = startGateway(t, fmt.Sprintf(yaml, l.keyFile), gateway.Options{Native: gwNative, UDP: l.udp, Pcap: pf, AuthKeyPoll: -1})
	if l.native, err = stack.New(stack.Config{Links: []link.Link{ours}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.native.Close("") })
}

func (l *usrsctpLab) peer(t *testing.T, args ...string) *testlab.Proc {
	t.Helper()
	args = append([]string{l.bin}, append(args, "-k", "1:"+hex.EncodeToString(l.key), "-c", authPeerChunks)...)
	return testlab.Start(t, testlab.ProcOptions{NS: l.ns, Limit: time.Minute, MergeOutput: true}, args...)
}

// TestAuthUsrsctpTunnel: an edge gateway's tunnel to usrsctp (usrsctp in
// the core's place, echoing), and usrsctp's tunnel to a core gateway
// (usrsctp in the edge's place, the MME ours). Every message comes back;
// the gateway counts only authenticated packets; tshark decodes the AUTH
// chunks.
func TestAuthUsrsctpTunnel(t *testing.T) {
	t.Run("edge-to-usrsctp", func(t *testing.T) {
		l := newUsrsctpLab(t, "e")
		peerPort := testlab.FreeUDPPort(t)
		srv := l.peer(t, "server", "-l", strconv.Itoa(int(peerPort)), "-P", strconv.Itoa(s1ap))
		srv.WaitOutput(t, 10*time.Second, "listening")
		l.start(t, fmt.Sprintf(`routes:
  - name: edge
    listen: sctp://%s:%d
    forward: udp://127.0.0.1:%d/%d
    auth: {key_file: %%s}
`, edgeNative, s1ap, peerPort, s1ap), netip.AddrPortFrom(lo4, 0), edgeNative, enbAddr)
		ctx := testlab.Ctx(t, time.Minute)
		opts := stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 3, MaxInStreams: 3}}
		enb, err := l.native.Dial(ctx, 0, link.Path{Local: enbAddr, Remote: edgeNative}, 0, s1ap, opts)
		if err != nil {
			t.Fatalf("eNB through the edge to usrsctp: %v", err)
		}
		const n = 200
		if err := testlab.EchoFlow(ctx, enb, testlab.SmallFlow, n, 8000); err != nil {
			t.Fatal(err)
		}
		srv.WaitOutput(t, 10*time.Second, fmt.Sprintf("echoed: %d", n))
		checkAuthCounts(t, l.g, n)
		l.g.Close()
		checkAuthCapture(t, l.pcap, peerPort)
	})
	t.Run("usrsctp-to-core", func(t *testing.T) {
		l := newUsrsctpLab(t, "c")
		corePort := testlab.FreeUDPPort(t)
		l.start(t, fmt.Sprintf(`routes:
  - name: core
    listen: udp://127.0.0.1:%d/%d
    forward: sctp://%s:%d
    auth: {key_file: %%s}
`, corePort, s1ap, mmeAddr, s1ap), netip.AddrPortFrom(lo4, corePort), coreNative, mmeAddr)
		ln, err := l.native.Listen(s1ap, stack.Options{NoDelay: true})
		if err != nil {
			t.Fatal(err)
		}
		const n, size = 150, 3000
		cli := l.peer(t, "client", "-l", strconv.Itoa(int(testlab.FreeUDPPort(t))), "-a", "127.0.0.1", "-r", strconv.Itoa(int(corePort)),
			"-P", strconv.Itoa(s1ap), "-n", strconv.Itoa(n), "-s", strconv.Itoa(size))
		ctx := testlab.Ctx(t, time.Minute)
		mme, err := ln.Accept(ctx)
		if err != nil {
			t.Fatalf("the MME saw no association from usrsctp through the core: %v", err)
		}
		for i := range n {
			m, err := mme.RecvMsg(ctx)
			if err != nil {
				t.Fatalf("MME message %d: %v", i, err)
			}
			if err := mme.SendMsg(ctx, append([]byte(nil), m.Data...), stack.SndInfo{Stream: m.Stream, PPID: m.PPID}); err != nil {
				t.Fatalf("MME echo %d: %v", i, err)
			}
		}
		cli.WaitOutput(t, 20*time.Second, fmt.Sprintf("ok: %d", n))
		checkAuthCounts(t, l.g, n)
		l.g.Close()
		checkAuthCapture(t, l.pcap, corePort)
	})
}

func checkAuthCounts(t *testing.T, g *gateway.Gateway, n int) {
	t.Helper()
	a := g.Snapshot().Auth
	if len(a) != 1 || a[0].Authenticated < uint64(n)/4 || a[0].Signed < uint64(n)/4 || a[0].BadMAC != 0 || a[0].Unauthenticated != 0 {
		t.Errorf("gateway auth status %+v", a)
	}
}

// checkAuthCapture has tshark decode the gateway's capture: on the UDP
// side (SCTP in UDP on port) the INIT and INIT ACK carry RANDOM parameters
// and every packet after them but a SHUTDOWN COMPLETE starts with an AUTH
// chunk naming key 1 and HMAC-SHA-1 (all Debian's usrsctp has); nothing is
// malformed and every CRC32c is good; the native side has no AUTH chunk.
func checkAuthCapture(t *testing.T, file string, port uint16) {
	t.Helper()
	tshark := testlab.NeedTool(t, "tshark")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fields := []string{"frame.protocols", "sctp.chunk_type", "sctp.shared_key_id", "sctp.hmac_id", "sctp.random_number", "sctp.checksum.status", "_ws.expert.severity"}
	args := []string{"-r", file, "-n", "-o", "sctp.checksum:crc-32c", "-d", fmt.Sprintf("udp.port==%d,sctp", port),
		"-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=;"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.CommandContext(ctx, tshark, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark: %v\n%s", err, errb.String())
	}
	var udpFrames, authed, randoms int
	for line := range strings.Lines(out.String()) {
		col := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(col) != len(fields) {
			t.Fatalf("tshark line %q", line)
		}
		protos, types, keyIDs, hmacIDs, random, crc, sev := col[0], strings.Split(col[1], ";"), col[2], col[3], col[4], col[5], col[6]
		if !strings.Contains(protos, "sctp") || crc != "1" || strings.Contains(sev, "error") {
			t.Fatalf("frame %q: protocols %s, checksum status %q, expert %q", line, protos, crc, sev)
		}
		if !strings.Contains(protos, ":udp:") {
			if slices.Contains(types, "15") {
				t.Fatalf("AUTH on the native side: %q", line)
			}
			continue
		}
		udpFrames++
		switch types[0] {
		case "1", "2": // INIT, INIT ACK
			if random == "" {
				t.Errorf("handshake without RANDOM: %q", line)
			}
			randoms++
		case "14": // SHUTDOWN COMPLETE: never authenticated
		case "15":
			authed++
			if keyIDs != "1" || hmacIDs != "1" {
				t.Errorf("AUTH with key id %q, HMAC id %q", keyIDs, hmacIDs)
			}
		default:
			t.Errorf("unauthenticated packet on the tunnel: chunks %v", types)
		}
	}
	t.Logf("tshark: %d packets on the tunnel, %d led by an AUTH chunk, %d with a RANDOM", udpFrames, authed, randoms)
	if udpFrames == 0 || authed < udpFrames-4 || randoms != 2 {
		t.Errorf("tunnel: %d packets, %d with AUTH, %d with RANDOM", udpFrames, authed, randoms)
	}
}
