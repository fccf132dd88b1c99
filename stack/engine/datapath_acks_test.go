package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// ackPkt is one packet a host handed to the network, decoded into the
// chunks the acknowledgement tests look at.
type ackPkt struct {
	at    time.Time
	from  *simNode
	sacks []wire.Sack
	data  []wire.Data
}

// ackDecode pulls the SACK and DATA chunks out of parsed packets.
func ackDecode(t *testing.T, pkts []wire.Packet) (sacks []wire.Sack, data []wire.Data) {
	t.Helper()
	for _, pk := range pkts {
		for _, c := range pk.Chunks {
			switch c.Type {
			case wire.TypeSack:
				var s wire.Sack
				if err := s.Unmarshal(c); err != nil {
					t.Fatalf("bad SACK: %v", err)
				}
				sacks = append(sacks, s)
			case wire.TypeData:
				var d wire.Data
				if err := d.Unmarshal(c); err != nil {
					t.Fatalf("bad DATA: %v", err)
				}
				data = append(data, d)
			}
		}
	}
	return sacks, data
}

// ackTap records every packet offered to the network, as the host built it.
func ackTap(l *lab) *[]ackPkt {
	var out []ackPkt
	l.net.Offered = func(now time.Time, from *simNode, _ int, p link.Packet) {
		var pk wire.Packet
		if err := pk.Unmarshal(append([]byte(nil), p.Buf...)); err != nil {
			l.t.Errorf("host offered a bad packet: %v", err)
			return
		}
		s, d := ackDecode(l.t, []wire.Packet{pk})
		out = append(out, ackPkt{at: now, from: from, sacks: s, data: d})
	}
	return &out
}

// ackSacksFrom lists the SACKs nd sent at or after since, with their times.
func ackSacksFrom(pkts []ackPkt, nd *simNode, since time.Time) (sacks []wire.Sack, at []time.Time) {
	for _, p := range pkts {
		if p.from != nd || p.at.Before(since) {
			continue
		}
		for _, s := range p.sacks {
			sacks = append(sacks, s)
			at = append(at, p.at)
		}
	}
	return sacks, at
}

// ackDataFrom lists the DATA chunks nd sent at or after since, and how many
// packets carried them.
func ackDataFrom(pkts []ackPkt, nd *simNode, since time.Time) (data []wire.Data, packets int) {
	for _, p := range pkts {
		if p.from != nd || p.at.Before(since) || len(p.data) == 0 {
			continue
		}
		data = append(data, p.data...)
		packets++
	}
	return data, packets
}

var hbOff = engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff}

// TestDelayedSackTiming: RFC 9260 6.2 delayed acknowledgement, with the
// SCTP_DELAYED_SACK settings of RFC 6458 8.1.19. A receiver acknowledges
// at the latest every Freq-th packet carrying DATA, and otherwise when the
// SACK timer of Delay expires, measured from the arrival of the first
// unacknowledged packet. Exactly one SACK must answer the burst.
func TestDelayedSackTiming(t *testing.T) {
	const oneWay = 10 * time.Millisecond
	cases := []struct {
		name    string
		ack     engine.DelayedAck
		packets int
	}{
		{"default lone packet", engine.DelayedAck{}, 1},
		{"default two packets", engine.DelayedAck{}, 2},
		{"50ms lone packet", engine.DelayedAck{Delay: 50 * time.Millisecond}, 1},
		{"50ms freq 3 two packets", engine.DelayedAck{Delay: 50 * time.Millisecond, Freq: 3}, 2},
		{"50ms freq 3 three packets", engine.DelayedAck{Delay: 50 * time.Millisecond, Freq: 3}, 3},
		{"50ms freq 1 lone packet", engine.DelayedAck{Delay: 50 * time.Millisecond, Freq: 1}, 1},
		{"500ms lone packet", engine.DelayedAck{Delay: 500 * time.Millisecond}, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scfg := engine.Config{DelayedAck: tc.ack, PeerAddr: hbOff}
			eff := scfg.WithDefaults().DelayedAck
			if tc.ack == (engine.DelayedAck{}) && (eff.Delay != 200*time.Millisecond || eff.Freq != 2) {
				t.Fatalf("default delayed ack %+v, RFC 9260 6.2 wants 200 ms and every second packet", eff)
			}
			wait := eff.Delay
			if tc.packets >= eff.Freq {
				wait = 0
			}
			l := newLab(t, 900+uint64(i), link.Native, scfg)
			l.cn.Imp.Delay, l.sn.Imp.Delay = oneWay, oneWay
			// A receiver delaying longer than RFC 9260's recommended
			// 200 ms, or acknowledging less often than every second
			// packet, has its sender probe the tail before its SACK
			// (tailprobe.go): here only the receiver is judged.
			slow := eff.Delay > 200*time.Millisecond || eff.Freq > 2
			a, _ := l.up(engine.Config{NoDelay: true, PeerAddr: hbOff, NoTailLossProbe: slow})
			pkts := ackTap(l)
			t0 := l.net.Now()
			// A message of more than half a packet each, so every one
			// travels in its own packet.
			for m := 0; m < tc.packets; m++ {
				if err := a.Send(t0, bytes.Repeat([]byte{byte(m)}, 1000), engine.SndInfo{}); err != nil {
					t.Fatal(err)
				}
			}
			l.net.RunFor(2 * time.Second)
			data, npk := ackDataFrom(*pkts, l.cn, t0)
			if len(data) != tc.packets || npk != tc.packets {
				t.Fatalf("client sent %d DATA chunks in %d packets, want %d in %d", len(data), npk, tc.packets, tc.packets)
			}
			sacks, at := ackSacksFrom(*pkts, l.sn, t0)
			if len(sacks) != 1 {
				t.Fatalf("server sent %d SACKs (at %v), want exactly one", len(sacks), at)
			}
			if last := data[len(data)-1].TSN; sacks[0].CumTSNAck != last {
				t.Fatalf("SACK cum ack %d, want %d (every TSN sent)", sacks[0].CumTSNAck, last)
			}
			if got, want := at[0].Sub(t0), oneWay+wait; got != want {
				t.Fatalf("SACK sent %v after the DATA, want %v (one-way %v + delay %v, freq %d, %d packets)",
					got, want, oneWay, wait, eff.Freq, tc.packets)
			}
		})
	}
}

// ackProbeLab brings up an association and returns a probe injecting
// packets into the server as if from the client, with the header to use.
func ackProbeLab(t *testing.T, seed uint64, scfg engine.Config) (*lab, probe, wire.CommonHeader, *engine.Association) {
	t.Helper()
	l := newLab(t, seed, link.Native, scfg)
	a, _ := l.up(engine.Config{PeerAddr: hbOff})
	srv := l.srv.assoc
	local, _ := srv.Tags()
	pr := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
	hdr := wire.CommonHeader{SrcPort: a.Status().LocalPort, DstPort: serverPort, VerificationTag: local}
	return l, pr, hdr, srv
}

// TestImmediateSack: a DATA chunk with the I bit (RFC 7053), a gap in the
// TSNs and a duplicate TSN (RFC 9260 6.2, 6.7) are each acknowledged at
// once, although the delayed-ack frequency alone would wait for ten
// packets; the SACK reports the gap and lists the duplicate.
func TestImmediateSack(t *testing.T) {
	scfg := engine.Config{DelayedAck: engine.DelayedAck{Freq: 10}, PeerAddr: hbOff}
	l, pr, hdr, srv := ackProbeLab(t, 910, scfg)
	delay := scfg.WithDefaults().DelayedAck.Delay
	cum := srv.RecvCumAck()
	now := l.net.Now()
	send := func(tsn uint32, immediate bool) []wire.Sack {
		t.Helper()
		ans := pr.send(t, now, hdr, &wire.Data{TSN: tsn, SSN: uint16(tsn - cum - 1), Beginning: true, Ending: true,
			Immediate: immediate, Payload: []byte{byte(tsn)}})
		s, _ := ackDecode(t, ans)
		return s
	}

	// A lone packet without the I bit waits for the SACK timer.
	if s := send(cum+1, false); len(s) != 0 {
		t.Fatalf("lone DATA answered at once with %+v", s)
	}
	if d, ok := l.sn.Host.NextDeadline(); !ok || !d.Equal(now.Add(delay)) {
		t.Fatalf("next deadline %v (%v), want the SACK timer at +%v", d.Sub(now), ok, delay)
	}
	// I bit: at once, acknowledging both.
	s := send(cum+2, true)
	if len(s) != 1 || s[0].CumTSNAck != cum+2 || len(s[0].GapBlocks) != 0 || len(s[0].DupTSNs) != 0 {
		t.Fatalf("DATA with the I bit answered with %+v, want one SACK with cum ack %d", s, cum+2)
	}
	// A duplicate alone: at once, listing the duplicate.
	s = send(cum+2, false)
	if len(s) != 1 || s[0].CumTSNAck != cum+2 || len(s[0].DupTSNs) != 1 || s[0].DupTSNs[0] != cum+2 {
		t.Fatalf("duplicate TSN %d answered with %+v, want one SACK listing it", cum+2, s)
	}
	// The duplicate is reported once, not again in the next SACK.
	s = send(cum+4, false)
	if len(s) != 1 || s[0].CumTSNAck != cum+2 || len(s[0].DupTSNs) != 0 ||
		len(s[0].GapBlocks) != 1 || s[0].GapBlocks[0] != (wire.GapBlock{Start: 2, End: 2}) {
		t.Fatalf("out-of-order TSN %d answered with %+v, want one SACK, cum ack %d, gap block 2-2, no duplicates", cum+4, s, cum+2)
	}
	// 6.7: every packet that leaves the gap open is acknowledged at once.
	s = send(cum+5, false)
	if len(s) != 1 || s[0].CumTSNAck != cum+2 || len(s[0].GapBlocks) != 1 || s[0].GapBlocks[0] != (wire.GapBlock{Start: 2, End: 3}) {
		t.Fatalf("TSN %d above the gap answered with %+v, want one SACK with gap block 2-3", cum+5, s)
	}
	if srv.State() != engine.StateEstablished {
		t.Fatalf("server state %v", srv.State())
	}
}
