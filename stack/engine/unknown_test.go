package engine_test

import (
	"testing"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestUnknownChunkActionBits: RFC 9260 3.2's two high bits of an unknown
// chunk type decide between stop/skip and silence/report.
func TestUnknownChunkActionBits(t *testing.T) {
	cases := []struct {
		typ    wire.ChunkType
		report bool
		goesOn bool // the HEARTBEAT after it is processed
	}{
		{0x30, false, false}, // 00: stop, discard
		{0x70, true, false},  // 01: stop, report
		{0xB0, false, true},  // 10: skip
		{0xF0, true, true},   // 11: skip, report
	}
	for _, c := range cases {
		l := newLab(t, 60, link.Native, engine.Config{})
		a, _ := l.up(engine.Config{})
		sl, _ := l.srv.assoc.Tags()
		p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
		unknown := wire.RawChunk{Type: c.typ, Flags: 3, Value: []byte{1, 2, 3, 4, 5}}
		out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sl},
			unknown, &wire.Heartbeat{Info: []byte("after")})
		var sawErr, sawHBAck bool
		for _, pk := range out {
			for _, ch := range pk.Chunks {
				switch ch.Type {
				case wire.TypeError:
					var e wire.ErrorChunk
					if err := e.Unmarshal(ch); err != nil {
						t.Fatal(err)
					}
					uc, ok := e.Causes[0].(*wire.UnrecognizedChunkCause)
					if !ok || string(uc.Chunk) != string(unknown.Bytes()) {
						t.Fatalf("type %#x: ERROR cause %#v, want cause 6 with the chunk", c.typ, e.Causes[0])
					}
					sawErr = true
				case wire.TypeHeartbeatAck:
					sawHBAck = true
				}
			}
		}
		if sawErr != c.report || sawHBAck != c.goesOn {
			t.Fatalf("type %#x: reported %v (want %v), went on %v (want %v): %s", c.typ, sawErr, c.report, sawHBAck, c.goesOn, chunkTypes(out))
		}
	}
}

// TestUnrecognizedInitParameter: an unknown parameter with the report bit
// comes back in the INIT ACK as an Unrecognized Parameter (3.2.2); one
// whose high bits say skip does not stop the handshake.
func TestUnrecognizedInitParameter(t *testing.T) {
	l := newLab(t, 61, link.UDP, engine.Config{})
	p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: 40001}}
	odd := wire.RawParam{Type: 0xC123, Value: []byte{9, 9, 9}}
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x77, ARwnd: 65536, OutStreams: 2, InStreams: 2, InitialTSN: 5,
		Params: []wire.Param{odd}}}
	out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: 4000, DstPort: serverPort}, ini)
	if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeInitAck {
		t.Fatalf("got %s", chunkTypes(out))
	}
	var ia wire.InitAck
	if err := ia.Unmarshal(out[0].Chunks[0]); err != nil {
		t.Fatal(err)
	}
	up, ok := ia.Param(wire.ParamUnrecognized).(*wire.UnrecognizedParam)
	if !ok || string(up.Param) != string(odd.AppendTo(nil)) {
		t.Fatalf("INIT ACK params %#v, want the unknown parameter reported", ia.Params)
	}
}
