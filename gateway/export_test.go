package gateway

import "github.com/sctpgw/sctpgw/stack/engine"

// The pairing core for the contract tests, which drive it over engine
// Hosts in the simulator (package gateway_test); not part of the API.
type (
	Core  = core
	Route = route
)

// NewCore is newCore for the tests.
var NewCore = newCore

// EngineConfigs returns a planned route's engine configuration and the one
// its SCTP settings (defaults filled in) give again.
func EngineConfigs(rp RoutePlan) (planned, again engine.Config, err error) {
	again, err = rp.SCTP.engineConfig()
	return rp.engine, again, err
}
