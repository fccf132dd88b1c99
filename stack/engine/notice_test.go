package engine_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// The engine's reaction to link notices: the ICMP errors the links read
// from the socket error queue (IP_RECVERR) and deliver as link.Packet with
// a Notice. RFC 9260 section 10 (appendix C of RFC 4960) sets the rules:
// ICMP5/ICMP6 find the association from the quoted packet and check the
// quoted verification tag, ICMP7 feeds "fragmentation needed" / "packet too
// big" to PMTU discovery, and ICMP9 lets "destination unreachable" count as
// a path error. The links have already dropped what ICMP1-ICMP4 let an
// implementation ignore (port unreachable on a native link, other types).

// linkOverhead is what the engine must subtract from the IP MTU toward
// remote: the IP header, and the UDP header on an encapsulated path (RFC
// 6951 5.6).
func linkOverhead(kind link.Kind, remote string) int {
	n := link.IPOverhead(netipAddr(remote))
	if kind == link.UDP {
		n += 8
	}
	return n
}

// fragPointFor is the largest DATA payload a packet carries at IP MTU mtu.
func fragPointFor(mtu, overhead int) int {
	return mtu - overhead - wire.CommonHeaderLen - wire.DataHeaderSize
}

// ourQuote is the start of a packet a sends, as an ICMP error quotes it:
// our common header (source port ours, tag the peer's) and a few bytes of
// a chunk cut short.
func ourQuote(a *engine.Association) []byte {
	_, peer := a.Tags()
	q := wire.AppendHeader(nil, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: a.RemotePort(), VerificationTag: peer})
	return append(q, byte(wire.TypeData), 0x03, 0x05, 0xdc)
}

// sentData is one DATA chunk seen leaving the client.
type sentData struct {
	tsn       uint32
	payload   int
	pktLen    int // the SCTP packet carrying it
	pktChunks int // DATA chunks in that packet
}

// dataTap records the DATA chunks of every packet the client sends and, while
// drop is set, loses those packets.
type dataTap struct {
	t    *testing.T
	sent []sentData
	drop bool
}

func (d *dataTap) hook(_ *simNode, pkt []byte) bool {
	var p wire.Packet
	if err := p.Unmarshal(append([]byte(nil), pkt...)); err != nil {
		d.t.Errorf("client sent a bad packet: %v", err)
		return false
	}
	n := 0
	for _, c := range p.Chunks {
		if c.Type == wire.TypeData {
			n++
		}
	}
	has := false
	for _, c := range p.Chunks {
		var dc wire.Data
		if c.Type != wire.TypeData || dc.Unmarshal(c) != nil {
			continue
		}
		has = true
		d.sent = append(d.sent, sentData{tsn: dc.TSN, payload: len(dc.Payload), pktLen: len(pkt), pktChunks: n})
	}
	return has && d.drop
}

func noticeKinds() []struct {
	name string
	kind link.Kind
} {
	return []struct {
		name string
		kind link.Kind
	}{{"native", link.Native}, {"udp", link.UDP}}
}

// TestNoticeFragNeededLowersPathMTU: a "fragmentation needed" / "packet too
// big" quoting our packet under the peer's tag lowers the path MTU to the
// reported value (ICMP7, RFC 8201/1191): Status shows the new MTU and
// fragmentation point, and the next message is cut to fit, every packet at
// most MTU minus the link's overhead. Notices that fail ICMP5/ICMP6, or
// report an MTU above the current one or below the IPv4 minimum of 576,
// change nothing.
func TestNoticeFragNeededLowersPathMTU(t *testing.T) {
	for _, k := range noticeKinds() {
		t.Run(k.name, func(t *testing.T) {
			cfg := engine.Config{PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff}}
			l := newLab(t, 50, k.kind, cfg)
			a, rec := l.up(cfg)
			ovh := linkOverhead(k.kind, "198.18.0.2")
			mtu0 := engine.DefaultPathMTU
			st := a.Status()
			if st.Primary.MTU != mtu0 || st.FragPoint != fragPointFor(mtu0, ovh) {
				t.Fatalf("before: MTU %d frag point %d, want %d and %d", st.Primary.MTU, st.FragPoint, mtu0, fragPointFor(mtu0, ovh))
			}
			path := l.cn.PathTo(l.sn)
			q := ourQuote(a)
			notice := func(buf []byte, p link.Path, mtu int) {
				l.cn.Host.HandleNotice(0, link.Packet{Path: p, Buf: buf, Notice: link.NoticeFragNeeded, MTU: mtu}, l.net.Now())
			}
			badTag := bytes.Clone(q)
			binary.BigEndian.PutUint32(badTag[4:8], binary.BigEndian.Uint32(badTag[4:8])^1)
			badPort := bytes.Clone(q)
			binary.BigEndian.PutUint16(badPort[2:4], serverPort+1)
			other := path
			other.Remote = netipAddr("198.18.0.9")
			ignored := []struct {
				what string
				buf  []byte
				p    link.Path
				mtu  int
			}{
				{"another verification tag (ICMP6)", badTag, path, 1200},
				{"another port (ICMP5)", badPort, path, 1200},
				{"another remote address (ICMP5)", q, other, 1200},
				{"a quote shorter than the common header", q[:wire.CommonHeaderLen-1], link.Path{Local: path.Local}, 1200},
				{"an MTU below 576", q, path, 575},
				{"an MTU above the current one", q, path, mtu0 + 1},
			}
			for _, c := range ignored {
				notice(c.buf, c.p, c.mtu)
				if got := a.Status().Primary.MTU; got != mtu0 {
					t.Fatalf("after %s: MTU %d, want %d unchanged", c.what, got, mtu0)
				}
			}

			const mtu = 1200
			notice(q, path, mtu)
			st = a.Status()
			fp := fragPointFor(mtu, ovh)
			if st.Primary.MTU != mtu || st.FragPoint != fp || st.State != engine.StateEstablished {
				t.Fatalf("after the notice: MTU %d frag point %d state %v, want %d, %d, ESTABLISHED", st.Primary.MTU, st.FragPoint, st.State, mtu, fp)
			}
			// A later notice with a larger MTU does not raise it (RFC 8201 4).
			notice(q, path, 1400)
			if got := a.Status().Primary.MTU; got != mtu {
				t.Fatalf("a larger reported MTU raised the path MTU to %d", got)
			}

			tap := &dataTap{t: t}
			l.cn.Imp.Drop = tap.hook
			msg := make([]byte, 3*fp+fp/2)
			for i := range msg {
				msg[i] = byte(i * 7)
			}
			if err := a.Send(l.net.Now(), msg, engine.SndInfo{PPID: 51}); err != nil {
				t.Fatal(err)
			}
			if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == 1 }, time.Minute) {
				t.Fatalf("message not delivered; client events %s", rec.types())
			}
			if !bytes.Equal(l.srv.msgs[0].Data, msg) {
				t.Fatal("message delivered corrupted")
			}
			wantPayloads := []int{fp, fp, fp, fp / 2}
			if len(tap.sent) != len(wantPayloads) {
				t.Fatalf("%d DATA chunks sent (%+v), want %d", len(tap.sent), tap.sent, len(wantPayloads))
			}
			for i, s := range tap.sent {
				if s.payload != wantPayloads[i] {
					t.Errorf("chunk %d: payload %d, want %d", i, s.payload, wantPayloads[i])
				}
				if s.pktLen > mtu-ovh {
					t.Errorf("chunk %d: in a %d-byte SCTP packet, above MTU %d less overhead %d", i, s.pktLen, mtu, ovh)
				}
			}
			if got := tap.sent[0].pktLen; got != mtu-ovh {
				t.Errorf("a full fragment's packet is %d bytes, want exactly %d", got, mtu-ovh)
			}
			if rec.has(engine.PeerAddrChange) || rec.ended() {
				t.Errorf("client events %s: a smaller MTU is not a path failure", rec.types())
			}
		})
	}
}

// TestNoticeFragNeededRetransmitsWhole: chunks in flight when the MTU drops
// were cut for the old MTU. RFC 9260 6.9 forbids cutting them again ("Once a
// user message is fragmented, it cannot be re-fragmented"; IP fragmentation
// must carry them), so each is retransmitted with its TSN and payload
// unchanged, alone in a packet above the new MTU, while a chunk that fits is
// still held to the new limit; new messages are cut at the new fragmentation
// point.
func TestNoticeFragNeededRetransmitsWhole(t *testing.T) {
	for _, k := range noticeKinds() {
		t.Run(k.name, func(t *testing.T) {
			cfg := engine.Config{PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff}}
			l := newLab(t, 51, k.kind, cfg)
			a, rec := l.up(cfg)
			ovh := linkOverhead(k.kind, "198.18.0.2")
			fp0 := a.Status().FragPoint
			tap := &dataTap{t: t, drop: true}
			l.cn.Imp.Drop = tap.hook
			const mtu = 1000
			fp := fragPointFor(mtu, ovh)
			// Two old-size fragments and a tail that fits the new MTU.
			msg := make([]byte, 2*fp0+fp/2)
			for i := range msg {
				msg[i] = byte(i * 13)
			}
			if err := a.Send(l.net.Now(), msg, engine.SndInfo{PPID: 52}); err != nil {
				t.Fatal(err)
			}
			l.net.RunFor(time.Millisecond)
			first := append([]sentData(nil), tap.sent...)
			if len(first) != 3 || first[0].payload != fp0 || first[1].payload != fp0 || first[2].payload != fp/2 {
				t.Fatalf("first transmission %+v, want payloads %d, %d, %d", first, fp0, fp0, fp/2)
			}
			l.cn.Host.HandleNotice(0, link.Packet{Path: l.cn.PathTo(l.sn), Buf: ourQuote(a), Notice: link.NoticeFragNeeded, MTU: mtu}, l.net.Now())
			if got := a.Status().FragPoint; got != fp {
				t.Fatalf("frag point %d after the notice, want %d", got, fp)
			}
			tap.drop = false
			tap.sent = nil
			if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == 1 }, time.Minute) {
				t.Fatalf("message not delivered after the retransmissions; client events %s", rec.types())
			}
			if !bytes.Equal(l.srv.msgs[0].Data, msg) {
				t.Fatal("message delivered corrupted")
			}
			seen := map[uint32]bool{}
			for _, s := range tap.sent {
				var orig *sentData
				for i := range first {
					if first[i].tsn == s.tsn {
						orig = &first[i]
					}
				}
				if orig == nil {
					t.Fatalf("retransmission of TSN %d, which was never sent", s.tsn)
				}
				seen[s.tsn] = true
				if s.payload != orig.payload {
					t.Errorf("TSN %d retransmitted with %d bytes, first sent with %d: re-fragmented", s.tsn, s.payload, orig.payload)
				}
				switch {
				case s.payload > fp && (s.pktChunks != 1 || s.pktLen != wire.CommonHeaderLen+wire.DataHeaderSize+s.payload):
					t.Errorf("oversized TSN %d went in a %d-byte packet with %d DATA chunks, want alone (%d bytes)",
						s.tsn, s.pktLen, s.pktChunks, wire.CommonHeaderLen+wire.DataHeaderSize+s.payload)
				case s.payload <= fp && s.pktLen > mtu-ovh:
					t.Errorf("TSN %d fits the new MTU but went in a %d-byte packet, above %d", s.tsn, s.pktLen, mtu-ovh)
				}
			}
			if len(seen) != len(first) {
				t.Errorf("retransmitted TSNs %v, want all of %+v", seen, first)
			}

			tap.sent = nil
			next := make([]byte, 2*fp)
			if err := a.Send(l.net.Now(), next, engine.SndInfo{PPID: 53}); err != nil {
				t.Fatal(err)
			}
			if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == 2 }, time.Minute) {
				t.Fatal("second message not delivered")
			}
			if len(tap.sent) != 2 || tap.sent[0].payload != fp || tap.sent[1].payload != fp || tap.sent[0].pktLen != mtu-ovh {
				t.Errorf("new message sent as %+v, want two %d-byte fragments in %d-byte packets", tap.sent, fp, mtu-ovh)
			}
		})
	}
}

// TestNoticeLocalMTU: a link reports a local EMSGSIZE (the kernel already
// knows a smaller path MTU toward the peer) without a quote. The notice
// names only the remote address, so it applies to every association
// toward that address on that link and to none other.
func TestNoticeLocalMTU(t *testing.T) {
	cfg := engine.Config{PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff}}
	l := newLab(t, 52, link.Native, cfg)
	a1, _ := l.up(cfg)
	a2, _ := l.up(cfg)
	if a1.LocalPort() == a2.LocalPort() {
		t.Fatal("two associations on one port pair")
	}
	path := l.cn.PathTo(l.sn)
	mtu0 := engine.DefaultPathMTU
	other := path
	other.Remote = netipAddr("198.18.0.9")
	for _, n := range []link.Packet{
		{Path: other, Notice: link.NoticeFragNeeded, MTU: 1300},
		{Path: link.Path{Local: path.Local}, Notice: link.NoticeFragNeeded, MTU: 1300},
		{Path: path, Notice: link.NoticeUnreachable},
	} {
		l.cn.Host.HandleNotice(0, n, l.net.Now())
		if m1, m2 := a1.Status().Primary.MTU, a2.Status().Primary.MTU; m1 != mtu0 || m2 != mtu0 {
			t.Fatalf("after %+v: MTUs %d, %d, want %d", n, m1, m2, mtu0)
		}
	}
	if a1.Status().State != engine.StateEstablished || a2.Status().State != engine.StateEstablished {
		t.Fatal("an unquoted unreachable notice touched an association")
	}
	l.cn.Host.HandleNotice(0, link.Packet{Path: path, Notice: link.NoticeFragNeeded, MTU: 1300}, l.net.Now())
	for i, a := range []*engine.Association{a1, a2} {
		if st := a.Status(); st.Primary.MTU != 1300 || st.FragPoint != fragPointFor(1300, linkOverhead(link.Native, "198.18.0.2")) {
			t.Errorf("association %d: MTU %d frag point %d, want 1300 and %d", i, st.Primary.MTU, st.FragPoint, fragPointFor(1300, 20))
		}
	}
}

// TestNoticeUnreachableCountsPathErrors: a destination unreachable quoting
// our packet under the peer's tag is a path error (ICMP9, the "increment
// the path error counter" choice): PathMaxRetrans+1 of them in a row make
// the path inactive, MaxRetrans+1 end the association as unreachable with
// an ABORT to the peer (8.1, 8.2), and an acknowledgement in between clears
// both counters (8.1: "MUST be reset each time a DATA chunk ... is
// acknowledged"). Notices failing ICMP5/ICMP6 count nothing.
//
// The same holds for NoticeProtoUnreachable ("protocol unreachable",
// ICMPv6 "unrecognized next header", and on UDP "port unreachable", which
// RFC 6951 5.5 maps to them) once the association is up: RFC 9260 10 ICMP8
// asks for an ABORT there; the engine counts a path error instead (a NAT
// that lost its mapping answers port unreachable for a while, see
// Host.HandleNotice), and this test pins that down. In COOKIE-WAIT it fails
// the dial (TestNoticeProtoUnreachableFailsDial).
func TestNoticeUnreachableCountsPathErrors(t *testing.T) {
	for _, k := range noticeKinds() {
		for _, nk := range []struct {
			name string
			n    link.Notice
		}{{"unreachable", link.NoticeUnreachable}, {"proto", link.NoticeProtoUnreachable}} {
			t.Run(k.name+"/"+nk.name, func(t *testing.T) {
				cfg := engine.Config{
					Assoc:    engine.AssocParams{MaxRetrans: 5},
					PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff, PathMaxRetrans: 2},
				}
				l := newLab(t, 53, k.kind, cfg)
				a, rec := l.up(cfg)
				path := l.cn.PathTo(l.sn)
				q := ourQuote(a)
				notice := func(buf []byte, p link.Path) {
					l.cn.Host.HandleNotice(0, link.Packet{Path: p, Buf: buf, Notice: nk.n}, l.net.Now())
				}
				badTag := bytes.Clone(q)
				binary.BigEndian.PutUint32(badTag[4:8], 0)
				other := path
				other.Remote = netipAddr("198.18.0.9")
				swapped := bytes.Clone(q) // the peer's packet, not ours
				copy(swapped[0:2], q[2:4])
				copy(swapped[2:4], q[0:2])
				for i := 0; i < 3*cfg.Assoc.MaxRetrans; i++ {
					notice(badTag, path)
					notice(swapped, path)
					notice(q, other)
				}
				if rec.has(engine.PeerAddrChange) || a.Status().State != engine.StateEstablished {
					t.Fatalf("notices failing the tag or address check counted: events %s", rec.types())
				}

				// PathMaxRetrans errors, then an acknowledgement: nothing changes.
				for i := 0; i < cfg.PeerAddr.PathMaxRetrans; i++ {
					notice(q, path)
				}
				if rec.has(engine.PeerAddrChange) {
					t.Fatalf("path inactive after %d errors, PathMaxRetrans %d", cfg.PeerAddr.PathMaxRetrans, cfg.PeerAddr.PathMaxRetrans)
				}
				if err := a.Send(l.net.Now(), []byte("acked"), engine.SndInfo{}); err != nil {
					t.Fatal(err)
				}
				if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == 1 && a.Status().Unacked == 0 }, time.Minute) {
					t.Fatal("DATA not acknowledged")
				}
				// Counted from zero again: PathMaxRetrans more are still fine,
				// one more makes the path inactive.
				for i := 0; i < cfg.PeerAddr.PathMaxRetrans; i++ {
					notice(q, path)
				}
				if rec.has(engine.PeerAddrChange) {
					t.Fatal("the acknowledgement did not clear the path error counter")
				}
				notice(q, path)
				if ev := rec.find(engine.PeerAddrChange); ev == nil || ev.PathState != engine.PathInactive || ev.Path != path {
					t.Fatalf("after PathMaxRetrans+1 notices: events %s, want PEER_ADDR_CHANGE inactive on %v", rec.types(), path)
				}
				if st := a.Status(); st.Primary.State != engine.PathInactive || st.State != engine.StateEstablished {
					t.Fatalf("path %v association %v, want the path inactive and the association up", st.Primary.State, st.State)
				}
				// The association counter went on: MaxRetrans+1 in all end it.
				for i := cfg.PeerAddr.PathMaxRetrans + 1; i < cfg.Assoc.MaxRetrans; i++ {
					notice(q, path)
				}
				if rec.ended() {
					t.Fatalf("ended after %d errors, MaxRetrans %d", cfg.Assoc.MaxRetrans, cfg.Assoc.MaxRetrans)
				}
				notice(q, path)
				ev := rec.find(engine.CommLost)
				if ev == nil || ev.Err != engine.ErrPeerUnreachable {
					t.Fatalf("after MaxRetrans+1 notices: events %s, want COMM_LOST ErrPeerUnreachable", rec.types())
				}
				if rec.count(engine.PeerAddrChange) != 1 {
					t.Errorf("%d PEER_ADDR_CHANGE events, want 1", rec.count(engine.PeerAddrChange))
				}
				if !l.net.RunUntil(l.srv.ended, time.Minute) {
					t.Fatal("the peer did not learn of the end")
				}
				if ev := l.srv.find(engine.CommLost); ev == nil || ev.Err != engine.ErrPeerAborted {
					t.Errorf("server events %s, want COMM_LOST from our ABORT", l.srv.types())
				}
			})
		}
	}
}

// TestNoticeUnreachableDuringCookieWait: before the INIT ACK the peer's tag
// is unknown and our INIT goes under tag 0, so ICMP6 checks the quoted
// chunk instead: an INIT whose Initiate Tag is ours counts, a quote too
// short to show it, another chunk type, or another Initiate Tag does not.
func TestNoticeUnreachableDuringCookieWait(t *testing.T) {
	cfg := engine.Config{Assoc: engine.AssocParams{MaxRetrans: 2}}
	l := newLab(t, 54, link.Native, cfg)
	var init []byte
	l.cn.Imp.Drop = func(_ *simNode, pkt []byte) bool {
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
	local, _ := a.Tags()
	tagAt := wire.CommonHeaderLen + wire.ChunkHeaderLen
	if got := binary.BigEndian.Uint32(init[tagAt:]); got != local || binary.BigEndian.Uint32(init[4:8]) != 0 {
		t.Fatalf("INIT: vtag %#x initiate tag %#x, want 0 and our %#x", binary.BigEndian.Uint32(init[4:8]), got, local)
	}
	path := l.cn.PathTo(l.sn)
	notice := func(buf []byte) {
		l.cn.Host.HandleNotice(0, link.Packet{Path: path, Buf: buf, Notice: link.NoticeUnreachable}, l.net.Now())
	}
	otherTag := bytes.Clone(init)
	binary.BigEndian.PutUint32(otherTag[tagAt:], local+1)
	otherType := bytes.Clone(init)
	otherType[wire.CommonHeaderLen] = byte(wire.TypeCookieEcho)
	for i := 0; i < 3*cfg.Assoc.MaxRetrans; i++ {
		notice(otherTag)
		notice(otherType)
		notice(init[:tagAt+3])
	}
	if rec.ended() || a.State() != engine.StateCookieWait {
		t.Fatalf("unverifiable notices counted: state %v events %s", a.State(), rec.types())
	}
	for i := 0; i < cfg.Assoc.MaxRetrans; i++ {
		notice(init[:tagAt+4])
	}
	if rec.ended() {
		t.Fatalf("ended after %d errors, MaxRetrans %d", cfg.Assoc.MaxRetrans, cfg.Assoc.MaxRetrans)
	}
	notice(init)
	if ev := rec.find(engine.CantStartAssoc); ev == nil || ev.Err != engine.ErrPeerUnreachable {
		t.Fatalf("after MaxRetrans+1 verified notices: events %s, want CANT_START_ASSOC ErrPeerUnreachable", rec.types())
	}
}
