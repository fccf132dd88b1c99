//go:build linux

// Command s1sim is the compose lab's eNB/gNB and MME/AMF: S1AP-flavoured
// peers on sctpgw's own SCTP stack over raw sockets (native SCTP, IP
// protocol 132; CAP_NET_RAW). The payloads are not ASN.1: they are labelled
// text, but they travel as S1AP or NGAP would, non-UE signalling on stream
// 0 and UE-associated messages on the other streams, with the IANA PPID (18
// S1AP, 60 NGAP) and some unordered.
//
//	s1sim mme -ports 36412,38412
//	s1sim enb -name enb1 -target edge:36412 -ppid 18 -messages 200 -hold
//
// The MME answers every request on its stream, with its PPID and unordered
// flag, saying what it received (sequence number, stream, PPID, flag,
// length, CRC32). The eNB sends a setup request, then its messages, checks
// every answer against what it sent, prints one line with the result, and
// with -hold keeps the association until the far end ends it, printing how
// (a gateway's drain ends it with SHUTDOWN). Exit status: 0 when every
// answer was intact (and, with -hold, the association ended gracefully).
package main

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
)

// PPIDs (IANA SCTP Payload Protocol Identifiers).
const (
	ppidS1AP = 18
	ppidNGAP = 60
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: s1sim mme|enb [flags]; s1sim mme -h, s1sim enb -h")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "mme":
		err = mmeMain(os.Args[2:])
	case "enb":
		err = enbMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown role %q: expected mme or enb", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "s1sim:", err)
		os.Exit(1)
	}
}

// nativeStack opens our stack on raw sockets serving ports.
func nativeStack(ports []uint16) (*stack.Stack, error) {
	l, err := rawip.Listen(rawip.Config{Ports: ports})
	if err != nil {
		return nil, err
	}
	st, err := stack.New(stack.Config{Links: []link.Link{l}})
	if err != nil {
		l.Close()
		return nil, err
	}
	return st, nil
}

// setupNames are the non-UE procedure each PPID opens with.
func setupNames(ppid uint32) (req, rsp string) {
	if ppid == ppidNGAP {
		return "NGSetupRequest", "NGSetupResponse"
	}
	return "S1SetupRequest", "S1SetupResponse"
}

// request is message seq of an eNB's flow: its stream, flag and bytes
// follow from seq alone, so the MME's answer can be checked.
type request struct {
	seq       int
	stream    uint16
	unordered bool
	data      []byte
}

func makeRequest(name string, seq int, streams uint16) request {
	r := request{seq: seq, stream: 1 + uint16(seq%int(streams-1)), unordered: seq%5 == 0}
	size := 40 + (seq*397)%1800 // up to about 1.8 KB: some span two packets
	if seq%50 == 0 {
		size = 9000 // a message of several fragments
	}
	b := fmt.Appendf(nil, "REQ %s %d ", name, seq)
	for len(b) < size {
		b = append(b, byte('a'+(len(b)+seq)%26))
	}
	r.data = b
	return r
}

// answerText is what the MME says about a request it received.
func answerText(seq int, stream uint16, ppid uint32, unordered bool, data []byte) string {
	u := 0
	if unordered {
		u = 1
	}
	return fmt.Sprintf("RSP %d s=%d p=%d u=%d n=%d crc=%08x", seq, stream, ppid, u, len(data), crc32.ChecksumIEEE(data))
}

// parseSeq reads the sequence number of "REQ name seq ..." or "RSP seq ...".
func parseSeq(data []byte, field int) (int, bool) {
	f := strings.Fields(string(data[:min(len(data), 64)]))
	if len(f) <= field {
		return 0, false
	}
	n, err := strconv.Atoi(f[field])
	return n, err == nil
}

// howEnded describes the error that ended an association.
func howEnded(err error) (string, bool) {
	var ae *stack.AssocError
	if !errors.As(err, &ae) {
		return err.Error(), false
	}
	ev := ae.Event
	if ev.Type == engine.ShutdownComp {
		return "SHUTDOWN_COMP (graceful)", true
	}
	s := ev.Type.String()
	for _, c := range ev.Causes {
		s += fmt.Sprintf(", cause %v", c.CauseCode())
	}
	if ev.Err != nil {
		s += ": " + ev.Err.Error()
	}
	return s, false
}

// resolveHost looks host up until it has an IPv4 address or the deadline
// passes: in a compose lab a peer's name appears when it starts.
func resolveHost(host string, deadline time.Time) (netip.Addr, error) {
	for {
		addrs, err := net.LookupHost(host)
		for _, a := range addrs {
			if ip, perr := netip.ParseAddr(a); perr == nil && ip.Is4() {
				return ip, nil
			}
		}
		if time.Now().After(deadline) {
			return netip.Addr{}, fmt.Errorf("%s: no IPv4 address: %v", host, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ephemeralPort picks a client port as an eNB's kernel would.
func ephemeralPort() uint16 { return uint16(49152 + rand.IntN(16384)) }
