package testlab

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// A program's socket is not its readiness. usrsctp's programs open their
// sockets in usrsctp_init (raw SCTP sockets natively, the UDP socket when
// encapsulating) and only later set their blackhole sysctl and listen; in
// between they answer an INIT for a port nobody listens on with an ABORT
// (out of the blue, RFC 9260 8.4 (3)), which fails a dial with "aborted by
// peer", and after it they drop INITs until they listen. A loaded machine
// can hold a program in that window for milliseconds. So a test waits for
// what it needs: an INIT answered with an INIT ACK. The probe leaves no
// state behind (the INIT ACK's state is in its cookie, RFC 9260 5.1.3, and
// no COOKIE ECHO follows) and changes no counter a test reads of the
// server (usrsctp's programs report messages, not handshakes).

// The probe's SCTP port and Initiate Tag: the port is below the ephemeral
// range (49152-65535) our dialling stacks use.
const (
	probePort = 5009
	probeTag  = 0x0b5e7e01
)

// WaitSCTPListening returns once the SCTP endpoint at to answers an INIT
// to port, sent natively from from (IPv4) out of namespace ns ("": this
// one), with an INIT ACK. It fails the test when p (optional) exits or 10 s
// pass. It uses a raw socket of its own, closed before it returns; its
// replies carry a port our stacks do not serve.
func WaitSCTPListening(tb testing.TB, ns string, from, to netip.Addr, port uint16, p *Proc) {
	tb.Helper()
	if !from.Is4() || !to.Is4() {
		tb.Fatalf("WaitSCTPListening: IPv4 only (%v to %v)", from, to)
	}
	var fd int
	err := inNSOrHere(ns, func() (err error) {
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 132); err != nil {
			return fmt.Errorf("raw SCTP socket: %w", err)
		}
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: from.As4()})
	})
	if err != nil {
		tb.Fatalf("probe in %q: %v", ns, err)
	}
	defer unix.Close(fd)
	dst := &unix.SockaddrInet4{Addr: to.As4()}
	waitProbe(tb, fmt.Sprintf("%v port %d", to, port), port, p,
		func(b []byte) error { return unix.Sendto(fd, b, 0, dst) },
		func(b []byte, d time.Duration) ([]byte, error) {
			tv := unix.NsecToTimeval(d.Nanoseconds())
			if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
				return nil, err
			}
			n, _, err := unix.Recvfrom(fd, b, 0)
			if err != nil || n < 20 || int(b[0]&0x0f)*4 > n {
				return nil, err
			}
			return b[int(b[0]&0x0f)*4 : n], nil // a raw IPv4 socket reads the IP header too
		})
}

// WaitSCTPListeningUDP is WaitSCTPListening for an endpoint that
// encapsulates SCTP in UDP (RFC 6951) at to, probed from a UDP socket of
// its own in namespace ns ("": this one).
func WaitSCTPListeningUDP(tb testing.TB, ns string, to netip.AddrPort, port uint16, p *Proc) {
	tb.Helper()
	var c *net.UDPConn
	err := inNSOrHere(ns, func() (err error) {
		c, err = net.ListenUDP("udp", nil)
		return err
	})
	if err != nil {
		tb.Fatalf("probe in %q: %v", ns, err)
	}
	defer c.Close()
	dst := net.UDPAddrFromAddrPort(to)
	waitProbe(tb, fmt.Sprintf("%v port %d", to, port), port, p,
		func(b []byte) error { _, err := c.WriteToUDP(b, dst); return err },
		func(b []byte, d time.Duration) ([]byte, error) {
			c.SetReadDeadline(time.Now().Add(d))
			n, _, err := c.ReadFromUDP(b)
			return b[:n], err
		})
}

// waitProbe sends INITs to port until one is answered with an INIT ACK.
// recv returns one SCTP packet, or nil or an error when none came in time.
func waitProbe(tb testing.TB, what string, port uint16, p *Proc, send func([]byte) error, recv func([]byte, time.Duration) ([]byte, error)) {
	tb.Helper()
	init := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: probePort, DstPort: port},
		&wire.Init{InitFields: wire.InitFields{InitiateTag: probeTag, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: probeTag}})
	buf := make([]byte, 65536)
	var answers []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p != nil && p.Exited() {
			_, err := p.Wait(0)
			tb.Fatalf("%s exited before it listened: %v", p.Name, err)
		}
		if err := send(init); err != nil {
			// Not there yet: ICMP unreachable reported on the socket.
			time.Sleep(20 * time.Millisecond)
			continue
		}
		wait := time.Now().Add(100 * time.Millisecond)
		for d := time.Until(wait); d > 0; d = time.Until(wait) {
			b, err := recv(buf, d)
			if err != nil && !isTimeout(err) {
				break // an ICMP error: send again
			}
			var w wire.Packet
			if len(b) == 0 || w.Unmarshal(b) != nil || w.SrcPort != port || w.DstPort != probePort ||
				w.VerificationTag != probeTag || len(w.Chunks) == 0 {
				continue // our own INIT on loopback, another's packet, or nothing
			}
			if w.Chunks[0].Type == wire.TypeInitAck {
				return
			}
			answers = append(answers, w.Chunks[0].Type.String())
			time.Sleep(20 * time.Millisecond)
			break
		}
	}
	tb.Fatalf("%s answered no INIT with an INIT ACK within 10 s (answers: %v)", what, answers)
}

func isTimeout(err error) bool {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return true
	}
	return err == unix.EAGAIN || err == unix.EWOULDBLOCK
}

// inNSOrHere runs f in namespace ns, or here when ns is "".
func inNSOrHere(ns string, f func() error) error {
	if ns == "" {
		return f()
	}
	return InNS(ns, f)
}
