package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestMaxBurst: one transmission opportunity with a congestion window far
// larger than the burst sends exactly Max.Burst packets of new DATA (RFC
// 9260 6.1 rule 4), the packet being built included.
func TestMaxBurst(t *testing.T) {
	for _, burst := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(burst), func(t *testing.T) {
			cfg := engine.Config{NoDelay: true, MaxBurst: burst, RecvBuffer: 4 << 20, SendBuffer: 4 << 20}
			l := newLab(t, 45, link.Native, cfg)
			l.cn.Imp.Delay, l.sn.Imp.Delay = 5*time.Millisecond, 5*time.Millisecond
			a, _ := l.up(cfg)
			// Warm up until cwnd is well past the burst (slow start), and
			// let everything be acknowledged.
			maxPacket := a.Status().FragPoint + wire.CommonHeaderLen + wire.DataHeaderSize
			want := (burst + 2) * maxPacket
			msg := make([]byte, 1000)
			sent := 0
			for a.Status().Primary.Cwnd < want && sent < 5000 {
				if a.Status().Pending == 0 {
					for i := 0; i < 20; i++ {
						a.Send(l.net.Now(), msg, engine.SndInfo{})
						sent++
					}
				}
				l.net.RunFor(10 * time.Millisecond)
			}
			if !l.net.RunUntil(func() bool { return a.Status().Unacked == 0 && a.Status().Pending == 0 }, time.Minute) ||
				a.Status().Primary.Cwnd < want {
				t.Fatalf("warm-up: cwnd %d, want %d; %d unacked", a.Status().Primary.Cwnd, want, a.Status().Unacked)
			}
			st := a.Status()
			delivered := len(l.srv.msgs)
			l.cn.Host.ReleaseOutgoing()
			if err := a.Send(l.net.Now(), make([]byte, 64<<10), engine.SndInfo{}); err != nil {
				t.Fatal(err)
			}
			packets := 0
			for _, o := range l.cn.Host.Outgoing() {
				if firstChunk(o.Buf) == wire.TypeData {
					packets++
				}
			}
			if packets != burst {
				t.Fatalf("one Send sent %d packets with Max.Burst %d (cwnd %d, %d-byte packets)", packets, burst, st.Primary.Cwnd, maxPacket)
			}
			if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == delivered+1 }, time.Minute) {
				t.Fatal("the large message was not delivered")
			}
		})
	}
}
