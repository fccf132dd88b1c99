package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/internal/cookie"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// unknownParamCases are unassigned parameter types with each action bit
// pair of RFC 9260 3.2.1.
var unknownParamCases = []struct {
	typ    wire.ParamType
	report bool // x1: reported
	skip   bool // 1x: later parameters are still processed
}{
	{0x3F01, false, false},
	{0x7F01, true, false},
	{0xBF01, false, true},
	{0xFF01, true, true},
}

// TestUnknownInitParamActionBits: an INIT with an unknown parameter
// followed by an Adaptation Layer Indication. In all four cases an INIT
// ACK answers (3.2.1); it reports the parameter in an Unrecognized
// Parameter when the low bit says so (3.2.2); the Adaptation Layer
// Indication after it counts only when the high bit says skip.
func TestUnknownInitParamActionBits(t *testing.T) {
	for _, c := range unknownParamCases {
		t.Run(fmt.Sprintf("%#04x", uint16(c.typ)), func(t *testing.T) {
			l := newLab(t, 50, link.Native, engine.Config{})
			p := probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr}}
			odd := wire.RawParam{Type: c.typ, Value: []byte{1, 2, 3, 4, 5}}
			ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x9191, ARwnd: 65536, OutStreams: 2, InStreams: 2, InitialTSN: 5,
				Params: []wire.Param{odd, &wire.AdaptationLayerParam{CodePoint: 0xada}}}}
			ia, st := initAckCookie(t, l, p, wire.CommonHeader{SrcPort: 4000, DstPort: serverPort}, ini)
			var reported [][]byte
			for _, prm := range ia.Params {
				if u, ok := prm.(*wire.UnrecognizedParam); ok {
					reported = append(reported, u.Param)
				}
			}
			if c.report != (len(reported) == 1) || len(reported) > 1 || (c.report && string(reported[0]) != string(odd.AppendTo(nil))) {
				t.Fatalf("reported %x, want report %v of %x", reported, c.report, odd.AppendTo(nil))
			}
			gotAdapt := st.Features&cookie.FeatAdaptation != 0 && st.PeerAdaptation == 0xada
			if gotAdapt != c.skip {
				t.Fatalf("adaptation after the unknown parameter taken: %v, want %v", gotAdapt, c.skip)
			}
		})
	}
}

// TestUnknownInitAckParamActionBits: the same for an INIT ACK. The COOKIE
// ECHO goes out in all four cases; a parameter to report comes back in an
// ERROR with cause 8 (the parameter's TLV as received, 3.3.10.8) bundled
// after the COOKIE ECHO (3.2.2); the Adaptation Layer Indication after it
// counts only when the high bit says skip.
func TestUnknownInitAckParamActionBits(t *testing.T) {
	for _, c := range unknownParamCases {
		t.Run(fmt.Sprintf("%#04x", uint16(c.typ)), func(t *testing.T) {
			l := newLab(t, 51, link.Native, engine.Config{})
			l.sn.Down = true
			a, _ := l.dial(engine.Config{})
			l.net.RunFor(10 * time.Millisecond)
			cl, _ := a.Tags()
			p := probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}
			odd := wire.RawParam{Type: c.typ, Value: []byte{1, 2, 3, 4, 5}}
			ia := &wire.InitAck{InitFields: wire.InitFields{InitiateTag: 0x9292, ARwnd: 65536, OutStreams: 2, InStreams: 2, InitialTSN: 5,
				Params: []wire.Param{&wire.StateCookieParam{Cookie: []byte("opaque")}, odd, &wire.AdaptationLayerParam{CodePoint: 0xada}}}}
			out := p.send(t, l.net.Now(), wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort(), VerificationTag: cl}, ia)
			if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeCookieEcho || out[0].VerificationTag != 0x9292 {
				t.Fatalf("answer %s, want a COOKIE ECHO first", chunkTypes(out))
			}
			var errs []wire.RawChunk
			for _, ch := range out[0].Chunks[1:] {
				if ch.Type == wire.TypeError {
					errs = append(errs, ch)
				}
			}
			if c.report != (len(errs) == 1) || len(errs) > 1 {
				t.Fatalf("answer %s, want an ERROR: %v", chunkTypes(out), c.report)
			}
			if c.report {
				var e wire.ErrorChunk
				if err := e.Unmarshal(errs[0]); err != nil {
					t.Fatal(err)
				}
				u, ok := e.Causes[0].(*wire.UnrecognizedParamsCause)
				if len(e.Causes) != 1 || !ok || string(u.Params) != string(odd.AppendTo(nil)) {
					t.Fatalf("ERROR causes %#v, want cause 8 with %x", e.Causes, odd.AppendTo(nil))
				}
			}
			code, has := a.PeerAdaptation()
			if (has && code == 0xada) != c.skip || a.State() != engine.StateCookieEchoed {
				t.Fatalf("adaptation taken %v (%#x), want %v; state %v", has, code, c.skip, a.State())
			}
		})
	}
}
