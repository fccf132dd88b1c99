//go:build linux

package rawip

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

// TestClassify follows RFC 9260 section 10 for every ICMP case the link
// tells apart, without a kernel.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		v6     bool
		e      errEntry
		want   link.Notice
		wantOK bool
	}{
		{false, errEntry{origin: unix.SO_EE_ORIGIN_ICMP, typ: 3, code: 4}, link.NoticeFragNeeded, true},
		{false, errEntry{origin: unix.SO_EE_ORIGIN_ICMP, typ: 3, code: 1}, link.NoticeUnreachable, true},
		{false, errEntry{origin: unix.SO_EE_ORIGIN_ICMP, typ: 3, code: 2}, link.NoticeProtoUnreachable, true}, // protocol unreachable: ICMP8
		{false, errEntry{origin: unix.SO_EE_ORIGIN_ICMP, typ: 3, code: 3}, link.NoticeNone, false},            // port unreachable: ICMP3
		{false, errEntry{origin: unix.SO_EE_ORIGIN_ICMP, typ: 11, code: 0}, link.NoticeNone, false},           // time exceeded: ICMP1
		{false, errEntry{origin: unix.SO_EE_ORIGIN_LOCAL, errno: uint32(unix.EMSGSIZE)}, link.NoticeFragNeeded, true},
		{false, errEntry{origin: unix.SO_EE_ORIGIN_LOCAL, errno: uint32(unix.ENOBUFS)}, link.NoticeNone, false},
		{true, errEntry{origin: unix.SO_EE_ORIGIN_ICMP6, typ: 2}, link.NoticeFragNeeded, true},
		{true, errEntry{origin: unix.SO_EE_ORIGIN_ICMP6, typ: 1, code: 3}, link.NoticeUnreachable, true},
		{true, errEntry{origin: unix.SO_EE_ORIGIN_ICMP6, typ: 1, code: 4}, link.NoticeNone, false},            // port unreachable
		{true, errEntry{origin: unix.SO_EE_ORIGIN_ICMP6, typ: 4, code: 1}, link.NoticeProtoUnreachable, true}, // unrecognized next header
		{true, errEntry{origin: unix.SO_EE_ORIGIN_ICMP6, typ: 4, code: 0}, link.NoticeNone, false},            // ICMP4
		{true, errEntry{origin: unix.SO_EE_ORIGIN_ICMP6, typ: 3}, link.NoticeNone, false},                     // time exceeded
		{true, errEntry{origin: unix.SO_EE_ORIGIN_ICMP, typ: 3, code: 4}, link.NoticeNone, false},             // wrong family
	} {
		got, ok := classify(c.v6, c.e)
		if got != c.want || ok != c.wantOK {
			t.Errorf("v6=%v %+v: %v %v, want %v %v", c.v6, c.e, got, ok, c.want, c.wantOK)
		}
	}
}

// TestCmsgRoundTrip: what putPktinfo writes, nextCmsg reads back.
func TestCmsgRoundTrip(t *testing.T) {
	for _, a := range []string{"198.18.0.1", "2001:2::1"} {
		addr := netip.MustParseAddr(a)
		var b [oobWrite]byte
		n := putPktinfo(b[:], addr)
		c, rest, ok := nextCmsg(b[:n])
		if !ok || len(rest) != 0 {
			t.Fatalf("%s: ok %v, %d bytes left", a, ok, len(rest))
		}
		var got netip.Addr
		switch {
		case c.level == unix.IPPROTO_IP && c.typ == unix.IP_PKTINFO:
			got = netip.AddrFrom4([4]byte(c.data[4:8])) // ipi_spec_dst
		case c.level == unix.IPPROTO_IPV6 && c.typ == unix.IPV6_PKTINFO:
			got = netip.AddrFrom16([16]byte(c.data[0:16]))
		}
		if got != addr {
			t.Errorf("%s: read back %v (level %d type %d)", a, got, c.level, c.typ)
		}
	}
	if _, _, ok := nextCmsg([]byte{1, 2, 3}); ok {
		t.Error("a runt control buffer parsed")
	}
}
