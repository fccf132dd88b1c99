package gateway

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/stack/link"
)

func addrOf(s string) netip.Addr { return netip.MustParseAddr(s) }

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
		{"sctp://198.18.1.1,198.18.5.1:36412", Endpoint{Host: "198.18.1.1", Addr: addrOf("198.18.1.1"), SCTPPort: 36412,
			Hosts: []string{"198.18.1.1", "198.18.5.1"}, Addrs: []netip.Addr{addrOf("198.18.1.1"), addrOf("198.18.5.1")}}},
		{"sctp://[2001:db8::1],198.18.5.1,[2001:db8::2]:38412", Endpoint{Host: "2001:db8::1", Addr: addrOf("2001:db8::1"), SCTPPort: 38412,
			Hosts: []string{"2001:db8::1", "198.18.5.1", "2001:db8::2"}, Addrs: []netip.Addr{addrOf("2001:db8::1"), addrOf("198.18.5.1"), addrOf("2001:db8::2")}}},
		{"sctp://198.18.4.2,198.18.6.2:36412?from=198.18.4.1,198.18.6.1", Endpoint{Host: "198.18.4.2", Addr: addrOf("198.18.4.2"), SCTPPort: 36412,
			Hosts: []string{"198.18.4.2", "198.18.6.2"}, Addrs: []netip.Addr{addrOf("198.18.4.2"), addrOf("198.18.6.2")},
			From: []netip.Addr{addrOf("198.18.4.1"), addrOf("198.18.6.1")}}},
		{"sctp://198.18.4.2:36412?from=198.18.4.1", Endpoint{Host: "198.18.4.2", Addr: addrOf("198.18.4.2"), SCTPPort: 36412,
			Hosts: []string{"198.18.4.2"}, Addrs: []netip.Addr{addrOf("198.18.4.2")}, From: []netip.Addr{addrOf("198.18.4.1")}}},
	}
	for _, g := range good {
		got, err := ParseEndpoint(g.in, nil)
		if g.want.Hosts == nil {
			g.want.Hosts, g.want.Addrs = []string{g.want.Host}, []netip.Addr{g.want.Addr}
		}
		if err != nil || !reflect.DeepEqual(got, g.want) {
			t.Errorf("%s: got %+v, %v; want %+v", g.in, got, err, g.want)
		}
		if err == nil && got.String() != g.in && !strings.HasPrefix(g.in, "udp://198.18.0.1/") {
			t.Errorf("%s: String() = %s", g.in, got)
		}
	}
	bad := map[string]string{
		"36412":                                            "expected sctp://",
		"tcp://1.2.3.4:5":                                  "unknown scheme",
		"udp://1.2.3.4:9899":                               "SCTP port after the slash",
		"sctp://1.2.3.4:0":                                 "1-65535",
		"sctp://1.2.3.4:70000":                             "1-65535",
		"udp://1.2.3.4:9899/x":                             "SCTP port",
		"sctp://core.example:1":                            "not an IP address",
		"sctp://:36412":                                    "missing host",
		"dtls://1.2.3.4/36412":                             "DTLS port is not optional",
		"dtls://1.2.3.4:4740":                              "SCTP port after the slash",
		"sctp://1.2.3.4,2001:db8::1:5":                     "goes in brackets",
		"sctp://1.2.3.4,1.2.3.4:5":                         "named twice",
		"sctp://1.2.3.4,0.0.0.0:5":                         "wildcard goes alone",
		"sctp://1.2.3.4,,1.2.3.5:5":                        "missing host",
		"sctp://1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5:5": "at most 4",
		"sctp://1.2.3.4,1.2.3.5":                           "port after the last colon",
		"sctp://1.2.3.4,1.2.3.5:5?to=1.1.1.1":              "the one option is from=",
		"sctp://1.2.3.4:5?from=0.0.0.0":                    "name the local addresses",
		"sctp://1.2.3.4,core.example:5":                    "not an IP address",
		"udp://1.2.3.4,1.2.3.5:9899/5":                     "single-path",
		"dtls://1.2.3.4,1.2.3.5:4740/5":                    "single-path",
	}
	for in, frag := range bad {
		if _, err := ParseEndpoint(in, nil); err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("%s: error %v, want it to mention %q", in, err, frag)
		}
	}
}

// TestMultihomedRoute: YAML routes with several native addresses plan into
// the native link's served addresses (listen addresses and from=
// addresses), and into routes whose ingress lists its addresses, whose
// egress dials the target's addresses from its own, the first of each the
// primary; a tunnel URL with several addresses, and from= on a listen
// URL, are refused naming the field.
func TestMultihomedRoute(t *testing.T) {
	doc := `routes:
  - name: edge
    listen: sctp://198.18.1.1,198.18.5.1:36412
    forward: udp://198.19.0.2:9899/36412
  - name: core
    listen: udp://0.0.0.0:9899/38412
    forward: "sctp://198.18.4.2,198.18.6.2:36412?from=198.18.4.1,198.18.6.1"
`
	c, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{addrOf("198.18.1.1"), addrOf("198.18.5.1"), addrOf("198.18.4.1"), addrOf("198.18.6.1")}
	if !reflect.DeepEqual(p.NativeAddrs, want) {
		t.Fatalf("native link serves %v, want %v", p.NativeAddrs, want)
	}
	edge := &Route{}
	multihome(edge, p.Routes[0].Listen, p.Routes[0].Forward)
	if !reflect.DeepEqual(edge.Ingress.LocalAddrs, want[:2]) || edge.ForwardMore != nil || edge.Egress.LocalAddrs != nil {
		t.Fatalf("edge route %+v", edge)
	}
	core := &Route{ForwardPath: link.Path{Remote: p.Routes[1].Forward.Addr}}
	multihome(core, p.Routes[1].Listen, p.Routes[1].Forward)
	if core.Ingress.LocalAddrs != nil || !reflect.DeepEqual(core.ForwardMore, []netip.Addr{addrOf("198.18.6.2")}) ||
		!reflect.DeepEqual(core.Egress.LocalAddrs, want[2:]) || core.ForwardPath.Local != want[2] || core.ForwardPath.Remote != addrOf("198.18.4.2") {
		t.Fatalf("core route %+v", core)
	}
	if s := p.Routes[1].Forward.String(); s != "sctp://198.18.4.2,198.18.6.2:36412?from=198.18.4.1,198.18.6.1" {
		t.Fatalf("forward prints as %s", s)
	}
	for _, bad := range []struct{ listen, forward, want string }{
		{"sctp://198.18.1.1:36412?from=198.18.1.2", "udp://198.19.0.2:9899/36412", "routes[0].listen"},
		{"sctp://198.18.1.1:36412", "udp://198.19.0.2,198.19.0.3:9899/36412", "routes[0].forward"},
	} {
		c := &Config{Routes: []RouteConfig{{Listen: bad.listen, Forward: bad.forward}}}
		if _, err := c.Plan(nil); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s -> %s: %v, want an error naming %s", bad.listen, bad.forward, err, bad.want)
		}
	}
}
