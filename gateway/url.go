package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sctpgw/sctpgw/stack/engine"
)

// MaxEndpointAddrs is how many addresses a native URL may name: the paths
// an association keeps per peer (engine.MaxLocalAddrs).
const MaxEndpointAddrs = engine.MaxLocalAddrs

// Endpoint is a parsed listen or forward URL:
//
//	sctp://HOST[,HOST...]:PORT[?from=ADDR[,ADDR...]]   native SCTP, multi-homed with several hosts
//	udp://HOST:UDPPORT/SCTPPORT    SCTP in UDP (RFC 6951); UDPPORT defaults to 9899
//	dtls://HOST:PORT/SCTPPORT      SCTP in DTLS (RFC 8261) between gateways; PORT is the DTLS (UDP) port
//
// A native endpoint may name several addresses (IPv6 ones in brackets), at
// most MaxEndpointAddrs: a listen URL's are the local addresses the
// route serves, listed in its INIT ACK so a multi-homed peer has a path to
// each (RFC 9260 5.1.2, 6.4); a forward URL's are the target's addresses,
// the first the primary path, the others tried and failed over to
// (sctp_connectx). A forward URL's from= names the local addresses the
// egress side dials from and lists in its INIT, so the target has a path to
// each of them too. A tunnel stays single-path: see Endpoint.Tunnel.
type Endpoint struct {
	Encap    bool   // udp://
	DTLS     bool   // dtls://
	Host     string // as written (a name is resolved at start); the first of Hosts
	Addr     netip.Addr
	UDPPort  uint16 // udp:// and dtls:// only
	SCTPPort uint16
	// Hosts and Addrs are every address of the endpoint, Host and Addr
	// first; From the local addresses of a forward URL's from=.
	Hosts []string
	Addrs []netip.Addr
	From  []netip.Addr
}

func (e Endpoint) String() string {
	hosts := e.Hosts
	if len(hosts) == 0 {
		hosts = []string{e.Host}
	}
	hs := make([]string, len(hosts))
	for i, h := range hosts {
		hs[i] = bracket(h)
	}
	h := strings.Join(hs, ",")
	if e.Encap {
		return fmt.Sprintf("udp://%s:%d/%d", h, e.UDPPort, e.SCTPPort)
	}
	if e.DTLS {
		return fmt.Sprintf("dtls://%s:%d/%d", h, e.UDPPort, e.SCTPPort)
	}
	s := fmt.Sprintf("sctp://%s:%d", h, e.SCTPPort)
	if len(e.From) > 0 {
		f := make([]string, len(e.From))
		for i, a := range e.From {
			f[i] = bracket(a.String())
		}
		s += "?from=" + strings.Join(f, ",")
	}
	return s
}

func bracket(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// Multihomed reports whether a native endpoint names several addresses.
func (e Endpoint) Multihomed() bool { return len(e.Addrs) > 1 }

// Native reports whether the endpoint is native SCTP (sctp://).
func (e Endpoint) Native() bool { return !e.Encap && !e.DTLS }

// Tunnel reports whether the endpoint is a tunnel between gateways or to
// an RFC 6951 stack (udp:// or dtls://). A tunnel leg is single-path: an
// encapsulating peer must not list addresses in its INIT (RFC 6951 5.7),
// since behind a NAT they are private ones, and the one address a NAT
// shows is all either side can reach; failover there is the NAT's and the
// network's, and a pair's two native legs fail over on their own.
func (e Endpoint) Tunnel() bool { return e.Encap || e.DTLS }

// ParseEndpoint parses a listen or forward URL. Names are resolved with
// resolve (nil: only literal addresses are accepted).
func ParseEndpoint(s string, resolve func(string) (netip.Addr, error)) (Endpoint, error) {
	var e Endpoint
	scheme, rest, ok := strings.Cut(s, "://")
	if ok && scheme == "sctp" && strings.ContainsAny(rest, ",?") {
		return parseMultihomed(s, rest, resolve)
	}
	if ok && scheme != "sctp" && strings.Contains(rest, ",") {
		return e, fmt.Errorf("%q: a tunnel is single-path: one address (RFC 6951 5.7: an encapsulating peer lists none)", s)
	}
	if !ok {
		return e, fmt.Errorf("%q: expected sctp://HOST:PORT or udp://HOST:UDPPORT/SCTPPORT", s)
	}
	switch scheme {
	case "sctp":
	case "udp":
		e.Encap = true
	case "dtls":
		e.DTLS = true
	default:
		return e, fmt.Errorf("%q: unknown scheme %q, expected sctp, udp or dtls", s, scheme)
	}
	hostport := rest
	if e.DTLS {
		var sp string
		hostport, sp, ok = strings.Cut(rest, "/")
		if !ok || sp == "" {
			return e, fmt.Errorf("%q: expected dtls://HOST:PORT/SCTPPORT (the SCTP port after the slash)", s)
		}
		p, err := parsePort(sp)
		if err != nil {
			return e, fmt.Errorf("%q: SCTP port %q: %v", s, sp, err)
		}
		e.SCTPPort = p
		if _, _, err := net.SplitHostPort(hostport); err != nil {
			return e, fmt.Errorf("%q: expected dtls://HOST:PORT/SCTPPORT (the DTLS port is not optional): %v", s, err)
		}
	}
	if e.Encap {
		var sp string
		hostport, sp, ok = strings.Cut(rest, "/")
		if !ok || sp == "" {
			return e, fmt.Errorf("%q: expected udp://HOST:UDPPORT/SCTPPORT (the SCTP port after the slash)", s)
		}
		p, err := parsePort(sp)
		if err != nil {
			return e, fmt.Errorf("%q: SCTP port %q: %v", s, sp, err)
		}
		e.SCTPPort = p
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		if !e.Encap {
			return e, fmt.Errorf("%q: expected sctp://HOST:PORT: %v", s, err)
		}
		// udp://HOST/SCTPPORT: the UDP port defaults to 9899 (RFC 6951 5.1).
		host, port = strings.Trim(hostport, "[]"), "9899"
	}
	p, err := parsePort(port)
	if err != nil {
		return e, fmt.Errorf("%q: port %q: %v", s, port, err)
	}
	if e.Encap || e.DTLS {
		e.UDPPort = p
	} else {
		e.SCTPPort = p
	}
	if host == "" {
		return e, fmt.Errorf("%q: missing host (use 0.0.0.0 or :: for every address)", s)
	}
	e.Host = host
	if a, err := netip.ParseAddr(host); err == nil {
		e.Addr = a.Unmap()
		e.Hosts, e.Addrs = []string{host}, []netip.Addr{e.Addr}
		return e, nil
	}
	if resolve == nil {
		return e, fmt.Errorf("%q: %q is not an IP address", s, host)
	}
	a, err := resolve(host)
	if err != nil {
		return e, fmt.Errorf("%q: resolving %q: %v", s, host, err)
	}
	e.Addr = a.Unmap()
	e.Hosts, e.Addrs = []string{host}, []netip.Addr{e.Addr}
	return e, nil
}

// parseMultihomed parses sctp://HOST,HOST...:PORT?from=ADDR,... (rest is
// what follows the scheme).
func parseMultihomed(s, rest string, resolve func(string) (netip.Addr, error)) (Endpoint, error) {
	e := Endpoint{}
	rest, query, hasQuery := strings.Cut(rest, "?")
	i := strings.LastIndex(rest, ":")
	if i < 0 || strings.LastIndex(rest, "]") > i {
		return e, fmt.Errorf("%q: expected sctp://HOST,HOST:PORT (the port after the last colon)", s)
	}
	p, err := parsePort(rest[i+1:])
	if err != nil {
		return e, fmt.Errorf("%q: port %q: %v", s, rest[i+1:], err)
	}
	e.SCTPPort = p
	if e.Hosts, e.Addrs, err = parseHostList(s, rest[:i], resolve); err != nil {
		return e, err
	}
	e.Host, e.Addr = e.Hosts[0], e.Addrs[0]
	for _, a := range e.Addrs {
		if a.IsUnspecified() && len(e.Addrs) > 1 {
			return e, fmt.Errorf("%q: %v: a list names the addresses to use; a wildcard goes alone", s, a)
		}
	}
	if hasQuery {
		v, ok := strings.CutPrefix(query, "from=")
		if !ok || v == "" {
			return e, fmt.Errorf("%q: %q: the one option is from=ADDR[,ADDR...]", s, query)
		}
		if _, e.From, err = parseHostList(s, v, nil); err != nil {
			return e, err
		}
		for _, a := range e.From {
			if a.IsUnspecified() {
				return e, fmt.Errorf("%q: from=%v: name the local addresses to dial from", s, a)
			}
		}
	}
	return e, nil
}

// parseHostList parses HOST[,HOST...] of a native URL: at most
// MaxEndpointAddrs, each once, IPv6 literals in brackets.
func parseHostList(s, list string, resolve func(string) (netip.Addr, error)) ([]string, []netip.Addr, error) {
	parts := strings.Split(list, ",")
	if len(parts) > MaxEndpointAddrs {
		return nil, nil, fmt.Errorf("%q: %d addresses, at most %d", s, len(parts), MaxEndpointAddrs)
	}
	var hosts []string
	var addrs []netip.Addr
	for _, h := range parts {
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		} else if strings.ContainsAny(h, ":[]") {
			return nil, nil, fmt.Errorf("%q: %q: an IPv6 address in a list goes in brackets", s, h)
		}
		if h == "" {
			return nil, nil, fmt.Errorf("%q: missing host in the list", s)
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			if resolve == nil {
				return nil, nil, fmt.Errorf("%q: %q is not an IP address", s, h)
			}
			if a, err = resolve(h); err != nil {
				return nil, nil, fmt.Errorf("%q: resolving %q: %v", s, h, err)
			}
		}
		a = a.Unmap()
		if slices.Contains(addrs, a) {
			return nil, nil, fmt.Errorf("%q: %v named twice", s, a)
		}
		hosts, addrs = append(hosts, h), append(addrs, a)
	}
	return hosts, addrs, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("want a port number 1-65535")
	}
	return uint16(n), nil
}

// ResolveHost looks a name up with the system resolver, preferring IPv4.
func ResolveHost(name string) (netip.Addr, error) {
	ips, err := net.LookupIP(name)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			a, _ := netip.AddrFromSlice(v4)
			return a, nil
		}
	}
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no address for %q", name)
}
