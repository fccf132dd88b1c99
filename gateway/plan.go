package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/sctpgw/sctpgw/acl"
	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/logs"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// Plan is a Config checked and resolved once: every endpoint parsed (forward
// names looked up), every policy compiled, every engine configuration built
// with its defaults, and the links the routes need. New opens the links of
// a Plan; `sctpgw check` stops after planning. A Plan's policies hold
// counters and rate state: give a Plan to one New only.
type Plan struct {
	Routes []RoutePlan
	// UDP is the address of the one UDP socket (udp.listen, else the first
	// udp:// listen route's); zero when neither says (port 9899 of every
	// address). NeedUDP and NeedNative say which links the routes use.
	UDP                 netip.AddrPort
	NeedUDP, NeedNative bool
	// NeedDTLS says a route has a dtls:// side; DTLS is the address of the
	// DTLS link's listening socket (zero: no dtls:// listen route).
	NeedDTLS bool
	DTLS     netip.AddrPort
	// DTLSListen are the credentials of accepted sessions; DTLSPeers those
	// of each peer gateway the DTLS link may dial.
	DTLSListen *DTLSPlan
	DTLSPeers  map[netip.AddrPort]*DTLSPlan
	// NativeAddrs are the local addresses the native link serves (none:
	// every address); NativePorts the SCTP ports the routes listen on.
	NativeAddrs []netip.Addr
	NativePorts []uint16
	// Admin is the admin listener's address ("" disables it).
	Admin        string
	DrainTimeout time.Duration // zero: the caller's default
	Log          LogPlan
	// AllowKernelSCTP is the file's allow_kernel_sctp.
	AllowKernelSCTP bool
}

// LogPlan is the log block, parsed.
type LogPlan struct {
	Levels logs.Levels
	Format string // "text" or "json"
}

// RoutePlan is one route, ready to run.
type RoutePlan struct {
	Name            string
	Listen, Forward Endpoint
	// SCTP is the route's sctp block with every default filled in: what
	// both sides of each pair run with.
	SCTP SCTPConfig
	// Policy is nil when the route has no acl block.
	Policy *acl.Policy
	// Auth is nil when the route has no auth block.
	Auth *AuthPlan
	// DialTimeout bounds each egress handshake (dial_timeout).
	DialTimeout time.Duration
	// DTLS is the credentials of the route's dtls:// side, nil without one.
	DTLS *DTLSPlan

	dtlsFiles *dtlslink.Files
	dtlsField string
	engine    engine.Config // SCTP, as the engine takes it
}

// Plan checks c and resolves it, looking forward host names up with resolve
// (nil: the system resolver). The first problem is returned with the field
// path, the value and what is expected. c is not changed.
func (c *Config) Plan(resolve func(string) (netip.Addr, error)) (*Plan, error) {
	if resolve == nil {
		resolve = ResolveHost
	}
	if len(c.Routes) == 0 {
		return nil, errors.New("routes: at least one route is needed")
	}
	p := &Plan{DrainTimeout: time.Duration(c.DrainTimeout), AllowKernelSCTP: c.AllowKernelSCTP}
	if c.Admin != nil {
		p.Admin = *c.Admin
	}
	if c.UDP.Listen != "" {
		u, err := netip.ParseAddrPort(c.UDP.Listen)
		if err != nil {
			return nil, fmt.Errorf("udp.listen: %q: expected ADDRESS:PORT such as 0.0.0.0:9899", c.UDP.Listen)
		}
		p.UDP = netip.AddrPortFrom(u.Addr().Unmap(), u.Port())
	}
	if p.Admin != "" {
		if _, err := netip.ParseAddrPort(p.Admin); err != nil {
			return nil, fmt.Errorf("admin: %q: expected ADDRESS:PORT such as 127.0.0.1:9900, or \"\" for none", p.Admin)
		}
	}
	var err error
	if p.Log, err = c.Log.plan(); err != nil {
		return nil, err
	}
	names := map[string]int{}
	// listeners: which route listens on each (link, SCTP port).
	type listenKey struct {
		link string
		port uint16
	}
	listeners := map[listenKey]int{}
	udpFrom := "udp.listen"
	allNative := false
	for i := range c.Routes {
		rp, err := c.Routes[i].plan(i, resolve)
		if err != nil {
			return nil, err
		}
		field := func(f string) string { return fmt.Sprintf("routes[%d].%s", i, f) }
		if j, dup := names[rp.Name]; dup {
			return nil, fmt.Errorf("%s: %q: names must be unique (routes[%d] has it)", field("name"), rp.Name, j)
		}
		names[rp.Name] = i
		l := rp.Listen
		k := listenKey{linkWord(l), l.SCTPPort}
		if j, dup := listeners[k]; dup {
			return nil, fmt.Errorf("%s: %q: SCTP port %d on the %s link is routes[%d]'s (%s) already",
				field("listen"), c.Routes[i].Listen, l.SCTPPort, linkWord(l), j, p.Routes[j].Name)
		}
		listeners[k] = i
		if err := p.planDTLS(i, &rp, c.Routes[i].Listen); err != nil {
			return nil, err
		}
		if l.DTLS {
			// planDTLS took the listen address.
		} else if l.Encap {
			ap := netip.AddrPortFrom(l.Addr, l.UDPPort)
			if !p.UDP.IsValid() {
				p.UDP, udpFrom = ap, field("listen")
			} else if ap != p.UDP {
				return nil, fmt.Errorf("%s: %q: one UDP socket serves every route, and %s is %s",
					field("listen"), c.Routes[i].Listen, udpFrom, p.UDP)
			}
		} else {
			p.NativePorts = append(p.NativePorts, l.SCTPPort)
			if l.Addr.IsUnspecified() {
				allNative = true
			} else {
				p.NativeAddrs = appendNew(p.NativeAddrs, l.Addrs...)
			}
		}
		// The addresses egress dials from must be served too, or the
		// link would filter what the target sends to them.
		p.NativeAddrs = appendNew(p.NativeAddrs, rp.Forward.From...)
		for _, e := range []Endpoint{rp.Listen, rp.Forward} {
			p.NeedUDP = p.NeedUDP || e.Encap
			p.NeedNative = p.NeedNative || e.Native()
			p.NeedDTLS = p.NeedDTLS || e.DTLS
		}
		p.Routes = append(p.Routes, rp)
	}
	if allNative {
		// A wildcard route hears every address; the others are in it.
		p.NativeAddrs = nil
	}
	return p, nil
}

// appendNew appends the addresses of more not in s yet.
func appendNew(s []netip.Addr, more ...netip.Addr) []netip.Addr {
	for _, a := range more {
		if !slices.Contains(s, a) {
			s = append(s, a)
		}
	}
	return s
}

func linkWord(e Endpoint) string {
	switch {
	case e.Encap:
		return "UDP"
	case e.DTLS:
		return "DTLS"
	}
	return "native"
}

func (r *RouteConfig) plan(i int, resolve func(string) (netip.Addr, error)) (RoutePlan, error) {
	field := func(f string) string { return fmt.Sprintf("routes[%d].%s", i, f) }
	rp := RoutePlan{Name: r.Name, DialTimeout: time.Duration(r.DialTimeout)}
	if rp.DialTimeout == 0 {
		rp.DialTimeout = DefaultDialTimeout
	}
	if rp.Name == "" {
		rp.Name = fmt.Sprintf("route%d", i)
	}
	var err error
	if rp.Listen, err = ParseEndpoint(r.Listen, nil); err != nil {
		return rp, fmt.Errorf("%s: %v", field("listen"), err)
	}
	if rp.Forward, err = ParseEndpoint(r.Forward, resolve); err != nil {
		return rp, fmt.Errorf("%s: %v", field("forward"), err)
	}
	if len(rp.Listen.From) > 0 {
		return rp, fmt.Errorf("%s: %q: from= names where egress dials from; a listen URL lists its addresses before the port", field("listen"), r.Listen)
	}
	if rp.engine, err = r.SCTP.engineConfig(); err != nil {
		return rp, fmt.Errorf("%s: %v", field("sctp"), err)
	}
	rp.SCTP = sctpConfigOf(rp.engine)
	if r.ACL != nil {
		if rp.Policy, err = acl.Compile(*r.ACL); err != nil {
			return rp, fmt.Errorf("%s: %v", field("acl"), err)
		}
	}
	if rp.dtlsFiles, rp.dtlsField, err = r.dtlsFiles(); err != nil {
		return rp, fmt.Errorf("routes[%d]: %v", i, err)
	}
	if r.Auth != nil {
		if !rp.Listen.Tunnel() && !rp.Forward.Tunnel() {
			return rp, fmt.Errorf("%s: the route has no udp:// side (nor a dtls:// one): SCTP-AUTH authenticates the tunnel, and native peers (eNBs, MMEs) do not speak it", field("auth"))
		}
		if rp.Auth, err = r.Auth.plan(); err != nil {
			return rp, fmt.Errorf("%s.%v", field("auth"), err)
		}
	}
	return rp, nil
}

func (l LogConfig) plan() (LogPlan, error) {
	lp := LogPlan{Levels: logs.Levels{Default: slog.LevelInfo, Scopes: map[string]slog.Level{}}, Format: l.Format}
	if l.Level != "" {
		v, err := logs.ParseLevel(l.Level)
		if err != nil {
			return lp, fmt.Errorf("log.level: %v", err)
		}
		lp.Levels.Default = v
	}
	for scope, name := range l.Scopes {
		v, err := logs.ParseLevel(name)
		if err != nil {
			return lp, fmt.Errorf("log.scopes.%s: %v", scope, err)
		}
		lp.Levels.Scopes[scope] = v
	}
	switch lp.Format {
	case "":
		lp.Format = "text"
	case "text", "json":
	default:
		return lp, fmt.Errorf("log.format: %q: expected text or json", l.Format)
	}
	return lp, nil
}
