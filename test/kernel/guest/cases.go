//go:build linux

package main

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/vishvananda/netns"

	"github.com/sctpgw/sctpgw/test/kernel/ksock"
	"github.com/sctpgw/sctpgw/test/kernel/report"
)

// env is the VM's namespaces and kernel servers, shared by the cases.
type env struct {
	root, cli, edge, core, srv netns.NsHandle
	hasNIC                     bool
	sctpReady                  bool
	sameSrv, rootSrv           *server
	// authKey is the SCTP-AUTH key of the AUTH cases; authSrv the kernel
	// server holding it (auth.go).
	authKey []byte
	authSrv *server
}

func newEnv() (*env, error) {
	e := &env{}
	var err error
	if e.root, err = netns.Get(); err != nil {
		return nil, err
	}
	for _, p := range []*netns.NsHandle{&e.cli, &e.edge, &e.core, &e.srv} {
		if *p, err = newNS(); err != nil {
			return nil, err
		}
	}
	for _, v := range []struct {
		a         netns.NsHandle
		an, aAddr string
		b         netns.NsHandle
		bn, bAddr string
	}{
		{e.cli, "c0", report.SameCli + "/24", e.edge, "e0", report.SameEdge + "/24"},
		{e.edge, "e1", report.SameEdgeWAN + "/24", e.core, "k0", report.SameCoreWAN + "/24"},
		{e.core, "k1", report.SameCoreCN + "/24", e.srv, "s0", report.SameSrv + "/24"},
	} {
		if err := veth(v.a, v.an, v.aAddr, v.b, v.bn, v.bAddr); err != nil {
			return nil, err
		}
	}
	if err := linkUp(e.root, "lo"); err != nil {
		return nil, err
	}
	if _, err := os.Stat("/sys/class/net/eth0"); err == nil {
		e.hasNIC = true
		if err := addAddr(e.root, "eth0", report.VMAddr+"/24"); err != nil {
			return nil, err
		}
		if err := defaultRoute(e.root, report.HostEdge); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// withSCTP loads the module if needed and sets every namespace's SCTP up:
// short retransmission timers (the defaults wait 3 s for a lost INIT), the
// same-kernel server, and the root namespace's RFC 6951 port.
func (e *env) withSCTP() error {
	if err := loadSCTP(); err != nil {
		return err
	}
	if e.sctpReady {
		return nil
	}
	for _, ns := range []netns.NsHandle{e.root, e.cli, e.edge, e.core, e.srv} {
		if err := sysctl(ns, "net.sctp.rto_min", "200", "net.sctp.rto_initial", "1000"); err != nil {
			return err
		}
	}
	e.sameSrv = newServer()
	if err := e.sameSrv.listen(e.srv, report.SameSrvPort); err != nil {
		return err
	}
	if e.hasNIC {
		// udp_port opens the kernel's RFC 6951 socket in the root
		// namespace; encap_port stays 0 so sockets speak native SCTP
		// unless a case says otherwise (it is copied into each socket
		// when the socket is created).
		if err := sysctl(e.root, "net.sctp.udp_port", strconv.Itoa(report.UDPPort), "net.sctp.encap_port", "0"); err != nil {
			return err
		}
		e.rootSrv = newServer()
		for _, p := range []uint16{report.VMServerPort, report.VMEncapPort} {
			if err := e.rootSrv.listen(e.root, p); err != nil {
				return err
			}
		}
	}
	e.sctpReady = true
	return nil
}

func (e *env) run(name string, r *report.Result) error {
	switch name {
	case report.LoadedLater, report.Unprotected, report.Protected:
		return e.sameKernel(name, r)
	case report.NoNetAdmin:
		return e.noNetAdmin(r)
	case report.OwnerMismatch:
		return e.ownerMismatch(r)
	case report.Multihomed:
		return e.multihomed(r)
	case report.ThroughNative:
		return e.through(r, netip.AddrPortFrom(netip.MustParseAddr(report.HostEdge), report.EdgePort), false)
	case report.KernelEncapToCore:
		return e.through(r, netip.AddrPortFrom(netip.MustParseAddr(report.HostCore), report.VMServerPort), true)
	case report.EdgeToKernelEncap:
		return e.through(r, netip.AddrPortFrom(netip.MustParseAddr(report.HostEdge), report.EdgePortEnc), false)
	case report.AuthKernelToCore, report.AuthKernelNoKey, report.AuthEdgeToKernelEn:
		return e.auth(name, r)
	}
	return fmt.Errorf("unknown case %q", name)
}

const (
	startTimeout = 30 * time.Second // a Go binary's start under TCG, with margin
	stopTimeout  = 10 * time.Second
)

// guestAdmin is each daemon's admin listener, on the loopback of its own
// namespace (edge and core never share one), read by daemon.inspect.
const guestAdmin = "127.0.0.1:9900"

func edgeArgs(extra ...string) []string {
	return append([]string{"run",
		"--listen", fmt.Sprintf("sctp://%s:%d", report.SameEdge, report.SamePort),
		"--forward", fmt.Sprintf("udp://%s:%d/%d", report.SameCoreWAN, report.SameUDPPort, report.SameSrvPort),
		"--udp", fmt.Sprintf("%s:%d", report.SameEdgeWAN, report.SameUDPPort),
		"--admin", guestAdmin, "--drain-timeout", "2s"}, extra...)
}

func coreArgs(extra ...string) []string {
	return append([]string{"run",
		"--listen", fmt.Sprintf("udp://%s:%d/%d", report.SameCoreWAN, report.SameUDPPort, report.SameSrvPort),
		"--forward", fmt.Sprintf("sctp://%s:%d", report.SameSrv, report.SameSrvPort),
		"--admin", guestAdmin, "--drain-timeout", "2s"}, extra...)
}

// sameKernel: a kernel client in cli through sctpgw edge (edge) and core
// (core) to a kernel server in srv, all in the VM's one kernel.
func (e *env) sameKernel(name string, r *report.Result) error {
	var extra []string
	switch name {
	case report.LoadedLater:
		if sctpLoaded() {
			return fmt.Errorf("the sctp module is loaded already: %s must be the first case", name)
		}
	case report.Unprotected:
		extra = []string{"--allow-kernel-sctp"}
	}
	if name != report.LoadedLater {
		if err := e.withSCTP(); err != nil {
			return err
		}
	}
	ds, stop, err := startAll(r, spec{"core", e.core, nil, coreArgs(extra...)}, spec{"edge", e.edge, nil, edgeArgs(extra...)})
	defer stop()
	if err != nil {
		return err
	}
	core, edge := ds[0], ds[1]
	switch name {
	case report.LoadedLater:
		edge.inspect()
		if edge.rep.Table {
			return fmt.Errorf("edge installed its table before the module was loaded")
		}
		if err := e.withSCTP(); err != nil {
			return err
		}
		// The client goes on whatever the logs say: the host judges the
		// logs, and the client shows what a missing rule does.
		for _, d := range []*daemon{core, edge} {
			if err := d.waitFor(10*time.Second, "was loaded while sctpgw runs: installed"); err != nil {
				r.Notes = append(r.Notes, err.Error())
			}
		}
	case report.Protected:
		for _, d := range []*daemon{core, edge} {
			if err := d.waitFor(time.Second, "kernel SCTP is loaded: installed"); err != nil {
				r.Notes = append(r.Notes, err.Error())
			}
		}
	}
	e.sameClient(r, ds...)
	return nil
}

// sameClient runs a kernel client in cli to the edge, then records the
// daemons' tables while they still run.
func (e *env) sameClient(r *report.Result, ds ...*daemon) {
	e.client(r, e.cli, netip.AddrPortFrom(netip.MustParseAddr(report.SameEdge), report.SamePort), e.sameSrv)
	for _, d := range ds {
		d.inspect()
	}
}

// client runs a kernel client from ns to target with an ABORT watch in ns,
// and collects what srv saw.
func (e *env) client(r *report.Result, ns netns.NsHandle, target netip.AddrPort, srv *server) {
	e.clientWith(r, ns, target, srv, nil)
}

func (e *env) clientWith(r *report.Result, ns netns.NsHandle, target netip.AddrPort, srv *server, prep func(*ksock.Conn) error) {
	w, err := watch(ns)
	if err != nil {
		r.Notes = append(r.Notes, err.Error())
	}
	r.Client = runClientWith(ns, target, testMessages(r.Case), prep)
	if w != nil {
		r.Watch = w.finish()
	}
	want, wait := 1, 15*time.Second
	if r.Client.ConnectErr != "" {
		want, wait = 1, 2*time.Second // none expected; a short look for strays
	}
	r.Server = srv.take(want, wait)
}

// noNetAdmin: the edge as an ordinary user with CAP_NET_RAW only. It must
// refuse; then, with the operator's own rule in place (the one the refusal
// prints: accept sctpgw's user, drop the rest from the port) and
// allow_kernel_sctp in its file, it must work.
func (e *env) noNetAdmin(r *report.Result) error {
	if err := e.withSCTP(); err != nil {
		return err
	}
	as := &unprivileged{uid: report.UnprivUID}
	refused, err := startDaemon(r, "edge-refused", e.edge, as, edgeArgs()...)
	if err != nil {
		return err
	}
	if !refused.waitExit(startTimeout) {
		r.Notes = append(r.Notes, "edge without CAP_NET_ADMIN did not exit")
	}
	refused.stop(stopTimeout)
	rule, err := installOwnerRule(e.edge, report.SamePort, report.UnprivUID, false)
	if err != nil {
		return err
	}
	defer rule.remove()
	yaml := fmt.Sprintf(`allow_kernel_sctp: true
admin: ""
drain_timeout: 2s
udp: {listen: "%s:%d"}
routes:
  - name: s1ap
    listen: sctp://%s:%d
    forward: udp://%s:%d/%d
`, report.SameEdgeWAN, report.SameUDPPort, report.SameEdge, report.SamePort, report.SameCoreWAN, report.SameUDPPort, report.SameSrvPort)
	if err := os.WriteFile(report.EdgeYAMLPath, []byte(yaml), 0o644); err != nil {
		return err
	}
	// The edge's log and table (the operator's, with its drop counter).
	ds, stop, err := startAll(r, spec{"core", e.core, nil, coreArgs()},
		spec{"edge-allowed", e.edge, as, []string{"run", "--config", report.EdgeYAMLPath}})
	defer stop()
	if err != nil {
		return err
	}
	e.sameClient(r, ds...)
	return nil
}

// ownerMismatch: the rule written the other way round, "skuid != user
// drop", which an owner match cannot do for the kernel's control socket
// (it has no file, so the match fails and the rule never drops): the
// kernel's ABORT still reaches the client.
func (e *env) ownerMismatch(r *report.Result) error {
	if err := e.withSCTP(); err != nil {
		return err
	}
	rule, err := installOwnerRule(e.edge, report.SamePort, report.UnprivUID, true)
	if err != nil {
		return err
	}
	defer rule.remove()
	ds, stop, err := startAll(r, spec{"core", e.core, nil, coreArgs()},
		spec{"edge", e.edge, &unprivileged{uid: report.UnprivUID}, edgeArgs("--allow-kernel-sctp")})
	defer stop()
	if err != nil {
		return err
	}
	e.sameClient(r, ds...)
	return nil
}

// through: a kernel client in the VM's root namespace to target, through
// the host's gateways, to the VM's kernel server; encap makes the client's
// socket use the kernel's RFC 6951 encapsulation.
func (e *env) through(r *report.Result, target netip.AddrPort, encap bool) error {
	return e.throughWith(r, target, encap, e.rootSrv, nil)
}

// throughWith is through to the kernel server srv, with prep applied to
// the client's socket before it connects.
func (e *env) throughWith(r *report.Result, target netip.AddrPort, encap bool, srv *server, prep func(*ksock.Conn) error) error {
	if !e.hasNIC {
		return fmt.Errorf("the VM has no NIC: boot it with the host's tap")
	}
	if err := e.withSCTP(); err != nil {
		return err
	}
	in0, err := udpIn(e.root)
	if err != nil {
		return err
	}
	if encap {
		if err := sysctl(e.root, "net.sctp.encap_port", strconv.Itoa(report.UDPPort)); err != nil {
			return err
		}
	}
	e.clientWith(r, e.root, target, srv, prep)
	if encap {
		if err := sysctl(e.root, "net.sctp.encap_port", "0"); err != nil {
			return err
		}
	}
	in1, err := udpIn(e.root)
	if err != nil {
		return err
	}
	r.UDPIn = in1 - in0
	return nil
}
