package gateway_test

import (
	"net/netip"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack/sim"
)

type simNode = sim.Node

var _ = gateway.Route{}

func netipFrom4(a, b, c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{a, b, c, d}) }
