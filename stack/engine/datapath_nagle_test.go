package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// dataChunks counts the DATA chunks in a packet.
func dataChunks(t *testing.T, buf []byte) int {
	var p wire.Packet
	if err := p.Unmarshal(buf); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range p.Chunks {
		if c.Type == wire.TypeData {
			n++
		}
	}
	return n
}

// SCTP_NODELAY off (the engine's default): while DATA is in flight, small
// messages wait and leave together once the SACK comes; on, each goes at
// once in a packet of its own.
func TestNagleHoldsSmallMessagesWhileInFlight(t *testing.T) {
	const small = 5
	for _, noDelay := range []bool{false, true} {
		name := "nagle"
		if noDelay {
			name = "nodelay"
		}
		t.Run(name, func(t *testing.T) {
			cfg := engine.Config{NoDelay: noDelay}
			l := newLab(t, 46, link.Native, cfg)
			l.cn.Imp.Delay, l.sn.Imp.Delay = 10*time.Millisecond, 10*time.Millisecond
			a, _ := l.up(cfg)
			var packets []int // DATA chunks per packet the client sent
			l.net.Trace = func(_ time.Time, from, _ *sim.Node, pkt []byte) {
				if from == l.cn {
					if n := dataChunks(t, pkt); n > 0 {
						packets = append(packets, n)
					}
				}
			}
			msg := make([]byte, 100)
			for i := 0; i < 1+small; i++ {
				if err := a.Send(l.net.Now(), msg, engine.SndInfo{}); err != nil {
					t.Fatal(err)
				}
			}
			held := a.Status().Pending
			if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == 1+small }, time.Minute) {
				t.Fatalf("%d of %d messages delivered", len(l.srv.msgs), 1+small)
			}
			if noDelay {
				if held != 0 || len(packets) != 1+small {
					t.Fatalf("NoDelay: %d pending after the sends, packets %v; want none pending, one packet each", held, packets)
				}
				return
			}
			if held != small*len(msg) || len(packets) != 2 || packets[0] != 1 || packets[1] != small {
				t.Fatalf("Nagle: %d pending after the sends, packets %v; want %d bytes held, then [1 %d]", held, packets, small*len(msg), small)
			}
		})
	}
}
