package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// pumpMsgs sends n messages from a (recorder got) in rounds, sizes cycling
// through small and larger than one packet, running the network between
// rounds; between is called before each round.
func pumpMsgs(t *testing.T, l *lab, a *engine.Association, n int, tag string, between func(round int)) {
	t.Helper()
	for i := 0; i < n; i++ {
		if between != nil {
			between(i)
		}
		size := []int{10, 900, 1400, 3000}[i%4]
		msg := fmt.Appendf(nil, "%s-%05d-", tag, i)
		for len(msg) < size {
			msg = append(msg, byte('a'+i%26))
		}
		for tries := 0; ; tries++ {
			err := a.Send(l.net.Now(), msg, engine.SndInfo{Stream: uint16(i % 3), PPID: 18})
			if err == nil {
				break
			}
			if err != engine.ErrFull || tries > 1000 {
				t.Fatalf("send %d: %v", i, err)
			}
			l.net.RunFor(10 * time.Millisecond)
		}
		l.net.RunFor(5 * time.Millisecond)
	}
}

// checkInOrder checks msgs hold tag-00000.. tag-(n-1) in order per stream.
func checkInOrder(t *testing.T, msgs []engine.Message, tag string, n int) {
	t.Helper()
	next := map[uint16]int{}
	got := 0
	for _, m := range msgs {
		var i int
		if len(m.Data) < len(tag)+7 || string(m.Data[:len(tag)+1]) != tag+"-" {
			continue
		}
		if _, err := fmt.Sscanf(string(m.Data[len(tag)+1:len(tag)+6]), "%d", &i); err != nil {
			continue
		}
		if i%3 != int(m.Stream) || i < next[m.Stream] {
			t.Fatalf("%s: message %d on stream %d out of order (expected at least %d)", tag, i, m.Stream, next[m.Stream])
		}
		next[m.Stream] = i + 3
		got++
	}
	if got != n {
		t.Fatalf("%s: %d messages delivered, want %d", tag, got, n)
	}
}

// TestAuthEndToEnd: two endpoints holding the key exchange data both ways
// (DATA bundled with the COOKIE ECHO too) and shut down. Every packet but
// INIT, INIT ACK and SHUTDOWN COMPLETE starts with an AUTH chunk with the
// HMAC the receiver prefers, and none exceeds the path MTU: the AUTH chunk's
// room is taken off every packet.
func TestAuthEndToEnd(t *testing.T) {
	for _, kind := range []link.Kind{link.UDP, link.Native} {
		t.Run(kind.String(), func(t *testing.T) {
			sk, ck := keysWith(t, 1, "tunnel key"), keysWith(t, 1, "tunnel key")
			srvCfg := authCfg(sk)
			cliCfg := authCfg(ck)
			cliCfg.Auth.HMACs = []wire.HMACID{wire.HMACSHA1} // the server signs with SHA-1
			l := newLab(t, 1810, kind, srvCfg)
			l.cn.Imp.PathMTU, l.sn.Imp.PathMTU = 1500, 1500
			l.cn.Imp.Loss, l.sn.Imp.Loss = 0.02, 0.02
			var w wireTrace
			w.attach(l)
			a, rec := l.dial(cliCfg)
			if err := a.Send(l.net.Now(), []byte("early"), engine.SndInfo{PPID: 18}); err != nil {
				t.Fatal(err)
			}
			if !l.net.RunUntil(func() bool { return rec.has(engine.CommUp) && l.srv != nil }, time.Minute) {
				t.Fatalf("no COMM_UP: %s", rec.types())
			}
			pumpMsgs(t, l, a, 200, "c2s", nil)
			pumpMsgs(t, l, l.srv.assoc, 200, "s2c", nil)
			a.Shutdown(l.net.Now())
			if !l.net.RunUntil(func() bool { return rec.has(engine.ShutdownComp) }, 10*time.Minute) {
				t.Fatalf("no SHUTDOWN_COMP: %s", rec.types())
			}
			checkInOrder(t, l.srv.msgs[1:], "c2s", 200)
			checkInOrder(t, rec.msgs, "s2c", 200)
			if string(l.srv.msgs[0].Data) != "early" {
				t.Errorf("first message %q", l.srv.msgs[0].Data)
			}
			if l.net.TooBig != 0 {
				t.Errorf("%d packets exceeded the path MTU", l.net.TooBig)
			}
			signed := 0
			for _, p := range w.pkts {
				switch p.types[0] {
				case wire.TypeInit, wire.TypeInitAck, wire.TypeShutdownComplete:
					continue
				case wire.TypeAuth:
					signed++
					want := wire.HMACSHA256
					if p.fromServer {
						want = wire.HMACSHA1
					}
					if p.hmacID != want || p.keyID != 1 {
						t.Fatalf("AUTH with HMAC %d key %d from server=%v", p.hmacID, p.keyID, p.fromServer)
					}
				default:
					t.Fatalf("unauthenticated packet %v (server=%v)", p.types, p.fromServer)
				}
			}
			cs, ss := ck.Stats(), sk.Stats()
			if signed == 0 || cs.BadMAC+ss.BadMAC+cs.Unauthenticated+ss.Unauthenticated != 0 || cs.Authenticated == 0 || ss.Authenticated == 0 {
				t.Errorf("%d signed packets; client %+v server %+v", signed, cs, ss)
			}
			// Every signed packet delivered was verified (lost ones were not).
			if got := cs.Authenticated + ss.Authenticated; got > cs.Signed+ss.Signed || got < uint64(signed) {
				t.Errorf("%d verified, %d delivered signed, %d signed", got, signed, cs.Signed+ss.Signed)
			}
		})
	}
}

// TestAuthPartialChunkList: a peer that requires only DATA authenticated
// gets AUTH on packets carrying DATA and not on the others.
func TestAuthPartialChunkList(t *testing.T) {
	sk, ck := keysWith(t, 1, "k"), keysWith(t, 1, "k")
	l := newLab(t, 1811, link.UDP, authCfg(sk))
	var w wireTrace
	w.attach(l)
	cliCfg := authCfg(ck)
	cliCfg.Auth.Chunks = []wire.ChunkType{wire.TypeData}
	a, _ := l.up(cliCfg)
	pumpMsgs(t, l, a, 20, "c2s", nil)
	pumpMsgs(t, l, l.srv.assoc, 20, "s2c", nil)
	l.net.RunFor(time.Second)
	var withData, without int
	for _, p := range w.pkts {
		if !p.fromServer {
			continue
		}
		hasData := false
		for _, c := range p.types {
			hasData = hasData || c == wire.TypeData
		}
		switch {
		case hasData && p.types[0] != wire.TypeAuth:
			t.Fatalf("DATA without AUTH: %v", p.types)
		case !hasData && p.types[0] == wire.TypeAuth:
			t.Fatalf("AUTH without need: %v", p.types)
		case hasData:
			withData++
		case p.types[0] == wire.TypeSack:
			without++
		}
	}
	if withData == 0 || without == 0 {
		t.Fatalf("%d server packets with DATA, %d SACKs alone", withData, without)
	}
}

// TestAuthRotationUnderTraffic rotates the key while data flows both ways
// over a lossy, reordering path: key 2 added to both ends, made active on
// the client, then on the server, then key 1 deleted from both. Nothing is
// lost or refused; each end hears AuthNewKey when its peer switches and
// AuthFreeKey when key 1 goes.
func TestAuthRotationUnderTraffic(t *testing.T) {
	sk, ck := keysWith(t, 1, "old key"), keysWith(t, 1, "old key")
	l := newLab(t, 1812, link.UDP, authCfg(sk))
	for _, nd := range []*simNode{l.cn, l.sn} {
		nd.Imp.Loss, nd.Imp.Reorder, nd.Imp.Delay = 0.01, 0.02, 5*time.Millisecond
	}
	a, rec := l.up(authCfg(ck))
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	steps := map[int]func(){
		50: func() {
			must(sk.Add(2, []byte("new key")))
			must(ck.Add(2, []byte("new key")))
		},
		100: func() { must(ck.SetActive(2)) },
		150: func() { must(sk.SetActive(2)) },
		200: func() {
			must(sk.Delete(1))
			must(ck.Delete(1))
		},
	}
	// Both directions at once: the server echoes every round.
	pumpMsgs(t, l, a, 300, "c2s", func(i int) {
		if f := steps[i]; f != nil {
			f()
		}
		msg := fmt.Appendf(nil, "s2c-%05d-", i)
		for len(msg) < 500 {
			msg = append(msg, 'x')
		}
		if err := l.srv.assoc.Send(l.net.Now(), msg, engine.SndInfo{Stream: uint16(i % 3)}); err != nil {
			t.Fatalf("server send %d: %v", i, err)
		}
	})
	l.net.RunFor(30 * time.Second)
	checkInOrder(t, l.srv.msgs, "c2s", 300)
	checkInOrder(t, rec.msgs, "s2c", 300)
	for _, k := range []*engine.AuthKeys{sk, ck} {
		st := k.Stats()
		if st.BadMAC != 0 || st.Unauthenticated != 0 || len(st.Keys) != 1 || st.Keys[0].ID != 2 || st.Keys[0].In == 0 || st.Keys[0].Out == 0 {
			t.Errorf("after rotation: %+v", st)
		}
	}
	for name, r := range map[string]*recorder{"client": rec, "server": l.srv} {
		var newKey, freeKey int
		for _, ev := range r.events {
			if ev.Type != engine.AuthenticationEvent {
				continue
			}
			switch {
			case ev.AuthIndication == engine.AuthNewKey && ev.AuthKeyID == 2:
				newKey++
			case ev.AuthIndication == engine.AuthFreeKey && ev.AuthKeyID == 1:
				freeKey++
			default:
				t.Errorf("%s: unexpected %v key %d", name, ev.AuthIndication, ev.AuthKeyID)
			}
		}
		if newKey != 1 || freeKey != 1 {
			t.Errorf("%s: %d NEW_KEY, %d FREE_KEY events, want 1 and 1", name, newKey, freeKey)
		}
	}
	if a.State() != engine.StateEstablished {
		t.Fatalf("client %v", a.State())
	}
}

// TestAuthDeletedKeyRefused: a key deleted on one end while the other
// still sends with it: the packets are refused as bad MACs, and the
// association fails rather than accept them.
func TestAuthDeletedKeyRefused(t *testing.T) {
	sk, ck := keysWith(t, 1, "old key", 2, "new key"), keysWith(t, 1, "old key")
	l := newLab(t, 1813, link.UDP, authCfg(sk))
	a, rec := l.up(authCfg(ck))
	if err := sk.SetActive(2); err != nil {
		t.Fatal(err)
	}
	if err := sk.Delete(1); err != nil {
		t.Fatal(err)
	}
	// The server now signs with key 2, which the client lacks, and refuses
	// the client's key 1.
	if err := a.Send(l.net.Now(), []byte("lost"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(rec.ended, 30*time.Minute) {
		t.Fatalf("association survived with no common key: %s", rec.types())
	}
	if len(l.srv.msgs) != 0 || sk.Stats().BadMAC == 0 || ck.Stats().BadMAC == 0 {
		t.Errorf("%d messages; server %+v client %+v", len(l.srv.msgs), sk.Stats(), ck.Stats())
	}
}

// TestAuthAddsNoAllocations: signing and verifying reuse their HMAC state
// and the packet's buffer: a message sent and acknowledged over an
// authenticated association allocates no more than over a plain one.
func TestAuthAddsNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	perMsg := func(cfg engine.Config) float64 {
		l := newLab(t, 1814, link.UDP, cfg)
		a, _ := l.up(cfg)
		msg := make([]byte, 200)
		round := func() {
			if err := a.Send(l.net.Now(), msg, engine.SndInfo{}); err != nil {
				t.Fatal(err)
			}
			l.net.RunFor(300 * time.Millisecond)
			l.srv.msgs = l.srv.msgs[:0]
		}
		for range 50 {
			round()
		}
		return testing.AllocsPerRun(200, round)
	}
	plain := perMsg(engine.Config{NoDelay: true})
	k1 := keysWith(t, 1, "k") // both ends share it: the same secret
	authed := perMsg(engine.Config{NoDelay: true, Auth: engine.AuthConfig{Keys: k1, Required: true}})
	t.Logf("allocations per message: %.2f plain, %.2f authenticated", plain, authed)
	if authed > plain+0.05 {
		t.Errorf("SCTP-AUTH adds %.2f allocations per message", authed-plain)
	}
}
