package engine_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/internal/auth"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// keysWith returns an AuthKeys holding id -> secret pairs; the first is active.
func keysWith(t *testing.T, pairs ...any) *engine.AuthKeys {
	t.Helper()
	k := engine.NewAuthKeys()
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := k.Add(uint16(pairs[i].(int)), []byte(pairs[i+1].(string))); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func authCfg(k *engine.AuthKeys) engine.Config {
	return engine.Config{Auth: engine.AuthConfig{Keys: k, Required: true}}
}

// wireTrace records the chunk types of every packet delivered, by sender.
type wireTrace struct {
	pkts []tracedPacket
}

type tracedPacket struct {
	fromServer bool
	types      []wire.ChunkType
	hmacID     wire.HMACID // of the leading AUTH chunk
	keyID      uint16
	raw        []byte
}

func (w *wireTrace) attach(l *lab) {
	l.net.Trace = func(_ time.Time, from, _ *simNode, pkt []byte) {
		var p wire.Packet
		if p.Unmarshal(pkt) != nil {
			return
		}
		tp := tracedPacket{fromServer: from == l.sn, raw: append([]byte(nil), pkt...)}
		for _, c := range p.Chunks {
			tp.types = append(tp.types, c.Type)
		}
		if len(p.Chunks) > 0 && p.Chunks[0].Type == wire.TypeAuth {
			var a wire.Auth
			if a.Unmarshal(p.Chunks[0]) == nil {
				tp.hmacID, tp.keyID = a.HMACID, a.SharedKeyID
			}
		}
		w.pkts = append(w.pkts, tp)
	}
}

// TestAuthRefusesWithoutTheKey: a listener requiring SCTP-AUTH with key 1
// and dialers without it. None gets an association or reaches the
// acceptor (so a gateway dials nothing), and each refusal is counted.
func TestAuthRefusesWithoutTheKey(t *testing.T) {
	for _, c := range []struct {
		name   string
		client func(t *testing.T) engine.Config
		// unauth, badMAC are the server's counts (at least, for
		// retransmitted COOKIE ECHOs).
		unauth, badMAC bool
		// abortCause: the client is refused at once with this cause.
		abortCause wire.CauseCode
	}{
		{"no SCTP-AUTH", func(*testing.T) engine.Config { return engine.Config{} }, true, false, wire.CauseProtocolViolation},
		{"wrong secret", func(t *testing.T) engine.Config { return authCfg(keysWith(t, 1, "not the tunnel key")) }, false, true, 0},
		{"other key id", func(t *testing.T) engine.Config { return authCfg(keysWith(t, 2, "tunnel key")) }, false, true, 0},
		{"empty key 0", func(*testing.T) engine.Config { return authCfg(engine.NewAuthKeys()) }, false, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			sk := keysWith(t, 1, "tunnel key")
			l := newLab(t, 1800, link.UDP, authCfg(sk))
			cfg := c.client(t)
			cfg.InitMsg.MaxAttempts = 3
			_, rec := l.dial(cfg)
			if !l.net.RunUntil(rec.ended, 10*time.Minute) {
				t.Fatalf("client never gave up: %s", rec.types())
			}
			ev := rec.find(engine.CantStartAssoc)
			if ev == nil {
				t.Fatalf("client events %s, want CANT_STR_ASSOC", rec.types())
			}
			if c.abortCause != 0 {
				if !errors.Is(ev.Err, engine.ErrPeerAborted) || len(ev.Causes) != 1 || ev.Causes[0].CauseCode() != c.abortCause {
					t.Errorf("refusal: %v %v", ev.Err, ev.Causes)
				}
			} else if !errors.Is(ev.Err, engine.ErrPeerUnreachable) {
				t.Errorf("client ended with %v, want its COOKIE ECHOs unanswered", ev.Err)
			}
			if len(l.reqs) != 0 {
				t.Errorf("the acceptor was asked %d times", len(l.reqs))
			}
			n := 0
			l.sn.Host.Associations(func(*engine.Association) { n++ })
			if n != 0 {
				t.Errorf("server holds %d associations", n)
			}
			st, hs := sk.Stats(), l.sn.Host.Stats()
			if (st.Unauthenticated > 0) != c.unauth || (st.BadMAC > 0) != c.badMAC || st.Authenticated != 0 {
				t.Errorf("server auth stats %+v", st)
			}
			if (hs.DiscardedBadAuth > 0) != c.badMAC || (hs.DiscardedUnauthenticated > 0) != c.unauth {
				t.Errorf("server discards: bad auth %d, unauthenticated %d", hs.DiscardedBadAuth, hs.DiscardedUnauthenticated)
			}
		})
	}
}

// handshake is a dialer played by hand against a listener: it sends an
// INIT offering SCTP-AUTH and keeps the INIT ACK, so that tests can send
// COOKIE ECHOs with and without a proper AUTH chunk.
type handshake struct {
	l       *lab
	from    link.Path
	port    uint16
	tag     uint32
	peerTag uint32
	cookie  []byte
	sess    *auth.Session
}

func newHandshake(t *testing.T, l *lab, from link.Path, port uint16, ring *auth.Keyring) *handshake {
	t.Helper()
	hs := &handshake{l: l, from: from, port: port, tag: 0xC0FFEE}
	local := auth.Params{Random: bytes.Repeat([]byte{7}, 32), HMACs: []wire.HMACID{wire.HMACSHA1},
		Chunks: []wire.ChunkType{wire.TypeCookieAck, wire.TypeSack}, HasChunks: true}
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: hs.tag, ARwnd: 1 << 16, OutStreams: 1, InStreams: 1, InitialTSN: 100,
		Params: append([]wire.Param{&wire.SupportedExtensionsParam{Types: []wire.ChunkType{wire.TypeAuth}}}, local.Params()...)}}
	out := probe{nd: l.sn, from: from}.send(t, l.net.Now(), wire.CommonHeader{SrcPort: port, DstPort: serverPort}, ini)
	if len(out) != 1 || out[0].Chunks[0].Type != wire.TypeInitAck {
		t.Fatalf("INIT answered with %s", chunkTypes(out))
	}
	var ia wire.InitAck
	if err := ia.Unmarshal(out[0].Chunks[0]); err != nil {
		t.Fatal(err)
	}
	hs.peerTag = ia.InitiateTag
	hs.cookie = ia.Param(wire.ParamStateCookie).(*wire.StateCookieParam).Cookie
	peer, offered := auth.FromWire(ia.Params)
	if !offered {
		t.Fatal("the INIT ACK offers no SCTP-AUTH")
	}
	var err error
	if hs.sess, err = auth.NewSession(ring, &local, &peer); err != nil {
		t.Fatal(err)
	}
	return hs
}

// cookieEcho returns the packet AUTH? + COOKIE ECHO + DATA, signed by
// the handshake's session when signed.
func (hs *handshake) cookieEcho(signed bool) []byte {
	hdr := wire.CommonHeader{SrcPort: hs.port, DstPort: serverPort, VerificationTag: hs.peerTag}
	data := &wire.Data{Beginning: true, Ending: true, TSN: 100, PPID: 18, Payload: []byte("before COMM_UP")}
	if !signed {
		return wire.AppendPacket(nil, hdr, &wire.CookieEcho{Cookie: hs.cookie}, data)
	}
	alg := hs.sess.SendAlgorithm()
	pkt := wire.AppendPacket(nil, hdr, &wire.Auth{HMAC: make([]byte, alg.Size)}, &wire.CookieEcho{Cookie: hs.cookie}, data)
	hs.sess.Sign(pkt, wire.CommonHeaderLen)
	wire.SetChecksum(pkt)
	return pkt
}

// deliver hands pkt to the server as if from path from and returns what
// it answers.
func deliver(t *testing.T, l *lab, from link.Path, pkt []byte) []wire.Packet {
	t.Helper()
	h := l.sn.Host
	h.ReleaseOutgoing()
	h.HandlePacket(0, from, pkt, l.net.Now())
	var out []wire.Packet
	for _, o := range h.Outgoing() {
		var p wire.Packet
		if err := p.Unmarshal(append([]byte(nil), o.Buf...)); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	h.ReleaseOutgoing()
	return out
}

// TestAuthCookieEcho: the listener builds nothing from a COOKIE ECHO that
// is not authenticated, or authenticated with the wrong key, and answers
// nothing; the same COOKIE ECHO properly authenticated builds the
// association, and the DATA bundled behind it is delivered. Replayed later
// (from the same path, or another address, while the association lives
// or after it ended), that COOKIE ECHO builds nothing again.
func TestAuthCookieEcho(t *testing.T) {
	sk := keysWith(t, 1, "tunnel key")
	l := newLab(t, 1801, link.UDP, authCfg(sk))
	from := link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: l.cn.UDPPort}
	good := &auth.Keyring{}
	if err := good.Add(1, []byte("tunnel key")); err != nil {
		t.Fatal(err)
	}
	wrong := &auth.Keyring{}
	if err := wrong.Add(1, []byte("a guess")); err != nil {
		t.Fatal(err)
	}

	hs := newHandshake(t, l, from, 40000, wrong)
	if out := deliver(t, l, from, hs.cookieEcho(false)); len(out) != 0 || len(l.reqs) != 0 {
		t.Fatalf("unauthenticated COOKIE ECHO: answered %s, %d accepts", chunkTypes(out), len(l.reqs))
	}
	if st := sk.Stats(); st.Unauthenticated != 1 || st.BadMAC != 0 {
		t.Fatalf("stats %+v, want 1 unauthenticated", st)
	}
	if out := deliver(t, l, from, hs.cookieEcho(true)); len(out) != 0 || len(l.reqs) != 0 {
		t.Fatalf("COOKIE ECHO with the wrong key: answered %s, %d accepts", chunkTypes(out), len(l.reqs))
	}
	if st := sk.Stats(); st.BadMAC != 1 {
		t.Fatalf("stats %+v, want 1 bad MAC", st)
	}

	hs = newHandshake(t, l, from, 40001, good)
	echo := hs.cookieEcho(true)
	out := deliver(t, l, from, echo)
	if len(l.reqs) != 1 {
		t.Fatalf("authenticated COOKIE ECHO: %d accepts (answered %s)", len(l.reqs), chunkTypes(out))
	}
	if len(out) != 1 || len(out[0].Chunks) < 2 || out[0].Chunks[0].Type != wire.TypeAuth || out[0].Chunks[1].Type != wire.TypeCookieAck {
		t.Fatalf("answer %s, want AUTH, COOKIE ACK first", chunkTypes(out))
	}
	l.net.RunFor(time.Second)
	if len(l.srv.msgs) != 1 || string(l.srv.msgs[0].Data) != "before COMM_UP" {
		t.Fatalf("DATA behind the COOKIE ECHO: %d messages", len(l.srv.msgs))
	}
	if st := sk.Stats(); st.Authenticated != 1 {
		t.Fatalf("stats %+v, want 1 authenticated", st)
	}

	// Replays: from another address while the association lives, then
	// from anywhere after it ended.
	other := from
	other.Remote = netipAddr("198.18.0.66")
	if out := deliver(t, l, other, echo); len(out) != 0 || len(l.reqs) != 1 {
		t.Fatalf("replay from elsewhere: answered %s, %d accepts", chunkTypes(out), len(l.reqs))
	}
	l.srv.assoc.Abort(l.net.Now())
	for _, p := range []link.Path{from, other} {
		if out := deliver(t, l, p, echo); len(out) != 0 || len(l.reqs) != 1 {
			t.Fatalf("replay after the end: answered %s, %d accepts", chunkTypes(out), len(l.reqs))
		}
	}
	if n := l.sn.Host.Stats().DiscardedReplayedCookie; n != 3 {
		t.Errorf("%d replayed cookies counted, want 3", n)
	}
}

// TestAuthInitParams applies RFC 4895 6.1 to an INIT's parameters: a
// RANDOM that is not 32 bytes, or an HMAC-ALGO without SHA-1, is refused
// with a Protocol Violation; a proper one earns an INIT ACK offering
// SCTP-AUTH (RANDOM, CHUNKS, HMAC-ALGO and AUTH in Supported Extensions).
func TestAuthInitParams(t *testing.T) {
	sk := keysWith(t, 1, "tunnel key")
	l := newLab(t, 1802, link.UDP, authCfg(sk))
	from := link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: l.cn.UDPPort}
	ext := &wire.SupportedExtensionsParam{Types: []wire.ChunkType{wire.TypeAuth}}
	for _, c := range []struct {
		name   string
		params []wire.Param
		ok     bool
	}{
		{"short RANDOM", []wire.Param{ext, &wire.RandomParam{Random: make([]byte, 16)}, &wire.RequestedHMACAlgoParam{IDs: []wire.HMACID{1}}}, false},
		{"no SHA-1", []wire.Param{ext, &wire.RandomParam{Random: make([]byte, 32)}, &wire.RequestedHMACAlgoParam{IDs: []wire.HMACID{3}}}, false},
		{"proper", []wire.Param{ext, &wire.RandomParam{Random: make([]byte, 32)}, &wire.RequestedHMACAlgoParam{IDs: []wire.HMACID{3, 1}}}, true},
	} {
		ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 7, ARwnd: 1 << 16, OutStreams: 1, InStreams: 1, InitialTSN: 1, Params: c.params}}
		out := probe{nd: l.sn, from: from}.send(t, l.net.Now(), wire.CommonHeader{SrcPort: 40000, DstPort: serverPort}, ini)
		if len(out) != 1 {
			t.Fatalf("%s: answered %s", c.name, chunkTypes(out))
		}
		if !c.ok {
			if out[0].Chunks[0].Type != wire.TypeAbort {
				t.Errorf("%s: answered %s, want ABORT", c.name, chunkTypes(out))
			} else if causes, _ := wire.ParseCauses(out[0].Chunks[0].Value); len(causes) != 1 || causes[0].CauseCode() != wire.CauseProtocolViolation {
				t.Errorf("%s: causes %v", c.name, causes)
			}
			continue
		}
		var ia wire.InitAck
		if out[0].Chunks[0].Type != wire.TypeInitAck || ia.Unmarshal(out[0].Chunks[0]) != nil {
			t.Fatalf("%s: answered %s", c.name, chunkTypes(out))
		}
		p, offered := auth.FromWire(ia.Params)
		se, _ := ia.Param(wire.ParamSupportedExtensions).(*wire.SupportedExtensionsParam)
		if !offered || p.Check() != nil || !p.HasChunks || len(p.Chunks) != len(engine.DefaultAuthChunks) || se == nil || !se.Has(wire.TypeAuth) ||
			p.HMACs[0] != wire.HMACSHA256 {
			t.Errorf("INIT ACK offers %+v, extensions %v", p, se)
		}
	}
}

// TestAuthNotRequired: a listener with keys but without Required serves a
// peer that offers no SCTP-AUTH, unauthenticated, and says so with
// AuthNoAuth after COMM_UP.
func TestAuthNotRequired(t *testing.T) {
	sk := keysWith(t, 1, "tunnel key")
	l := newLab(t, 1803, link.UDP, engine.Config{Auth: engine.AuthConfig{Keys: sk}})
	var w wireTrace
	w.attach(l)
	a, rec := l.up(engine.Config{})
	if err := a.Send(l.net.Now(), []byte("plain"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	l.net.RunFor(time.Second)
	ev := l.srv.find(engine.AuthenticationEvent)
	if ev == nil || ev.AuthIndication != engine.AuthNoAuth || len(l.srv.msgs) != 1 {
		t.Fatalf("server events %s, %d messages", l.srv.types(), len(l.srv.msgs))
	}
	if rec.has(engine.AuthenticationEvent) {
		t.Error("the client, without keys, reported SCTP-AUTH news")
	}
	for _, p := range w.pkts {
		if p.types[0] == wire.TypeAuth {
			t.Fatalf("an AUTH chunk was sent: %v", p.types)
		}
	}
}

// TestAuthSpoofedAbort: with the verification tags known (an on-path
// observer), an ABORT, with or without the T bit, that is not
// authenticated ends nothing; the peer's real, authenticated ABORT does.
func TestAuthSpoofedAbort(t *testing.T) {
	sk, ck := keysWith(t, 1, "tunnel key"), keysWith(t, 1, "tunnel key")
	l := newLab(t, 1804, link.UDP, authCfg(sk))
	a, rec := l.up(authCfg(ck))
	cl, cp := a.Tags()
	sp := link.Path{Local: l.cn.Addr, Remote: l.sn.Addr, RemotePort: 9899}
	pc := probe{nd: l.cn, from: sp}
	for _, c := range []struct {
		tag   uint32
		chunk wire.Chunk
	}{
		{cl, &wire.Abort{}},
		{cp, &wire.Abort{TagReflected: true}},
		{cl, &wire.Shutdown{CumTSNAck: 0}},
	} {
		pc.send(t, l.net.Now(), wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort(), VerificationTag: c.tag}, c.chunk)
	}
	l.net.RunFor(time.Second)
	if a.State() != engine.StateEstablished || rec.ended() {
		t.Fatalf("a forged chunk changed the client: %v %s", a.State(), rec.types())
	}
	if st := ck.Stats(); st.Unauthenticated != 3 {
		t.Errorf("client counted %d unauthenticated packets, want 3", st.Unauthenticated)
	}
	l.srv.assoc.Abort(l.net.Now(), &wire.UserInitiatedAbortCause{Reason: []byte("real")})
	l.net.RunFor(time.Second)
	if ev := rec.find(engine.CommLost); ev == nil || !errors.Is(ev.Err, engine.ErrPeerAborted) {
		t.Fatalf("the authenticated ABORT did not end the client: %s", rec.types())
	}
}

// TestAuthUnsupportedHMAC: an AUTH chunk with an HMAC identifier we did not
// offer gets the chunks behind it discarded and an ERROR with the
// Unsupported HMAC Identifier cause (RFC 4895 6.3, 4.1).
func TestAuthUnsupportedHMAC(t *testing.T) {
	sk, ck := keysWith(t, 1, "tunnel key"), keysWith(t, 1, "tunnel key")
	l := newLab(t, 1805, link.UDP, authCfg(sk))
	a, _ := l.up(authCfg(ck))
	_, sTag := a.Tags()
	from := link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: l.cn.UDPPort}
	pkt := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: a.LocalPort(), DstPort: serverPort, VerificationTag: sTag},
		&wire.Auth{SharedKeyID: 1, HMACID: 2, HMAC: make([]byte, 20)},
		&wire.Data{Beginning: true, Ending: true, TSN: 12345, Payload: []byte("x")})
	out := deliver(t, l, from, pkt)
	var cause *wire.UnsupportedHMACCause
	for _, p := range out {
		for _, c := range p.Chunks {
			if c.Type == wire.TypeError {
				if cs, _ := wire.ParseCauses(c.Value); len(cs) == 1 {
					cause, _ = cs[0].(*wire.UnsupportedHMACCause)
				}
			}
		}
	}
	if cause == nil || cause.HMACID != 2 {
		t.Fatalf("answer %s, want an ERROR with cause 0x0105 for HMAC 2", chunkTypes(out))
	}
	if len(l.srv.msgs) != 0 || sk.Stats().BadMAC != 1 {
		t.Errorf("%d messages delivered, stats %+v", len(l.srv.msgs), sk.Stats())
	}
}

// TestAuthConfigValidate names what is wrong.
func TestAuthConfigValidate(t *testing.T) {
	k := engine.NewAuthKeys()
	for _, c := range []struct {
		cfg  engine.AuthConfig
		want string
	}{
		{engine.AuthConfig{Required: true}, "without Auth.Keys"},
		{engine.AuthConfig{Keys: k, Chunks: []wire.ChunkType{wire.TypeInit}}, "cannot be authenticated"},
		{engine.AuthConfig{Keys: k, HMACs: []wire.HMACID{2}}, "HMAC identifier 2"},
	} {
		err := engine.Config{Auth: c.cfg}.WithDefaults().Validate()
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	// SHA-1 is added when missing, without touching the caller's slice.
	ids := make([]wire.HMACID, 1, 4)
	ids[0] = wire.HMACSHA256
	got := engine.Config{Auth: engine.AuthConfig{Keys: k, HMACs: ids}}.WithDefaults().Auth.HMACs
	if len(got) != 2 || got[1] != wire.HMACSHA1 || ids[:2][1] != 0 {
		t.Errorf("HMACs %v (caller's %v)", got, ids[:2])
	}
}

// TestAuthStaleCookie: a path slower than the cookie's life. The listener's
// Stale Cookie ERROR (RFC 9260 5.2.6) is authenticated with the key the
// cookie gives, so that the dialer, which requires ERROR authenticated,
// takes it and retries with a Cookie Preservative instead of discarding it
// and giving up.
func TestAuthStaleCookie(t *testing.T) {
	const delay, life = 300 * time.Millisecond, 200 * time.Millisecond
	sk, ck := keysWith(t, 1, "tunnel key"), keysWith(t, 1, "tunnel key")
	srv := authCfg(sk)
	srv.Assoc.CookieLife = life
	l := newLab(t, 1806, link.Native, srv)
	l.cn.Imp.Delay, l.sn.Imp.Delay = delay, delay
	cli := authCfg(ck)
	cli.InitMsg.MaxAttempts = 4
	_, rec := l.dial(cli)
	if !l.net.RunUntil(func() bool { return rec.has(engine.CommUp) || rec.ended() }, 10*time.Minute) || !rec.has(engine.CommUp) {
		t.Fatalf("client %s: the stale cookie error was not taken", rec.types())
	}
	if st := ck.Stats(); st.Unauthenticated != 0 || st.BadMAC != 0 {
		t.Errorf("client auth stats %+v", st)
	}
}

// TestAuthForgeryMovesNoPath: with the verification tags known, a packet
// whose chunks do not authenticate (none behind an AUTH chunk, or behind
// one with a wrong HMAC) from the peer's address but another UDP port
// does not become the path's encapsulation port (RFC 6951 5.4 adopts the
// port of a packet that passed the tag check; with SCTP-AUTH in use it
// must have authenticated too): before, one such packet sent every later
// packet of the tunnel to the forger's port, until the peer's next packet
// moved it back. The peer's own authenticated packets from a new port
// (a NAT rebinding) still move it.
func TestAuthForgeryMovesNoPath(t *testing.T) {
	sk, ck := keysWith(t, 1, "tunnel key"), keysWith(t, 1, "tunnel key")
	l := newLab(t, 1807, link.UDP, authCfg(sk))
	a, rec := l.up(authCfg(ck))
	cl, _ := a.Tags()
	port := a.Status().Primary.Path.RemotePort
	forged := link.Path{Local: l.cn.Addr, Remote: l.sn.Addr, RemotePort: port + 1}
	hdr := wire.CommonHeader{SrcPort: serverPort, DstPort: a.LocalPort(), VerificationTag: cl}
	hb := &wire.Heartbeat{Info: []byte("where are you")}
	for _, chunks := range [][]wire.Chunk{
		{hb},
		{&wire.Auth{SharedKeyID: 1, HMACID: wire.HMACSHA256, HMAC: make([]byte, 32)}, hb},
	} {
		probe{nd: l.cn, from: forged}.send(t, l.net.Now(), hdr, chunks...)
		if got := a.Status().Primary.Path.RemotePort; got != port {
			t.Fatalf("after %d forged chunks the path's port is %d, want %d", len(chunks), got, port)
		}
	}
	if err := a.Send(l.net.Now(), []byte("still the tunnel"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	l.net.RunFor(time.Second)
	if len(l.srv.msgs) != 1 || rec.ended() {
		t.Fatalf("the server got %d messages after the forgeries; client %s", len(l.srv.msgs), rec.types())
	}
	if st := ck.Stats(); st.Unauthenticated != 1 || st.BadMAC != 1 {
		t.Errorf("client auth stats %+v, want one unauthenticated, one bad MAC", st)
	}
	// The server's NAT mapping changes: its authenticated packets from
	// the new port move the path there.
	l.sn.UDPPort = port + 2
	if err := a.Send(l.net.Now(), []byte("after the rebinding"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	l.net.RunFor(time.Second)
	if got := a.Status().Primary.Path.RemotePort; got != port+2 || len(l.srv.msgs) != 2 {
		t.Fatalf("after the server's rebinding the path's port is %d, want %d; %d messages", got, port+2, len(l.srv.msgs))
	}
}

// TestAuthCoversOnlyWhatFollows: an AUTH chunk that verifies covers the
// chunks after it and not those before it (RFC 4895 6.3): in
// DATA, AUTH, DATA from the peer that holds the key, the first DATA,
// which we require authenticated, is discarded and counted, the second
// is delivered.
func TestAuthCoversOnlyWhatFollows(t *testing.T) {
	sk := keysWith(t, 1, "tunnel key")
	l := newLab(t, 1808, link.UDP, authCfg(sk))
	from := link.Path{Local: l.sn.Addr, Remote: l.cn.Addr, RemotePort: l.cn.UDPPort}
	good := &auth.Keyring{}
	if err := good.Add(1, []byte("tunnel key")); err != nil {
		t.Fatal(err)
	}
	hs := newHandshake(t, l, from, 40002, good)
	deliver(t, l, from, hs.cookieEcho(true)) // DATA TSN 100 rides along
	l.net.RunFor(time.Second)
	if len(l.srv.msgs) != 1 {
		t.Fatalf("harness: %d messages after the handshake", len(l.srv.msgs))
	}
	before := &wire.Data{Unordered: true, Beginning: true, Ending: true, TSN: 101, Payload: []byte("before AUTH")}
	after := &wire.Data{Unordered: true, Beginning: true, Ending: true, TSN: 102, Payload: []byte("after AUTH")}
	alg := hs.sess.SendAlgorithm()
	hdr := wire.CommonHeader{SrcPort: hs.port, DstPort: serverPort, VerificationTag: hs.peerTag}
	pkt := wire.AppendPacket(nil, hdr, before, &wire.Auth{SharedKeyID: 1, HMAC: make([]byte, alg.Size)}, after)
	off := len(wire.AppendPacket(nil, hdr, before))
	hs.sess.Sign(pkt, off)
	wire.SetChecksum(pkt)
	unauth := sk.Stats().Unauthenticated
	deliver(t, l, from, pkt)
	l.net.RunFor(time.Second)
	var got []string
	for _, m := range l.srv.msgs {
		got = append(got, string(m.Data))
	}
	if len(got) != 2 || got[1] != "after AUTH" {
		t.Fatalf("delivered %q, want the handshake's message and \"after AUTH\" only", got)
	}
	if st := sk.Stats(); st.Unauthenticated != unauth+1 || st.BadMAC != 0 {
		t.Errorf("stats %+v, want one more unauthenticated and no bad MAC", st)
	}
}
