//go:build linux

package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netns"

	"github.com/sctpgw/sctpgw/test/kernel/ksock"
	"github.com/sctpgw/sctpgw/test/kernel/report"
)

// multihomed: a kernel client in cli bound to two addresses (sctp_bindx),
// connected to both of the edge's (sctp_connectx); the edge listens on
// both (sctp://A1,A2:PORT) and tunnels to the core, the core hands on to
// the kernel server. Messages go one every 100 ms; before message
// MultihomedCut the client's first link goes down (c0, the network of both
// primaries). The host judges: every message echoed, a graceful shutdown,
// no ABORT.
func (e *env) multihomed(r *report.Result) error {
	if err := e.withSCTP(); err != nil {
		return err
	}
	if err := veth(e.cli, "c1", report.SameCli2+"/24", e.edge, "e2", report.SameEdge2+"/24"); err != nil {
		return err
	}
	defer delLink(e.cli, "c1")
	defer linkUp(e.cli, "c0") // for the cases after this one
	// The kernel client's own failover: a potentially-failed destination
	// after its first timeout (Linux's defaults on 6.1, set in case), and
	// heartbeats every second so the edge's paths are verified soon.
	if err := sysctl(e.cli, "net.sctp.pf_enable", "1", "net.sctp.pf_retrans", "0", "net.sctp.hb_interval", "1000"); err != nil {
		return err
	}
	edge := edgeArgs()
	edge[2] = fmt.Sprintf("sctp://%s,%s:%d", report.SameEdge, report.SameEdge2, report.SamePort)
	ds, stop, err := startAll(r, spec{"core", e.core, nil, coreArgs()}, spec{"edge", e.edge, nil, edge})
	defer stop()
	if err != nil {
		return err
	}
	w, err := watch(e.cli)
	if err != nil {
		r.Notes = append(r.Notes, err.Error())
	}
	r.Client = e.multihomedClient()
	if w != nil {
		r.Watch = w.finish()
	}
	r.Server = e.sameSrv.take(1, 15*time.Second)
	for _, d := range ds {
		d.inspect()
	}
	return nil
}

func (e *env) multihomedClient() *report.Client {
	edge := []netip.AddrPort{
		netip.AddrPortFrom(netip.MustParseAddr(report.SameEdge), report.SamePort),
		netip.AddrPortFrom(netip.MustParseAddr(report.SameEdge2), report.SamePort),
	}
	c := &report.Client{Target: edge[0].String() + "," + edge[1].String()}
	var conn *ksock.Conn
	err := inNS(e.cli, func() (err error) {
		if conn, err = ksock.Socket(false, initOpts); err != nil {
			return err
		}
		if err = conn.Bindx([]netip.Addr{netip.MustParseAddr(report.SameCli), netip.MustParseAddr(report.SameCli2)}, 0); err != nil {
			conn.Close()
		}
		return err
	})
	if err == nil {
		err = conn.Connectx(edge, 15*time.Second)
	}
	if err != nil {
		c.ConnectErr = err.Error()
		return c
	}
	defer conn.Close()
	if addrs, err := conn.PeerAddrs(); err == nil {
		for _, a := range addrs {
			c.PeerAddrs = append(c.PeerAddrs, a.String())
		}
	}
	// The edge's second address is verified before the cut (the
	// client's heartbeat every second): the kernel sends nothing else
	// to an unconfirmed address (RFC 9260 5.4).
	time.Sleep(3 * time.Second)
	for i := range report.MultihomedMsgs {
		if i == report.MultihomedCut {
			if err := setLinkDown(e.cli, "c0"); err != nil {
				c.Err = err.Error()
				return c
			}
			say("multihomed: c0 down before message %d", i)
		}
		m := ksock.Msg{Stream: uint16(i % 3), PPID: 18, Data: fmt.Sprintf("multihomed %d %s", i, strings.Repeat("s", i*37))}
		if err := conn.Send(m); err != nil {
			c.Err = fmt.Sprintf("message %d: %v", i, err)
			return c
		}
		c.Sent = append(c.Sent, m)
		time.Sleep(100 * time.Millisecond)
	}
	for len(c.Echoed) < len(c.Sent) {
		m, ev, err := conn.Recv(30 * time.Second)
		switch {
		case err != nil:
			c.Err = fmt.Sprintf("waiting for echo %d of %d: %v", len(c.Echoed)+1, len(c.Sent), err)
			return c
		case ev != nil:
			c.Events = append(c.Events, ev.String())
		default:
			c.Echoed = append(c.Echoed, *m)
		}
	}
	if err := conn.ShutdownWrite(); err != nil {
		c.Err = err.Error()
		return c
	}
	for {
		m, ev, err := conn.Recv(15 * time.Second)
		switch {
		case errors.Is(err, ksock.ErrClosed):
			return c
		case err != nil:
			c.Err = fmt.Sprintf("waiting for the shutdown to complete: %v", err)
			return c
		case ev != nil:
			c.Events = append(c.Events, ev.String())
			if ev.IsAssocChange(ksock.ShutdownComp) {
				c.ShutdownComplete = true
				return c
			}
		default:
			c.Events = append(c.Events, "unexpected message "+m.String())
		}
	}
}

func setLinkDown(ns netns.NsHandle, name string) error {
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	return h.LinkSetDown(l)
}

func delLink(ns netns.NsHandle, name string) {
	h, err := handle(ns)
	if err != nil {
		return
	}
	defer h.Close()
	if l, err := h.LinkByName(name); err == nil {
		h.LinkDel(l)
	}
}
