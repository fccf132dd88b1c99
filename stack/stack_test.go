package stack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
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

var (
	addrA = netip.MustParseAddr("198.18.0.1")
	addrB = netip.MustParseAddr("198.18.0.2")
)

func pair(t testing.TB, kind link.Kind) (*stack.Stack, *stack.Stack, link.Path) {
	t.Helper()
	la, lb := memlink.Pair(kind, addrA, addrB)
	sa, err := stack.New(stack.Config{Links: []link.Link{la}})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := stack.New(stack.Config{Links: []link.Link{lb}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sa.Close("")
		sb.Close("")
	})
	p := link.Path{Local: addrA, Remote: addrB}
	if kind == link.UDP {
		p.RemotePort = 9899
	}
	return sa, sb, p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEchoAndGracefulClose(t *testing.T) {
	// Registered first, so it runs after the stacks' cleanups close them.
	t.Cleanup(test.CheckRoutines(t))
	for _, kind := range []link.Kind{link.Native, link.UDP} {
		t.Run(kind.String(), func(t *testing.T) {
			sa, sb, p := pair(t, kind)
			ctx := ctxT(t)
			ln, err := sb.Listen(36412, stack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			srvErr := make(chan error, 1)
			go func() {
				x, err := ln.Accept(ctx)
				if err != nil {
					srvErr <- err
					return
				}
				for {
					m, err := x.RecvMsg(ctx)
					if err != nil {
						var ae *stack.AssocError
						if errors.As(err, &ae) && ae.Event.Type == engine.ShutdownComp {
							srvErr <- nil
						} else {
							srvErr <- err
						}
						return
					}
					if err := x.SendMsg(ctx, m.Data, stack.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered}); err != nil {
						srvErr <- err
						return
					}
				}
			}()
			c, err := sa.Dial(ctx, 0, p, 0, 36412, stack.Options{NoDelay: true})
			if err != nil {
				t.Fatal(err)
			}
			// The server keeps Nagle on (Options{}): with the client's delayed
			// SACK some echoes wait up to 200 ms, so keep the count modest.
			for i := 0; i < 60; i++ {
				msg := bytes.Repeat([]byte{byte(i)}, 1+i*97)
				if err := c.SendMsg(ctx, msg, stack.SndInfo{Stream: uint16(i % 10), PPID: 18}); err != nil {
					t.Fatal(err)
				}
				m, err := c.RecvMsg(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(m.Data, msg) || m.PPID != 18 || m.Stream != uint16(i%10) {
					t.Fatalf("echo %d wrong: %d bytes stream %d ppid %d", i, len(m.Data), m.Stream, m.PPID)
				}
			}
			if err := c.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-srvErr; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBackpressureBlocksSender(t *testing.T) {
	// Registered first, so it runs after the stacks' cleanups close them.
	t.Cleanup(test.CheckRoutines(t))
	sa, sb, p := pair(t, link.UDP)
	ctx := ctxT(t)
	ln, _ := sb.Listen(5000, stack.Options{RecvBuffer: 32 << 10})
	var srv *stack.Assoc
	accepted := make(chan struct{})
	go func() {
		srv, _ = ln.Accept(ctx)
		close(accepted)
	}()
	c, err := sa.Dial(ctx, 0, p, 0, 5000, stack.Options{SendBuffer: 32 << 10, NoDelay: true})
	if err != nil {
		t.Fatal(err)
	}
	<-accepted
	// Nobody reads at the server: the sender must block, not drop.
	sent := make(chan int, 1)
	go func() {
		n := 0
		for i := 0; i < 1000; i++ {
			sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err := c.SendMsg(sctx, make([]byte, 1024), stack.SndInfo{})
			cancel()
			if err != nil {
				break
			}
			n++
		}
		sent <- n
	}()
	n := <-sent
	if n >= 1000 || n < 30 {
		t.Fatalf("sender queued %d KiB against 64 KiB of buffers: no backpressure", n)
	}
	// Reading resumes the flow; everything queued arrives.
	for i := 0; i < n; i++ {
		if _, err := srv.RecvMsg(ctx); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := c.SendMsg(ctx, []byte("after"), stack.SndInfo{}); err != nil {
		t.Fatal(err)
	}
	if m, err := srv.RecvMsg(ctx); err != nil || string(m.Data) != "after" {
		t.Fatalf("after resuming: %v %q", err, m.Data)
	}
}

func TestAbortReasonReachesPeer(t *testing.T) {
	// Registered first, so it runs after the stacks' cleanups close them.
	t.Cleanup(test.CheckRoutines(t))
	sa, sb, p := pair(t, link.Native)
	ctx := ctxT(t)
	ln, _ := sb.Listen(5000, stack.Options{})
	var wg sync.WaitGroup
	wg.Add(1)
	var got error
	go func() {
		defer wg.Done()
		x, err := ln.Accept(ctx)
		if err != nil {
			got = err
			return
		}
		_, got = x.RecvMsg(ctx)
	}()
	c, err := sa.Dial(ctx, 0, p, 0, 5000, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.AbortReason("sctpgw: egress peer unreachable")
	wg.Wait()
	var ae *stack.AssocError
	if !errors.As(got, &ae) || ae.Event.Type != engine.CommLost || len(ae.Event.Causes) != 1 {
		t.Fatalf("server got %v", got)
	}
	if uia, ok := ae.Event.Causes[0].(*wire.UserInitiatedAbortCause); !ok || string(uia.Reason) != "sctpgw: egress peer unreachable" {
		t.Fatalf("cause %#v", ae.Event.Causes[0])
	}
}

func TestDialRefused(t *testing.T) {
	// Registered first, so it runs after the stacks' cleanups close them.
	t.Cleanup(test.CheckRoutines(t))
	sa, _, p := pair(t, link.UDP)
	ctx := ctxT(t)
	_, err := sa.Dial(ctx, 0, p, 0, 4444, stack.Options{})
	var ae *stack.AssocError
	if !errors.As(err, &ae) || ae.Event.Type != engine.CantStartAssoc || !errors.Is(err, engine.ErrPeerAborted) {
		t.Fatalf("dial to a port nobody serves: %v", err)
	}
}

func TestManyAssociationsOneLink(t *testing.T) {
	// Registered first, so it runs after the stacks' cleanups close them.
	t.Cleanup(test.CheckRoutines(t))
	sa, sb, p := pair(t, link.UDP)
	ctx := ctxT(t)
	ln, _ := sb.Listen(5000, stack.Options{})
	const n = 200
	go func() {
		for i := 0; i < n; i++ {
			x, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				m, err := x.RecvMsg(ctx)
				if err == nil {
					x.SendMsg(ctx, m.Data, stack.SndInfo{})
				}
			}()
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := sa.Dial(ctx, 0, p, 0, 5000, stack.Options{NoDelay: true})
			if err != nil {
				errs <- err
				return
			}
			want := fmt.Sprintf("assoc %d", i)
			c.SendMsg(ctx, []byte(want), stack.SndInfo{})
			m, err := c.RecvMsg(ctx)
			if err != nil || string(m.Data) != want {
				errs <- fmt.Errorf("assoc %d: %v %q", i, err, m.Data)
				return
			}
			if err := c.Shutdown(ctx); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := sa.Stats(); st.ActiveEstabs != n || st.CurrEstab != 0 {
		t.Fatalf("client stats %+v", st)
	}
}
