package gateway_test

import (
	"testing"

	"github.com/sctpgw/sctpgw/gateway"
)

// startGateway plans the configuration doc as the daemon does (names are
// not looked up but by the system resolver) and starts a gateway with
// opts; it is closed when the test ends.
func startGateway(t testing.TB, doc string, opts gateway.Options) *gateway.Gateway {
	t.Helper()
	cfg, err := gateway.ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := cfg.Plan(nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}
