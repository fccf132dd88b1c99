// Package configs holds example route files for an edge and a core gateway
// (S1AP on 36412, NGAP on 38412); this test keeps them valid and consistent
// with each other. examples/lab runs them in its namespace lab.
package configs

import (
	"net/netip"
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sctpgw/sctpgw/acl"
	"github.com/sctpgw/sctpgw/gateway"
)

// load reads a file with gateway.LoadConfig (strict YAML, validated) and
// checks what every example must have: S1AP and NGAP routes with an acl
// block that says default: explicitly, and SCTP settings the engine takes.
func load(t *testing.T, file string) (*gateway.Config, map[string]*acl.Policy) {
	t.Helper()
	c, err := gateway.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	// LoadConfig cannot tell "default: deny" from a default left out (both
	// deny), so the text is read again for that.
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Routes []struct {
			Name string         `yaml:"name"`
			ACL  map[string]any `yaml:"acl"`
		} `yaml:"routes"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, r := range raw.Routes {
		if _, ok := r.ACL["default"]; !ok {
			t.Errorf("%s: route %s: the acl block must say default: explicitly", file, r.Name)
		}
	}
	policies := map[string]*acl.Policy{}
	ports := map[uint16]bool{}
	for _, r := range c.Routes {
		if r.ACL == nil {
			t.Fatalf("%s: route %s has no acl block", file, r.Name)
		}
		p, err := acl.Compile(*r.ACL)
		if err != nil {
			t.Fatalf("%s: route %s: %v", file, r.Name, err)
		}
		if w := p.Warnings(); len(w) > 0 {
			t.Errorf("%s: route %s: %v", file, r.Name, w)
		}
		policies[r.Name] = p
		if err := r.SCTP.Validate(); err != nil {
			t.Fatalf("%s: route %s: %v", file, r.Name, err)
		}
		l, err := gateway.ParseEndpoint(r.Listen, nil)
		if err != nil {
			t.Fatal(err)
		}
		ports[l.SCTPPort] = true
	}
	if !ports[36412] || !ports[38412] {
		t.Errorf("%s: serves SCTP ports %v, want S1AP 36412 and NGAP 38412", file, ports)
	}
	if c.Admin == nil || *c.Admin == "" {
		t.Errorf("%s: no admin address: sctpgw status would have nothing to read", file)
	}
	return c, policies
}

func endpoint(t *testing.T, s string) gateway.Endpoint {
	t.Helper()
	e, err := gateway.ParseEndpoint(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestExampleConfigs(t *testing.T) {
	edge, edgeACL := load(t, "edge.yaml")
	core, coreACL := load(t, "core.yaml")
	coreUDP := netip.MustParseAddrPort(core.UDP.Listen)

	// Every edge route is native in, tunnelled out, to a core route that
	// takes that tunnel and hands it on natively.
	for _, er := range edge.Routes {
		in, out := endpoint(t, er.Listen), endpoint(t, er.Forward)
		if in.Encap || !out.Encap {
			t.Errorf("edge route %s: %s -> %s, want sctp:// -> udp://", er.Name, er.Listen, er.Forward)
		}
		if out.UDPPort != coreUDP.Port() {
			t.Errorf("edge route %s forwards to UDP port %d, the core listens on %d", er.Name, out.UDPPort, coreUDP.Port())
		}
		found := false
		for _, cr := range core.Routes {
			cin, cout := endpoint(t, cr.Listen), endpoint(t, cr.Forward)
			if cin.SCTPPort != out.SCTPPort {
				continue
			}
			found = true
			if !cin.Encap || cout.Encap {
				t.Errorf("core route %s: %s -> %s, want udp:// -> sctp://", cr.Name, cr.Listen, cr.Forward)
			}
			if cr.Name != er.Name {
				t.Errorf("edge route %s meets core route %s: name them alike for status and logs", er.Name, cr.Name)
			}
		}
		if !found {
			t.Errorf("edge route %s forwards to SCTP port %d, which no core route serves", er.Name, out.SCTPPort)
		}
	}

	// The ACLs admit the lab's eNBs natively and the edge (behind the NAT,
	// 198.19.0.1) over UDP, and nobody else.
	for _, c := range []struct {
		p     *acl.Policy
		what  string
		src   string
		port  uint16
		link  acl.LinkKind
		allow bool
	}{
		{edgeACL["s1ap"], "edge s1ap", "198.18.1.10:36412", 36412, acl.LinkNative, true},
		{edgeACL["ngap"], "edge ngap", "198.18.1.10:38412", 38412, acl.LinkNative, true},
		{edgeACL["s1ap"], "edge s1ap", "198.18.3.10:36412", 36412, acl.LinkNative, false},
		{edgeACL["s1ap"], "edge s1ap", "198.18.1.10:36412", 36412, acl.LinkUDP, false},
		{coreACL["s1ap"], "core s1ap", "198.19.0.1:9899", 36412, acl.LinkUDP, true},
		{coreACL["ngap"], "core ngap", "198.19.0.1:9899", 38412, acl.LinkUDP, true},
		{coreACL["s1ap"], "core s1ap", "198.18.1.10:9899", 36412, acl.LinkUDP, false},
		{coreACL["ngap"], "core ngap", "198.19.0.1:38412", 38412, acl.LinkNative, false},
	} {
		d := c.p.Evaluate(acl.Request{Src: netip.MustParseAddrPort(c.src), DstPort: c.port, Link: c.link})
		if d.Allowed() != c.allow {
			t.Errorf("%s: %s to port %d over %v: allowed %v, want %v (%s)", c.what, c.src, c.port, c.link, d.Allowed(), c.allow, d.Reason())
		}
	}
}
