package gateway_test

import (
	"errors"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
)

// A value of the wrong type names its field path, the value and what the
// field expects, with its line.
func TestConfigTypeErrorsNameFieldPath(t *testing.T) {
	head := "routes:\n  - listen: sctp://0.0.0.0:36412\n    forward: udp://198.18.0.1:9899/36412\n"
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"int", head + "    sctp:\n      max_retrans: ten\n", []string{"line 5: ", "routes[0].sctp.max_retrans", `"ten"`, "expected an integer"}},
		{"duration", head + "    sctp: {rto_min: \"10\"}\n", []string{"line 4: ", "routes[0].sctp.rto_min", `"10"`, "expected a duration"}},
		{"bool", head + "    sctp: {heartbeat: maybe}\n", []string{"routes[0].sctp.heartbeat", `"maybe"`, "expected true or false"}},
		{"mapping for scalar", head + "    name: {a: b}\n", []string{"routes[0].name", "a mapping", "expected a string"}},
		{"second route", head + "  - listen: sctp://0.0.0.0:38412\n    forward: udp://198.18.0.1:9899/38412\n    sctp: {out_streams: 1.5}\n",
			[]string{"line 6: ", "routes[1].sctp.out_streams", `"1.5"`, "expected an integer"}},
		{"top level", "drain_timeout: soon\n" + head, []string{"line 1: ", "drain_timeout", `"soon"`, "expected a duration"}},
		{"unknown key", head + "    sctp: {max_retrasn: 3}\n", []string{"line 4: ", "routes[0].sctp.max_retrasn", "unknown field", "max_retrans"}},
		{"list expected", "routes: {listen: x}\n", []string{"line 1: ", "routes", "a mapping", "expected a list"}},
		{"scope level", head + "log: {scopes: {sctp: loud}}\n", []string{"log.scopes.sctp", `"loud"`, "expected error, warn"}},
		{"log format", head + "log: {format: xml}\n", []string{"log.format", `"xml"`, "expected text or json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gateway.ParseConfig([]byte(tc.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Plan refuses what would only fail once sockets are open: two routes on
// one port of one link, udp:// routes on different UDP sockets, names
// that do not resolve; and plans everything else once.
func TestPlanChecksAcrossRoutes(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"native port twice", `routes:
  - {name: a, listen: "sctp://0.0.0.0:36412", forward: "udp://198.18.0.1:9899/36412"}
  - {name: b, listen: "sctp://198.18.1.1:36412", forward: "udp://198.18.0.1:9899/38412"}
`, []string{"routes[1].listen", "sctp://198.18.1.1:36412", "SCTP port 36412 on the native link", "routes[0]", "(a)"}},
		{"udp port twice", `routes:
  - {listen: "udp://0.0.0.0:9899/36412", forward: "sctp://198.18.0.1:36412"}
  - {listen: "udp://0.0.0.0:9899/36412", forward: "sctp://198.18.0.2:36412"}
`, []string{"routes[1].listen", "on the UDP link", "routes[0]"}},
		{"two udp sockets", `routes:
  - {listen: "udp://0.0.0.0:9899/36412", forward: "sctp://198.18.0.1:36412"}
  - {listen: "udp://0.0.0.0:9900/38412", forward: "sctp://198.18.0.1:38412"}
`, []string{"routes[1].listen", "one UDP socket", "routes[0].listen is 0.0.0.0:9899"}},
		{"udp.listen differs", `udp: {listen: "0.0.0.0:9899"}
routes:
  - {listen: "udp://0.0.0.0:9900/36412", forward: "sctp://198.18.0.1:36412"}
`, []string{"routes[0].listen", "udp.listen is 0.0.0.0:9899"}},
		{"names", `routes:
  - {name: x, listen: "sctp://0.0.0.0:36412", forward: "udp://198.18.0.1:9899/36412"}
  - {name: x, listen: "sctp://0.0.0.0:38412", forward: "udp://198.18.0.1:9899/38412"}
`, []string{"routes[1].name", `"x"`, "unique"}},
		{"unresolvable", `routes:
  - {listen: "sctp://0.0.0.0:36412", forward: "udp://core.invalid:9899/36412"}
`, []string{"routes[0].forward", "core.invalid", "no such host"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := gateway.ParseConfig([]byte(tc.doc))
			if err == nil {
				_, err = c.Plan(func(h string) (netip.Addr, error) { return netip.Addr{}, errors.New("no such host") })
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
		})
	}

	c, err := gateway.ParseConfig([]byte(`admin: "127.0.0.1:9911"
drain_timeout: 3s
log: {level: warn, scopes: {pair: debug}, format: json}
routes:
  - name: s1ap
    listen: sctp://198.18.1.1:36412
    forward: udp://core.example:9899/36412
    sctp: {max_retrans: 7}
    acl: {default: deny, rules: ["allow from 198.18.1.0/24"]}
  - listen: sctp://198.18.1.2:38412
    forward: udp://198.19.0.10/38412
`))
	if err != nil {
		t.Fatal(err)
	}
	looked := 0
	p, err := c.Plan(func(h string) (netip.Addr, error) {
		looked++
		if h != "core.example" {
			t.Fatalf("looked up %q", h)
		}
		return netip.MustParseAddr("198.19.0.10"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if looked != 1 || len(p.Routes) != 2 || p.Routes[0].Forward.Addr != netip.MustParseAddr("198.19.0.10") ||
		p.Routes[0].SCTP.MaxRetrans != 7 || p.Routes[0].Policy == nil || p.Routes[1].Policy != nil ||
		p.Routes[1].Name != "route1" || p.Routes[1].Forward.UDPPort != 9899 {
		t.Fatalf("plan %+v", p)
	}
	if c.Routes[1].Name != "" {
		t.Fatalf("planning wrote the default name %q into the config", c.Routes[1].Name)
	}
	if !p.NeedNative || !p.NeedUDP || p.UDP.IsValid() || len(p.NativeAddrs) != 2 || len(p.NativePorts) != 2 {
		t.Fatalf("links: native %v %v %v, udp %v %v", p.NeedNative, p.NativeAddrs, p.NativePorts, p.NeedUDP, p.UDP)
	}
	if p.Admin != "127.0.0.1:9911" || p.DrainTimeout != 3*time.Second || p.Log.Format != "json" ||
		p.Log.Levels.Default != slog.LevelWarn || p.Log.Levels.For("pair") != slog.LevelDebug || p.Log.Levels.For("sctp") != slog.LevelWarn {
		t.Fatalf("plan admin %q drain %v log %+v", p.Admin, p.DrainTimeout, p.Log)
	}
}

// RoutePlan.SCTP shows every setting a route runs with, defaults filled
// in: given back as a route's sctp block, it makes the same engine
// configuration (so `sctpgw check` prints what runs), for the defaults and
// for every setting changed.
func TestPlanSCTPShowsWhatRuns(t *testing.T) {
	c, err := gateway.ParseConfig([]byte(`
routes:
  - listen: sctp://198.18.1.1:36412
    forward: udp://198.19.0.10/36412
  - listen: sctp://198.18.1.1:38412
    forward: udp://198.19.0.10/38412
    sctp: {out_streams: 10, max_in_streams: 20, max_init_retrans: 3, max_init_timeout: 7s, rto_initial: 2s,
           rto_min: 300ms, rto_max: 9s, max_retrans: 4, cookie_life: 30s, hb_interval: 11s, heartbeat: false,
           path_max_retrans: 2, path_mtu: 1280, potentially_failed: false, pf_max_retrans: 1, sack_delay: 50ms,
           sack_freq: 3, nodelay: false, maxseg: 1000, recv_buffer: 100000, send_buffer: 200000,
           max_message: 65536, max_burst: 8, tail_loss_probe: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, rp := range p.Routes {
		planned, again, err := gateway.EngineConfigs(rp)
		if err != nil {
			t.Fatalf("%s: its SCTP settings %+v: %v", rp.Name, rp.SCTP, err)
		}
		if !reflect.DeepEqual(planned, again) {
			t.Errorf("%s: planned %+v\nbut its SCTP settings %+v give %+v", rp.Name, planned, rp.SCTP, again)
		}
	}
	if s := p.Routes[0].SCTP; s.OutStreams != 65535 || s.RTOMin != gateway.Duration(time.Second) || s.PathMTU != 1500 ||
		s.NoDelay == nil || !*s.NoDelay || s.Heartbeat == nil || !*s.Heartbeat || s.TailLossProbe == nil || !*s.TailLossProbe {
		t.Errorf("defaults shown as %+v", s)
	}
	if s := p.Routes[1].SCTP; s.OutStreams != 10 || s.PathMTU != 1280 || *s.NoDelay || *s.Heartbeat || *s.PotentiallyFailed || *s.TailLossProbe {
		t.Errorf("settings shown as %+v", s)
	}
}

// A wildcard native route hears every address, so the native link must
// not be narrowed to another route's address.
func TestPlanWildcardNativeServesEveryAddress(t *testing.T) {
	c, err := gateway.ParseConfig([]byte(`routes:
  - {listen: "sctp://198.18.1.1:36412", forward: "udp://198.18.0.1:9899/36412"}
  - {listen: "sctp://0.0.0.0:38412", forward: "udp://198.18.0.1:9899/38412"}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.NativeAddrs) != 0 {
		t.Fatalf("native addresses %v, want every address", p.NativeAddrs)
	}
}

// The file's admin key: absent leaves Config.Admin nil (the daemon's
// default applies), "" or a key with no value turns the listener off, an
// address sets it; a bad one is refused with the field.
func TestAdminAbsentEmptyOrSet(t *testing.T) {
	const route = "routes:\n  - {listen: \"udp://0.0.0.0:9899/36412\", forward: \"udp://198.18.0.1:9899/36412\"}\n"
	for _, tc := range []struct {
		doc    string
		nilCfg bool
		want   string
	}{
		{"", true, ""},
		{"admin: \"\"\n", false, ""},
		{"admin:\n", false, ""},
		{"admin: ~\n", false, ""},
		{"admin: \"127.0.0.1:9911\"\n", false, "127.0.0.1:9911"},
	} {
		c, err := gateway.ParseConfig([]byte(tc.doc + route))
		if err != nil {
			t.Fatalf("%q: %v", tc.doc, err)
		}
		if (c.Admin == nil) != tc.nilCfg || c.Admin != nil && *c.Admin != tc.want {
			t.Errorf("%q: Config.Admin %v, want nil %v / %q", tc.doc, c.Admin, tc.nilCfg, tc.want)
		}
		p, err := c.Plan(nil)
		if err != nil || p.Admin != tc.want {
			t.Errorf("%q: plan admin %q, %v; want %q", tc.doc, p.Admin, err, tc.want)
		}
	}
	if _, err := gateway.ParseConfig([]byte("admin: 9900\n" + route)); err == nil || !strings.Contains(err.Error(), `admin: "9900": expected ADDRESS:PORT`) {
		t.Errorf("admin: 9900: %v", err)
	}
}
