//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// inNS runs f on a thread inside ns. The thread stays locked to the
// goroutine and ends with it, so it never goes back to the scheduler's pool
// in a foreign namespace. Sockets and processes f creates stay in ns.
func inNS(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// newNS creates a network namespace with its loopback up.
func newNS() (netns.NsHandle, error) {
	var h netns.NsHandle
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.New() // unshare(CLONE_NEWNET) on this thread
		h = ns
		errc <- err
	}()
	if err := <-errc; err != nil {
		return 0, fmt.Errorf("new netns: %w", err)
	}
	if err := linkUp(h, "lo"); err != nil {
		return 0, err
	}
	return h, nil
}

func handle(ns netns.NsHandle) (*netlink.Handle, error) {
	return netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
}

func linkUp(ns netns.NsHandle, name string) error {
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	return h.LinkSetUp(l)
}

// veth joins namespaces a and b with a veth pair, ends named an and bn,
// with addresses aAddr and bAddr (CIDR).
func veth(a netns.NsHandle, an, aAddr string, b netns.NsHandle, bn, bAddr string) error {
	la := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: an, Namespace: netlink.NsFd(a)}, PeerName: bn, PeerNamespace: netlink.NsFd(b)}
	if err := netlink.LinkAdd(la); err != nil {
		return fmt.Errorf("veth %s-%s: %w", an, bn, err)
	}
	for _, e := range []struct {
		ns         netns.NsHandle
		name, addr string
	}{{a, an, aAddr}, {b, bn, bAddr}} {
		if err := addAddr(e.ns, e.name, e.addr); err != nil {
			return err
		}
	}
	return nil
}

func addAddr(ns netns.NsHandle, dev, cidr string) error {
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("link %s: %w", dev, err)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("addr %s on %s: %w", cidr, dev, err)
	}
	return h.LinkSetUp(l)
}

func defaultRoute(ns netns.NsHandle, via string) error {
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	return h.RouteAdd(&netlink.Route{Gw: net.ParseIP(via)})
}

// sysctl writes /proc/sys/KEY (dots for slashes) as seen from ns.
func sysctl(ns netns.NsHandle, kv ...string) error {
	return inNS(ns, func() error {
		for i := 0; i+1 < len(kv); i += 2 {
			p := "/proc/sys/" + strings.ReplaceAll(kv[i], ".", "/")
			if err := os.WriteFile(p, []byte(kv[i+1]), 0); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", kv[i], kv[i+1], err)
			}
		}
		return nil
	})
}

// udpIn reads the UDP InDatagrams of /proc/net/snmp in ns.
func udpIn(ns netns.NsHandle) (in uint64, err error) {
	err = inNS(ns, func() error {
		// thread-self: /proc/self/net would show the main thread's namespace.
		f, err := os.Open("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		defer f.Close()
		var names []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || fields[0] != "Udp:" {
				continue
			}
			if names == nil {
				names = fields
				continue
			}
			for i, n := range names {
				if i >= len(fields) {
					break
				}
				v, _ := strconv.ParseUint(fields[i], 10, 64)
				if n == "InDatagrams" {
					in = v
				}
			}
			return nil
		}
		return fmt.Errorf("no Udp: lines in /proc/net/snmp")
	})
	return in, err
}
