package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Endpoint is a parsed listen or forward URL:
//
//	sctp://HOST:PORT               native SCTP
//	udp://HOST:UDPPORT/SCTPPORT    SCTP in UDP (RFC 6951); UDPPORT defaults to 9899
//	dtls://HOST:PORT/SCTPPORT      SCTP in DTLS (RFC 8261) between gateways; PORT is the DTLS (UDP) port
type Endpoint struct {
	Encap    bool   // udp://
	DTLS     bool   // dtls://
	Host     string // as written (a name is resolved at start)
	Addr     netip.Addr
	UDPPort  uint16 // udp:// and dtls:// only
	SCTPPort uint16
}

func (e Endpoint) String() string {
	h := e.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if e.Encap {
		return fmt.Sprintf("udp://%s:%d/%d", h, e.UDPPort, e.SCTPPort)
	}
	if e.DTLS {
		return fmt.Sprintf("dtls://%s:%d/%d", h, e.UDPPort, e.SCTPPort)
	}
	return fmt.Sprintf("sctp://%s:%d", h, e.SCTPPort)
}

// Native reports whether the endpoint is native SCTP (sctp://).
func (e Endpoint) Native() bool { return !e.Encap && !e.DTLS }

// Tunnel reports whether the endpoint is a tunnel between gateways or to
// an RFC 6951 stack (udp:// or dtls://).
func (e Endpoint) Tunnel() bool { return e.Encap || e.DTLS }

// ParseEndpoint parses a listen or forward URL. Names are resolved with
// resolve (nil: only literal addresses are accepted).
func ParseEndpoint(s string, resolve func(string) (netip.Addr, error)) (Endpoint, error) {
	var e Endpoint
	scheme, rest, ok := strings.Cut(s, "://")
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
	return e, nil
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
