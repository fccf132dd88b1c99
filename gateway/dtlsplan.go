package gateway

import (
	"fmt"
	"net/netip"

	"github.com/sctpgw/sctpgw/dtlslink"
)

// DTLSPlan is the credentials of a dtls:// side: the files, read again on
// a reload, and what they held when planned.
type DTLSPlan struct {
	Files dtlslink.Files
	Creds *dtlslink.Credentials
	// From is the field that named them, for errors.
	From string
}

// planDTLS checks route i's tls / psk_file block against its sides, loads
// the files, and records the listen address and the peers: every
// dtls:// listen route shares one socket and one set of credentials (the
// route of a session is known only after its handshake), and routes to one
// peer gateway share its session, so their credentials must agree.
func (p *Plan) planDTLS(i int, rp *RoutePlan, listenURL string) error {
	field := func(f string) string { return fmt.Sprintf("routes[%d].%s", i, f) }
	f := rp.dtlsFiles
	l, fw := rp.Listen, rp.Forward
	if !l.DTLS && !fw.DTLS {
		if f != nil {
			return fmt.Errorf("%s: the route has no dtls:// side to authenticate", field(rp.dtlsField))
		}
		return nil
	}
	if f == nil {
		return fmt.Errorf("routes[%d]: a dtls:// side needs tls: {cert_file, key_file, ca_file} or psk_file", i)
	}
	dp := &DTLSPlan{Files: *f, From: field(rp.dtlsField)}
	var err error
	if dp.Creds, err = f.Load(); err != nil {
		return fmt.Errorf("%s: %v", dp.From, err)
	}
	rp.DTLS = dp
	if l.DTLS {
		ap := netip.AddrPortFrom(l.Addr, l.UDPPort)
		switch {
		case !p.DTLS.IsValid():
			p.DTLS, p.DTLSListen = ap, dp
		case ap != p.DTLS:
			return fmt.Errorf("%s: %q: one DTLS socket serves every dtls:// listen route, and %s is at %s",
				field("listen"), listenURL, p.DTLSListen.From, p.DTLS)
		case dp.Files != p.DTLSListen.Files:
			return fmt.Errorf("%s: differs from %s: every dtls:// listen route shares one socket, so one set of credentials",
				dp.From, p.DTLSListen.From)
		}
	}
	if fw.DTLS {
		peer := netip.AddrPortFrom(fw.Addr, fw.UDPPort)
		if p.DTLSPeers == nil {
			p.DTLSPeers = map[netip.AddrPort]*DTLSPlan{}
		}
		if o := p.DTLSPeers[peer]; o != nil && o.Files != dp.Files {
			return fmt.Errorf("%s: differs from %s: routes to %s share one DTLS session, so one set of credentials", dp.From, o.From, peer)
		}
		p.DTLSPeers[peer] = dp
	}
	return nil
}

// dtlsFiles reads a route's tls and psk_file into files, or nil.
func (r *RouteConfig) dtlsFiles() (*dtlslink.Files, string, error) {
	switch {
	case r.TLS != nil && r.PSKFile != "":
		return nil, "", fmt.Errorf("tls and psk_file: choose one")
	case r.TLS != nil:
		t := r.TLS
		return &dtlslink.Files{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.CAFile, PeerName: t.PeerName}, "tls", nil
	case r.PSKFile != "":
		return &dtlslink.Files{PSKFile: r.PSKFile}, "psk_file", nil
	}
	return nil, "", nil
}

// dtlsConfig turns the plan's DTLS credentials into the link's.
func (p *Plan) dtlsCredentials() (*dtlslink.Credentials, map[netip.AddrPort]*dtlslink.Credentials) {
	var listen *dtlslink.Credentials
	if p.DTLSListen != nil {
		listen = p.DTLSListen.Creds
	}
	peers := map[netip.AddrPort]*dtlslink.Credentials{}
	for a, dp := range p.DTLSPeers {
		peers[a] = dp.Creds
	}
	return listen, peers
}

// reloadDTLS reads the credential files again.
func (p *Plan) reloadDTLS() (*dtlslink.Credentials, map[netip.AddrPort]*dtlslink.Credentials, error) {
	var listen *dtlslink.Credentials
	if p.DTLSListen != nil {
		c, err := p.DTLSListen.Files.Load()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.DTLSListen.From, err)
		}
		listen = c
	}
	peers := map[netip.AddrPort]*dtlslink.Credentials{}
	for a, dp := range p.DTLSPeers {
		c, err := dp.Files.Load()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", dp.From, err)
		}
		peers[a] = c
	}
	return listen, peers, nil
}

// ReloadCredentials reads the dtls:// routes' tls and psk_file files
// again (SIGHUP): sessions set up from now on use them; sessions up, and
// their associations, are not touched. Nothing changes if a file is
// missing or bad.
func (g *Gateway) ReloadCredentials() error {
	dl, ok := g.dtls.(*dtlslink.Link)
	if !ok || !g.plan.NeedDTLS {
		return nil
	}
	listen, peers, err := g.plan.reloadDTLS()
	if err != nil {
		return err
	}
	if err := dl.SetCredentials(listen, peers); err != nil {
		return err
	}
	g.log.Info("dtls credentials reloaded; new sessions use them")
	return nil
}

// DTLSSessions lists the DTLS link's sessions (none without one).
func (g *Gateway) DTLSSessions() []dtlslink.SessionInfo {
	if dl, ok := g.dtls.(*dtlslink.Link); ok {
		return dl.Sessions()
	}
	return nil
}
