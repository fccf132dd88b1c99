package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// wireLog records, by chunk type, when a node offered packets to the
// network, dropping those drop says to drop.
type wireLog struct {
	at   map[wire.ChunkType][]time.Time
	pkts [][]byte
}

func logWire(l *lab, nd *simNode, drop func(pkt []byte) bool) *wireLog {
	w := &wireLog{at: map[wire.ChunkType][]time.Time{}}
	nd.Imp.Drop = func(_ *simNode, pkt []byte) bool {
		var p wire.Packet
		if p.Unmarshal(pkt) == nil {
			for _, c := range p.Chunks {
				w.at[c.Type] = append(w.at[c.Type], l.net.Now())
			}
		}
		w.pkts = append(w.pkts, append([]byte(nil), pkt...))
		return drop != nil && drop(pkt)
	}
	return w
}

// TestStaleCookieErrorAndPreservative: RFC 9260 5.1.5 step 4 and 5.2.6.
// The server's cookie lives 200 ms; with 300 ms each way the COOKIE ECHO
// arrives 2 x 300 ms after the cookie was made, so 400 ms late: the ERROR's
// cause 3 says exactly that, in microseconds. The retried INIT carries a
// Cookie Preservative for the staleness plus the measured RTT (at most a
// second) plus 1 ms, and the retry comes up.
func TestStaleCookieErrorAndPreservative(t *testing.T) {
	const delay, life = 300 * time.Millisecond, 200 * time.Millisecond
	l := newLab(t, 40, link.Native, engine.Config{Assoc: engine.AssocParams{CookieLife: life}})
	l.cn.Imp.Delay, l.sn.Imp.Delay = delay, delay
	srvLog := logWire(l, l.sn, nil)
	cliLog := logWire(l, l.cn, nil)
	a, rec := l.up(engine.Config{})
	var stale *wire.StaleCookieCause
	for _, b := range srvLog.pkts {
		var p wire.Packet
		if p.Unmarshal(b) != nil || p.Chunks[0].Type != wire.TypeError {
			continue
		}
		var e wire.ErrorChunk
		if err := e.Unmarshal(p.Chunks[0]); err != nil {
			t.Fatal(err)
		}
		stale, _ = e.Causes[0].(*wire.StaleCookieCause)
	}
	wantStale := uint32((2*delay - life) / time.Microsecond)
	if stale == nil || stale.Staleness != wantStale {
		t.Fatalf("stale cookie cause %+v, want staleness %d us", stale, wantStale)
	}
	var inits []wire.Init
	for _, b := range cliLog.pkts {
		var p wire.Packet
		if p.Unmarshal(b) == nil && p.Chunks[0].Type == wire.TypeInit {
			var ini wire.Init
			if err := ini.Unmarshal(p.Chunks[0]); err != nil {
				t.Fatal(err)
			}
			inits = append(inits, ini)
		}
	}
	if len(inits) != 2 {
		t.Fatalf("%d INITs, want the first and one retry", len(inits))
	}
	if inits[0].Param(wire.ParamCookiePreservative) != nil {
		t.Fatal("the first INIT asked for a longer cookie")
	}
	cp, ok := inits[1].Param(wire.ParamCookiePreservative).(*wire.CookiePreservativeParam)
	// The only RTT sample before the ERROR is INIT -> INIT ACK: 2 x delay.
	want := (time.Duration(wantStale)*time.Microsecond + min(2*delay, time.Second) + time.Millisecond) / time.Millisecond
	if !ok || cp.LifeSpanIncrement != uint32(want) {
		t.Fatalf("retried INIT preservative %+v, want %d ms", cp, want)
	}
	if inits[1].InitiateTag != inits[0].InitiateTag {
		t.Fatal("the retry changed the Initiate Tag")
	}
	if !rec.has(engine.CommUp) || a.State() != engine.StateEstablished || rec.has(engine.RemoteError) {
		t.Fatalf("events %s", rec.types())
	}
}

// TestCookieEchoRetransmitsExhausted: the server answers INITs but no
// COOKIE ECHO reaches it. T1-cookie runs from the INIT ACK's arrival at the
// RTO then measured, doubling (capped by RTO.Max and MaxInitTimeout); the
// (MaxAttempts+1)-th expiry ends it with CANT_STR_ASSOC.
func TestCookieEchoRetransmitsExhausted(t *testing.T) {
	cfg := engine.Config{
		RTO:     engine.RTOInfo{Initial: 500 * time.Millisecond, Min: 100 * time.Millisecond, Max: 800 * time.Millisecond},
		InitMsg: engine.InitMsg{MaxAttempts: 4, MaxInitTimeout: 500 * time.Millisecond},
	}
	l := newLab(t, 41, link.Native, engine.Config{})
	l.cn.Imp.Delay, l.sn.Imp.Delay = 10*time.Millisecond, 10*time.Millisecond
	w := logWire(l, l.cn, func(pkt []byte) bool { return firstChunk(pkt) == wire.TypeCookieEcho })
	a, rec := l.dial(cfg)
	if !l.net.RunUntil(func() bool { return a.State() == engine.StateCookieEchoed }, time.Minute) {
		t.Fatalf("state %v", a.State())
	}
	start := l.net.Now()
	r := a.Status().Primary.RTO
	if !l.net.RunUntil(rec.ended, time.Hour) {
		t.Fatal("never gave up")
	}
	var want time.Duration
	var sends []time.Duration
	for i := 0; i <= cfg.InitMsg.MaxAttempts; i++ {
		sends = append(sends, want)
		want += min(r, cfg.InitMsg.MaxInitTimeout)
		r = min(2*r, cfg.RTO.Max)
	}
	ev := rec.find(engine.CantStartAssoc)
	if ev == nil || ev.Err != engine.ErrPeerUnreachable || len(rec.events) != 1 {
		t.Fatalf("events %s, want CANT_STR_ASSOC ErrPeerUnreachable", rec.types())
	}
	if got := rec.at[0].Sub(start); got != want {
		t.Fatalf("gave up %v after COOKIE-ECHOED, want %v", got, want)
	}
	echoes := w.at[wire.TypeCookieEcho]
	if len(echoes) != len(sends) {
		t.Fatalf("%d COOKIE ECHOs, want %d", len(echoes), len(sends))
	}
	for i, at := range echoes {
		if at.Sub(start) != sends[i] {
			t.Fatalf("COOKIE ECHO %d at %v, want %v", i, at.Sub(start), sends[i])
		}
	}
	if st := l.cn.Host.Stats(); st.T1CookieExpireds != uint64(cfg.InitMsg.MaxAttempts+1) || st.T1InitExpireds != 0 {
		t.Fatalf("T1 expiries cookie %d init %d", st.T1CookieExpireds, st.T1InitExpireds)
	}
}

// TestShutdownT2Exhausted: RFC 9260 9.2. The peer hears nothing after our
// SHUTDOWN: it is retransmitted at each T2 expiry, the RTO doubling up to
// RTO.Max; the expiry after Association.Max.Retrans retransmissions ends the
// association with COMM_LOST and an ABORT on the wire (8.1).
func TestShutdownT2Exhausted(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: time.Second, Max: 4 * time.Second},
		Assoc:    engine.AssocParams{MaxRetrans: 3},
		PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff},
	}
	l := newLab(t, 42, link.Native, cfg)
	a, rec := l.up(cfg)
	r := a.Status().Primary.RTO
	w := logWire(l, l.cn, func([]byte) bool { return true })
	start := l.net.Now()
	a.Shutdown(start)
	if !l.net.RunUntil(rec.ended, time.Hour) {
		t.Fatal("never gave up")
	}
	var sends []time.Duration
	var at time.Duration
	for i := 0; i <= cfg.Assoc.MaxRetrans; i++ {
		sends = append(sends, at)
		at += r
		r = min(2*r, cfg.RTO.Max)
	}
	if 5*cfg.RTO.Max <= at {
		t.Fatalf("test settings: T5 (%v) would end it before T2 (%v)", 5*cfg.RTO.Max, at)
	}
	got := w.at[wire.TypeShutdown]
	if len(got) != len(sends) {
		t.Fatalf("%d SHUTDOWNs, want %d", len(got), len(sends))
	}
	for i := range got {
		if got[i].Sub(start) != sends[i] {
			t.Fatalf("SHUTDOWN %d at %v, want %v", i, got[i].Sub(start), sends[i])
		}
	}
	ev := rec.find(engine.CommLost)
	if ev == nil || ev.Err != engine.ErrPeerUnreachable || rec.at[len(rec.at)-1].Sub(start) != at {
		t.Fatalf("events %s (last at %v), want COMM_LOST ErrPeerUnreachable at %v", rec.types(), rec.at[len(rec.at)-1].Sub(start), at)
	}
	if ab := w.at[wire.TypeAbort]; len(ab) != 1 || ab[0].Sub(start) != at {
		t.Fatalf("ABORTs sent at %v, want one at %v", ab, at)
	}
	if st := l.cn.Host.Stats(); st.T2ShutdownExpireds != uint64(cfg.Assoc.MaxRetrans+1) || st.T5ShutdownGuardExpireds != 0 {
		t.Fatalf("T2 expiries %d, T5 %d", st.T2ShutdownExpireds, st.T5ShutdownGuardExpireds)
	}
}

// TestShutdownGuardT5: with Association.Max.Retrans too high for T2 to give
// up first, the T5-shutdown-guard (5 x RTO.Max from the SHUTDOWN) ends the
// shutdown with an ABORT (9.2).
func TestShutdownGuardT5(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: time.Second, Max: 2 * time.Second},
		Assoc:    engine.AssocParams{MaxRetrans: 20},
		PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff},
	}
	l := newLab(t, 43, link.Native, cfg)
	a, rec := l.up(cfg)
	w := logWire(l, l.cn, func([]byte) bool { return true })
	start := l.net.Now()
	a.Shutdown(start)
	if !l.net.RunUntil(rec.ended, time.Hour) {
		t.Fatal("never gave up")
	}
	guard := 5 * cfg.RTO.Max
	ev := rec.find(engine.CommLost)
	if ev == nil || ev.Err != engine.ErrShutdownGuard || rec.at[len(rec.at)-1].Sub(start) != guard {
		t.Fatalf("events %s, want COMM_LOST ErrShutdownGuard at %v", rec.types(), guard)
	}
	if ab := w.at[wire.TypeAbort]; len(ab) != 1 || ab[0].Sub(start) != guard {
		t.Fatalf("ABORTs at %v, want one at %v", ab, guard)
	}
	if st := l.cn.Host.Stats(); st.T5ShutdownGuardExpireds != 1 {
		t.Fatalf("T5 expiries %d", st.T5ShutdownGuardExpireds)
	}
}

// TestShutdownBeforeCommUp: a Shutdown requested in COOKIE-WAIT takes
// effect once the association is up: COMM_UP, then the 9.2 sequence, with
// the message queued before it still delivered.
func TestShutdownBeforeCommUp(t *testing.T) {
	l := newLab(t, 44, link.Native, engine.Config{})
	a, rec := l.dial(engine.Config{})
	if err := a.Send(l.net.Now(), []byte("before up"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	a.Shutdown(l.net.Now())
	if a.State() != engine.StateCookieWait {
		t.Fatalf("state %v right after Shutdown", a.State())
	}
	if !l.net.RunUntil(func() bool { return rec.ended() && l.srv != nil && l.srv.ended() }, time.Minute) {
		t.Fatalf("client %s", rec.types())
	}
	if rec.types() != "COMM_UP SENDER_DRY SHUTDOWN_COMP " {
		t.Fatalf("client events %s", rec.types())
	}
	if !l.srv.has(engine.ShutdownEvent) || !l.srv.has(engine.ShutdownComp) || len(l.srv.msgs) != 1 || string(l.srv.msgs[0].Data) != "before up" {
		t.Fatalf("server events %s, %d messages", l.srv.types(), len(l.srv.msgs))
	}
}

// TestCommLostSendsAbort: when Association.Max.Retrans is exceeded with data
// outstanding, the association tells the peer with an ABORT (8.1) before
// COMM_LOST.
func TestCommLostSendsAbort(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: time.Second, Max: 2 * time.Second},
		Assoc:    engine.AssocParams{MaxRetrans: 2},
		PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff},
	}
	l := newLab(t, 45, link.Native, cfg)
	a, rec := l.up(cfg)
	_, peerTag := a.Tags()
	w := logWire(l, l.cn, func([]byte) bool { return true })
	if err := a.Send(l.net.Now(), []byte("lost"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(rec.ended, time.Hour) {
		t.Fatal("never gave up")
	}
	if ev := rec.find(engine.CommLost); ev == nil || ev.Err != engine.ErrPeerUnreachable {
		t.Fatalf("events %s", rec.types())
	}
	last := w.pkts[len(w.pkts)-1]
	var p wire.Packet
	if err := p.Unmarshal(last); err != nil {
		t.Fatal(err)
	}
	if len(p.Chunks) != 1 || p.Chunks[0].Type != wire.TypeAbort || p.VerificationTag != peerTag || p.Chunks[0].Flags&1 != 0 {
		t.Fatalf("last packet %s, want an ABORT tagged %#x", chunkTypes([]wire.Packet{p}), peerTag)
	}
	if ab := w.at[wire.TypeAbort]; len(ab) != 1 || !ab[0].Equal(rec.at[len(rec.at)-1]) {
		t.Fatalf("ABORTs at %v, COMM_LOST at %v", ab, rec.at[len(rec.at)-1])
	}
}

// TestKarnInitRetransmitted: RFC 9260 6.3.1 rule 5. The first INIT is lost;
// the INIT ACK answering the retransmission gives no sample, so SRTT comes
// from the COOKIE ECHO / COOKIE ACK round trip alone (rule 2: SRTT = R,
// RTTVAR = R/2).
func TestKarnInitRetransmitted(t *testing.T) {
	const delay = 40 * time.Millisecond
	cfg := engine.Config{RTO: engine.RTOInfo{Initial: time.Second, Min: 10 * time.Millisecond, Max: 60 * time.Second}}
	l := newLab(t, 46, link.Native, engine.Config{})
	l.cn.Imp.Delay, l.sn.Imp.Delay = delay, delay
	dropped := false
	logWire(l, l.cn, func(pkt []byte) bool {
		if firstChunk(pkt) == wire.TypeInit && !dropped {
			dropped = true
			return true
		}
		return false
	})
	a, _ := l.up(cfg)
	if st := a.Status().Primary; st.SRTT != 2*delay || a.RTTVar() != delay || st.RTO != 2*delay+4*delay {
		t.Fatalf("SRTT %v RTTVAR %v RTO %v, want %v / %v / %v", st.SRTT, a.RTTVar(), st.RTO, 2*delay, delay, 6*delay)
	}
}

// TestKarnDataRetransmitted: RFC 9260 6.3.1 rule 5 for DATA. After the
// handshake the delay grows; the first DATA is lost, and the SACK for its
// retransmission must not feed the estimator: SRTT and RTTVAR stay as the
// handshake left them.
func TestKarnDataRetransmitted(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: time.Second, Min: 10 * time.Millisecond, Max: 60 * time.Second},
		PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff},
	}
	l := newLab(t, 47, link.Native, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 20*time.Millisecond, 20*time.Millisecond
	a, _ := l.up(cfg)
	l.net.RunFor(time.Second)
	before, varBefore := a.Status().Primary.SRTT, a.RTTVar()
	l.cn.Imp.Delay, l.sn.Imp.Delay = 200*time.Millisecond, 200*time.Millisecond
	dropped := false
	logWire(l, l.cn, func(pkt []byte) bool {
		if firstChunk(pkt) == wire.TypeData && !dropped {
			dropped = true
			return true
		}
		return false
	})
	if err := a.Send(l.net.Now(), []byte("once lost"), engine.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	if !l.net.RunUntil(func() bool { return len(l.srv.msgs) == 1 && a.Status().Unacked == 0 }, time.Minute) {
		t.Fatal("never delivered")
	}
	l.net.RunFor(time.Second)
	if !dropped || l.cn.Host.Stats().T3RtxExpireds == 0 {
		t.Fatalf("dropped %v, T3 expiries %d", dropped, l.cn.Host.Stats().T3RtxExpireds)
	}
	if got := a.Status().Primary.SRTT; got != before || a.RTTVar() != varBefore {
		t.Fatalf("SRTT %v RTTVAR %v after a retransmission's SACK, want %v / %v", got, a.RTTVar(), before, varBefore)
	}
}

// TestHeartbeatRTTSample: RFC 9260 6.3.1 rule 3. The handshake measures
// 2 x 50 ms twice; then the delay becomes 150 ms each way, and the first
// HEARTBEAT ACK's 300 ms sample moves RTTVAR and SRTT exactly as the rule
// says, and RTO = SRTT + 4 RTTVAR.
func TestHeartbeatRTTSample(t *testing.T) {
	cfg := engine.Config{
		RTO:      engine.RTOInfo{Initial: 3 * time.Second, Min: 10 * time.Millisecond, Max: 60 * time.Second},
		PeerAddr: engine.PeerAddrParams{HBInterval: time.Second},
	}
	l := newLab(t, 48, link.UDP, cfg)
	l.cn.Imp.Delay, l.sn.Imp.Delay = 50*time.Millisecond, 50*time.Millisecond
	a, _ := l.up(cfg)
	srtt, rttvar := a.Status().Primary.SRTT, a.RTTVar()
	// Rule 2 then rule 3 with an equal sample.
	if srtt != 100*time.Millisecond || rttvar != 50*time.Millisecond*3/4 {
		t.Fatalf("after the handshake SRTT %v RTTVAR %v", srtt, rttvar)
	}
	l.net.RunFor(100 * time.Millisecond) // the server's COMM_UP traffic settles
	l.cn.Imp.Delay, l.sn.Imp.Delay = 150*time.Millisecond, 150*time.Millisecond
	if !l.net.RunUntil(func() bool { return a.Status().Primary.SRTT != srtt }, time.Minute) {
		t.Fatal("no heartbeat sample")
	}
	const r = 300 * time.Millisecond
	d := r - srtt
	wantVar := rttvar - rttvar/4 + d/4
	wantSRTT := srtt - srtt/8 + r/8
	st := a.Status().Primary
	if st.SRTT != wantSRTT || a.RTTVar() != wantVar || st.RTO != wantSRTT+4*wantVar {
		t.Fatalf("SRTT %v RTTVAR %v RTO %v, want %v / %v / %v", st.SRTT, a.RTTVar(), st.RTO, wantSRTT, wantVar, wantSRTT+4*wantVar)
	}
	if l.cn.Host.Stats().HBExpireds != 1 {
		t.Fatalf("%d heartbeats sent, want the one sampled", l.cn.Host.Stats().HBExpireds)
	}
}
