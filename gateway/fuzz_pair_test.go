package gateway_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// FuzzGatewayPair drives a whole gateway chain (eNB - edge - core - MME in
// the simulator, a pair in each gateway) with fuzzed packets on either side
// of either gateway while messages flow (issue 12). The control byte says
// where they arrive and what the harness fixes, as for the engine targets
// (stack/engine/fuzz_engine_test.go):
//
//	bit 0  the verification tag of the association they arrive for
//	bit 1  keep the fuzzed ports
//	bit 2  keep the fuzzed checksum
//	bits 3-4  the edge's native side, the edge's UDP side, the core's UDP
//	       side, the core's native side
//
// Every packet any host sends must be sane (sim.CheckSent), the gateways
// hold no more pairs than the input could make, and afterwards a new eNB
// association carries a message to the MME and its answer back.
func FuzzGatewayPair(f *testing.F) {
	f.Fuzz(func(t *testing.T, ctl byte, p1, p2 []byte) {
		g := newGLab(t, labOpts{seed: 12})
		g.net.Offered = func(_ time.Time, from *sim.Node, fromLink int, p link.Packet) {
			if err := sim.CheckSent(from, fromLink, p, engine.DefaultPathMTU); err != nil {
				t.Fatal(err)
			}
		}
		a, rec := g.up(engine.Config{})
		for i := 0; i < 6; i++ {
			if err := a.Send(g.net.Now(), bytes.Repeat([]byte{byte(i)}, 1+i*700), engine.SndInfo{Stream: uint16(i % 3), PPID: 18}); err != nil {
				t.Fatal(err)
			}
		}
		if m := g.mmeRec(); m != nil && m.a != nil {
			_ = m.a.Send(g.net.Now(), []byte("answer"), engine.SndInfo{PPID: 18})
		}
		g.net.RunFor(3 * time.Millisecond) // DATA and SACKs in flight (2 ms per hop)

		nd, linkIdx := [...]*sim.Node{g.edge, g.edge, g.core, g.core}[(ctl>>3)&3], [...]int{0, 1, 0, 1}[(ctl>>3)&3]
		var target *engine.Association
		nd.Host.Associations(func(x *engine.Association) {
			if i, _ := x.Path(); i == linkIdx && target == nil {
				target = x
			}
		})
		if target == nil {
			t.Fatalf("harness: no association on %v link %d", nd.Addr, linkIdx)
		}
		_, path := target.Path()
		tag, _ := target.Tags()
		for _, p := range [][]byte{p1, p2} {
			if len(p) == 0 {
				continue
			}
			b := make([]byte, max(len(p), wire.CommonHeaderLen))
			copy(b, p)
			if ctl&2 == 0 {
				binary.BigEndian.PutUint16(b[0:2], target.RemotePort())
				binary.BigEndian.PutUint16(b[2:4], target.LocalPort())
			}
			if ctl&1 != 0 {
				binary.BigEndian.PutUint32(b[4:8], tag)
			}
			if ctl&4 == 0 {
				wire.SetChecksum(b)
			}
			nd.Host.HandlePacket(linkIdx, path, b, g.net.Now())
		}
		for i := 0; i < 10; i++ {
			g.net.RunFor(time.Second)
			if p := g.edgeGW.Pairs() + g.coreGW.Pairs(); p > 2+2*2 {
				t.Fatalf("%d pairs after two packets", p)
			}
		}
		_ = rec
		// A new association end to end carries a message and its answer.
		a2, rec2 := g.up(engine.Config{})
		mme := g.mmeRec()
		if err := a2.Send(g.net.Now(), []byte("after the fuzz"), engine.SndInfo{PPID: 18}); err != nil {
			t.Fatal(err)
		}
		if !g.net.RunUntil(func() bool { return len(mme.msgs) > 0 }, time.Minute) {
			t.Fatalf("no message through the new pair: eNB %s, MME %s", rec2.types(), mme.types())
		}
		if err := mme.a.Send(g.net.Now(), []byte("answer"), engine.SndInfo{PPID: 18}); err != nil {
			t.Fatal(err)
		}
		if !g.net.RunUntil(func() bool { return len(rec2.msgs) > 0 }, time.Minute) {
			t.Fatalf("no answer through the new pair: eNB %s", rec2.types())
		}
		if got := string(mme.msgs[0].Data) + "/" + string(rec2.msgs[0].Data); got != "after the fuzz/answer" {
			t.Fatalf("got %q", got)
		}
	})
}

// pairSeeds are FuzzGatewayPair's seed corpus: a peer's usual chunks and
// the packets of issue 12's defects, on each of the four sides with the
// right tag (and the ERROR a pair relays), by file name.
func pairSeeds() map[string][]byte {
	pkt := func(chunks ...wire.Chunk) []byte { return wire.AppendPacket(nil, wire.CommonHeader{}, chunks...) }
	hb := &wire.Heartbeat{Info: []byte("seed heartbeat")}
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 7, ARwnd: 65536, OutStreams: 10, InStreams: 10, InitialTSN: 1}}
	partial := append(pkt(hb), byte(wire.TypeHeartbeat), 0, 0x02, 0)
	unknown := wire.AppendHeader(nil, wire.CommonHeader{})
	for i := 0; i < 8200; i++ {
		unknown = wire.RawChunk{Type: 0xFA}.AppendTo(unknown)
	}
	wire.FinishPacket(unknown, 0)
	many := []wire.Cause{}
	for i := 0; i < 400; i++ {
		many = append(many, &wire.InvalidStreamCause{StreamID: uint16(i)})
	}
	seeds := map[string][2][]byte{
		"heartbeat":                    {pkt(hb)},
		"data":                         {pkt(&wire.Data{TSN: 1, StreamID: 1, PPID: 18, Beginning: true, Ending: true, Payload: []byte("x")})},
		"sack":                         {pkt(&wire.Sack{CumTSNAck: 1, ARwnd: 100})},
		"shutdown":                     {pkt(&wire.Shutdown{CumTSNAck: 1})},
		"abort-cause":                  {pkt(&wire.Abort{Causes: []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte("seed")}}})},
		"error-invalid-streams":        {pkt(&wire.ErrorChunk{Causes: many})},
		"init-restart":                 {pkt(ini)},
		"defect4-heartbeat-partial":    {partial},
		"defect5-heartbeat-init":       {pkt(hb, ini)},
		"defect5-init-heartbeat":       {pkt(ini, hb)},
		"heartbeat-then-shutdown":      {pkt(hb), pkt(&wire.Shutdown{CumTSNAck: 1})},
		"unknown-report-and-heartbeat": {pkt(wire.RawChunk{Type: 0xF0, Value: []byte{1}}, hb)},
	}
	out := map[string][]byte{}
	for side := byte(0); side < 4; side++ {
		for name, ps := range seeds {
			ctl := 1 | side<<3
			out[fmt.Sprintf("seed-%s-%02x", name, ctl)] = pairCorpusFile(ctl, ps[0], ps[1])
		}
	}
	out["seed-defect2-8200-unknown-chunks-01"] = pairCorpusFile(1, unknown, nil)
	out["seed-defect2-8200-unknown-chunks-11"] = pairCorpusFile(1|2<<3, unknown, nil)
	return out
}

func pairCorpusFile(ctl byte, p1, p2 []byte) []byte {
	return []byte(fmt.Sprintf("go test fuzz v1\nbyte(%q)\n[]byte(%q)\n[]byte(%q)\n", ctl, p1, p2))
}

var updatePairSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite the seed files under testdata/fuzz from fuzz_pair_test.go")

// The checked-in seeds must be what pairSeeds says (other files there are
// inputs the fuzzer found, kept as regressions).
func TestGatewayPairFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzGatewayPair")
	for name, want := range pairSeeds() {
		path := filepath.Join(dir, name)
		if *updatePairSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale (%v); regenerate with: go test ./gateway -run TestGatewayPairFuzzSeedCorpus -update-fuzz-seeds", path, err)
		}
	}
}
