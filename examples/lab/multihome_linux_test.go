//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// The second networks of the multi-homed lab: eNB and edge on
// 198.18.5.0/24 besides 198.18.1.0/24, core and MME on 198.18.6.0/24
// besides 198.18.2.0/24. The tunnel between edge and core (through the
// NAT) stays single-path.
const (
	enbAddr2 = "198.18.5.10"
	edgeRAN2 = "198.18.5.1"
	coreCN2  = "198.18.6.1"
	mmeAddr2 = "198.18.6.10"
)

// secondNetworks adds a veth pair eNB-edge and one core-MME.
func (l *lab) secondNetworks() {
	l.tb.Helper()
	for _, v := range []struct{ a, aDev, aAddr, b, bDev, bAddr string }{
		{"enb", "enb1", enbAddr2, "edge", "edge-ran2", edgeRAN2},
		{"core", "core-cn2", coreCN2, "mme", "mme1", mmeAddr2},
	} {
		l.must("ip", "-n", l.ns[v.a], "link", "add", v.aDev, "type", "veth", "peer", "name", v.bDev, "netns", l.ns[v.b])
		for _, end := range [][3]string{{v.a, v.aDev, v.aAddr}, {v.b, v.bDev, v.bAddr}} {
			l.must("ip", "-n", l.ns[end[0]], "addr", "add", end[2]+"/24", "dev", end[1])
			l.must("ip", "-n", l.ns[end[0]], "link", "set", end[1], "up")
		}
	}
}

// mhLabOpts: short timers, so that a leg whose both networks are gone
// fails in seconds; heartbeats every 2 s, so a path comes back soon.
var mhLabOpts = stack.Options{
	NoDelay:  true,
	InitMsg:  engine.InitMsg{OutStreams: 10, MaxInStreams: 10},
	RTO:      stack.RTOInfo{Initial: time.Second, Min: 300 * time.Millisecond, Max: time.Second},
	Assoc:    engine.AssocParams{MaxRetrans: 6},
	PeerAddr: engine.PeerAddrParams{HBInterval: 2 * time.Second, PathMaxRetrans: 3},
}

// mhAddrs are the native addresses of the multi-homed lab, each side's
// on its first network (the lab's veths: enb0, mme0) and its second
// (secondNetworks); and where the first networks fail.
type mhAddrs struct {
	enb, edge, core, mme [2]string
	// gatewaySide takes the gateways' interfaces of the first networks
	// (edge-ran, core-cn) down and up instead of the peers' (enb0, mme0),
	// and gives them their first IPv6 address again once up, as a network
	// manager does after Linux flushed it (IPv6 runs).
	gatewaySide bool
}

// mhV4 is the lab's IPv4 networks.
var mhV4 = mhAddrs{
	enb: [2]string{enbAddr, enbAddr2}, edge: [2]string{edgeRAN, edgeRAN2},
	core: [2]string{coreCN, coreCN2}, mme: [2]string{mmeAddr, mmeAddr2},
}

// IPv6 addresses of 2001:2::/48 (RFC 5180, benchmarking) for the native
// networks: 2001:2:1::/64 and 2001:2:5::/64 between eNB and edge (first,
// second), 2001:2:2::/64 and 2001:2:6::/64 between core and MME.
const (
	enb6, enb6b   = "2001:2:1::10", "2001:2:5::10"
	edge6, edge6b = "2001:2:1::1", "2001:2:5::1"
	core6, core6b = "2001:2:2::1", "2001:2:6::1"
	mme6, mme6b   = "2001:2:2::10", "2001:2:6::10"
)

// mhV6 is the lab's IPv6 networks (addIPv6).
var mhV6 = mhAddrs{
	enb: [2]string{enb6, enb6b}, edge: [2]string{edge6, edge6b},
	core: [2]string{core6, core6b}, mme: [2]string{mme6, mme6b},
}

// addIPv6 gives the native veths of both networks their IPv6 addresses
// (nodad: usable at once, not tentative for a second). Linux flushes an
// interface's IPv6 addresses when it goes down, static ones included,
// unless keep_addr_on_down is set, as it is here on the peers' side: the
// peers are our stack standing in for an eNB and an MME, whose hosts
// would give the address back. The gateways' side keeps the default: a
// run that fails the gateways' interfaces gives the address back itself
// (mhAddrs.gatewaySide).
func (l *lab) addIPv6() {
	l.tb.Helper()
	for _, a := range []struct {
		role, dev, addr string
		keep            bool
	}{
		{"enb", "enb0", enb6, true}, {"edge", "edge-ran", edge6, false}, {"enb", "enb1", enb6b, true}, {"edge", "edge-ran2", edge6b, false},
		{"core", "core-cn", core6, false}, {"mme", "mme0", mme6, true}, {"core", "core-cn2", core6b, false}, {"mme", "mme1", mme6b, true},
	} {
		if a.keep {
			l.must("ip", "netns", "exec", l.ns[a.role], "sysctl", "-qw", "net.ipv6.conf."+a.dev+".keep_addr_on_down=1")
		}
		l.must("ip", "-n", l.ns[a.role], "-6", "addr", "add", a.addr+"/64", "dev", a.dev, "nodad")
	}
}

// TestE2EMultihomedThroughGateways runs the multi-homed scenario
// (multihomed) over the lab's IPv4 networks.
func TestE2EMultihomedThroughGateways(t *testing.T) {
	l := newLab(t)
	l.secondNetworks()
	l.multihomed(t, mhV4)
}

// TestE2EMultihomedThroughGatewaysIPv6: the same over IPv6 on both native
// networks of each leg (the tunnel between the gateways stays IPv4).
func TestE2EMultihomedThroughGatewaysIPv6(t *testing.T) {
	l := newLab(t)
	l.secondNetworks()
	l.addIPv6()
	l.multihomed(t, mhV6)
}

// TestE2EMultihomedGatewayInterfacesIPv6: the same over IPv6 with the
// gateways' own interfaces of the first networks failing, each losing its
// IPv6 address with it (Linux flushes them on the way down) and given it
// back once up: each leg fails over and back as when a peer's network
// fails.
func TestE2EMultihomedGatewayInterfacesIPv6(t *testing.T) {
	l := newLab(t)
	l.secondNetworks()
	l.addIPv6()
	ad := mhV6
	ad.gatewaySide = true
	l.multihomed(t, ad)
}

// TestE2EMultihomedThroughGatewaysDualStack: each native peer multi-homed
// across the families, IPv4 on its first network and IPv6 on its second,
// in one association (RFC 9260 allows both families' addresses in one
// INIT); the gateways' native links then hold a socket of each family.
func TestE2EMultihomedThroughGatewaysDualStack(t *testing.T) {
	l := newLab(t)
	l.secondNetworks()
	l.addIPv6()
	// Each side's first address of the IPv4 networks, its second of the
	// IPv6 ones.
	mix := func(v4, v6 [2]string) [2]string { return [2]string{v4[0], v6[1]} }
	l.multihomed(t, mhAddrs{
		enb: mix(mhV4.enb, mhV6.enb), edge: mix(mhV4.edge, mhV6.edge),
		core: mix(mhV4.core, mhV6.core), mme: mix(mhV4.mme, mhV6.mme),
	})
}

// hostList is a, b as a native URL lists hosts (IPv6 in brackets).
func hostList(a, b string) string {
	br := func(h string) string {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return br(a) + "," + br(b)
}

// multihomed: the eNB and the MME with two addresses
// each, on two networks each; the edge's route listens on both of its
// addresses toward the eNB (sctp://A1,A2:PORT), the core's forwards to
// both of the MME's from two of its own (?from=). S1AP-sized requests go
// every 20 ms and the MME echoes them. The eNB's first network goes down
// (ip link set enb0 down) and up again, then the MME's (mme0): each leg
// fails over and back on its own, every echo comes back whole and once,
// status lists each native side's two paths. Then both of the MME's
// networks go down: the eNB's association is aborted with the reason
// naming the egress leg.
func (l *lab) multihomed(t *testing.T, ad mhAddrs) {
	const port = 36412
	dir := t.TempDir()
	sctp := "sctp: {rto_initial: 1s, rto_min: 300ms, rto_max: 1s, max_retrans: 6, path_max_retrans: 3, hb_interval: 2s}"
	edgeYAML := fmt.Sprintf("udp: {listen: \"0.0.0.0:9899\"}\nlog: {level: warn}\nroutes:\n  - name: s1ap\n    listen: \"sctp://%s:%d\"\n    forward: \"udp://%s:9899/%d\"\n    %s\n",
		hostList(ad.edge[0], ad.edge[1]), port, coreWAN, port, sctp)
	coreYAML := fmt.Sprintf("udp: {listen: \"%s:9899\"}\nlog: {level: warn}\nroutes:\n  - name: s1ap\n    listen: \"udp://%s:9899/%d\"\n    forward: \"sctp://%s:%d?from=%s\"\n    %s\n",
		coreWAN, coreWAN, port, hostList(ad.mme[0], ad.mme[1]), port, hostList(ad.core[0], ad.core[1]), sctp)
	ef, cf := filepath.Join(dir, "edge.yaml"), filepath.Join(dir, "core.yaml")
	for f, s := range map[string]string{ef: edgeYAML, cf: coreYAML} {
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edge := l.startGateway("edge", edgeAdmin, "--config", ef)
	core := l.startGateway("core", coreAdmin, "--config", cf)

	mopts := mhLabOpts
	mopts.LocalAddrs = []netip.Addr{netip.MustParseAddr(ad.mme[0]), netip.MustParseAddr(ad.mme[1])}
	far := serveFar(t, l.nativeStack("mme", ad.mme[0], ad.mme[1]), mopts, port)
	enb := l.nativeStack("enb", ad.enb[0], ad.enb[1])
	ctx := testlab.Ctx(t, 3*time.Minute)
	eopts := mhLabOpts
	eopts.LocalAddrs = []netip.Addr{netip.MustParseAddr(ad.enb[0]), netip.MustParseAddr(ad.enb[1])}
	a, err := enb.DialWith(ctx, 0, link.Path{Local: netip.MustParseAddr(ad.enb[0]), Remote: netip.MustParseAddr(ad.edge[0])}, 0, port,
		stack.DialOptions{Options: eopts}) // the edge's INIT ACK names its second address
	if err != nil {
		t.Fatalf("connect through the gateways: %v", err)
	}
	if err := a.SendMsg(ctx, []byte("HELLO mh"), stack.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	fa := far.get("mh", 10*time.Second)
	if !testlab.Poll(10*time.Second, func() bool { return twoActive(a.Status()) && twoActive(fa.a.Status()) }) {
		t.Fatalf("paths not verified: eNB %s; MME %s", pathsText(a.Status()), pathsText(fa.a.Status()))
	}
	if st := edge.statusPaths(); !strings.Contains(st, "path "+ad.edge[0]+" -> "+ad.enb[0]) || !strings.Contains(st, "path "+ad.edge[1]+" -> "+ad.enb[1]) {
		t.Errorf("edge status lacks the eNB's two paths:\n%s", st)
	}
	if st := core.statusPaths(); !strings.Contains(st, "path "+ad.core[0]+" -> "+ad.mme[0]) || !strings.Contains(st, "path "+ad.core[1]+" -> "+ad.mme[1]) {
		t.Errorf("core status lacks the MME's two paths:\n%s", st)
	}

	// Requests every 20 ms; the links go down and up at set points.
	const n, gap = 700, 20 * time.Millisecond
	flow := uint32(testlab.SmallFlow | 17)
	out, _ := a.Streams()
	type event struct {
		at  int
		cmd []string
		// seen, when set, keeps the command's output.
		seen *string
	}
	var flushed [2]string // the gateways' addresses while their interfaces were down
	events := []event{
		{100, []string{"ip", "-n", l.ns["enb"], "link", "set", "enb0", "down"}, nil},
		{300, []string{"ip", "-n", l.ns["enb"], "link", "set", "enb0", "up"}, nil},
		{400, []string{"ip", "-n", l.ns["mme"], "link", "set", "mme0", "down"}, nil},
		{600, []string{"ip", "-n", l.ns["mme"], "link", "set", "mme0", "up"}, nil},
	}
	if ad.gatewaySide {
		events = []event{
			{100, []string{"ip", "-n", l.ns["edge"], "link", "set", "edge-ran", "down"}, nil},
			{300, []string{"ip", "-n", l.ns["edge"], "link", "set", "edge-ran", "up"}, nil},
			{400, []string{"ip", "-n", l.ns["core"], "link", "set", "core-cn", "down"}, nil},
			{600, []string{"ip", "-n", l.ns["core"], "link", "set", "core-cn", "up"}, nil},
		}
		// The address flushed on the way down (looked at just before
		// the interface comes up) comes back once up.
		for k, r := range []struct {
			at              int
			role, dev, addr string
		}{{300, "edge", "edge-ran", ad.edge[0]}, {600, "core", "core-cn", ad.core[0]}} {
			if strings.Contains(r.addr, ":") {
				look := event{r.at, []string{"ip", "-n", l.ns[r.role], "-6", "addr", "show", "dev", r.dev}, &flushed[k]}
				readd := event{r.at, []string{"ip", "-n", l.ns[r.role], "-6", "addr", "replace", r.addr + "/64", "dev", r.dev, "nodad"}, nil}
				events = slices.Insert(events, slices.IndexFunc(events, func(e event) bool { return e.at == r.at }), look)
				events = append(events, readd)
			}
		}
	}
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			for _, e := range events {
				if e.at == i {
					got := testlab.Cmd(t, true, e.cmd[0], e.cmd[1:]...)
					if e.seen != nil {
						*e.seen = "looked\n" + got // an address flushed prints nothing
					}
				}
			}
			b, info := testlab.Msg(flow, i, out, 0)
			if err := a.SendMsg(ctx, b, info); err != nil {
				sent <- fmt.Errorf("SendMsg %d: %w", i, err)
				return
			}
			time.Sleep(gap)
		}
		sent <- nil
	}()
	chk := testlab.NewChecker(flow, n, out, 0)
	for !chk.Done() {
		m, err := a.RecvMsg(ctx)
		if err != nil {
			var ae *stack.AssocError
			errors.As(err, &ae)
			t.Logf("edge: %s", edge.statusPaths())
			t.Fatalf("%d of %d echoes, then %v (%v)\neNB %s\nMME %s", chk.Got(), n, err, ae, pathsText(a.Status()), pathsText(fa.a.Status()))
		}
		if err := chk.Check(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if ad.gatewaySide && strings.Contains(ad.edge[0], ":") {
		// The scenario is what it says: the addresses were gone.
		for k, a := range []string{ad.edge[0], ad.core[0]} {
			if !strings.HasPrefix(flushed[k], "looked\n") || strings.Contains(flushed[k], a+"/") {
				t.Errorf("%s with its interface down: %q, want it looked at and gone", a, flushed[k])
			}
		}
	}
	if got := len(fa.received()); got != n {
		t.Errorf("the MME received %d messages, want %d", got, n)
	}
	// Failback is not due by the last echo: the MME's network came back
	// only 100 requests (2 s and a little) before it. A path past
	// Path.Max.Retrans (3 errors, about 3 s after its network went) is
	// inactive, and heartbeated every HB.interval + RTO +/- RTO/2 (RFC 9260
	// 8.3): 2.5 to 3.5 s here, RTO having backed off to RTO.Max; the answer
	// to the first HEARTBEAT after the network returns brings it back. In
	// the lab that came 0.5 to 2.1 s after mme0 went up, or later than the
	// last echo, which then found the MME's path still unreachable (6 of 37
	// runs; at low load, with 20 ms between requests, the window is
	// shortest). So wait for every leg's failback here, a few heartbeat
	// periods at most, before reading what each side saw.
	if !testlab.Poll(20*time.Second, func() bool {
		return twoActive(a.Status()) && twoActive(fa.a.Status()) &&
			pathsActive(edge, [2]string{ad.edge[0], ad.enb[0]}, [2]string{ad.edge[1], ad.enb[1]}) &&
			pathsActive(core, [2]string{ad.core[0], ad.mme[0]}, [2]string{ad.core[1], ad.mme[1]})
	}) {
		t.Logf("edge: %s", edge.statusPaths())
		t.Logf("core: %s", core.statusPaths())
		t.Fatalf("paths not all back 20 s after the last echo: eNB %s; MME %s", pathsText(a.Status()), pathsText(fa.a.Status()))
	}
	// Each leg's own peer saw its own path fail and come back; the other
	// leg's peer saw nothing of it. Neither read its events meanwhile:
	// the default queue holds them, a SENDER_DRY after each of the 700
	// echoes taking one slot at most.
	// (The other path stays reachable; on a loaded machine a late
	// heartbeat answer may make it potentially failed for a moment.)
	enbChanges, mmeChanges := addrChanges(a), addrChanges(fa.a)
	if !hasSeq(enbChanges, ad.edge[0]) || slices.Contains(enbChanges, ad.edge[1]+" ADDR_UNREACHABLE") {
		t.Errorf("eNB's PEER_ADDR_CHANGEs %v: want %s failed and available again, %s never unreachable", enbChanges, ad.edge[0], ad.edge[1])
	}
	if !hasSeq(mmeChanges, ad.core[0]) || slices.Contains(mmeChanges, ad.core[1]+" ADDR_UNREACHABLE") {
		t.Errorf("MME's PEER_ADDR_CHANGEs %v: want %s failed and available again, %s never unreachable", mmeChanges, ad.core[0], ad.core[1])
	}
	for _, x := range []*stack.Assoc{a, fa.a} {
		if d := x.DroppedEvents(); d != 0 {
			t.Errorf("%d events dropped", d)
		}
	}
	t.Logf("eNB saw %v; MME saw %v", enbChanges, mmeChanges)

	// Both MME networks down: the egress leg has no path left.
	lost := time.Now()
	l.must("ip", "-n", l.ns["mme"], "link", "set", "mme0", "down")
	l.must("ip", "-n", l.ns["mme"], "link", "set", "mme1", "down")
	_, err = a.RecvMsg(ctx)
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.CommLost {
		t.Fatalf("after the MME leg was lost whole: %v, want COMM_LOST", err)
	}
	reason := abortReason(ae.Event)
	t.Logf("the pair ended %v after both of the MME's networks went down: %q", time.Since(lost).Round(time.Millisecond), reason)
	if !strings.Contains(reason, "egress peer unreachable") || !strings.Contains(reason, "all 2 paths failed") {
		t.Fatalf("the eNB's association ended with reason %q, want the egress leg named", reason)
	}
}

func twoActive(st stack.Status) bool {
	if len(st.Paths) != 2 {
		return false
	}
	for _, p := range st.Paths {
		if p.State != stack.PathActive {
			return false
		}
	}
	return true
}

func pathsText(st stack.Status) string {
	var s []string
	for _, p := range st.Paths {
		s = append(s, fmt.Sprintf("%v %v errors %d", p.Path, p.State, p.Errors))
	}
	return strings.Join(s, "; ")
}

// pathsActive reports whether `sctpgw status` of g shows each path (local,
// remote) active.
func pathsActive(g *gw, paths ...[2]string) bool {
	st, err := g.statusText()
	for _, p := range paths {
		if err != nil || !strings.Contains(st, "path "+p[0]+" -> "+p[1]+" active") {
			time.Sleep(100 * time.Millisecond) // a status is a process run: not every 10 ms
			return false
		}
	}
	return true
}

// statusPaths is `sctpgw status` of the gateway.
func (g *gw) statusPaths() string {
	s, err := g.statusText()
	if err != nil {
		g.l.tb.Fatalf("sctpgw status in %s: %v\n%s", g.role, err, s)
	}
	return s
}

// addrChanges lists the PEER_ADDR_CHANGEs queued on x as "ADDR CHANGE".
func addrChanges(x *stack.Assoc) []string {
	var r []string
	for {
		select {
		case ev, ok := <-x.Events():
			if !ok {
				return r
			}
			if ev.Type == engine.PeerAddrChange && ev.AddrChange != engine.AddrConfirmed {
				r = append(r, ev.Path.Remote.String()+" "+ev.AddrChange.String())
			}
		default:
			return r
		}
	}
}

// hasSeq reports whether changes show addr failing (potentially failed or
// unreachable) and then available again, last.
func hasSeq(changes []string, addr string) bool {
	failed, back := false, false
	for _, c := range changes {
		if !strings.HasPrefix(c, addr+" ") {
			continue
		}
		switch {
		case strings.HasSuffix(c, "ADDR_POTENTIALLY_FAILED"), strings.HasSuffix(c, "ADDR_UNREACHABLE"):
			failed, back = true, false
		case strings.HasSuffix(c, "ADDR_AVAILABLE"):
			back = failed
		}
	}
	return failed && back
}

// abortReason is the reason of the User-Initiated Abort among ev's causes.
func abortReason(ev stack.Event) string {
	for _, c := range ev.Causes {
		if u, ok := c.(*wire.UserInitiatedAbortCause); ok {
			return string(u.Reason)
		}
	}
	return ""
}
