package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// TestInitAddingAddressesIsRefused: RFC 9260 5.2.2 (ESTABLISHED) and 5.2.1
// (COOKIE-ECHOED). An INIT that lists an address not part of the
// association gets an ABORT tagged with its Initiate Tag, T bit clear,
// carrying cause 11 with exactly the added Address parameters; the
// association is untouched. Listing only known addresses earns the usual
// INIT ACK. On a UDP link the listed addresses do not count (RFC 6951 5.7).
func TestInitAddingAddressesIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kind  link.Kind
		state engine.State
	}{
		{"native/ESTABLISHED", link.Native, engine.StateEstablished},
		{"native/COOKIE-ECHOED", link.Native, engine.StateCookieEchoed},
		{"udp/ESTABLISHED", link.UDP, engine.StateEstablished},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, 36, tc.kind, engine.Config{})
			var self *engine.Association
			var selfRec *recorder
			var p probe
			var hdr wire.CommonHeader
			var known = l.sn.Addr // the sender's own address
			if tc.state == engine.StateEstablished {
				a, _ := l.up(engine.Config{})
				self, selfRec = l.srv.assoc, l.srv
				p = probe{nd: l.sn, from: link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: l.cn.UDPPort}}
				hdr = wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort}
				known = l.cn.Addr
			} else {
				l.deferAccept = true
				self, selfRec = l.dial(engine.Config{})
				l.net.RunUntil(func() bool { return self.State() == tc.state }, time.Minute)
				l.net.RunFor(10 * time.Millisecond)
				p = probe{nd: l.cn, from: link.Path{Local: l.cn.Addr, Remote: l.sn.Addr}}
				hdr = wire.CommonHeader{SrcPort: serverPort, DstPort: self.LocalPort()}
			}
			if self.State() != tc.state {
				t.Fatalf("setup reached %v", self.State())
			}
			tl, tp := self.Tags()
			events := len(selfRec.events)
			added := []wire.Param{&wire.IPv4AddressParam{Addr: netipAddr("198.18.7.7")}, &wire.IPv6AddressParam{Addr: netipAddr("2001:db8::7")}}
			ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 0x7a7a, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1,
				Params: []wire.Param{&wire.IPv4AddressParam{Addr: known}, added[0], added[1]}}}
			out := p.send(t, l.net.Now(), hdr, ini)
			if tc.kind == link.UDP {
				if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeInitAck {
					t.Fatalf("encapsulated INIT answered %s, want an INIT ACK", chunkTypes(out))
				}
				return
			}
			if len(out) != 1 || len(out[0].Chunks) != 1 || out[0].Chunks[0].Type != wire.TypeAbort ||
				out[0].VerificationTag != ini.InitiateTag || out[0].Chunks[0].Flags&1 != 0 {
				t.Fatalf("answer %s, want one ABORT tagged %#x with T=0", chunkTypes(out), ini.InitiateTag)
			}
			var ab wire.Abort
			if err := ab.Unmarshal(out[0].Chunks[0]); err != nil {
				t.Fatal(err)
			}
			want := added[1].AppendTo(added[0].AppendTo(nil))
			if c, ok := ab.Causes[0].(*wire.RestartWithNewAddressesCause); len(ab.Causes) != 1 || !ok || string(c.Addresses) != string(want) {
				t.Fatalf("causes %#v, want cause 11 with %x", ab.Causes, want)
			}
			if nl, np := self.Tags(); nl != tl || np != tp || self.State() != tc.state || len(selfRec.events) != events {
				t.Fatalf("association changed: %v %s", self.State(), selfRec.types())
			}
			// The same INIT without the added addresses is answered.
			ini.Params = ini.Params[:1]
			if out := p.send(t, l.net.Now(), hdr, ini); len(out) != 1 || out[0].Chunks[0].Type != wire.TypeInitAck {
				t.Fatalf("INIT with known addresses answered %s", chunkTypes(out))
			}
			// It still completes normally.
			if tc.state == engine.StateCookieEchoed {
				l.accept(l.reqs[0])
			}
			if !l.net.RunUntil(func() bool { return self.State() == engine.StateEstablished }, time.Minute) {
				t.Fatalf("state %v", self.State())
			}
		})
	}
}
