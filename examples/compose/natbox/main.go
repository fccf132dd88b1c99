//go:build linux

// Command natbox is the compose lab's NAT: a container between the edge's
// network and the core's that forwards one UDP port to the core and
// masquerades what it forwards (source NAT to a port range), with nftables rules installed through
// netlink (no nft binary in a scratch image). The core sees the NAT's
// address and a port from -ports, as behind any NAT; the edge sends to the
// NAT's address, as a host behind a port-forwarding router does.
//
//	natbox -to core:9899 -port 9899 -ports 20000-29999
//
// It needs CAP_NET_ADMIN in its own network namespace and IPv4 forwarding
// on there (compose: sysctls net.ipv4.ip_forward=1). On SIGTERM it removes
// its table and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

const tableName = "natbox"

func main() {
	to := flag.String("to", "core:9899", "HOST:PORT the UDP port is forwarded to")
	port := flag.Int("port", 9899, "UDP port forwarded")
	ports := flag.String("ports", "20000-29999", "source ports the masquerade picks from (FIRST-LAST)")
	wait := flag.Duration("wait", time.Minute, "how long to wait for -to's name to resolve")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("natbox: ")
	if err := run(*to, *port, *ports, *wait); err != nil {
		log.Fatal(err)
	}
}

func run(to string, port int, ports string, wait time.Duration) error {
	lo, hi, err := parseRange(ports)
	if err != nil {
		return fmt.Errorf("-ports %q: %w", ports, err)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("-port %d: expected 1-65535", port)
	}
	target, err := resolve(to, wait)
	if err != nil {
		return err
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err != nil || strings.TrimSpace(string(b)) != "1" {
		return errors.New("IPv4 forwarding is off in this namespace: run with --sysctl net.ipv4.ip_forward=1")
	}
	// The NAT's own address toward the target, as masquerade would pick it:
	// the source of the route to it (connecting a UDP socket sends nothing).
	probe, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		return fmt.Errorf("no route to %v: %w", target, err)
	}
	self := probe.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	probe.Close()
	conn, err := nftables.New()
	if err != nil {
		return err
	}
	if err := install(conn, target, self, uint16(port), lo, hi); err != nil {
		return fmt.Errorf("installing the NAT rules (CAP_NET_ADMIN?): %w", err)
	}
	log.Printf("udp %d -> %v, masquerading as %v ports %d-%d", port, target, self, lo, hi)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	conn.DelTable(&nftables.Table{Name: tableName, Family: nftables.TableFamilyIPv4})
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("removing the NAT rules: %w", err)
	}
	log.Print("rules removed")
	return nil
}

func parseRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(s, "-")
	x, err1 := strconv.ParseUint(a, 10, 16)
	y, err2 := strconv.ParseUint(b, 10, 16)
	if !ok || err1 != nil || err2 != nil || x == 0 || x > y {
		return 0, 0, errors.New("expected FIRST-LAST, 1 <= FIRST <= LAST <= 65535")
	}
	return uint16(x), uint16(y), nil
}

// resolve looks hostport up until it resolves to an IPv4 address or wait
// passes: in a compose lab the target's name appears when it starts.
func resolve(hostport string, wait time.Duration) (netip.AddrPort, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("-to %q: %w", hostport, err)
	}
	pn, err := strconv.ParseUint(p, 10, 16)
	if err != nil || pn == 0 {
		return netip.AddrPort{}, fmt.Errorf("-to %q: port: expected 1-65535", hostport)
	}
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
		cancel()
		if err == nil && len(addrs) > 0 {
			return netip.AddrPortFrom(addrs[0].Unmap(), uint16(pn)), nil
		}
		if time.Now().After(deadline) {
			return netip.AddrPort{}, fmt.Errorf("-to %q: no IPv4 address after %v: %v", hostport, wait, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// install replaces table natbox with
//
//	prerouting:  udp dport PORT dnat to TARGET
//	postrouting: ip daddr TARGET.addr udp dport TARGET.port snat to SELF:LO-HI
//
// The second rule is a masquerade to a port range, written as snat to the
// address masquerade would pick: google/nftables v0.3.0's Masq with ports
// leaves out NF_NAT_RANGE_PROTO_SPECIFIED, and without it the kernel keeps
// the original port whenever it is free.
func install(conn *nftables.Conn, target netip.AddrPort, self netip.Addr, port, lo, hi uint16) error {
	t := &nftables.Table{Name: tableName, Family: nftables.TableFamilyIPv4}
	conn.AddTable(t)
	conn.DelTable(t) // start from nothing: a restart must not stack rules
	conn.AddTable(t)
	pre := conn.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	post := conn.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	udpPort := func(p uint16) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)},
		}
	}
	ip, me := target.Addr().As4(), self.As4()
	conn.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: append(udpPort(port),
		&expr.Immediate{Register: 1, Data: ip[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(target.Port())},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)})
	conn.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: append(append([]expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]},
	}, udpPort(target.Port())...),
		&expr.Immediate{Register: 1, Data: me[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(lo)},
		&expr.Immediate{Register: 3, Data: binaryutil.BigEndian.PutUint16(hi)},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, RegProtoMax: 3, Specified: true},
	)})
	return conn.Flush()
}
