//go:build linux

package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/rawip"
)

// TestE2EUsrsctpThroughGateways: a stack we did not write at both ends.
// usrsctp's client in enb speaks native SCTP to the edge, which tunnels it
// through the NAT to the core, which hands it natively to usrsctp's
// echo_server in mme (SCTP port 7): every line comes back intact and in
// order, and closing the client's input ends in SHUTDOWN_COMP. Then the
// same client speaks RFC 6951 UDP encapsulation straight to the core
// gateway (from the nat namespace, beyond the NAT), and is echoed by the
// same echo_server.
func TestE2EUsrsctpThroughGateways(t *testing.T) {
	needRoot(t, "stdbuf")
	client, server := usrsctpBin(t, "client"), usrsctpBin(t, "echo_server")
	l := newLab(t)
	edge, core := l.gateways(7)
	// echo_server with local encapsulation port 0: native SCTP only.
	echo := l.start("mme", 2*time.Minute, nil, "stdbuf", "-oL", server, "0")
	// Its raw socket comes before it listens (testlab.WaitSCTPListening):
	// an INIT of the core's in between could draw an ABORT.
	mme := netip.MustParseAddr(mmeAddr)
	testlab.WaitSCTPListening(t, l.ns["mme"], mme, mme, 7, echo.Proc)

	lines := []string{"S1SetupRequest eNB-1 TAC 0x0001", "InitialUEMessage NAS attach", "UEContextReleaseRequest cause radio"}
	out := usrsctpClient(t, l, "enb", client, []string{edgeRAN, "7", "0", "0", "0"}, lines)
	checkUsrsctpEchoes(t, "usrsctp client in enb, through edge, NAT and core", out, lines, echo.out.String())
	// echo_server prints IPv4 peers as IPv4-mapped IPv6 addresses.
	if !strings.Contains(echo.out.String(), "received from ::ffff:"+coreCN+":") {
		t.Errorf("echo_server did not see the messages come from the core gateway (%s):\n%s", coreCN, echo.out)
	}

	// UDP encapsulation straight to the core: local encapsulation port
	// 9900, remote 9899.
	lines2 := []string{"over UDP to the core", "Diameter CER"}
	out = usrsctpClient(t, l, "nat", client, []string{coreWAN, "7", "0", "9900", "9899"}, lines2)
	checkUsrsctpEchoes(t, "usrsctp client over UDP to the core", out, lines2, echo.out.String())

	// Both pairs were made and closed; none failed.
	testlab.WaitFor(t, 10*time.Second, "the core's pairs to close", func() bool { return len(core.snapshot().Pairs) == 0 })
	for _, c := range []struct {
		g      *gw
		opened uint64
	}{{edge, 1}, {core, 2}} {
		s := c.g.snapshot().Gateway
		if s.PairsOpened != c.opened || s.PairsClosed != c.opened || s.PairsFailed != 0 {
			t.Errorf("%s: pairs opened %d closed %d failed %d, want %d %d 0", c.g.role, s.PairsOpened, s.PairsClosed, s.PairsFailed, c.opened, c.opened)
		}
		checkGuardShown(t, c.g)
	}
}

// checkGuardShown: a gateway with native routes reports its kernel SCTP
// guard in sctpgw status, as text and JSON. Where the kernel has no sctp
// module (this lab's), it watches for one and has installed nothing.
func checkGuardShown(t *testing.T, g *gw) {
	t.Helper()
	k := g.snapshot().KernelSCTP
	loaded := rawip.KernelSCTPLoaded(os.DirFS("/")) != ""
	if k == nil || k.Installed != loaded || (k.Module != "") != loaded || k.Mark == 0 {
		t.Errorf("%s: status --json kernel_sctp_guard %+v; kernel sctp loaded: %v", g.role, k, loaded)
	}
	want := "kernel sctp not loaded: guard watching for it"
	if loaded {
		want = "guard installed: table inet sctpgw_"
	}
	if out, err := g.statusText(); err != nil || !strings.Contains(out, want) {
		t.Errorf("%s: sctpgw status lacks %q: %v\n%s", g.role, want, err, out)
	}
}

// usrsctpClient runs usrsctp's client in role's namespace with args,
// feeding it lines one by one, closing its input once the last echo is
// back, and returns its output. It is bounded by timeout(1).
func usrsctpClient(t *testing.T, l *lab, role, client string, args, lines []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.ns[role], "timeout", "-s", "KILL", "25", "stdbuf", "-oL", client}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The client connects (blocking) before it reads its input, and prints
	// SCTP_COMM_UP only once it receives something: the lines are written
	// at once and wait in the pipe.
	for _, ln := range lines {
		fmt.Fprintln(stdin, ln)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(out.String(), lines[len(lines)-1]+"\n") {
		time.Sleep(20 * time.Millisecond)
	}
	stdin.Close() // the client shuts down and exits on SHUTDOWN_COMP
	cmd.Wait()
	return out.String()
}

func checkUsrsctpEchoes(t *testing.T, what, out string, lines []string, server string) {
	t.Helper()
	rest := out
	for _, ln := range lines {
		i := strings.Index(rest, ln+"\n")
		if i < 0 {
			t.Fatalf("%s: %q did not come back (in order):\n%s\necho_server:\n%s", what, ln, out, server)
		}
		rest = rest[i+len(ln):]
	}
	if !strings.Contains(out, "SCTP_SHUTDOWN_COMP") {
		t.Fatalf("%s: no SHUTDOWN_COMP after closing the input:\n%s", what, out)
	}
}

// labMsg is one message of the streams test.
type labMsg struct {
	data []byte
	info stack.SndInfo
}

// streamsWorkload: n messages on 100 streams with S1AP (18), NGAP (60),
// Diameter (46), M3UA (3) and the largest PPID, every fifth unordered,
// sizes from 1 byte to 200 KB (fragmented on every hop, reassembled by
// each gateway and by the far end). Each starts with its index and "|".
func streamsWorkload(n int) []labMsg {
	ppids := []uint32{18, 60, 46, 3, 0xffffffff}
	out := make([]labMsg, n)
	for i := range out {
		size := 1 + (i*7919)%2000
		switch {
		case i == n/2:
			size = 200_000
		case i%50 == 7:
			size = 20_000 + 80*i
		}
		r := rand.New(rand.NewPCG(uint64(i), 8))
		d := fmt.Appendf(nil, "%d|", i)
		for len(d) < size {
			d = append(d, byte(r.Uint32()))
		}
		out[i] = labMsg{data: d, info: stack.SndInfo{Stream: uint16(i % 100), PPID: ppids[i%len(ppids)], Unordered: i%5 == 2}}
	}
	return out
}

// checkDelivery compares what arrived with what was sent: each message
// once, whole, with its stream, PPID and flag, ordered messages in order
// per stream.
func checkDelivery(sent []labMsg, got []stack.Message) error {
	if len(got) != len(sent) {
		return fmt.Errorf("%d messages arrived, %d were sent", len(got), len(sent))
	}
	seen := make([]bool, len(sent))
	last := map[uint16]int{}
	for _, m := range got {
		var i int
		if _, err := fmt.Sscanf(string(m.Data[:min(len(m.Data), 12)]), "%d|", &i); err != nil || i < 0 || i >= len(sent) {
			return fmt.Errorf("unknown message %q", trunc(m.Data))
		}
		s := sent[i]
		switch {
		case seen[i]:
			return fmt.Errorf("message %d arrived twice", i)
		case !bytes.Equal(m.Data, s.data):
			return fmt.Errorf("message %d: %d bytes arrived, %d sent, or different content", i, len(m.Data), len(s.data))
		case m.Stream != s.info.Stream || m.PPID != s.info.PPID || m.Unordered != s.info.Unordered:
			return fmt.Errorf("message %d: stream %d ppid %d unordered %v, sent on stream %d ppid %d unordered %v",
				i, m.Stream, m.PPID, m.Unordered, s.info.Stream, s.info.PPID, s.info.Unordered)
		}
		seen[i] = true
		if !m.Unordered {
			if p, ok := last[m.Stream]; ok && p > i {
				return fmt.Errorf("stream %d: ordered message %d arrived after %d", m.Stream, i, p)
			}
			last[m.Stream] = i
		}
	}
	return nil
}

// echoStreamsAndShutdown sends n messages of streamsWorkload from the eNB's
// association a to the MME's fa, which echoes them: each must arrive at the
// MME, and its echo back at the eNB, whole, once, in order per stream, with
// its stream, PPID and flag (checkDelivery). Then the eNB shuts down
// gracefully, which must end the MME's side with SHUTDOWN_COMP.
func echoStreamsAndShutdown(ctx context.Context, t *testing.T, a *stack.Assoc, fa *farAssoc, n int) {
	t.Helper()
	work := streamsWorkload(n)
	echoes := make(chan []stack.Message, 1)
	go func() {
		var got []stack.Message
		for range work {
			m, err := a.RecvMsg(ctx)
			if err != nil {
				break
			}
			got = append(got, m)
		}
		echoes <- got
	}()
	for _, m := range work {
		if err := a.SendMsg(ctx, bytes.Clone(m.data), m.info); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	got := <-echoes
	if err := checkDelivery(work, fa.received()); err != nil {
		t.Errorf("at the MME: %v", err)
	}
	if err := checkDelivery(work, got); err != nil {
		t.Errorf("echoes at the eNB: %v", err)
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Errorf("eNB's graceful shutdown: %v", err)
	}
	if ev := fa.waitEnd(t, 10*time.Second); ev.Type != engine.ShutdownComp {
		t.Errorf("MME side of the eNB's shutdown ended with %v (%v), want SHUTDOWN_COMP", ev.Type, ev.Err)
	}
}

// TestE2EOwnStackMessagesAndTeardown: our stack at both ends (eNB in enb,
// MME in mme), the real gateways and NAT between.
//
//   - 500 messages on 100 streams, five PPIDs, a fifth unordered, 1 byte to
//     200 KB, arrive at the MME whole, once, with stream, PPID and flag, in
//     order per stream; the MME's echoes come back the same way; both ends
//     see 100 streams each way.
//   - Graceful shutdown from the eNB, and from the MME: both ends get
//     SHUTDOWN_COMP, and every echo sent before the MME's shutdown arrives.
//   - Abort from the eNB, and from the MME, with a User-Initiated Abort
//     (cause 12) whose reason (odd length, non-UTF-8 bytes) reaches the
//     other end byte for byte.
//   - A capture of the tunnel beyond the NAT decodes in tshark as SCTP in
//     UDP with good CRC32c and UDP checksums.
func TestE2EOwnStackMessagesAndTeardown(t *testing.T) {
	l := newLab(t)
	edge, core := l.gateways(36412)
	capture := startCapture(t, l, "nat", "nat-out")

	streams := stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 100, MaxInStreams: 100}}
	far := serveFar(t, l.nativeStack("mme", mmeAddr), streams, 36412)
	enb := l.nativeStack("enb", enbAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// 1. Many streams, PPIDs, unordered messages, sizes.
	a, err := dialEdge(ctx, enb, "", 36412, "streams", streams)
	if err != nil {
		t.Fatalf("connect through the gateways: %v", err)
	}
	fa := far.get("streams", 10*time.Second)
	if o, i := a.Streams(); o != 100 || i != 100 {
		t.Errorf("eNB side: %d out / %d in streams, want 100/100", o, i)
	}
	if o, i := fa.a.Streams(); o != 100 || i != 100 {
		t.Errorf("MME side: %d out / %d in streams, want 100/100", o, i)
	}
	echoStreamsAndShutdown(ctx, t, a, fa, 500)

	// 2. Graceful shutdown from the MME: every echo first, then
	// SHUTDOWN_COMP at both ends.
	b, err := dialEdge(ctx, enb, "", 36412, "mme-shutdown", streams)
	if err != nil {
		t.Fatal(err)
	}
	fb := far.get("mme-shutdown", 10*time.Second)
	for i := range 20 {
		if err := b.SendMsg(ctx, fmt.Appendf(nil, "before shutdown %d", i), stack.SndInfo{Stream: uint16(i), PPID: 18}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if err := echoWait(ctx, b, fmt.Sprintf("before shutdown %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SendMsg(ctx, []byte("CMD shutdown"), stack.SndInfo{PPID: 18}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RecvMsg(ctx); !isEnd(err, engine.ShutdownComp) {
		t.Errorf("eNB side of the MME's shutdown: %v, want SHUTDOWN_COMP", err)
	}
	if ev := fb.waitEnd(t, 10*time.Second); ev.Type != engine.ShutdownComp {
		t.Errorf("MME's own shutdown ended with %v (%v), want SHUTDOWN_COMP", ev.Type, ev.Err)
	}

	// 3. Abort from the eNB with a reason.
	const enbReason = "lab: eNB reset \x00\xff\x01" // 18 bytes: padded on the wire
	c, err := dialEdge(ctx, enb, "", 36412, "enb-abort", streams)
	if err != nil {
		t.Fatal(err)
	}
	fc := far.get("enb-abort", 10*time.Second)
	c.AbortReason(enbReason)
	if err := checkUserAbort(fc.waitEnd(t, 10*time.Second), enbReason); err != nil {
		t.Errorf("the MME's view of the eNB's abort: %v", err)
	}

	// 4. Abort from the MME with a reason.
	const mmeReason = "MME: S1 reset, overload \xfe" // 25 bytes
	d, err := dialEdge(ctx, enb, "", 36412, "mme-abort", streams)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SendMsg(ctx, []byte("CMD abort "+mmeReason), stack.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	_, err = d.RecvMsg(ctx)
	var ae *stack.AssocError
	if !errors.As(err, &ae) {
		t.Fatalf("the eNB's association after the MME's abort: %v", err)
	}
	if err := checkUserAbort(ae.Event, mmeReason); err != nil {
		t.Errorf("the eNB's view of the MME's abort: %v", err)
	}

	testlab.WaitFor(t, 10*time.Second, "both gateways to close every pair", func() bool {
		return len(edge.snapshot().Pairs) == 0 && len(core.snapshot().Pairs) == 0
	})
	for _, g := range []*gw{edge, core} {
		s := g.snapshot().Gateway
		if s.PairsOpened != 4 || s.PairsClosed != 4 || s.PairsFailed != 0 {
			t.Errorf("%s: pairs opened %d closed %d failed %d, want 4 4 0", g.role, s.PairsOpened, s.PairsClosed, s.PairsFailed)
		}
	}
	if capture != nil {
		capture.check(t, 9899, []string{"1", "2", "10", "11", "0", "3", "7", "8", "14", "6"}, []string{"18", "60", "46", "3", "4294967295"})
	}
}

// echoWait reads one message and expects want.
func echoWait(ctx context.Context, a *stack.Assoc, want string) error {
	m, err := a.RecvMsg(ctx)
	if err != nil {
		return err
	}
	if string(m.Data) != want {
		return fmt.Errorf("got %q, want %q", trunc(m.Data), want)
	}
	return nil
}

func isEnd(err error, typ stack.EventTyp) bool {
	var ae *stack.AssocError
	return errors.As(err, &ae) && ae.Event.Type == typ
}

// TestE2EHundredAssociationsNATRebinding: 100 associations at once from
// the eNB through the gateways, each echoing; `sctpgw status` in each
// gateway's namespace shows the 100 pairs with both sides ESTABLISHED.
// Then the NAT misbehaves, and every association stays up and carries
// data:
//
//   - conntrack -F: the NAT forgets its mappings;
//   - a new masquerade port range and a flush: the edge's tunnel appears at
//     the core from a new UDP port, which the core learns from the next
//     packet of each association (RFC 6951 5.4), the eNB talking first;
//   - again, the MME talking first: the core's packets go to the dead
//     mapping until each association's next packet from the edge (at the
//     latest its heartbeat, 15 s on UDP paths) shows the new port.
//
// Finally all 100 shut down gracefully; no pair failed, nothing aborted.
func TestE2EHundredAssociationsNATRebinding(t *testing.T) {
	needRoot(t, "conntrack")
	const n = 100
	l := newLab(t)
	edge, core := l.gateways(36412)
	opts := stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 16, MaxInStreams: 16}}
	far := serveFar(t, l.nativeStack("mme", mmeAddr), opts, 36412)
	enb := l.nativeStack("enb", enbAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	assocs := make([]*stack.Assoc, n)
	parallel(t, n, func(i int) error {
		a, err := dialEdge(ctx, enb, "", 36412, fmt.Sprintf("hundred-%d", i), opts)
		if err != nil {
			return err
		}
		assocs[i] = a
		return echoOnce(ctx, a, fmt.Appendf(nil, "up %d", i), stack.SndInfo{Stream: uint16(i % 16), PPID: 18})
	})
	if out, _ := edge.statusText(); !strings.Contains(out, fmt.Sprintf("%d pairs", n)) {
		t.Errorf("sctpgw status in edge:\n%s", out)
	}
	checkPairs(t, edge.snapshot(), n, "native", enbAddr, 0, "udp", coreWAN, 9899)
	ports := checkPairs(t, core.snapshot(), n, "udp", natPublic, 0, "native", mmeAddr, 0)
	t.Logf("the core sees the edge's tunnel from %s udp/%v", natPublic, ports)
	fars := make([]*farAssoc, n)
	for i := range fars {
		fars[i] = far.get(fmt.Sprintf("hundred-%d", i), 10*time.Second)
	}

	round := func(what string) {
		t.Helper()
		parallel(t, n, func(i int) error {
			return echoOnce(ctx, assocs[i], fmt.Appendf(nil, "%s %d", what, i), stack.SndInfo{Stream: uint16(i % 16), PPID: 18, Unordered: i%2 == 0})
		})
	}

	// The NAT forgets its mappings.
	l.flushConntrack()
	round("after conntrack -F")

	// A new port range: the eNB talks first.
	l.masquerade("40000-40099")
	l.flushConntrack()
	round("after rebinding")
	ports = checkPairs(t, core.snapshot(), n, "udp", natPublic, 40000, "native", mmeAddr, 0)
	t.Logf("after the new port range, the core sees udp/%v", ports)

	// Another range: the MME talks first. Everything is acknowledged before
	// the NAT changes (delayed SACKs go within 200 ms), so no packet from
	// the edge is on its way to show the core the new port.
	time.Sleep(time.Second)
	l.masquerade("41000-41099")
	l.flushConntrack()
	start := time.Now()
	var mu sync.Mutex
	var waits []time.Duration
	parallel(t, n, func(i int) error {
		msg := fmt.Appendf(nil, "paging %d", i)
		if err := fars[i].a.SendMsg(ctx, bytes.Clone(msg), stack.SndInfo{Stream: 1, PPID: 18}); err != nil {
			return fmt.Errorf("MME send: %w", err)
		}
		m, err := assocs[i].RecvMsg(ctx)
		if err != nil {
			return err
		}
		if !bytes.Equal(m.Data, msg) {
			return fmt.Errorf("got %q, want %q", m.Data, msg)
		}
		mu.Lock()
		waits = append(waits, time.Since(start))
		mu.Unlock()
		return echoOnce(ctx, assocs[i], fmt.Appendf(nil, "paging response %d", i), stack.SndInfo{Stream: 1, PPID: 18})
	})
	slices.Sort(waits)
	t.Logf("MME-first data after the NAT rebinding reached the eNB after %v (median) to %v (last)", waits[n/2].Round(time.Millisecond), waits[n-1].Round(time.Millisecond))
	ports = checkPairs(t, core.snapshot(), n, "udp", natPublic, 41000, "native", mmeAddr, 0)
	t.Logf("after the MME-first rebinding, the core sees udp/%v", ports)

	parallel(t, n, func(i int) error { return assocs[i].Shutdown(ctx) })
	for i, fa := range fars {
		if ev := fa.waitEnd(t, 10*time.Second); ev.Type != engine.ShutdownComp {
			t.Errorf("MME side of association %d ended with %v (%v)", i, ev.Type, ev.Err)
		}
	}
	testlab.WaitFor(t, 10*time.Second, "both gateways to close every pair", func() bool {
		return len(edge.snapshot().Pairs) == 0 && len(core.snapshot().Pairs) == 0
	})
	for _, g := range []*gw{edge, core} {
		s := g.snapshot()
		if c := s.Gateway; c.PairsOpened != n || c.PairsClosed != n || c.PairsFailed != 0 {
			t.Errorf("%s: pairs opened %d closed %d failed %d, want %d %d 0", g.role, c.PairsOpened, c.PairsClosed, c.PairsFailed, n, n)
		}
		if s.SNMP["SctpAborteds"] != 0 {
			t.Errorf("%s: SctpAborteds %d", g.role, s.SNMP["SctpAborteds"])
		}
		t.Logf("%s: SctpShutdowns %d, SctpT3RtxExpireds %d, SctpOutOfBlues %d", g.role, s.SNMP["SctpShutdowns"], s.SNMP["SctpT3RtxExpireds"], s.SNMP["SctpOutOfBlues"])
	}
}

// parallel runs f(0..n-1) at once and fails the test with the first error.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("association %d: %v", i, err)
		}
	}
}

// checkPairs checks a gateway's snapshot: n pairs, both sides ESTABLISHED,
// on the expected links toward the expected peers. A non-zero encapsulation
// port lo means the ingress side's must be in lo..lo+99; the ingress
// encapsulation ports seen are returned.
func checkPairs(t *testing.T, s gateway.Snapshot, n int, inLink, inPeer string, lo uint16, outLink, outPeer string, outEncap uint16) []uint16 {
	t.Helper()
	if len(s.Pairs) != n {
		t.Fatalf("%d pairs, want %d", len(s.Pairs), n)
	}
	var ports []uint16
	for _, p := range s.Pairs {
		in, out := p.Ingress, p.Egress
		if in.State != "ESTABLISHED" || out.State != "ESTABLISHED" || in.Link != inLink || out.Link != outLink ||
			in.RemoteAddr != inPeer || out.RemoteAddr != outPeer || out.EncapPort != outEncap {
			t.Fatalf("pair %+v", p)
		}
		if lo != 0 && (in.EncapPort < lo || in.EncapPort > lo+99) {
			t.Fatalf("ingress from udp/%d, want %d-%d: %+v", in.EncapPort, lo, lo+99, p)
		}
		if !slices.Contains(ports, in.EncapPort) {
			ports = append(ports, in.EncapPort)
		}
	}
	return ports
}

// TestE2EExampleConfigs runs the gateways with the example route files
// (examples/configs/edge.yaml and core.yaml, whose addresses are this
// lab's): an S1AP association (36412) reaches the MME at 198.18.2.10 and
// an NGAP one (38412) the AMF at 198.18.2.20, with their PPIDs; the edge's
// ACL refuses an eNB address it does not list, and the eNB's connect fails
// with the policy's reason. Then SIGTERM drains the edge: the open
// associations end gracefully at both ends and the daemon exits 0.
func TestE2EExampleConfigs(t *testing.T) {
	l := newLab(t)
	edgeFile, coreFile := filepath.Join("..", "configs", "edge.yaml"), filepath.Join("..", "configs", "core.yaml")
	ec, err := gateway.LoadConfig(edgeFile)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := gateway.LoadConfig(coreFile)
	if err != nil {
		t.Fatal(err)
	}
	edge := l.startGateway("edge", *ec.Admin, "--config", edgeFile)
	core := l.startGateway("core", *cc.Admin, "--config", coreFile)
	opts := stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 8, MaxInStreams: 8}}
	far := serveFar(t, l.nativeStack("mme", mmeAddr, amfAddr), opts, 36412, 38412)
	enb := l.nativeStack("enb", enbAddr, enbAlt)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var open []*stack.Assoc
	for _, c := range []struct {
		port uint16
		ppid uint32
		to   string
	}{{36412, 18, mmeAddr}, {38412, 60, amfAddr}} {
		label := fmt.Sprintf("port-%d", c.port)
		a, err := dialEdge(ctx, enb, enbAddr, c.port, label, opts)
		if err != nil {
			t.Fatalf("connect to the edge's port %d: %v", c.port, err)
		}
		if err := echoOnce(ctx, a, []byte("setup request"), stack.SndInfo{Stream: 0, PPID: c.ppid}); err != nil {
			t.Fatalf("port %d: %v", c.port, err)
		}
		fa := far.get(label, 5*time.Second)
		if st := fa.a.Status(); fa.port != c.port || st.Primary.Path.Local.String() != c.to {
			t.Errorf("port %d arrived on port %d at %v, want %s", c.port, fa.port, st.Primary.Path.Local, c.to)
		}
		open = append(open, a)
	}
	s := edge.snapshot()
	var routes []string
	for _, p := range s.Pairs {
		routes = append(routes, p.Route)
	}
	slices.Sort(routes)
	if !slices.Equal(routes, []string{"ngap", "s1ap"}) {
		t.Errorf("edge pairs on routes %v, want ngap and s1ap", routes)
	}

	// A source the edge's ACL does not list: refused with a reason.
	_, err = dialEdge(ctx, enb, enbAlt, 36412, "refused", opts)
	var ae *stack.AssocError
	if !errors.As(err, &ae) {
		t.Fatalf("connect from %s (not in the ACL): %v, want a refusal", enbAlt, err)
	}
	cs, _ := parseCauses(ae.Event.CauseBytes)
	if len(cs) != 1 || cs[0].code != 12 || !strings.Contains(string(cs[0].value), "refused by policy") {
		t.Errorf("refusal from the edge: %v with causes %q, want a User-Initiated Abort saying refused by policy", ae.Event.Type, ae.Event.CauseBytes)
	} else {
		t.Logf("refused: %s", cs[0].value)
	}
	if st, err := edge.statusText(); err != nil || !strings.Contains(st, "refused 1") {
		t.Errorf("edge status after the refusal (%v) does not count it:\n%s", err, st)
	}

	// SIGTERM drains the edge: both open associations end gracefully.
	edge.p.signal(syscall.SIGTERM)
	for i, a := range open {
		if _, err := a.RecvMsg(ctx); !isEnd(err, engine.ShutdownComp) {
			t.Errorf("eNB association %d after the edge's SIGTERM: %v, want SHUTDOWN_COMP", i, err)
		}
	}
	for _, label := range []string{"port-36412", "port-38412"} {
		if ev := far.get(label, time.Second).waitEnd(t, 15*time.Second); ev.Type != engine.ShutdownComp {
			t.Errorf("%s at the MME/AMF after the edge's SIGTERM: %v (%v), want SHUTDOWN_COMP", label, ev.Type, ev.Err)
		}
	}
	if !edge.p.wait(15 * time.Second) {
		t.Fatalf("edge still running 15 s after SIGTERM:\n%s", edge.p.out)
	}
	if code := edge.p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("edge exited with %d after draining:\n%s", code, edge.p.out)
	}
	testlab.WaitFor(t, 10*time.Second, "the core to close its pairs", func() bool { return len(core.snapshot().Pairs) == 0 })
}
