package engine_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// The seed corpora of the engine fuzz targets (fuzz_engine_test.go) are
// written from here into testdata/fuzz: the packets of issue 12's defects,
// and one of each chunk a peer sends in the state, with and without the
// right tag. The harness rewrites ports, tag and checksum as the control
// byte says, so a seed's header is left zero.

type engineSeed struct {
	name string
	ctl  byte
	pkts [fzMaxPackets][]byte
}

func seedPkt(chunks ...wire.Chunk) []byte {
	return wire.AppendPacket(nil, wire.CommonHeader{}, chunks...)
}

// seedPartial is a packet of chunks followed by raw bytes: a partial chunk.
func seedPartial(tail []byte, chunks ...wire.Chunk) []byte {
	return append(seedPkt(chunks...), tail...)
}

func seedInit(tag uint32, unknown int) *wire.Init {
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: tag, ARwnd: 65536, OutStreams: 10, InStreams: 10, InitialTSN: 100}}
	for i := 0; i < unknown; i++ {
		ini.Params = append(ini.Params, wire.RawParam{Type: 0xFFFF})
	}
	return ini
}

func seedInitAck(unknown int) *wire.InitAck {
	ia := &wire.InitAck{InitFields: wire.InitFields{InitiateTag: 0x5eed, ARwnd: 65536, OutStreams: 10, InStreams: 10, InitialTSN: 100}}
	ia.Params = append(ia.Params, &wire.StateCookieParam{Cookie: []byte("a cookie of the far server")})
	for i := 0; i < unknown; i++ {
		ia.Params = append(ia.Params, wire.RawParam{Type: 0xFFFF})
	}
	return ia
}

func seedUnknownChunks(n int) []byte {
	b := wire.AppendHeader(nil, wire.CommonHeader{})
	for i := 0; i < n; i++ {
		b = wire.RawChunk{Type: 0xFA}.AppendTo(b)
	}
	wire.FinishPacket(b, 0)
	return b
}

// commonSeeds are the packets any state may receive.
func commonSeeds(ctl byte) []engineSeed {
	hb := &wire.Heartbeat{Info: []byte("seed heartbeat")}
	data := &wire.Data{TSN: 1, StreamID: 1, PPID: 18, Beginning: true, Ending: true, Payload: []byte("seed")}
	one := func(name string, p []byte) engineSeed { return engineSeed{name: name, ctl: ctl, pkts: [3][]byte{p}} }
	return []engineSeed{
		one("heartbeat", seedPkt(hb)),
		one("defect4-heartbeat-partial", seedPartial([]byte{byte(wire.TypeHeartbeat), 0, 0x02, 0}, hb)),
		one("defect5-heartbeat-init", seedPkt(hb, seedInit(7, 0))),
		one("defect5-init-heartbeat", seedPkt(seedInit(7, 0), hb)),
		one("data", seedPkt(data)),
		one("sack", seedPkt(&wire.Sack{CumTSNAck: 5, ARwnd: 1000, GapBlocks: []wire.GapBlock{{Start: 2, End: 3}}, DupTSNs: []uint32{1}})),
		one("shutdown", seedPkt(&wire.Shutdown{CumTSNAck: 5})),
		one("shutdown-ack", seedPkt(&wire.ShutdownAck{})),
		one("shutdown-complete", seedPkt(&wire.ShutdownComplete{})),
		one("abort", seedPkt(&wire.Abort{Causes: []wire.Cause{&wire.UserInitiatedAbortCause{Reason: []byte("seed")}}})),
		one("abort-t", seedPkt(&wire.Abort{TagReflected: true})),
		one("error-stale", seedPkt(&wire.ErrorChunk{Causes: []wire.Cause{&wire.StaleCookieCause{Staleness: 1000}}})),
		one("error-stream", seedPkt(&wire.ErrorChunk{Causes: []wire.Cause{&wire.InvalidStreamCause{StreamID: 9}}})),
		one("cookie-ack", seedPkt(&wire.CookieAck{})),
		one("cookie-echo", seedPkt(&wire.CookieEcho{Cookie: make([]byte, 80)}, data)),
		one("cookie-echo-replayed", seedPkt(&wire.CookieEcho{}, data)),
		one("data-in-window", seedPkt(data, &wire.Data{TSN: 2, StreamID: 0, PPID: 18, Beginning: true, Payload: []byte("first")},
			&wire.Data{TSN: 4, StreamID: 0, PPID: 18, Ending: true, Payload: []byte("last")})),
		one("sack-gap", seedPkt(&wire.Sack{CumTSNAck: 1, ARwnd: 0, GapBlocks: []wire.GapBlock{{Start: 2, End: 2}, {Start: 4, End: 9}}})),
		one("forward-tsn", seedPkt(&wire.ForwardTSN{NewCumTSN: 9})),
		one("unknown-report", seedPkt(wire.RawChunk{Type: 0x70, Value: []byte{1, 2, 3}}, hb)),
		one("unknown-skip-report", seedPkt(wire.RawChunk{Type: 0xF0, Value: []byte{1, 2, 3}}, hb)),
		{name: "data-sack-heartbeat-3", ctl: ctl, pkts: [3][]byte{seedPkt(data), seedPkt(&wire.Sack{CumTSNAck: 1}), seedPkt(hb)}},
	}
}

// engineSeeds lists the seeds of each target, by corpus directory.
func engineSeeds() map[string][]engineSeed {
	out := map[string][]engineSeed{}
	add := func(target string, ctls []byte, extra func(ctl byte) []engineSeed) {
		for _, ctl := range ctls {
			ss := commonSeeds(ctl)
			if extra != nil {
				ss = append(ss, extra(ctl)...)
			}
			for _, s := range ss {
				s.name = fmt.Sprintf("%s-%02x", s.name, s.ctl)
				out[target] = append(out[target], s)
			}
		}
	}
	inits := func(ctl byte) []engineSeed {
		return []engineSeed{
			{name: "init", ctl: ctl, pkts: [3][]byte{seedPkt(seedInit(9, 0))}},
			{name: "defect3-init-171-unrecognized", ctl: ctl, pkts: [3][]byte{seedPkt(seedInit(9, 171))}},
		}
	}
	initAcks := func(ctl byte) []engineSeed {
		return []engineSeed{
			{name: "init-ack", ctl: ctl, pkts: [3][]byte{seedPkt(seedInitAck(0))}},
			{name: "init-ack-171-unrecognized", ctl: ctl, pkts: [3][]byte{seedPkt(seedInitAck(171))}},
		}
	}
	// The 32 KB packets of defects 1 and 2 (about 130 KB as corpus files)
	// once each, where they panicked.
	huge := func(target string, ctl byte, name string, p []byte) {
		out[target] = append(out[target], engineSeed{name: fmt.Sprintf("%s-%02x", name, ctl), ctl: ctl, pkts: [3][]byte{p}})
	}
	huge("FuzzListener", fzRightTag|fzUDP, "defect1-init-8180-unrecognized", seedPkt(seedInit(9, 8180)))
	huge("FuzzCookieWait", fzRightTag|fzUDP, "defect1-init-ack-8180-unrecognized", seedPkt(seedInitAck(8180)))
	huge("FuzzEstablished", fzRightTag|fzUDP, "defect2-8200-unknown-chunks", seedUnknownChunks(8200))
	both := func(a, b func(byte) []engineSeed) func(byte) []engineSeed {
		return func(ctl byte) []engineSeed { return append(a(ctl), b(ctl)...) }
	}
	// The listener: tag 0 is what "right" means; native and UDP.
	add("FuzzListener", []byte{fzRightTag, fzRightTag | fzUDP}, inits)
	add("FuzzCookieWait", []byte{fzRightTag, fzRightTag | fzUDP, 0}, initAcks)
	add("FuzzCookieEchoed", []byte{fzRightTag, fzRightTag | fzOtherHost | fzUDP}, both(inits, initAcks))
	add("FuzzEstablished", []byte{fzRightTag, fzRightTag | fzOtherHost | fzUDP, fzUDP}, inits)
	var sh []byte
	for v := byte(0); v < 4; v++ {
		sh = append(sh, fzRightTag|v<<fzVariantSh, fzRightTag|fzUDP|v<<fzVariantSh)
	}
	add("FuzzShutdown", sh, inits)
	return out
}

// corpusFile encodes a seed in the "go test fuzz v1" format the fuzzing
// engine reads (its marshalCorpusFile).
func corpusFile(s engineSeed) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	fmt.Fprintf(&b, "byte(%q)\n", s.ctl)
	for _, p := range s.pkts {
		fmt.Fprintf(&b, "[]byte(%q)\n", p)
	}
	return []byte(b.String())
}

var updateEngineSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite the seed files under testdata/fuzz from fuzz_seeds_test.go")

// The checked-in seed files must be what engineSeeds says (other files in
// those directories are inputs the fuzzer found, kept as regressions).
func TestEngineFuzzSeedCorpus(t *testing.T) {
	for target, seeds := range engineSeeds() {
		dir := filepath.Join("testdata", "fuzz", target)
		for _, s := range seeds {
			path := filepath.Join(dir, "seed-"+s.name)
			want := corpusFile(s)
			if *updateEngineSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is missing or stale (%v); regenerate with: go test ./stack/engine -run TestEngineFuzzSeedCorpus -update-fuzz-seeds", path, err)
			}
		}
	}
}
