package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// offeredPkt is one packet the client handed to the network, with the path
// MTU the engine had for it when it was built.
type offeredPkt struct {
	at       time.Time
	size     int
	fragment bool
	mtu      int
}

// TestFragmentFlagAfterMTUDrop: DATA chunks cut for the old MTU keep their
// size when retransmitted after a drop (RFC 9260 6.9: "it cannot be
// re-fragmented. Instead ... IP fragmentation MUST be used"), so the engine
// marks exactly the packets above the current path MTU with Fragment, for
// the link to send with DF clear. A router with a smaller MTU sits on the
// path: it drops every packet above its MTU that lacks the flag and reports
// it with "fragmentation needed". Every message must arrive and the
// association stay up; without the flag the retransmissions would be
// dropped forever and the association lost.
func TestFragmentFlagAfterMTUDrop(t *testing.T) {
	for _, k := range noticeKinds() {
		t.Run(k.name, func(t *testing.T) {
			cfg := engine.Config{PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff}}
			l := newLab(t, 60, k.kind, cfg)
			a, rec := l.up(cfg)
			ovh := linkOverhead(k.kind, "198.18.0.2")
			mtu0 := engine.DefaultPathMTU
			fp0 := fragPointFor(mtu0, ovh)
			var sent []offeredPkt
			l.net.Offered = func(now time.Time, from *simNode, _ int, p link.Packet) {
				if from == l.cn {
					sent = append(sent, offeredPkt{at: now, size: len(p.Buf), fragment: p.Fragment, mtu: a.Status().Primary.MTU})
				}
			}
			check := func(phase string) (flagged, fitting int) {
				t.Helper()
				for i, p := range sent {
					above := p.size > p.mtu-ovh
					if p.fragment != above {
						t.Errorf("%s: packet %d (%d bytes, path MTU %d less overhead %d): Fragment %v, want %v",
							phase, i, p.size, p.mtu, ovh, p.fragment, above)
					}
					if above {
						flagged++
					} else {
						fitting++
					}
				}
				return flagged, fitting
			}
			var want [][]byte
			send := func(n, size int) {
				t.Helper()
				for i := 0; i < n; i++ {
					m := make([]byte, size)
					for j := range m {
						m[j] = byte(j*7 + len(want))
					}
					if err := a.Send(l.net.Now(), m, engine.SndInfo{PPID: 60}); err != nil {
						t.Fatal(err)
					}
					want = append(want, m)
				}
			}
			deliver := func(phase string) {
				t.Helper()
				if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == len(want) && a.Status().Unacked == 0 }, time.Minute) {
					t.Fatalf("%s: %d of %d messages delivered; client events %s", phase, len(l.srv.msgs), len(want), rec.types())
				}
				for i, m := range want {
					if !bytes.Equal(l.srv.msgs[i].Data, m) {
						t.Fatalf("%s: message %d delivered corrupted", phase, i)
					}
				}
			}

			// No MTU drop: full-size packets, none marked.
			send(2, 3*fp0)
			deliver("before the drop")
			if f, fit := check("before the drop"); f != 0 || fit == 0 {
				t.Fatalf("before the drop: %d packets marked, %d not; want none and some", f, fit)
			}

			// A router with a smaller MTU appears while a burst is built for
			// the old one.
			const mtu = 1000
			l.cn.Imp.PathMTU = mtu
			sent = nil
			send(4, 2*fp0+fp0/3)
			deliver("after the drop")
			if l.net.TooBig == 0 {
				t.Fatal("the router dropped nothing: the burst was not built at the old MTU")
			}
			if got := a.Status().Primary.MTU; got != mtu {
				t.Fatalf("path MTU %d after the router's reports, want %d", got, mtu)
			}
			if f, fit := check("after the drop"); f == 0 || fit == 0 {
				t.Fatalf("after the drop: %d packets marked, %d not; want some of each (old chunks whole, new ones cut to fit)", f, fit)
			}
			if rec.ended() || a.Status().State != engine.StateEstablished {
				t.Fatalf("association %v, events %s: want it up", a.Status().State, rec.types())
			}

			// Once the old chunks are acknowledged nothing is marked again.
			sent = nil
			send(2, 3*fp0)
			deliver("later")
			if f, fit := check("later"); f != 0 || fit == 0 {
				t.Fatalf("later: %d packets marked, %d not; want none and some", f, fit)
			}
			for _, p := range sent {
				if p.size > mtu-ovh {
					t.Errorf("later: a %d-byte packet above the new MTU %d less overhead %d", p.size, mtu, ovh)
				}
			}
		})
	}
}
