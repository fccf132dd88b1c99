package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/internal/stackhost"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// AdminMux returns the admin endpoint's handlers:
//
//	GET /status   the Snapshot as JSON (what `sctpgw status` prints)
//	GET /routes   the routes, one per line
//	GET /healthz  200 while the gateway's stack answers (liveness)
//	GET /readyz   200 once every route listens, 503 while draining or
//	              stopped (readiness)
//
// The daemon adds /metrics (package metrics). It is meant for loopback or a
// pod network: it carries no authentication.
func (g *Gateway) AdminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(g.Snapshot())
	})
	mux.HandleFunc("/routes", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, g.Routes())
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := stackhost.Do(g.st, func(*engine.Host, time.Time) {}); err != nil {
			http.Error(w, "stopped", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := g.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Ready reports nil once the gateway serves every route and takes new
// pairs: New returns only after every route listens, so a gateway is ready
// from then until it drains or stops.
func (g *Gateway) Ready() error {
	draining := false
	if err := stackhost.Do(g.st, func(*engine.Host, time.Time) { draining = g.core.draining }); err != nil {
		return errors.New("stopped")
	}
	if draining {
		return errors.New("draining")
	}
	return nil
}

// ServeAdmin serves h on ln until ctx ends. The caller binds ln, so a port
// in use fails the start rather than leaving a daemon nobody can watch.
func ServeAdmin(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: %w", err)
	}
	return nil
}

// formatPaths lists a multi-homed side's paths, one a line.
func formatPaths(p func(string, ...any), paths []PathInfo) {
	for _, pa := range paths {
		mark := ""
		if pa.Primary {
			mark = " primary"
		}
		local := pa.LocalAddr
		if local == "" {
			local = "*"
		}
		p("    path %s -> %s %s%s srtt %v rto %v cwnd %d errors %d\n",
			local, pa.RemoteAddr, pa.State, mark, pa.SRTT.Round(time.Microsecond), pa.RTO, pa.Cwnd, pa.Errors)
	}
}

// FormatSnapshot renders a Snapshot for people, like `sctpgw status`.
func FormatSnapshot(s Snapshot) string {
	var b []byte
	p := func(f string, a ...any) { b = fmt.Appendf(b, f, a...) }
	if s.Draining {
		p("draining\n")
	}
	p("%d pairs\n", len(s.Pairs))
	for _, x := range s.Pairs {
		p("\nroute %s, up since %s\n", x.Route, x.Since.Format(time.RFC3339))
		for _, sd := range []struct {
			name string
			s    SideStatus
		}{{"ingress", x.Ingress}, {"egress", x.Egress}} {
			encap := ""
			if sd.s.EncapPort != 0 {
				encap = fmt.Sprintf(" udp/%d", sd.s.EncapPort)
			}
			p("  %-7s %-17s %s %s:%d -> %s:%d%s streams %d/%d rwnd %d cwnd %d srtt %v rto %v queued %d unacked %d tags %08x/%08x\n",
				sd.name, sd.s.State, sd.s.Link, sd.s.LocalAddr, sd.s.LocalPort, sd.s.RemoteAddr, sd.s.RemotePort, encap,
				sd.s.InStreams, sd.s.OutStreams, sd.s.Rwnd, sd.s.Cwnd, sd.s.SRTT.Round(time.Microsecond), sd.s.RTO,
				sd.s.Queued, sd.s.Unacked, sd.s.LocalTag, sd.s.PeerTag)
			if len(sd.s.Paths) > 1 {
				formatPaths(p, sd.s.Paths)
			}
		}
		p("  traffic: in->out %d msgs %d bytes, out->in %d msgs %d bytes\n", x.MsgsIn, x.BytesIn, x.MsgsOut, x.BytesOut)
	}
	c := s.Gateway
	p("\ngateway: pairs opened %d closed %d refused %d failed %d, restarts %d, invalid-stream %d, oversize %d, lost to aborts %d\n",
		c.PairsOpened, c.PairsClosed, c.PairsRefused, c.PairsFailed, c.Restarts, c.InvalidStreamMsgs, c.OversizeMsgs, c.AbortedMsgs)
	p("%s", s.Discards)
	for _, a := range s.ACL {
		p("\nacl %s: default %s, %d pairs held, %d sources tracked (%d evicted)\n", a.Route, a.Default, a.Pairs, a.Sources, a.SourceEvictions)
		p("  %12s  rule\n", "hits")
		for i, r := range a.Rules {
			p("  %12d  %d: %s\n", r.Hits, i+1, r.Rule)
		}
		p("  %12d  default %s\n", a.DefaultHits, a.Default)
		if len(a.Limits) > 0 {
			p("  %12s  limit\n", "refused")
			for _, l := range a.Limits {
				p("  %12d  %s: %s\n", l.Refused, l.Limit, l.Setting)
			}
		}
		for _, w := range a.Warnings {
			p("  warning: %s\n", w)
		}
	}
	for _, a := range s.Auth {
		p("\nauth %s: active key %d; received %d authenticated, %d refused unauthenticated, %d bad MAC; sent %d signed\n",
			a.Route, a.ActiveKey, a.Authenticated, a.Unauthenticated, a.BadMAC, a.Signed)
		for _, k := range a.Keys {
			mark := ""
			if k.Active {
				mark = " (active)"
			}
			p("  key %d%s: in %d, out %d, bad MAC %d\n", k.ID, mark, k.In, k.Out, k.BadMAC)
		}
	}
	for _, l := range s.Links {
		local := ""
		if l.Local != "" {
			local = " " + l.Local
		}
		p("\nlink %s%s: rx %d packets %d bytes in %d batches, tx %d packets %d bytes in %d batches\n",
			l.Kind, local, l.RxPackets, l.RxBytes, l.RxBatches, l.TxPackets, l.TxBytes, l.TxBatches)
		p("  icmp notices %d, checksum errors %d, filtered %d, truncated %d, send errors %d, fragmented %d (errors %d)\n",
			l.Notices, l.ChecksumErrors, l.Filtered, l.Truncated, l.SendErrors, l.Fragmented, l.FragmentErrors)
		if l.Kind == "native" {
			p("  zero-CRC32c packets accepted from local virtual interfaces %d\n", l.UncheckedLocal)
		}
		if d := l.Delays; d != nil {
			p("  time in the gateway since start, p50 / p99 (bucket bounds): packet wait %s / %s (%d packets timed), batch handling %s / %s, writes %s / %s\n",
				bound(d.WaitP50), bound(d.WaitP99), d.Packets, bound(d.HandlingP50), bound(d.HandlingP99), bound(d.WriteP50), bound(d.WriteP99))
		}
		if l.Kind == "dtls" {
			p("  sessions %d up, %d handshaking; opened %d, ended %d; packets dropped %d; records discarded %d, datagrams of no session %d\n",
				l.Sessions, l.Handshaking, l.SessionsOpened, l.SessionsClosed, l.Dropped, l.Discarded, l.Unknown)
			p("  refused:")
			for _, r := range dtlslink.Reasons {
				if n := l.Refused[r]; n > 0 {
					p(" %s %d", r, n)
				}
			}
			p("\n")
		}
	}
	if s.KernelSCTP != nil {
		p("%s\n", s.KernelSCTP)
	}
	for _, d := range s.DTLSSessions {
		state := "up"
		if !d.Up {
			state = "handshaking"
		}
		dir := "accepted"
		if d.Dialled {
			dir = "dialled"
		}
		p("dtls session %s (%s, now at %s): %s, %s, %q, since %s\n", d.Path, dir, d.Remote, state, d.Cipher, d.Identity,
			d.Since.Format(time.RFC3339))
	}
	keys := make([]string, 0, len(s.SNMP))
	for k := range s.SNMP {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	p("\n")
	for _, k := range keys {
		p("%-28s %d\n", k, s.SNMP[k])
	}
	return string(b)
}

// bound shows a DelaySummary figure: "<= 25µs", "> 1s" (-1: above the
// last of DelayBuckets), "-" (none).
func bound(sec float64) string {
	d := func(s float64) string { return time.Duration(math.Round(s * float64(time.Second))).String() }
	switch {
	case sec < 0:
		return "> " + d(DelayBuckets[len(DelayBuckets)-1])
	case sec == 0:
		return "-"
	}
	return "<= " + d(sec)
}
