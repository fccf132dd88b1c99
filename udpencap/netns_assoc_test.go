//go:build linux

package udpencap

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
)

// natPort asks the router's conntrack which external port its masquerade
// gave the client's UDP flow toward server: the destination port of the
// flow's reply direction. ok is false when there is no such flow.
func (l *nsLab) natPort(t *testing.T, client, server netip.Addr) (port uint16, ok bool) {
	t.Helper()
	fam := "ipv4"
	if client.Is6() {
		fam = "ipv6"
	}
	out := testlab.Cmd(t, true, "ip", "netns", "exec", l.r, "conntrack", "-L", "-f", fam, "-p", "udp",
		"--orig-src", client.String(), "--orig-dst", server.String())
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "udp") {
			continue // conntrack's summary line
		}
		var dports []string
		for _, f := range strings.Fields(line) {
			if v, found := strings.CutPrefix(f, "dport="); found {
				dports = append(dports, v)
			}
		}
		if len(dports) != 2 {
			t.Fatalf("conntrack line %q: want an original and a reply dport", line)
		}
		p, err := strconv.ParseUint(dports[1], 10, 16)
		if err != nil {
			t.Fatalf("conntrack line %q: %v", line, err)
		}
		if ok && uint16(p) != port {
			t.Fatalf("conntrack shows two flows from %v to %v (ports %d and %d)", client, server, port, p)
		}
		port, ok = uint16(p), true
	}
	return port, ok
}

// TestE2EAssocNetnsMasquerade runs associations over the UDP link between
// real network namespaces, client -> router doing nftables masquerade ->
// server, IPv4 and IPv6 side by side on one dual-stack socket per side:
//
//   - through-nat: the server's path is the router's address and the
//     external port conntrack shows; data crosses both ways intact;
//   - conntrack-flush: the router forgets every mapping while the
//     associations are idle, and the server talks first into the stale one
//     (the router answers it with ICMP port unreachable, which the link
//     reports and the engine must not take for an ABORT). The client's next
//     packet makes a new mapping; the server adopts its port (RFC 6951
//     5.4), a port other than the old one, and the stale data arrives
//     after all;
//   - new-port-under-load: with paced traffic flowing both ways, the
//     masquerade moves to another port range and conntrack is flushed: the
//     server follows the client to the new range mid-flow and not one
//     message is lost, duplicated or reordered;
//   - the associations end with graceful shutdowns, one from each side.
//
// Through all of it the associations stay ESTABLISHED.
func TestE2EAssocNetnsMasquerade(t *testing.T) {
	lab := newNSLab(t, "sgwa")
	srvLink := listenIn(t, lab.s, Config{ReadBuffer: 4 << 20})
	cliLink := listenIn(t, lab.c, Config{ReadBuffer: 4 << 20})
	srv, cli := newStackT(t, srvLink), newStackT(t, cliLink)
	ln := listenS(t, srv, portS1AP, fastOpts)
	ctx := testlab.Ctx(t, 2*time.Minute)

	type family struct {
		name                   string
		client, router, server netip.Addr
		c, s                   *stack.Assoc // client and server ends
	}
	fams := []*family{{name: "IPv4", client: nsClient4, router: nsRouterS4, server: nsServer4}, {name: "IPv6", client: nsClient6, router: nsRouterS6, server: nsServer6}}
	all := func() []*stack.Assoc {
		var xs []*stack.Assoc
		for _, f := range fams {
			xs = append(xs, f.c, f.s)
		}
		return xs
	}
	// followsNAT checks that f's server end sends to the router's address
	// and the external port conntrack has for the client now, within
	// [lo, hi], and returns that port.
	followsNAT := func(t *testing.T, f *family, lo, hi uint16) uint16 {
		t.Helper()
		p := primary(f.s)
		nat, ok := lab.natPort(t, f.client, f.server)
		if !ok {
			t.Fatalf("%s: conntrack has no flow from %v to %v", f.name, f.client, f.server)
		}
		if p.Remote != f.router || p.Local != f.server || p.RemotePort != nat {
			t.Fatalf("%s: the server's path is %v; the masquerade maps the client to %v port %d toward %v", f.name, p, f.router, nat, f.server)
		}
		if !inRange(nat, lo, hi) {
			t.Fatalf("%s: external port %d outside %d-%d", f.name, nat, lo, hi)
		}
		return nat
	}

	t.Run("through-nat", func(t *testing.T) {
		for i, f := range fams {
			f.c, f.s = testlab.DialAccept(t, ctx, cli, pathTo(f.server, DefaultPort), 0, portS1AP, fastOpts, ln)
			port := followsNAT(t, f, 40000, 40999)
			t.Logf("%s: client %v:%d appears as %v:%d", f.name, f.client, cliLink.LocalPort(), f.router, port)
			exchangeT(t, ctx, f.c, f.s, uint32(10*i), 100)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("conntrack-flush", func(t *testing.T) {
		old := map[string]uint16{}
		for _, f := range fams {
			old[f.name] = primary(f.s).RemotePort
		}
		testlab.Cmd(t, true, "ip", "netns", "exec", lab.r, "conntrack", "-F")
		notices := srvLink.Stats().Notices
		for _, f := range fams {
			if err := f.s.SendMsg(ctx, []byte("into the flushed mapping"), stack.SndInfo{Stream: 3, PPID: 60}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond) // lost, and answered with ICMP
		testlab.WantEstablished(t, "after the server's packets hit the flushed mapping", all()...)
		for _, f := range fams {
			if err := f.c.SendMsg(ctx, []byte("through a new mapping"), stack.SndInfo{Stream: 4, PPID: 18}); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range fams {
			for _, r := range []struct {
				x    *stack.Assoc
				want string
			}{{f.s, "through a new mapping"}, {f.c, "into the flushed mapping"}} {
				m, err := r.x.RecvMsg(ctx)
				if err != nil || string(m.Data) != r.want || m.Stream == 0 {
					t.Fatalf("%s after the flush: %q on stream %d, %v; want %q", f.name, m.Data, m.Stream, err, r.want)
				}
			}
			port := followsNAT(t, f, 40000, 40999)
			t.Logf("%s: after the flush the client appears as %v:%d (was %d)", f.name, f.router, port, old[f.name])
			// The new mapping cannot have the old port: the server's
			// packets into the flushed mapping made a conntrack entry
			// server:9899 -> router:old, the very tuple the old port's
			// replies would need, and NAT tuples are unique. (Were the
			// client first, masquerade's random port would repeat 1 time
			// in 1000.) So the server must really have moved.
			if port == old[f.name] {
				t.Fatalf("%s: the new mapping kept port %d", f.name, port)
			}
		}
		t.Logf("ICMP reports about the stale mapping delivered to the server: %d", srvLink.Stats().Notices-notices)
		testlab.WantEstablished(t, "after the flush", all()...)
		for i, f := range fams {
			exchangeT(t, ctx, f.c, f.s, uint32(100+10*i), 50)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("new-port-under-load", func(t *testing.T) {
		errs := make(chan error, len(fams))
		for i, f := range fams {
			go func() { errs <- exchangePaced(ctx, f.c, f.s, uint32(200+10*i), 150, 10*time.Millisecond) }()
		}
		time.Sleep(500 * time.Millisecond)
		lab.masquerade(t, "50000-50999")
		testlab.Cmd(t, true, "ip", "netns", "exec", lab.r, "conntrack", "-F")
		for range fams {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range fams {
			port := followsNAT(t, f, 50000, 50999)
			t.Logf("%s: under load the client moved to %v:%d", f.name, f.router, port)
		}
		testlab.WantEstablished(t, "after the new masquerade range", all()...)
	})
	if t.Failed() {
		return
	}

	shutCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	shutdownT(t, shutCtx, fams[0].c, fams[0].s)
	shutdownT(t, shutCtx, fams[1].s, fams[1].c)
	for name, s := range map[string]*stack.Stack{"client": cli, "server": srv} {
		st := s.Stats()
		t.Logf("%s stack: %d T3-rtx expiries, %d packets out, %d in", name, st.T3RtxExpireds, st.OutSCTPPacks, st.InSCTPPacks)
		if st.CurrEstab != 0 || st.Aborteds != 0 || st.Shutdowns != 2 {
			t.Errorf("%s stack: %d established, %d aborts, %d shutdowns; want 0, 0, 2", name, st.CurrEstab, st.Aborteds, st.Shutdowns)
		}
	}
}
