package engine_test

import (
	"net/netip"

	"github.com/sctpgw/sctpgw/stack/sim"
)

type simNode = sim.Node

func simNew(seed uint64) *sim.Network { return sim.New(seed) }

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
