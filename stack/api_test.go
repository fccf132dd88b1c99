package stack_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/transport/v3/test"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// The re-exported option types are the engine's, so values pass either way.
var (
	_ engine.AssocParams    = stack.AssocParams{}
	_ engine.PeerAddrParams = stack.PeerAddrParams{Heartbeat: stack.HeartbeatOff}
	_ engine.Heartbeat      = stack.HeartbeatOn
)

// vpair is pair with a virtual clock on each side; nothing moves them but
// the test, so no retransmission or heartbeat interferes.
func vpair(t *testing.T, kind link.Kind) (sa, sb *stack.Stack, ca, cb *vclock, p link.Path) {
	t.Helper()
	la, lb := memlink.Pair(kind, addrA, addrB)
	ca, cb = newVClock(), newVClock()
	var err error
	if sa, err = stack.New(stack.Config{Links: []link.Link{la}, Clock: ca}); err != nil {
		t.Fatal(err)
	}
	if sb, err = stack.New(stack.Config{Links: []link.Link{lb}, Clock: cb}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sa.Close("")
		sb.Close("")
	})
	p = link.Path{Local: addrA, Remote: addrB}
	if kind == link.UDP {
		p.RemotePort = 9899
	}
	return sa, sb, ca, cb, p
}

type dialResult struct {
	x   *stack.Assoc
	err error
}

func dialAsync(ctx context.Context, s *stack.Stack, p link.Path, port uint16, do stack.DialOptions) <-chan dialResult {
	ch := make(chan dialResult, 1)
	go func() {
		x, err := s.DialWith(ctx, 0, p, 0, port, do)
		ch <- dialResult{x, err}
	}()
	return ch
}

// recvReq waits for the hook to hand over its request.
func recvReq(t *testing.T, reqs <-chan *stack.AcceptRequest) *stack.AcceptRequest {
	t.Helper()
	select {
	case r := <-reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the accept hook did not run")
		return nil
	}
}

// waitFor polls cond: for state that another stack's goroutines change.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// rejectedWith checks that err is the dialer's CANT_STR_ASSOC caused by an
// ABORT whose only cause is a User-Initiated Abort with exactly reason.
func rejectedWith(t *testing.T, err error, reason []byte) {
	t.Helper()
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.CantStartAssoc || !errors.Is(err, engine.ErrPeerAborted) {
		t.Fatalf("dial: %v, want CANT_STR_ASSOC from the peer's ABORT", err)
	}
	if len(ae.Event.Causes) != 1 {
		t.Fatalf("causes %#v, want one", ae.Event.Causes)
	}
	uia, ok := ae.Event.Causes[0].(*wire.UserInitiatedAbortCause)
	if !ok || !bytes.Equal(uia.Reason, reason) {
		t.Fatalf("cause %#v, want User-Initiated Abort %q", ae.Event.Causes[0], reason)
	}
	// The raw bytes too: cause 12, length 4+len(reason), the reason, and no
	// trailing padding (RFC 9260 3.2: the last parameter's is not counted
	// by the chunk; the engine leaves it off).
	want := []byte{0, 12, 0, byte(4 + len(reason))}
	want = append(want, reason...)
	if !bytes.Equal(ae.Event.CauseBytes, want) {
		t.Fatalf("cause bytes % x, want % x", ae.Event.CauseBytes, want)
	}
}

func TestAcceptHookAccepts(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	sa, sb, _, _, p := vpair(t, link.UDP)
	ctx := ctxT(t)
	var seen struct {
		local, remote uint16
		out, in       uint16
		kind          link.Kind
		restart       bool
	}
	ln, err := sb.ListenWith(5000, stack.ListenOptions{
		Options: stack.Options{InitMsg: stack.InitMsg{OutStreams: 3}},
		Accept: func(r *stack.AcceptRequest) {
			seen.local, seen.remote = r.LocalPort(), r.RemotePort()
			seen.out, seen.in = r.Streams()
			seen.kind, seen.restart = r.LinkKind(), r.Restart()
			if err := r.Accept(); err != nil {
				t.Errorf("Accept in the hook: %v", err)
			}
			if err := r.Accept(); !errors.Is(err, stack.ErrAnswered) {
				t.Errorf("second Accept in the hook: %v, want ErrAnswered", err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sa.DialWith(ctx, 0, p, 0, 5000, stack.DialOptions{Options: stack.Options{InitMsg: stack.InitMsg{OutStreams: 7, MaxInStreams: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	x, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if seen.local != 5000 || seen.remote != st.LocalPort || seen.kind != link.UDP || seen.restart {
		t.Fatalf("hook saw %+v; dialer's local port %d", seen, st.LocalPort)
	}
	// Streams as the listener negotiated them: out = min(3, the dialer's
	// MaxInStreams 5), in = min(the dialer's OutStreams 7, 65535).
	if seen.out != 3 || seen.in != 7 {
		t.Fatalf("hook saw streams out %d in %d, want 3 and 7", seen.out, seen.in)
	}
	if out, in := x.Streams(); out != seen.out || in != seen.in {
		t.Fatalf("accepted association streams %d/%d, hook saw %d/%d", out, in, seen.out, seen.in)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptHookRejectsWithReason(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	sa, sb, _, _, p := vpair(t, link.Native)
	ctx := ctxT(t)
	// Odd length, a NUL, non-ASCII and a high byte: byte-exact or nothing.
	reason := []byte("sctpgw: MME\x00 unreachable \xc3\xa9\xff!")
	_, err := sb.ListenWith(5000, stack.ListenOptions{Accept: func(r *stack.AcceptRequest) {
		if err := r.RejectReason(string(reason)); err != nil {
			t.Errorf("RejectReason: %v", err)
		}
		if err := r.Accept(); !errors.Is(err, stack.ErrAnswered) {
			t.Errorf("Accept after Reject: %v, want ErrAnswered", err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sa.Dial(ctx, 0, p, 0, 5000, stack.Options{})
	rejectedWith(t, err, reason)
	if n := sa.AssocCount(); n != 0 {
		t.Fatalf("dialer holds %d associations after the rejection", n)
	}
	if n := sb.AssocCount(); n != 0 {
		t.Fatalf("listener holds %d associations after rejecting", n)
	}
	if st := sb.Stats(); st.PassiveEstabs != 0 || st.Aborteds != 1 {
		t.Fatalf("listener stats %+v, want no establishment and one abort", st)
	}
}

func TestAcceptDeferredThenAcceptedElsewhere(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	sa, sb, _, _, p := vpair(t, link.UDP)
	ctx := ctxT(t)
	reqs := make(chan *stack.AcceptRequest, 1)
	ln, err := sb.ListenWith(5000, stack.ListenOptions{Accept: func(r *stack.AcceptRequest) { reqs <- r }})
	if err != nil {
		t.Fatal(err)
	}
	dial := dialAsync(ctx, sa, p, 5000, stack.DialOptions{})
	r := recvReq(t, reqs)
	// The COOKIE ACK is withheld: the listener holds the association in
	// ACCEPT-PENDING and the dialer waits in COOKIE-ECHOED.
	if n := sb.AssocCount(); n != 1 {
		t.Fatalf("listener holds %d associations while deferring, want 1", n)
	}
	select {
	case res := <-dial:
		t.Fatalf("dial returned before the answer: %v", res.err)
	case <-time.After(50 * time.Millisecond):
	}
	answered := make(chan error, 1)
	go func() {
		r.SetContext(4242)
		answered <- r.Accept()
	}()
	if err := <-answered; err != nil {
		t.Fatalf("deferred Accept: %v", err)
	}
	res := <-dial
	if res.err != nil {
		t.Fatalf("dial after the deferred accept: %v", res.err)
	}
	x, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Accept(); !errors.Is(err, stack.ErrAnswered) {
		t.Fatalf("second deferred Accept: %v, want ErrAnswered", err)
	}
	// The context the hook's side set is the association's.
	if got := x.Context(); got != 4242 {
		t.Fatalf("accepted association's context %d, want 4242", got)
	}
	if err := res.x.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestAcceptAnsweredFromAnotherGoroutineDuringHook: an answer given from
// another goroutine while the hook still runs (which holds the Stack's
// lock) neither deadlocks nor is lost: "waits", the hook waits for it;
// "races", the hook returns while it is being given, so it is either
// recorded for the hook's caller or applied by itself. Either way the
// association is accepted once, with the context set from that goroutine,
// and a second answer is ErrAnswered.
func TestAcceptAnsweredFromAnotherGoroutineDuringHook(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	for _, wait := range []bool{true, false} {
		t.Run(map[bool]string{true: "waits", false: "races"}[wait], func(t *testing.T) {
			for i := 0; i < 20 && !t.Failed(); i++ {
				sa, sb, _, _, p := vpair(t, link.UDP)
				ctx := ctxT(t)
				answered := make(chan error, 1)
				reqs := make(chan *stack.AcceptRequest, 1)
				ln, err := sb.ListenWith(5000, stack.ListenOptions{Accept: func(r *stack.AcceptRequest) {
					reqs <- r
					go func() {
						r.SetContext(77)
						answered <- r.Accept()
					}()
					if !wait {
						return
					}
					select {
					case err := <-answered:
						if err != nil {
							t.Errorf("Accept from another goroutine during the hook: %v", err)
						}
						answered <- nil
					case <-time.After(5 * time.Second):
						// Taking the Stack's lock, which the hook holds.
						t.Errorf("Accept from another goroutine blocked for 5 s while the hook waited")
					}
				}})
				if err != nil {
					t.Fatal(err)
				}
				c, err := sa.Dial(ctx, 0, p, 0, 5000, stack.Options{})
				if err != nil {
					t.Fatalf("round %d: dial: %v", i, err)
				}
				if err := <-answered; err != nil {
					t.Fatalf("round %d: Accept from another goroutine: %v", i, err)
				}
				x, err := ln.Accept(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := x.Context(); got != 77 {
					t.Fatalf("round %d: context %d, want 77", i, got)
				}
				if err := (<-reqs).Accept(); !errors.Is(err, stack.ErrAnswered) {
					t.Fatalf("round %d: second Accept: %v, want ErrAnswered", i, err)
				}
				if n := sb.AssocCount(); n != 1 {
					t.Fatalf("round %d: listener holds %d associations", i, n)
				}
				if err := c.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
				sa.Close("")
				sb.Close("")
			}
		})
	}
}

func TestAcceptDeferredTimesOut(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	for _, tc := range []struct {
		name        string
		lo          stack.ListenOptions
		wantTimeout time.Duration
		wantReason  string
	}{
		// Unset: the listener's cookie life.
		{"default", stack.ListenOptions{Options: stack.Options{Assoc: stack.AssocParams{CookieLife: 7 * time.Second}}},
			7 * time.Second, stack.DefaultAcceptTimeoutReason},
		{"set", stack.ListenOptions{AcceptTimeout: 2500 * time.Millisecond, AcceptTimeoutReason: "egress side not up"},
			2500 * time.Millisecond, "egress side not up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sa, sb, _, cb, p := vpair(t, link.Native)
			ctx := ctxT(t)
			reqs := make(chan *stack.AcceptRequest, 1)
			lo := tc.lo
			lo.Accept = func(r *stack.AcceptRequest) { reqs <- r }
			if _, err := sb.ListenWith(5000, lo); err != nil {
				t.Fatal(err)
			}
			start := cb.Now()
			dial := dialAsync(ctx, sa, p, 5000, stack.DialOptions{})
			r := recvReq(t, reqs)
			// The hook ran before the timeout was queued; wait for the
			// timer goroutine to aim at it, computed from the settings.
			cb.WaitArmed(t, start.Add(tc.wantTimeout))
			cb.Advance(t, tc.wantTimeout-time.Millisecond)
			if n := sb.AssocCount(); n != 1 {
				t.Fatalf("%v after deferring, 1 ms before the timeout: listener holds %d associations, want 1",
					tc.wantTimeout-time.Millisecond, n)
			}
			cb.Advance(t, time.Millisecond)
			if n := sb.AssocCount(); n != 0 {
				t.Fatalf("at the timeout the listener still holds %d associations", n)
			}
			if err := r.Accept(); !errors.Is(err, stack.ErrAcceptTimeout) {
				t.Fatalf("Accept after the timeout: %v, want ErrAcceptTimeout", err)
			}
			res := <-dial
			rejectedWith(t, res.err, []byte(tc.wantReason))
		})
	}
}

func TestDialCancelledDuringHandshake(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	t.Run("cookie-wait", func(t *testing.T) {
		// Nobody reads the other end: the INIT goes unanswered.
		la, _ := memlink.Pair(link.Native, addrA, addrB)
		sa, err := stack.New(stack.Config{Links: []link.Link{la}, Clock: newVClock()})
		if err != nil {
			t.Fatal(err)
		}
		defer sa.Close("")
		ctx, cancel := context.WithCancel(context.Background())
		dial := dialAsync(ctx, sa, link.Path{Local: addrA, Remote: addrB}, 5000, stack.DialOptions{})
		waitFor(t, "the INIT", func() bool { return sa.Stats().OutSCTPPacks == 1 })
		cancel()
		res := <-dial
		if !errors.Is(res.err, context.Canceled) || res.x != nil {
			t.Fatalf("cancelled dial: %v %v, want context.Canceled and no association", res.x, res.err)
		}
		if n := sa.AssocCount(); n != 0 {
			t.Fatalf("%d associations left after the cancelled dial", n)
		}
	})
	t.Run("cookie-echoed", func(t *testing.T) {
		sa, sb, _, _, p := vpair(t, link.Native)
		reqs := make(chan *stack.AcceptRequest, 1)
		if _, err := sb.ListenWith(5000, stack.ListenOptions{Accept: func(r *stack.AcceptRequest) { reqs <- r }}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		dial := dialAsync(ctx, sa, p, 5000, stack.DialOptions{})
		r := recvReq(t, reqs)
		cancel()
		res := <-dial
		if !errors.Is(res.err, context.Canceled) || res.x != nil {
			t.Fatalf("cancelled dial: %v %v, want context.Canceled and no association", res.x, res.err)
		}
		if n := sa.AssocCount(); n != 0 {
			t.Fatalf("%d associations left after the cancelled dial", n)
		}
		// The dialer's ABORT ends the pending one; answering it is too late.
		waitFor(t, "the listener to drop the aborted association", func() bool { return sb.AssocCount() == 0 })
		if err := r.Accept(); !errors.Is(err, stack.ErrClosed) {
			t.Fatalf("Accept of an association the peer aborted: %v, want ErrClosed", err)
		}
	})
}

func TestRcvInfoContext(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	sa, sb, _, _, p := vpair(t, link.UDP)
	ctx := ctxT(t)
	ln, err := sb.ListenWith(5000, stack.ListenOptions{Options: stack.Options{NoDelay: true}, Context: 0xfeedbeef})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sa.DialWith(ctx, 0, p, 0, 5000, stack.DialOptions{Options: stack.Options{NoDelay: true}, Context: 17})
	if err != nil {
		t.Fatal(err)
	}
	x, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip := func(from, to *stack.Assoc, wantCtx uint32, stream uint16) {
		t.Helper()
		if err := from.SendMsg(ctx, []byte("m"), stack.SndInfo{Stream: stream, PPID: 46, Context: 99}); err != nil {
			t.Fatal(err)
		}
		m, err := to.RecvMsg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The receiver's context, not the sender's SndInfo.Context (which
		// is local to the sender: RFC 6458 5.3.4 / 5.3.5).
		if m.Context != wantCtx || m.Stream != stream || m.PPID != 46 || string(m.Data) != "m" {
			t.Fatalf("received %+v %q, want context %#x", m.RcvInfo, m.Data, wantCtx)
		}
	}
	roundTrip(c, x, 0xfeedbeef, 1)
	roundTrip(x, c, 17, 2)
	c.SetContext(18)
	x.SetContext(0)
	roundTrip(x, c, 18, 3)
	roundTrip(c, x, 0, 4)
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// adaptationIn returns the code point of the Adaptation Layer Indication
// in pkt's INIT or INIT ACK, if any.
func adaptationIn(pkt []byte, want wire.ChunkType) (code uint32, found, isChunk bool) {
	var p wire.Packet
	if p.UnmarshalUnverified(pkt) != nil || len(p.Chunks) == 0 || p.Chunks[0].Type != want {
		return 0, false, false
	}
	c, err := wire.DecodeChunk(p.Chunks[0])
	if err != nil {
		return 0, false, true
	}
	var params []wire.Param
	switch v := c.(type) {
	case *wire.Init:
		params = v.Params
	case *wire.InitAck:
		params = v.Params
	}
	for _, prm := range params {
		if al, ok := prm.(*wire.AdaptationLayerParam); ok {
			return al.CodePoint, true, true
		}
	}
	return 0, false, true
}

func TestAdaptationIndicationSent(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	for _, tc := range []struct {
		name           string
		dial, listen   stack.Options
		wantInit       bool
		wantInitAck    bool
		codeI, codeIAk uint32
	}{
		{"both", stack.Options{Adaptation: 0x01020304, HasAdaptation: true}, stack.Options{Adaptation: 0xa0b0c0d0, HasAdaptation: true},
			true, true, 0x01020304, 0xa0b0c0d0},
		{"dialer only", stack.Options{Adaptation: 7, HasAdaptation: true}, stack.Options{}, true, false, 7, 0},
		{"none", stack.Options{Adaptation: 7}, stack.Options{}, false, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			la, lb := memlink.Pair(link.Native, addrA, addrB)
			var mu sync.Mutex
			var initSeen, ackSeen, initHas, ackHas bool
			var initCode, ackCode uint32
			sa, err := stack.New(stack.Config{Links: []link.Link{la}, Clock: newVClock(), Tap: func(in bool, _ int, _ link.Path, pkt []byte) {
				if code, has, ok := adaptationIn(pkt, wire.TypeInitAck); in && ok {
					mu.Lock()
					ackSeen, ackHas, ackCode = true, has, code
					mu.Unlock()
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer sa.Close("")
			sb, err := stack.New(stack.Config{Links: []link.Link{lb}, Clock: newVClock(), Tap: func(in bool, _ int, _ link.Path, pkt []byte) {
				if code, has, ok := adaptationIn(pkt, wire.TypeInit); in && ok {
					mu.Lock()
					initSeen, initHas, initCode = true, has, code
					mu.Unlock()
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close("")
			ctx := ctxT(t)
			ln, err := sb.Listen(5000, tc.listen)
			if err != nil {
				t.Fatal(err)
			}
			da, err := sa.Dial(ctx, 0, link.Path{Local: addrA, Remote: addrB}, 0, 5000, tc.dial)
			if err != nil {
				t.Fatal(err)
			}
			acc, err := ln.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Each side reports what the other sent.
			if code, ok := da.PeerAdaptation(); ok != tc.wantInitAck || code != tc.codeIAk {
				t.Fatalf("dialer's PeerAdaptation %#x %v, want %#x %v", code, ok, tc.codeIAk, tc.wantInitAck)
			}
			if code, ok := acc.PeerAdaptation(); ok != tc.wantInit || code != tc.codeI {
				t.Fatalf("listener's PeerAdaptation %#x %v, want %#x %v", code, ok, tc.codeI, tc.wantInit)
			}
			mu.Lock()
			defer mu.Unlock()
			if !initSeen || !ackSeen {
				t.Fatalf("tap saw INIT %v, INIT ACK %v", initSeen, ackSeen)
			}
			if initHas != tc.wantInit || initCode != tc.codeI {
				t.Fatalf("INIT adaptation present %v code %#x, want %v %#x", initHas, initCode, tc.wantInit, tc.codeI)
			}
			if ackHas != tc.wantInitAck || ackCode != tc.codeIAk {
				t.Fatalf("INIT ACK adaptation present %v code %#x, want %v %#x", ackHas, ackCode, tc.wantInitAck, tc.codeIAk)
			}
		})
	}
}

// rawPeer is a hand-driven SCTP end on a memlink: it writes the chunks a
// test builds and reads what the stack answers, for replaying old cookies.
type rawPeer struct {
	t        *testing.T
	end      *memlink.End
	buf      []link.Packet
	localTag map[uint32]uint32 // our INIT's tag -> the stack's tag from its INIT ACK
}

// send sends c from a port of its own per tag: each tag stands for one
// association, and the stack tells associations apart by their ports.
func (r *rawPeer) send(tag, vtag uint32, c wire.Chunk) {
	r.t.Helper()
	b := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: uint16(tag), DstPort: 5000, VerificationTag: vtag}, c)
	if _, err := r.end.WriteBatch([]link.Packet{{Path: link.Path{Local: addrA, Remote: addrB}, Buf: b}}); err != nil {
		r.t.Fatal(err)
	}
}

// next reads one packet's first chunk and the packet's verification tag.
func (r *rawPeer) next() (wire.Chunk, uint32) {
	r.t.Helper()
	if r.buf == nil {
		r.buf = []link.Packet{{Buf: make([]byte, link.MaxPacket)}}
	}
	r.buf[0].Buf = r.buf[0].Buf[:cap(r.buf[0].Buf)]
	if _, err := r.end.ReadBatch(r.buf); err != nil {
		r.t.Fatal(err)
	}
	var p wire.Packet
	if err := p.Unmarshal(r.buf[0].Buf); err != nil || len(p.Chunks) == 0 {
		r.t.Fatalf("stack sent a bad packet: %v", err)
	}
	c, err := wire.DecodeChunk(p.Chunks[0])
	if err != nil {
		r.t.Fatal(err)
	}
	return c, p.VerificationTag
}

// cookieFor sends an INIT with tag and returns the INIT ACK's cookie.
func (r *rawPeer) cookieFor(tag uint32) []byte {
	r.t.Helper()
	r.send(tag, 0, &wire.Init{InitFields: wire.InitFields{InitiateTag: tag, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: tag}})
	c, vtag := r.next()
	ack, ok := c.(*wire.InitAck)
	if !ok || vtag != tag {
		r.t.Fatalf("answer to INIT: %T with tag %#x", c, vtag)
	}
	for _, prm := range ack.Params {
		if sc, ok := prm.(*wire.StateCookieParam); ok {
			r.localTag[tag] = ack.InitiateTag
			return sc.Cookie
		}
	}
	r.t.Fatal("INIT ACK without a cookie")
	return nil
}

// TestCookieKeyRotation: Config.CookieKeyRotation reaches the engine. A
// cookie signed before two rotations of the secret (RFC 9260 5.1.3) is
// silently discarded even though its own lifetime has not run out; with the
// default period the same replay is accepted.
func TestCookieKeyRotation(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t))
	const rotation = 10 * time.Second
	for _, tc := range []struct {
		name     string
		rotation time.Duration
		oldValid bool
	}{{"rotated", rotation, false}, {"default", 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			la, lb := memlink.Pair(link.Native, addrA, addrB)
			clk := newVClock()
			sb, err := stack.New(stack.Config{Links: []link.Link{lb}, Clock: clk, CookieKeyRotation: tc.rotation})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				sb.Close("")
				la.Close()
			}()
			if _, err := sb.Listen(5000, stack.Options{Assoc: stack.AssocParams{CookieLife: time.Hour}}); err != nil {
				t.Fatal(err)
			}
			r := &rawPeer{t: t, end: la, localTag: map[uint32]uint32{}}
			old := r.cookieFor(0x1111)
			clk.Advance(t, rotation) // the next cookie is signed with a new secret
			fresh := r.cookieFor(0x2222)
			clk.Advance(t, rotation) // and the one before it is now too old
			r.send(0x1111, r.localTag[0x1111], &wire.CookieEcho{Cookie: old})
			r.send(0x2222, r.localTag[0x2222], &wire.CookieEcho{Cookie: fresh})
			// Answers come in order: the old cookie's COOKIE ACK, if any,
			// comes before the fresh one's.
			c, vtag := r.next()
			if _, ok := c.(*wire.CookieAck); !ok {
				t.Fatalf("first answer %T, want COOKIE ACK", c)
			}
			if gotOld := vtag == 0x1111; gotOld != tc.oldValid {
				t.Fatalf("COOKIE ACK with tag %#x: old cookie accepted %v, want %v", vtag, gotOld, tc.oldValid)
			}
			if tc.oldValid {
				if c, vtag := r.next(); vtag != 0x2222 {
					t.Fatalf("second answer %T with tag %#x, want the fresh cookie's COOKIE ACK", c, vtag)
				}
			}
			if n, want := sb.AssocCount(), 1+btoi(tc.oldValid); n != want {
				t.Fatalf("listener holds %d associations, want %d", n, want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
