package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

func TestOutOfTheBlue(t *testing.T) {
	net := sim.New(1)
	nd := net.AddNode("198.18.0.2", link.UDP)
	if err := nd.Host.Listen(serverPort, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {})); err != nil {
		t.Fatal(err)
	}
	p := probe{nd: nd, from: link.Path{Local: nd.Addr, Remote: netipAddr("198.18.0.1"), RemotePort: 40000}}
	now := net.Now()
	hdr := func(dst uint16, vtag uint32) wire.CommonHeader {
		return wire.CommonHeader{SrcPort: 1234, DstPort: dst, VerificationTag: vtag}
	}
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x1111, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 9}}
	data := &wire.Data{TSN: 1, Payload: []byte("x"), Beginning: true, Ending: true}

	t.Run("INIT to an unserved port: ABORT with the INIT's tag, T=0 (8.4 rule 3)", func(t *testing.T) {
		out := p.send(t, now, hdr(7777, 0), ini)
		if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeAbort || out[0].VerificationTag != 0x1111 || out[0].Chunks[0].Flags&1 != 0 {
			t.Fatalf("got %s", chunkTypes(out))
		}
	})
	t.Run("DATA to an unserved port: ABORT reflecting the tag, T=1 (rule 8)", func(t *testing.T) {
		out := p.send(t, now, hdr(7777, 0x2222), data)
		if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeAbort || out[0].VerificationTag != 0x2222 || out[0].Chunks[0].Flags&1 != 1 {
			t.Fatalf("got %s", chunkTypes(out))
		}
	})
	t.Run("SHUTDOWN ACK: SHUTDOWN COMPLETE with T=1 (rule 5)", func(t *testing.T) {
		out := p.send(t, now, hdr(serverPort, 0x3333), &wire.ShutdownAck{})
		if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeShutdownComplete || out[0].VerificationTag != 0x3333 || out[0].Chunks[0].Flags&1 != 1 {
			t.Fatalf("got %s", chunkTypes(out))
		}
	})
	silent := []struct {
		name string
		c    wire.Chunk
	}{
		{"ABORT (rule 2)", &wire.Abort{}},
		{"SHUTDOWN COMPLETE (rule 6)", &wire.ShutdownComplete{}},
		{"COOKIE ACK (rule 7)", &wire.CookieAck{}},
		{"ERROR stale cookie (rule 7)", &wire.ErrorChunk{Causes: []wire.Cause{&wire.StaleCookieCause{Staleness: 5}}}},
		{"forged COOKIE ECHO", &wire.CookieEcho{Cookie: make([]byte, 64)}},
	}
	for _, s := range silent {
		t.Run(s.name+" is discarded silently", func(t *testing.T) {
			if out := p.send(t, now, hdr(serverPort, 0x4444), s.c); len(out) != 0 {
				t.Fatalf("answered %s", chunkTypes(out))
			}
		})
	}
	t.Run("INIT bundled with DATA is discarded (8.5.1 A)", func(t *testing.T) {
		if out := p.send(t, now, hdr(serverPort, 0), ini, data); len(out) != 0 {
			t.Fatalf("answered %s", chunkTypes(out))
		}
	})
	t.Run("INIT with Initiate Tag 0 is discarded (3.3.2)", func(t *testing.T) {
		bad := *ini
		bad.InitiateTag = 0
		if out := p.send(t, now, hdr(serverPort, 0), &bad); len(out) != 0 {
			t.Fatalf("answered %s", chunkTypes(out))
		}
	})
	t.Run("INIT to the listener: INIT ACK, no state", func(t *testing.T) {
		out := p.send(t, now, hdr(serverPort, 0), ini)
		if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeInitAck || out[0].VerificationTag != 0x1111 {
			t.Fatalf("got %s", chunkTypes(out))
		}
		n := 0
		nd.Host.Associations(func(*engine.Association) { n++ })
		if n != 0 {
			t.Fatalf("an INIT created %d associations", n)
		}
		var ia wire.InitAck
		ia.Unmarshal(out[0].Chunks[0])
		for _, prm := range ia.Params {
			if prm.ParamType() == wire.ParamIPv4Address || prm.ParamType() == wire.ParamIPv6Address {
				t.Fatal("an encapsulated INIT ACK lists addresses (RFC 6951 5.7)")
			}
		}
	})
}

func TestNativeLinkIgnoresUnservedPorts(t *testing.T) {
	net := sim.New(1)
	nd := net.AddNode("198.18.0.2", link.Native)
	p := probe{nd: nd, from: link.Path{Local: nd.Addr, Remote: netipAddr("198.18.0.1")}}
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 5, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 9}}
	for _, c := range []wire.Chunk{ini, &wire.Data{TSN: 1, Payload: []byte("x")}, &wire.ShutdownAck{}} {
		vtag := uint32(0)
		if c.ChunkType() != wire.TypeInit {
			vtag = 99
		}
		if out := p.send(t, net.Now(), wire.CommonHeader{SrcPort: 1, DstPort: 38412, VerificationTag: vtag}, c); len(out) != 0 {
			t.Fatalf("%v to an unserved native port was answered: %s", c.ChunkType(), chunkTypes(out))
		}
	}
}

// TestWrongVerificationTag sends every chunk type with a wrong tag into an
// established association: nothing changes and nothing answers (8.5).
func TestWrongVerificationTag(t *testing.T) {
	chunks := []wire.Chunk{
		&wire.Data{TSN: 1, Payload: []byte("x"), Beginning: true, Ending: true},
		&wire.Sack{CumTSNAck: 1, ARwnd: 1000},
		&wire.Heartbeat{Info: []byte("hb")},
		&wire.HeartbeatAck{Info: make([]byte, 16)},
		&wire.Abort{},
		&wire.Shutdown{CumTSNAck: 1},
		&wire.ShutdownAck{},
		&wire.ErrorChunk{Causes: []wire.Cause{&wire.ProtocolViolationCause{Info: []byte("x")}}},
		&wire.CookieAck{},
		&wire.ShutdownComplete{},
		&wire.Abort{TagReflected: true},
		&wire.ShutdownComplete{TagReflected: true},
		&wire.ECNE{LowestTSN: 1},
		&wire.CWR{LowestTSN: 1},
		&wire.ForwardTSN{NewCumTSN: 5},
	}
	for _, c := range chunks {
		l := newLab(t, 11, link.Native, engine.Config{})
		a, rec := l.up(engine.Config{})
		sl, sp := l.srv.assoc.Tags()
		p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
		bad := sl ^ 0x5a5a5a5a
		if ab, ok := c.(*wire.Abort); ok && ab.TagReflected {
			bad = sp ^ 1 // T=1 must carry the peer's tag: one bit off
		}
		if sc, ok := c.(*wire.ShutdownComplete); ok && sc.TagReflected {
			bad = sp ^ 1
		}
		out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: bad}, c)
		if len(out) != 0 {
			t.Fatalf("%v with a wrong tag was answered: %s", c.ChunkType(), chunkTypes(out))
		}
		l.net.RunFor(time.Second)
		if l.srv.assoc.State() != engine.StateEstablished || len(l.srv.events) != 1 || len(rec.events) != 1 {
			t.Fatalf("%v with a wrong tag changed things: state %v events %s", c.ChunkType(), l.srv.assoc.State(), l.srv.types())
		}
	}
}

func TestAbortTagRules(t *testing.T) {
	// T=1 with the peer's tag is accepted (8.5.1 B).
	l := newLab(t, 12, link.Native, engine.Config{})
	a, _ := l.up(engine.Config{})
	_, sp := l.srv.assoc.Tags()
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
	p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sp}, &wire.Abort{TagReflected: true})
	if l.srv.assoc.State() != engine.StateClosed || !l.srv.has(engine.CommLost) {
		t.Fatalf("T-bit ABORT with the peer's tag was not accepted: %s", l.srv.types())
	}
	// T=0 with our own tag is accepted too.
	l = newLab(t, 13, link.Native, engine.Config{})
	a, _ = l.up(engine.Config{})
	sl, _ := l.srv.assoc.Tags()
	p = probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
	p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sl}, &wire.Abort{})
	if l.srv.assoc.State() != engine.StateClosed {
		t.Fatal("ABORT with our tag was not accepted")
	}
}
