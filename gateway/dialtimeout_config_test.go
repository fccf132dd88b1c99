package gateway_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
)

// dial_timeout is per route, a duration, DefaultDialTimeout when absent.
func TestDialTimeoutConfig(t *testing.T) {
	doc := "routes:\n" +
		"  - listen: sctp://0.0.0.0:36412\n    forward: udp://198.18.0.1:9899/36412\n    dial_timeout: 2s\n" +
		"  - listen: sctp://0.0.0.0:38412\n    forward: udp://198.18.0.1:9899/38412\n"
	c, err := gateway.ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(func(string) (netip.Addr, error) { return netip.MustParseAddr("198.18.0.1"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if p.Routes[0].DialTimeout != 2*time.Second || p.Routes[1].DialTimeout != gateway.DefaultDialTimeout {
		t.Fatalf("dial timeouts %v, %v; want 2s and %v", p.Routes[0].DialTimeout, p.Routes[1].DialTimeout, gateway.DefaultDialTimeout)
	}
	if gateway.DefaultDialTimeout < time.Second || gateway.DefaultDialTimeout > 10*time.Second {
		t.Fatalf("default %v is not a few seconds", gateway.DefaultDialTimeout)
	}
	_, err = gateway.ParseConfig([]byte(strings.Replace(doc, "2s", "soon", 1)))
	if err == nil || !strings.Contains(err.Error(), "routes[0].dial_timeout") || !strings.Contains(err.Error(), "expected a duration") {
		t.Fatalf("bad dial_timeout: %v", err)
	}
}
