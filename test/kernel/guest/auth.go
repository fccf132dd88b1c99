//go:build linux

package main

import (
	"fmt"
	"net/netip"

	"github.com/sctpgw/sctpgw/test/kernel/ksock"
	"github.com/sctpgw/sctpgw/test/kernel/report"
)

// The SCTP-AUTH cases (issue 18): the kernel's own SCTP-AUTH at the far end
// of the host's tunnel. net.sctp.auth_enable is read when a socket is
// created, and again (the namespace's, not the socket's) when a listener
// authenticates a COOKIE ECHO: it is on from the moment these cases make
// their keyed sockets until their association is over, and off otherwise,
// so that the other cases' sockets never offer SCTP-AUTH.

// withAuth runs f with net.sctp.auth_enable on in the VM's root namespace.
func (e *env) withAuth(f func() error) error {
	if err := sysctl(e.root, "net.sctp.auth_enable", "1"); err != nil {
		return err
	}
	err := f()
	if rerr := sysctl(e.root, "net.sctp.auth_enable", "0"); err == nil {
		err = rerr
	}
	return err
}

// keyed gives a socket the plan's key, as the only key, and requires the
// chunks of report.AuthChunks authenticated.
func (e *env) keyed(c *ksock.Conn) error {
	return c.SetAuth(report.AuthKeyID, e.authKey, report.AuthChunks)
}

func (e *env) auth(name string, r *report.Result) error {
	if len(e.authKey) == 0 {
		return fmt.Errorf("the plan has no auth key")
	}
	if err := e.withSCTP(); err != nil {
		return err
	}
	core := netip.AddrPortFrom(netip.MustParseAddr(report.HostCore), report.AuthCorePort)
	switch name {
	case report.AuthKernelToCore:
		// The client socket holds the key.
		return e.withAuth(func() error { return e.throughWith(r, core, true, e.rootSrv, e.keyed) })
	case report.AuthKernelNoKey:
		// A plain kernel client: the core refuses its INIT.
		return e.throughWith(r, core, true, e.rootSrv, nil)
	case report.AuthEdgeToKernelEn:
		// A kernel server holding the key; a plain client to the host
		// edge, whose authenticated route dials that server.
		return e.withAuth(func() error {
			if e.authSrv == nil {
				e.authSrv = newServer()
				if err := e.authSrv.listenWith(e.root, report.VMAuthPort, e.keyed); err != nil {
					return err
				}
			}
			edge := netip.AddrPortFrom(netip.MustParseAddr(report.HostEdge), report.EdgePortAuth)
			return e.throughWith(r, edge, false, e.authSrv, nil)
		})
	}
	return fmt.Errorf("unknown case %q", name)
}
