package engine_test

import (
	"os"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

func traceNet(t *testing.T, l *lab) {
	if os.Getenv("SIMTRACE") == "" {
		return
	}
	l.net.Trace = func(now time.Time, from, to *simNode, pkt []byte) {
		var p wire.Packet
		p.Unmarshal(pkt)
		s := ""
		for _, c := range p.Chunks {
			s += c.Type.String() + " "
		}
		t.Logf("%v %v->%v vtag=%#x %s", now.Sub(sim.Epoch), from.Addr, to.Addr, p.VerificationTag, s)
	}
}
