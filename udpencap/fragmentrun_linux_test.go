//go:build linux

package udpencap

import (
	"testing"

	"github.com/sctpgw/sctpgw/stack/link"
)

// TestFragmentRun: DF is a socket option, so a packet with Fragment goes in
// a system call of its own and the packets around it keep their batches.
func TestFragmentRun(t *testing.T) {
	mk := func(flags ...bool) []link.Packet {
		p := make([]link.Packet, len(flags))
		for i, f := range flags {
			p[i].Fragment = f
		}
		return p
	}
	for _, c := range []struct {
		name      string
		pkts      []link.Packet
		sent, end int
		want      int
	}{
		{"none marked", mk(false, false, false), 0, 3, 3},
		{"first marked", mk(true, false, false), 0, 3, 1},
		{"marked in the middle", mk(false, false, true, false), 0, 4, 2},
		{"from a marked one", mk(false, false, true, false), 2, 4, 3},
		{"after a marked one", mk(false, false, true, false), 3, 4, 4},
		{"two marked in a row", mk(true, true), 1, 2, 2},
		{"marked beyond end", mk(false, false, true), 0, 2, 2},
	} {
		if got := fragmentRun(c.pkts, c.sent, c.end); got != c.want {
			t.Errorf("%s: fragmentRun(%d, %d) = %d, want %d", c.name, c.sent, c.end, got, c.want)
		}
	}
}
