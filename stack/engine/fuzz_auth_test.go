package engine_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// FuzzAuthEstablished: an association authenticated with SCTP-AUTH (RFC
// 4895, every chunk type listed), data in flight both ways, and fuzzed
// packets from an attacker on the path who knows the tags, the cookie and
// the TSNs but not the key (the control byte of fuzz_engine_test.go). Nothing
// such an attacker sends may end or change the association, or deliver a
// message: both sides stay ESTABLISHED and receive exactly what the other
// sent, and the engine's invariants hold.
func FuzzAuthEstablished(f *testing.F) {
	for _, s := range authSeeds() {
		f.Add(s.ctl, s.pkts[0], s.pkts[1], s.pkts[2])
	}
	f.Fuzz(func(t *testing.T, ctl byte, p1, p2, p3 []byte) {
		l, seen := newFuzzRig(t, ctl)
		keys := keysWith(t, 1, "fuzz key")
		cfg := engine.Config{Auth: engine.AuthConfig{Keys: keys, Required: true}}
		l.sn.Host.Unlisten(serverPort)
		if err := l.sn.Host.Listen(serverPort, cfg, engine.AcceptFunc(func(r *engine.AcceptRequest) {
			l.reqs = append(l.reqs, r)
			l.accept(r)
		})); err != nil {
			t.Fatal(err)
		}
		a, rec := l.up(cfg)
		l.cn.Imp.Delay, l.sn.Imp.Delay = 10*time.Millisecond, 10*time.Millisecond
		sendBurst(t, l, a, 20)
		sendBurst(t, l, l.srv.assoc, 5)
		l.net.RunFor(15 * time.Millisecond)
		r := fuzzRigFor(l, seen, a, ctl)
		paths := pathsOf(r.a)
		r.inject(ctl, fuzzPackets(p1, p2, p3)...)
		// Not even for a moment: a path moved by a forgery (RFC 6951 5.4)
		// sends the tunnel elsewhere until the peer's next packet.
		if got := pathsOf(r.a); !slices.Equal(got, paths) {
			t.Fatalf("an unauthenticated packet moved a path: %v, was %v", got, paths)
		}
		for _, nd := range []*sim.Node{l.cn, l.sn} {
			nd.Imp = sim.Impairments{Delay: time.Millisecond}
		}
		for range 20 {
			l.net.RunFor(time.Second)
			checkAssocs(t, l.cn, l.sn)
		}
		for _, x := range []*engine.Association{a, l.srv.assoc} {
			if x.State() != engine.StateEstablished {
				t.Fatalf("an unauthenticated packet moved an association to %v", x.State())
			}
		}
		if len(l.srvAll) != 1 || len(l.srv.msgs) != 20 || len(rec.msgs) != 5 {
			t.Fatalf("%d server associations, %d and %d messages delivered, want 1, 20 and 5", len(l.srvAll), len(l.srv.msgs), len(rec.msgs))
		}
		if st := keys.Stats(); st.Authenticated == 0 {
			t.Fatalf("auth stats %+v", st)
		}
	})
}

// FuzzAuthListener: a listener requiring SCTP-AUTH, after one
// authenticated association came and went (so the attacker on the path has
// seen its cookie): no fuzzed packet gets an association built, that is
// the acceptor asked, whatever it carries.
func FuzzAuthListener(f *testing.F) {
	for _, s := range authSeeds() {
		f.Add(s.ctl&^fzOtherHost, s.pkts[0], s.pkts[1], s.pkts[2])
	}
	f.Fuzz(func(t *testing.T, ctl byte, p1, p2, p3 []byte) {
		l, seen := newFuzzRig(t, ctl)
		keys := keysWith(t, 1, "fuzz key")
		cfg := engine.Config{Auth: engine.AuthConfig{Keys: keys, Required: true}}
		l.sn.Host.Unlisten(serverPort)
		if err := l.sn.Host.Listen(serverPort, cfg, engine.AcceptFunc(func(r *engine.AcceptRequest) {
			l.reqs = append(l.reqs, r)
			l.accept(r)
		})); err != nil {
			t.Fatal(err)
		}
		a, rec := l.up(cfg)
		a.Abort(l.net.Now())
		l.net.RunFor(time.Second)
		if !rec.ended() || len(l.reqs) != 1 {
			t.Fatalf("harness: %s, %d accepts", rec.types(), len(l.reqs))
		}
		r := &fuzzRig{l: l, to: l.sn, from: l.cn, lport: serverPort, rport: a.LocalPort(), seen: seen}
		r.inject(ctl, fuzzPackets(p1, p2, p3)...)
		for range 5 {
			l.net.RunFor(time.Second)
			checkAssocs(t, l.cn, l.sn)
		}
		if len(l.reqs) != 1 {
			t.Fatalf("an unauthenticated packet reached the acceptor (%d accepts)", len(l.reqs))
		}
	})
}

// authSeeds are what an attacker without the key would try: each chunk an
// association processes, bare, behind an AUTH chunk with a zero HMAC, with
// an HMAC identifier not offered, with a key id not held; a restart INIT
// and a COOKIE ECHO of the handshake's cookie (the harness fills it in).
func authSeeds() []engineSeed {
	data := &wire.Data{TSN: 1, Beginning: true, Ending: true, Payload: []byte("forged")}
	sack := &wire.Sack{CumTSNAck: 1, ARwnd: 1 << 20}
	auth := func(key uint16, hmac wire.HMACID, n int) *wire.Auth {
		return &wire.Auth{SharedKeyID: key, HMACID: hmac, HMAC: make([]byte, n)}
	}
	var seeds []engineSeed
	add := func(name string, ctl byte, pkts ...[]byte) {
		s := engineSeed{name: name, ctl: ctl}
		copy(s.pkts[:], pkts)
		seeds = append(seeds, s)
	}
	for _, host := range []byte{0, fzOtherHost} {
		ctl := fzRightTag | host
		add("abort", ctl, seedPkt(&wire.Abort{}))
		add("abort-t", ctl|fzKeepPorts, seedPkt(&wire.Abort{TagReflected: true}))
		add("data", ctl, seedPkt(data))
		add("shutdown", ctl, seedPkt(&wire.Shutdown{CumTSNAck: 0}))
		add("auth-zero-data", ctl, seedPkt(auth(1, wire.HMACSHA256, 32), data, sack))
		add("auth-sha1-abort", ctl, seedPkt(auth(1, wire.HMACSHA1, 20), &wire.Abort{}))
		add("auth-unknown-hmac", ctl, seedPkt(auth(1, 2, 20), &wire.Shutdown{}))
		add("auth-unknown-key", ctl, seedPkt(auth(9, wire.HMACSHA256, 32), data))
		add("auth-short", ctl, seedPkt(auth(1, wire.HMACSHA256, 4), data))
		add("sack-then-auth", ctl, seedPkt(sack, auth(1, wire.HMACSHA256, 32), data))
		add("cookie-echo", ctl, seedPkt(&wire.CookieEcho{}, data), seedPkt(auth(1, wire.HMACSHA256, 32), &wire.CookieEcho{}, data))
		add("init", ctl, seedPkt(seedInit(0x1234, 0)))
		add("heartbeat-ack", ctl, seedPkt(&wire.HeartbeatAck{Info: make([]byte, 16)}))
		add("error", ctl, seedPkt(&wire.ErrorChunk{Causes: []wire.Cause{&wire.StaleCookieCause{Staleness: 1}}}))
		// From the peer's address and another UDP port: a path move.
		add("heartbeat-other-port", ctl|fzOtherAddr|fzUDP, seedPkt(&wire.Heartbeat{Info: make([]byte, 8)}))
		add("auth-zero-sack-other-port", ctl|fzOtherAddr|fzUDP, seedPkt(auth(1, wire.HMACSHA256, 32), sack))
	}
	return seeds
}

// pathsOf lists an association's paths with their links, as the engine
// sends on them.
func pathsOf(a *engine.Association) []engine.PathStatus {
	var out []engine.PathStatus
	for _, p := range a.Status().Paths {
		out = append(out, engine.PathStatus{Link: p.Link, Path: p.Path})
	}
	return out
}
