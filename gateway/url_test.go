package gateway

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	good := []struct {
		in   string
		want Endpoint
	}{
		{"sctp://0.0.0.0:36412", Endpoint{Host: "0.0.0.0", Addr: netip.MustParseAddr("0.0.0.0"), SCTPPort: 36412}},
		{"sctp://[2001:db8::1]:38412", Endpoint{Host: "2001:db8::1", Addr: netip.MustParseAddr("2001:db8::1"), SCTPPort: 38412}},
		{"udp://198.18.0.1:9899/36412", Endpoint{Encap: true, Host: "198.18.0.1", Addr: netip.MustParseAddr("198.18.0.1"), UDPPort: 9899, SCTPPort: 36412}},
		{"udp://198.18.0.1/3868", Endpoint{Encap: true, Host: "198.18.0.1", Addr: netip.MustParseAddr("198.18.0.1"), UDPPort: 9899, SCTPPort: 3868}},
		{"udp://[::]:40000/36412", Endpoint{Encap: true, Host: "::", Addr: netip.MustParseAddr("::"), UDPPort: 40000, SCTPPort: 36412}},
		{"dtls://198.18.0.1:4740/36412", Endpoint{DTLS: true, Host: "198.18.0.1", Addr: netip.MustParseAddr("198.18.0.1"), UDPPort: 4740, SCTPPort: 36412}},
	}
	for _, g := range good {
		got, err := ParseEndpoint(g.in, nil)
		if err != nil || got != g.want {
			t.Errorf("%s: got %+v, %v; want %+v", g.in, got, err, g.want)
		}
		if err == nil && !strings.HasPrefix(got.String(), strings.SplitN(g.in, "://", 2)[0]) {
			t.Errorf("%s: String() = %s", g.in, got)
		}
	}
	bad := map[string]string{
		"36412":                 "expected sctp://",
		"tcp://1.2.3.4:5":       "unknown scheme",
		"udp://1.2.3.4:9899":    "SCTP port after the slash",
		"sctp://1.2.3.4:0":      "1-65535",
		"sctp://1.2.3.4:70000":  "1-65535",
		"udp://1.2.3.4:9899/x":  "SCTP port",
		"sctp://core.example:1": "not an IP address",
		"sctp://:36412":         "missing host",
		"dtls://1.2.3.4/36412":  "DTLS port is not optional",
		"dtls://1.2.3.4:4740":   "SCTP port after the slash",
	}
	for in, frag := range bad {
		if _, err := ParseEndpoint(in, nil); err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("%s: error %v, want it to mention %q", in, err, frag)
		}
	}
}
