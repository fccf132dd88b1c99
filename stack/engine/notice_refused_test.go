package engine_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestNoticeProtoUnreachableFailsDial: in COOKIE-WAIT, a protocol (or, on
// UDP, port) unreachable quoting our INIT with our Initiate Tag (RFC 9260
// appendix C, ICMP6) fails the dial at once with CANT_STR_ASSOC
// ErrPeerRefused, which is an ErrPeerUnreachable (RFC 9260 10 ICMP8, RFC
// 6951 5.5; Linux: ECONNREFUSED). Quotes that cannot be verified change
// nothing, and no ABORT goes (the peer holds no state).
func TestNoticeProtoUnreachableFailsDial(t *testing.T) {
	for _, k := range noticeKinds() {
		t.Run(k.name, func(t *testing.T) {
			cfg := engine.Config{}
			l := newLab(t, 55, k.kind, cfg)
			var init []byte
			sent := 0
			l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
				sent++
				if init == nil && len(pkt) > wire.CommonHeaderLen && wire.ChunkType(pkt[wire.CommonHeaderLen]) == wire.TypeInit {
					init = bytes.Clone(pkt)
				}
				return true
			}
			a, rec := l.dial(cfg)
			l.net.RunFor(time.Millisecond)
			if init == nil {
				t.Fatal("no INIT sent")
			}
			path := l.cn.PathTo(l.sn)
			notice := func(buf []byte) {
				l.cn.Host.HandleNotice(0, link.Packet{Path: path, Buf: buf, Notice: link.NoticeProtoUnreachable}, l.net.Now())
			}
			tagAt := wire.CommonHeaderLen + wire.ChunkHeaderLen
			local, _ := a.Tags()
			otherTag := bytes.Clone(init)
			binary.BigEndian.PutUint32(otherTag[tagAt:], local+1)
			otherType := bytes.Clone(init)
			otherType[wire.CommonHeaderLen] = byte(wire.TypeCookieEcho)
			badVtag := bytes.Clone(init)
			binary.BigEndian.PutUint32(badVtag[4:8], 7)
			for _, q := range [][]byte{otherTag, otherType, badVtag, init[:tagAt+3], init[:wire.CommonHeaderLen]} {
				notice(q)
			}
			if rec.ended() || a.State() != engine.StateCookieWait {
				t.Fatalf("an unverifiable notice counted: state %v events %s", a.State(), rec.types())
			}
			before := sent
			notice(init[:tagAt+4])
			ev := rec.find(engine.CantStartAssoc)
			if ev == nil || !errors.Is(ev.Err, engine.ErrPeerRefused) || !errors.Is(ev.Err, engine.ErrPeerUnreachable) {
				t.Fatalf("after a verified notice: events %s, want CANT_STR_ASSOC ErrPeerRefused", rec.types())
			}
			l.net.RunFor(time.Minute)
			if sent != before {
				t.Fatalf("%d packets sent after the dial failed", sent-before)
			}
		})
	}
}

// TestRefusedDialEndToEnd: a dial to a host that refuses it (the simulator
// answers with the ICMP report a host without SCTP, or a closed UDP port,
// sends) fails after one round trip, not after Max.Init.Retransmits; once
// the association is up, the same reports only count path errors.
func TestRefusedDialEndToEnd(t *testing.T) {
	for _, k := range noticeKinds() {
		t.Run(k.name, func(t *testing.T) {
			cfg := engine.Config{}
			l := newLab(t, 56, k.kind, cfg)
			l.cn.Imp.Delay, l.sn.Imp.Delay = 10*time.Millisecond, 10*time.Millisecond
			l.sn.Refuse = true
			start := l.net.Now()
			_, rec := l.dial(cfg)
			if !l.net.RunUntil(rec.ended, 10*time.Minute) {
				t.Fatal("the dial never ended")
			}
			took := rec.at[len(rec.at)-1].Sub(start)
			if ev := rec.find(engine.CantStartAssoc); ev == nil || !errors.Is(ev.Err, engine.ErrPeerRefused) || took != 20*time.Millisecond {
				t.Fatalf("events %s after %v, want CANT_STR_ASSOC ErrPeerRefused after one round trip", rec.types(), took)
			}

			l.sn.Refuse = false
			a, rec := l.up(cfg)
			l.sn.Refuse = true
			a.Send(l.net.Now(), []byte("into the void"), engine.SndInfo{})
			l.net.RunFor(2 * time.Second)
			if rec.ended() || a.State() != engine.StateEstablished {
				t.Fatalf("an established association ended on the first refusal: %s", rec.types())
			}
		})
	}
}
