package gateway_test

import (
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/gateway"
)

// The stand-in resolver looks nothing up: a name gets an address of its
// own in 240.0.0.0/4, the same for the same name in any case; what is not
// a host name is refused.
func TestStandInResolver(t *testing.T) {
	r := gateway.StandInResolver()
	a, err := r("core.sctpgw.svc.cluster.local")
	if err != nil || !gateway.IsStandIn(a) {
		t.Fatalf("stand-in %v, %v", a, err)
	}
	b, _ := r("mme.example")
	if c, _ := r("CORE.sctpgw.svc.cluster.local."); c != a || b == a || !gateway.IsStandIn(b) {
		t.Fatalf("same name %v and %v, another name %v", a, c, b)
	}
	for _, bad := range []string{"core..svc", "-core.svc", "core-.svc", "core svc", strings.Repeat("a", 64) + ".svc", ""} {
		if _, err := r(bad); err == nil || !strings.Contains(err.Error(), "not a host name") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A configuration planned with stand-ins is checked as it would be with
// lookups: names in a multi-address forward URL are distinct hosts (before,
// LoadConfig refused such a file: every name stood in as 0.0.0.0, "named
// twice"), and everything else is still checked.
func TestValidateWithNames(t *testing.T) {
	const multi = `routes:
  - {listen: "sctp://0.0.0.0:36412", forward: "sctp://mme1.example,mme2.example:36412"}
  - {listen: "sctp://0.0.0.0:38412", forward: "udp://core.sctpgw.svc:9899/38412"}
`
	c, err := gateway.ParseConfig([]byte(multi))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	p, err := c.Plan(gateway.StandInResolver())
	if err != nil {
		t.Fatal(err)
	}
	if f := p.Routes[0].Forward; len(f.Addrs) != 2 || f.Addrs[0] == f.Addrs[1] || !gateway.IsStandIn(f.Addrs[1]) {
		t.Errorf("forward addresses %v", f.Addrs)
	}
	for doc, want := range map[string]string{
		`routes: [{listen: "sctp://0.0.0.0:36412", forward: "sctp://mme1.example,MME1.example:36412"}]`:              "named twice",
		`routes: [{listen: "sctp://0.0.0.0:36412", forward: "udp://core_.svc..x:9899/36412"}]`:                       "not a host name",
		`routes: [{listen: "sctp://0.0.0.0:36412", forward: "udp://core.svc:9899/36412", sctp: {max_retrans: ten}}]`: "routes[0].sctp.max_retrans",
	} {
		if _, err := gateway.ParseConfig([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}
