package metrics_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/metrics"
	"github.com/sctpgw/sctpgw/portguard"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

var (
	enbAddr  = netip.MustParseAddr("198.18.1.10")
	edgeAddr = netip.MustParseAddr("198.18.1.1")
	gwUDP    = netip.MustParseAddr("198.19.0.1")
	mmeAddr  = netip.MustParseAddr("198.19.0.10")
)

// lab is eNB --native (memory)-- gateway --UDP (memory)-- MME echoing.
type lab struct {
	g        *gateway.Gateway
	enb, mme *stack.Stack
}

func newLab(t *testing.T) *lab { t.Helper(); return newLabGuard(t, nil) }

// newLabGuard is newLab with a kernel SCTP guard reported by the gateway.
func newLabGuard(t *testing.T, guard gateway.KernelGuard) *lab {
	t.Helper()
	cfg, err := gateway.ParseConfig([]byte(`routes:
  - name: s1ap
    listen: sctp://198.18.1.1:36412
    forward: udp://198.19.0.10:9899/36412
    acl:
      default: deny
      rules: ["allow from 198.18.1.0/24", "deny from 198.18.0.0/15"]
      max_pairs: 100
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := cfg.Plan(nil)
	if err != nil {
		t.Fatal(err)
	}
	enbEnd, gwNative := memlink.Pair(link.Native, enbAddr, edgeAddr)
	gwUDPEnd, mmeEnd := memlink.Pair(link.UDP, gwUDP, mmeAddr)
	l := &lab{}
	if l.g, err = gateway.New(plan, gateway.Options{Native: gwNative, UDP: gwUDPEnd, KernelGuard: guard}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.g.Close() })
	for _, x := range []struct {
		s **stack.Stack
		l link.Link
	}{{&l.enb, enbEnd}, {&l.mme, mmeEnd}} {
		if *x.s, err = stack.New(stack.Config{Links: []link.Link{x.l}}); err != nil {
			t.Fatal(err)
		}
		s := *x.s
		t.Cleanup(func() { s.Close("") })
	}
	ln, err := l.mme.Listen(36412, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			a, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				for {
					m, err := a.RecvMsg(ctx)
					if err != nil {
						return
					}
					a.SendMsg(ctx, m.Data, stack.SndInfo{Stream: m.Stream, PPID: m.PPID})
				}
			}()
		}
	}()
	return l
}

// pair opens a pair from the eNB, sends n messages of size bytes and
// reads their echoes.
func (l *lab) pair(t *testing.T, n, size int) *stack.Assoc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := l.enb.Dial(ctx, 0, link.Path{Local: enbAddr, Remote: edgeAddr}, 0, 36412, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := a.SendMsg(ctx, make([]byte, size), stack.SndInfo{PPID: 18}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.RecvMsg(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

// value is the value of the series of name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, lp := range m.Label {
			labels[lp.GetName()] = lp.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			ok = ok && labels[want[i]] == want[i+1]
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series of %s with %v", name, want)
	return 0
}

// A scrape parses as the Prometheus text format and carries what the pairs
// did: opened, closed, messages and bytes each way, setup time, ACL hits,
// the engine's SNMP counters; its series do not grow with pairs.
func TestScrapeParsesAndCounts(t *testing.T) {
	l := newLab(t)
	h := metrics.Handler(l.g, metrics.BuildInfo{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.26"})
	a := l.pair(t, 3, 100)
	during := scrape(t, h)
	if v := value(t, during, "sctpgw_pairs_active", "route", "s1ap"); v != 1 {
		t.Fatalf("active pairs %v", v)
	}
	if v := value(t, during, "sctpgw_sctp_curr_estab"); v != 2 {
		t.Fatalf("SctpCurrEstab %v, want both sides", v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && l.g.Snapshot().Gateway.PairsClosed == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	f := scrape(t, h)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sctpgw_pairs_opened_total", []string{"route", "s1ap"}, 1},
		{"sctpgw_pairs_closed_total", []string{"route", "s1ap"}, 1},
		{"sctpgw_pairs_active", []string{"route", "s1ap"}, 0},
		{"sctpgw_pairs_refused_total", []string{"route", "s1ap", "reason", "rule"}, 0},
		{"sctpgw_messages_forwarded_total", []string{"route", "s1ap", "direction", "ingress_to_egress"}, 3},
		{"sctpgw_messages_forwarded_total", []string{"route", "s1ap", "direction", "egress_to_ingress"}, 3},
		{"sctpgw_bytes_forwarded_total", []string{"route", "s1ap", "direction", "ingress_to_egress"}, 300},
		{"sctpgw_pair_setup_seconds", []string{"route", "s1ap"}, 1},
		{"sctpgw_acl_rule_hits_total", []string{"route", "s1ap", "rule", "1"}, 1},
		{"sctpgw_acl_rule_hits_total", []string{"route", "s1ap", "rule", "default"}, 0},
		{"sctpgw_acl_limit_refusals_total", []string{"route", "s1ap", "limit", "max_pairs"}, 0},
		{"sctpgw_sctp_active_estabs_total", nil, 1},
		{"sctpgw_sctp_passive_estabs_total", nil, 1},
		{"sctpgw_sctp_shutdowns_total", nil, 2},
		{"sctpgw_sctp_curr_estab", nil, 0},
		{"sctpgw_draining", nil, 0},
		{"sctpgw_build_info", []string{"version", "v1.2.3", "revision", "abc"}, 1},
		{"sctpgw_link_packets_total", []string{"link", "udp", "direction", "rx"}, 0}, // memory links keep no counters
	} {
		if v := value(t, f, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	// Every batch read and written is timed; memory links give no
	// receive times.
	for _, k := range []string{"native", "udp"} {
		if v := value(t, f, "sctpgw_link_batch_handling_seconds", "link", k); v == 0 {
			t.Errorf("%s link: no batch timed", k)
		}
		if v := value(t, f, "sctpgw_link_write_seconds", "link", k); v == 0 {
			t.Errorf("%s link: no write timed", k)
		}
		if v := value(t, f, "sctpgw_link_packet_wait_seconds", "link", k); v != 0 {
			t.Errorf("%s link: %v packet waits counted without receive times", k, v)
		}
	}
	if f["go_goroutines"] == nil {
		t.Error("no Go runtime metrics")
	}
	// Names follow the conventions; no label identifies an association.
	allowed := map[string]bool{"route": true, "direction": true, "reason": true, "link": true, "rule": true, "text": true,
		"limit": true, "version": true, "revision": true, "goversion": true}
	series := 0
	for name, fam := range f {
		if !strings.HasPrefix(name, "sctpgw_") {
			continue
		}
		if fam.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		for _, m := range fam.Metric {
			series++
			for _, lp := range m.Label {
				if !allowed[lp.GetName()] {
					t.Errorf("%s has label %s", name, lp.GetName())
				}
			}
		}
	}
	for i := 0; i < 4; i++ {
		l.pair(t, 1, 10)
	}
	more := 0
	for name, fam := range scrape(t, h) {
		if strings.HasPrefix(name, "sctpgw_") {
			more += len(fam.Metric)
		}
	}
	if more != series {
		t.Fatalf("%d series with 4 more pairs, %d before", more, series)
	}
}

// The example Grafana dashboard is valid JSON and asks only for metrics
// the collector exports.
func TestGrafanaDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "examples", "grafana", "sctpgw.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	known := exportedNames()
	used := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range unknownMetrics(tg.Expr, known, &used) {
				t.Errorf("panel %q uses %s, which is not exported", p.Title, name)
			}
		}
	}
	if used < 20 {
		t.Fatalf("the dashboard uses %d sctpgw metrics", used)
	}
}

// fakeGuard reports a fixed kernel SCTP guard status.
type fakeGuard struct{ st portguard.Status }

func (f fakeGuard) Status() portguard.Status { return f.st }

// The kernel SCTP guard of a gateway with native routes shows in /metrics
// (module loaded, rule installed, kernel replies dropped) and in sctpgw
// status; a gateway without one exports no guard series.
func TestKernelGuardExported(t *testing.T) {
	st := portguard.Status{Module: "/sys/module/sctp", Installed: true, Table: "sctpgw_4242", Ports: 2, Mark: portguard.DefaultMark, Dropped: 12}
	l := newLabGuard(t, fakeGuard{st})
	f := scrape(t, metrics.Handler(l.g, metrics.BuildInfo{}))
	for name, want := range map[string]float64{
		"sctpgw_kernel_sctp_loaded":                      1,
		"sctpgw_kernel_sctp_guard_installed":             1,
		"sctpgw_kernel_sctp_guard_dropped_packets_total": 12,
	} {
		if v := value(t, f, name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	snap := l.g.Snapshot()
	if snap.KernelSCTP == nil || *snap.KernelSCTP != st {
		t.Fatalf("snapshot's guard %+v, want %+v", snap.KernelSCTP, st)
	}
	text := gateway.FormatSnapshot(snap)
	if want := "kernel sctp loaded (/sys/module/sctp): guard installed: table inet sctpgw_4242, 2 ports, mark 0x5c7; kernel replies dropped 12\n"; !strings.Contains(text, want) {
		t.Errorf("status lacks %q:\n%s", want, text)
	}
	// The JSON that sctpgw status --json prints carries it.
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var back gateway.Snapshot
	if err := json.Unmarshal(b, &back); err != nil || back.KernelSCTP == nil || *back.KernelSCTP != st {
		t.Errorf("JSON round trip: %v, %+v", err, back.KernelSCTP)
	}

	none := scrape(t, metrics.Handler(newLab(t).g, metrics.BuildInfo{}))
	for _, name := range []string{"sctpgw_kernel_sctp_loaded", "sctpgw_kernel_sctp_guard_installed", "sctpgw_kernel_sctp_guard_dropped_packets_total"} {
		if none[name] != nil {
			t.Errorf("%s exported without a guard", name)
		}
	}
}

// stats is a Source of fixed figures.
type stats gateway.Stats

func (s stats) Stats() gateway.Stats { return gateway.Stats(s) }

// The native link's zero-CRC32c packets accepted from local virtual
// interfaces (rawip Stats.UncheckedLocal) are exported per link and shown
// by sctpgw status.
func TestUncheckedLocalExported(t *testing.T) {
	links := []gateway.LinkStatus{{Kind: "native", RxPackets: 9, UncheckedLocal: 5}, {Kind: "udp"}}
	f := scrape(t, metrics.Handler(stats{Links: links}, metrics.BuildInfo{}))
	if v := value(t, f, "sctpgw_link_unchecked_local_packets_total", "link", "native"); v != 5 {
		t.Errorf("native: %v, want 5", v)
	}
	if v := value(t, f, "sctpgw_link_unchecked_local_packets_total", "link", "udp"); v != 0 {
		t.Errorf("udp: %v, want 0", v)
	}
	text := gateway.FormatSnapshot(gateway.Snapshot{Links: links})
	if want := "zero-CRC32c packets accepted from local virtual interfaces 5\n"; strings.Count(text, "zero-CRC32c") != 1 || !strings.Contains(text, want) {
		t.Errorf("status: want %q once (native link only):\n%s", want, text)
	}
}

// TestLinkDelaysExported: a link's delay histograms reach Prometheus with
// their buckets, sums and counts.
func TestLinkDelaysExported(t *testing.T) {
	waited := gateway.NewHistogram(gateway.DelayBuckets)
	for _, d := range []time.Duration{5 * time.Microsecond, 30 * time.Microsecond, 30 * time.Microsecond, 2 * time.Second} {
		waited.Observe(d)
	}
	handled := gateway.NewHistogram(gateway.DelayBuckets)
	handled.Observe(20 * time.Microsecond)
	written := gateway.NewHistogram(gateway.DelayBuckets)
	written.Observe(time.Millisecond)
	written.Observe(3 * time.Millisecond)
	links := []gateway.LinkStatus{{Kind: "native", Waited: waited, Handled: handled, Written: written}}
	f := scrape(t, metrics.Handler(stats{Links: links}, metrics.BuildInfo{}))
	h := f["sctpgw_link_packet_wait_seconds"].GetMetric()[0].GetHistogram()
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for bound, want := range map[float64]uint64{0.00001: 1, 0.000025: 1, 0.00005: 3, 1: 3} {
		if cum[bound] != want {
			t.Errorf("wait bucket le=%v: %d, want %d", bound, cum[bound], want)
		}
	}
	if h.GetSampleCount() != 4 || h.GetSampleSum() < 2.00006 || h.GetSampleSum() > 2.00007 {
		t.Errorf("wait count %d sum %v, want 4 and 2.000065", h.GetSampleCount(), h.GetSampleSum())
	}
	if v := value(t, f, "sctpgw_link_batch_handling_seconds", "link", "native"); v != 1 {
		t.Errorf("handling count %v, want 1", v)
	}
	if v := value(t, f, "sctpgw_link_write_seconds", "link", "native"); v != 2 {
		t.Errorf("write count %v, want 2", v)
	}
}

// exportedNames is the names of every metric the collector describes.
func exportedNames() map[string]bool {
	ch := make(chan *prometheus.Desc, 100)
	go func() {
		metrics.NewCollector(nil, metrics.BuildInfo{}).Describe(ch)
		close(ch)
	}()
	known := map[string]bool{}
	for dsc := range ch {
		// Desc's String is the only way to its name: fqName: "sctpgw_...".
		s := dsc.String()
		i := strings.Index(s, `fqName: "`) + len(`fqName: "`)
		known[s[i:i+strings.IndexByte(s[i:], '"')]] = true
	}
	return known
}

var sctpgwMetric = regexp.MustCompile(`\bsctpgw_[a-z0-9_]+`)

// unknownMetrics lists the sctpgw metrics a PromQL expression names that
// are not in known (a histogram's series by their family's name), and
// adds how many it names to used.
func unknownMetrics(expr string, known map[string]bool, used *int) []string {
	var out []string
	for _, name := range sctpgwMetric.FindAllString(expr, -1) {
		base := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suf)
		}
		if !known[base] {
			out = append(out, name)
		}
		*used++
	}
	return out
}

// TestEveryMetricDescribed: with every kind of figure present (routes with
// ACL and SCTP-AUTH, all three links, the kernel guard), a pedantic
// registry gathers the collector without error: each metric it sends was
// described, as a checked collector must (the DTLS link's were not).
func TestEveryMetricDescribed(t *testing.T) {
	h := gateway.NewHistogram(gateway.DelayBuckets)
	h.Observe(time.Millisecond)
	st := stats{
		Routes: []gateway.RouteStats{{Name: "s1ap", Setup: gateway.NewHistogram(gateway.SetupBuckets),
			ACL: &gateway.ACLStatus{Rules: []gateway.RuleStatus{{Rule: "allow from 198.18.0.0/15", Hits: 1}}, Default: "deny",
				Limits: []gateway.LimitStatus{{Limit: "max_pairs", Setting: "10"}}},
			Auth: &gateway.AuthStatus{Keys: []gateway.AuthKeyStatus{{ID: 1, In: 2}}}}},
		Links: []gateway.LinkStatus{{Kind: "native", Waited: h, Handled: h, Written: h}, {Kind: "udp", Waited: h, Handled: h, Written: h},
			{Kind: "dtls", Sessions: 1, Refused: map[string]uint64{"expired": 1}, Waited: h, Handled: h, Written: h}},
		KernelSCTP: &portguard.Status{Installed: true},
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(metrics.NewCollector(st, metrics.BuildInfo{})); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	for _, want := range []string{"sctpgw_dtls_refused_total", "sctpgw_acl_rule_hits_total", "sctpgw_auth_key_packets_total",
		"sctpgw_kernel_sctp_guard_installed", "sctpgw_link_write_seconds"} {
		if !names[want] {
			t.Errorf("no %s gathered", want)
		}
	}
}
