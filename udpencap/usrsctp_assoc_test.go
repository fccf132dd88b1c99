//go:build linux

package udpencap

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// Interop with usrsctp, a stack we did not write (Debian's
// libusrsctp-examples), at the association level: our stack over our link
// against their echo_server and their client.

// usrsctpNS makes a namespace called name with only loopback, up, for a
// usrsctp program and our link, and deletes it when the test ends. As root
// usrsctp opens raw SCTP sockets besides its UDP one, and in the host
// namespace those would see (and answer) the native SCTP packets of other
// tests. Without root (or without ip) it returns "": usrsctp then opens no
// raw sockets and both run in the current namespace, on loopback.
func usrsctpNS(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil || os.Geteuid() != 0 {
		return ""
	}
	if prefix, _, ok := strings.Cut(name, "-"); ok {
		testlab.SweepStaleNS(t, prefix)
	}
	t.Cleanup(func() { testlab.Cmd(t, false, "ip", "netns", "del", name) })
	testlab.Cmd(t, true, "ip", "netns", "add", name)
	testlab.Cmd(t, true, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// listenAt opens a link in namespace ns, or in the current one if ns is "".
func listenAt(t *testing.T, ns string, cfg Config) *Link {
	t.Helper()
	if ns == "" {
		return listenT(t, cfg)
	}
	return listenIn(t, ns, cfg)
}

// usrsctpOpts: short RTOs, for quick handshakes over loopback.
var usrsctpOpts = stack.Options{
	NoDelay: true,
	RTO:     stack.RTOInfo{Initial: 300 * time.Millisecond, Min: 200 * time.Millisecond, Max: 2 * time.Second},
}

// TestUsrsctpAssocEchoServer: our stack dials usrsctp's echo_server over
// our link, four associations at once from one UDP port to its one-to-many
// socket, over 127.0.0.1 and ::1 from one dual-stack link. usrsctp's INIT ACK lists IP addresses, which RFC 6951 3.2 and 5.7
// forbid; our engine ignores them and keeps the one path it dialled. Every
// message comes back intact, on its stream, with its PPID and unordered
// flag (echo_server sends it back as received), and each association shuts
// down gracefully.
func TestUsrsctpAssocEchoServer(t *testing.T) {
	bin := usrsctpBin(t, "echo_server")
	port := testlab.FreeUDPPort(t)
	ns := usrsctpNS(t, fmt.Sprintf("sgwa-%d-e", os.Getpid()))
	l := listenAt(t, ns, ephemeral(""))
	s := newStackT(t, l)
	const echoPort, assocs, n = 7, 4, 64
	echo := testlab.Start(t, testlab.ProcOptions{NS: ns, Limit: 2 * time.Minute, MergeOutput: true}, bin, strconv.Itoa(int(port)))
	// Its UDP socket comes before it listens (testlab.WaitSCTPListening).
	testlab.WaitSCTPListeningUDP(t, ns, netip.AddrPortFrom(lo4, port), echoPort, echo)
	ctx := testlab.Ctx(t, time.Minute)
	addrs := []netip.Addr{lo4}
	if haveIPv6Loopback() {
		addrs = append(addrs, lo6)
	}

	errs := make(chan error, assocs)
	for k := range assocs {
		to := link.Path{Remote: addrs[k%len(addrs)], RemotePort: port}
		go func() { errs <- echoAssoc(ctx, s, to, echoPort, testlab.SmallFlow|uint32(k), n) }()
	}
	for range assocs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if st := s.Stats(); st.ActiveEstabs != assocs || st.Shutdowns != assocs || st.CurrEstab != 0 || st.Aborteds != 0 {
		t.Errorf("stack stats: %d opens, %d shutdowns, %d established, %d aborts; want %d, %d, 0, 0",
			st.ActiveEstabs, st.Shutdowns, st.CurrEstab, st.Aborteds, assocs, assocs)
	}
}

// echoAssoc opens one association to an echo server that listens, sends n
// messages of flow and checks every echo, then shuts down.
func echoAssoc(ctx context.Context, s *stack.Stack, to link.Path, port uint16, flow uint32, n int) error {
	c, err := s.Dial(ctx, 0, to, 0, port, usrsctpOpts)
	if err != nil {
		return fmt.Errorf("dial echo_server: %w", err)
	}
	st := c.Status()
	if st.Primary.Path != (link.Path{Local: to.Remote, Remote: to.Remote, RemotePort: to.RemotePort}) {
		c.AbortReason("test: wrong path")
		return fmt.Errorf("association's path %v after the handshake; want the dialled %v", st.Primary.Path, to)
	}
	return testlab.EchoFlow(ctx, c, flow, n, flowLarge)
}

// TestUsrsctpAssocClient: usrsctp's client, which sends each line of its
// standard input as a message (stream 0, PPID 0) and writes what it
// receives to standard output, against our stack listening on our link. Our
// server echoes every message; the client's output must show every line
// back, in order, once. Its INIT lists IP addresses (forbidden by RFC 6951
// 3.2 and 5.7); we ignore them. The association then ends three ways: the
// client shuts down when its input ends, our server shuts down (Shutdown
// returns nil, the client sees SHUTDOWN_COMP), or our server aborts with a
// reason, which the client reports in the ABORT chunk it prints.
func TestUsrsctpAssocClient(t *testing.T) {
	bin := usrsctpBin(t, "client")
	for _, end := range []string{"client-shuts-down", "server-shuts-down", "server-aborts"} {
		t.Run(end, func(t *testing.T) {
			ns := usrsctpNS(t, fmt.Sprintf("sgwa-%d-c", os.Getpid()))
			l := listenAt(t, ns, ephemeral("127.0.0.1"))
			s := newStackT(t, l)
			ln := listenS(t, s, portS1AP, usrsctpOpts)
			ctx := testlab.Ctx(t, time.Minute)

			// client remote_addr remote_port local_port local_encaps_port remote_encaps_port
			// stdbuf: the client's reports (printf) come line by line, not
			// at exit.
			p := testlab.Start(t, testlab.ProcOptions{NS: ns, Limit: 45 * time.Second, MergeOutput: true, Stdin: true}, "stdbuf", "-oL", bin, lo4.String(), strconv.Itoa(portS1AP), "0",
				strconv.Itoa(int(testlab.FreeUDPPort(t))), strconv.Itoa(int(l.LocalPort())))

			x, err := ln.Accept(ctx)
			if err != nil {
				t.Fatalf("usrsctp's client did not get an association up: %v", err)
			}
			if pa := primary(x); pa.Remote != lo4 || pa.Local != lo4 || pa.RemotePort == 0 {
				t.Fatalf("accepted association's path %v", pa)
			}

			// Echo every line back as received, and keep what came. The
			// echoing goroutine stops after the last line, so that no two
			// goroutines wait on the association at once: one wake-up
			// would then be lost (see TestAssocConcurrentWaiters).
			var lines []string
			for i := range 40 {
				// fgets reads at most 79 characters: lines stay shorter.
				lines = append(lines, fmt.Sprintf("line %02d of %s: %s\n", i, end, strings.Repeat(string(rune('a'+i%26)), i)))
			}
			type rx struct {
				msgs []stack.Message
				err  error
			}
			echoed := make(chan rx, 1)
			go func() {
				var r rx
				for len(r.msgs) < len(lines) {
					m, err := x.RecvMsg(ctx)
					if err != nil {
						r.err = err
						break
					}
					r.msgs = append(r.msgs, m)
					if err := x.SendMsg(ctx, append([]byte(nil), m.Data...), stack.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered}); err != nil {
						r.err = fmt.Errorf("echo: %w", err)
						break
					}
				}
				echoed <- r
			}()
			if _, err := io.WriteString(p.Stdin, strings.Join(lines, "")); err != nil {
				t.Fatalf("writing the client's input: %v", err)
			}
			r := <-echoed
			if r.err != nil {
				t.Fatalf("after %d lines: %v", len(r.msgs), r.err)
			}
			for i, m := range r.msgs {
				if string(m.Data) != lines[i] || m.Stream != 0 || m.PPID != 0 || m.Unordered {
					t.Fatalf("message %d: %q stream %d PPID %d unordered %v; want %q on stream 0, PPID 0, ordered",
						i, m.Data, m.Stream, m.PPID, m.Unordered, lines[i])
				}
			}
			// The client writes what it receives as it comes (and, under
			// stdbuf, its own reports line by line).
			want := strings.Join(lines, "")
			waitOutput := func(what string) {
				t.Helper()
				deadline := time.Now().Add(15 * time.Second)
				for !strings.Contains(p.Out.String(), what) {
					if time.Now().After(deadline) {
						t.Fatalf("the client's output lacks %q", what)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			waitOutput(want)
			if c := strings.Count(p.Out.String(), lines[0]); c != 1 {
				t.Fatalf("the first line came back %d times", c)
			}
			waitOutput("SCTP_COMM_UP")

			switch end {
			case "client-shuts-down":
				p.Stdin.Close() // EOF: shutdown(SHUT_WR), then SHUTDOWN
				if _, err := x.RecvMsg(ctx); !testlab.IsShutdownComp(err) {
					t.Fatalf("our end after the client's shutdown: %v, want SHUTDOWN_COMP", err)
				}
				waitOutput("SCTP_SHUTDOWN_COMP")
			case "server-shuts-down":
				if err := x.Shutdown(ctx); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				if _, err := x.RecvMsg(ctx); !testlab.IsShutdownComp(err) {
					t.Fatalf("RecvMsg after Shutdown: %v, want SHUTDOWN_COMP", err)
				}
				waitOutput("SCTP_SHUTDOWN_COMP")
				p.Stdin.Close() // the client waits in fgets until its input ends
			case "server-aborts":
				x.AbortReason("sctpgw: interop abort")
				var ae *stack.AssocError
				if _, err := x.RecvMsg(ctx); !errors.As(err, &ae) || ae.Event.Type != engine.CommLost || !errors.Is(err, engine.ErrAborted) {
					t.Fatalf("our end after aborting: %v", err)
				}
				waitOutput("SCTP_COMM_LOST")
				abort := clientAbort(p.Out.String())
				if abort == nil || !bytes.Contains(abort, []byte("sctpgw: interop abort")) {
					t.Fatalf("the client reports no ABORT with our reason: %q", abort)
				}
				t.Logf("the client got our ABORT chunk: % x", abort)
				p.Stdin.Close()
			}
			limit := 10 * time.Second
			if end == "server-aborts" {
				limit = 2 * time.Second
			}
			exited, err := p.Wait(limit)
			switch {
			case !exited && end == "server-aborts":
				// Its main loop waits for a flag only a socket close sets,
				// which usrsctp does not signal after an ABORT.
				t.Log("usrsctp's client does not exit after an ABORT (a known hang); the cleanup ends it")
			case !exited:
				t.Fatal("the client did not exit after the association ended and its input closed")
			case err != nil:
				t.Fatalf("the client exited with %v", err)
			}
			t.Logf("client's own lines: %q", strings.ReplaceAll(p.Out.String(), want, "<echoed lines>"))
		})
	}
}

// clientAbort decodes the ABORT chunk usrsctp's client prints with
// SCTP_COMM_LOST (", ABORT = 0x06 0x00 ...").
func clientAbort(out string) []byte {
	_, rest, ok := strings.Cut(out, ", ABORT =")
	if !ok {
		return nil
	}
	rest, _, _ = strings.Cut(rest, ".")
	var b []byte
	for _, f := range strings.Fields(rest) {
		v, err := hex.DecodeString(strings.TrimPrefix(f, "0x"))
		if err != nil || len(v) != 1 {
			return nil
		}
		b = append(b, v[0])
	}
	return b
}
