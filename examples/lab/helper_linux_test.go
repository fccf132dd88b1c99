package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
)

// TestLabHelper is not a test: it is the program the lab runs inside the
// enb and mme namespaces (the test binary re-executed with SGW_LAB_ROLE).
func TestLabHelper(t *testing.T) {
	role := os.Getenv("SGW_LAB_ROLE")
	if role == "" {
		t.Skip("runs only as the lab's helper process (SGW_LAB_ROLE set by TestE2ELabOwnStack)")
	}
	var err error
	switch role {
	case "server":
		err = labServer()
	case "client":
		err = labClient()
	}
	if err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
}

// newNativeStack opens a raw IP link on addr serving ports, with its port
// filter following the stack's ports as the gateway does.
func newNativeStack(addr string, ports ...uint16) (*stack.Stack, error) {
	l, err := rawip.Listen(rawip.Config{Addrs: []netip.Addr{netip.MustParseAddr(addr)}, Ports: ports})
	if err != nil {
		return nil, err
	}
	return stack.New(stack.Config{Links: []link.Link{l}, PortUse: func(_ int, p uint16, on bool) {
		if on {
			l.AddPort(p)
		} else {
			l.RemovePort(p)
		}
	}})
}

func labServer() error {
	st, err := newNativeStack("198.18.2.10", 36412)
	if err != nil {
		return err
	}
	ln, err := st.Listen(36412, stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 16, MaxInStreams: 16}})
	if err != nil {
		return err
	}
	fmt.Println("LISTENING")
	ctx := context.Background()
	for {
		a, err := ln.Accept(ctx)
		if err != nil {
			return err
		}
		go func() {
			for {
				m, err := a.RecvMsg(ctx)
				if err != nil {
					var ae *stack.AssocError
					if errors.As(err, &ae) && len(ae.Event.Causes) > 0 {
						fmt.Printf("ENDED %v causes %q\n", ae.Event.Type, ae.Event.CauseBytes)
					}
					return
				}
				if a.SendMsg(ctx, m.Data, stack.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered}) != nil {
					return
				}
			}
		}()
	}
}

func labClient() error {
	st, err := newNativeStack("198.18.1.10")
	if err != nil {
		return err
	}
	defer st.Close("")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	edge := link.Path{Remote: netip.MustParseAddr("198.18.1.1")}
	opts := stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 16, MaxInStreams: 16}}

	// 1. Many streams, PPIDs, unordered messages; echoes checked; graceful close.
	a, err := st.Dial(ctx, 0, edge, 0, 36412, opts)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	type key struct {
		s uint16
		u bool
	}
	sent := map[key][][]byte{}
	for i := 0; i < 200; i++ {
		k := key{uint16(i % 16), i%7 == 3}
		data := bytes.Repeat([]byte{byte(i)}, 1+(i*613)%20000)
		data = append(fmt.Appendf(nil, "%d:", i), data...)
		sent[k] = append(sent[k], data)
		if err := a.SendMsg(ctx, data, stack.SndInfo{Stream: k.s, PPID: uint32(18 + i%3), Unordered: k.u}); err != nil {
			return err
		}
	}
	got := map[key][][]byte{}
	for i := 0; i < 200; i++ {
		m, err := a.RecvMsg(ctx)
		if err != nil {
			return fmt.Errorf("echo %d: %w", i, err)
		}
		k := key{m.Stream, m.Unordered}
		var n int
		fmt.Sscanf(string(m.Data), "%d:", &n)
		if m.PPID != uint32(18+n%3) || k.s != uint16(n%16) || k.u != (n%7 == 3) {
			return fmt.Errorf("message %d came back on stream %d ppid %d unordered %v", n, m.Stream, m.PPID, m.Unordered)
		}
		got[k] = append(got[k], m.Data)
	}
	for k, msgs := range sent {
		if k.u {
			if len(got[k]) != len(msgs) {
				return fmt.Errorf("unordered stream %d: %d back of %d", k.s, len(got[k]), len(msgs))
			}
			continue
		}
		for i := range msgs {
			if i >= len(got[k]) || !bytes.Equal(got[k][i], msgs[i]) {
				return fmt.Errorf("stream %d message %d: wrong content or order", k.s, i)
			}
		}
	}
	if err := a.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Println("STREAMS OK, SHUTDOWN OK")

	// 2. Abort with a reason: the server prints what reached it.
	b, err := st.Dial(ctx, 0, edge, 0, 36412, opts)
	if err != nil {
		return err
	}
	b.AbortReason("lab: eNB reset \x01")
	fmt.Println("ABORT SENT")

	// 3. 100 associations at once; phase 2 after the test flushes conntrack.
	n := 100
	fmt.Sscanf(os.Getenv("SGW_LAB_N"), "%d", &n)
	assocs := make([]*stack.Assoc, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	echo := func(x *stack.Assoc, i int, tag string) error {
		msg := fmt.Appendf(nil, "%s %d", tag, i)
		if err := x.SendMsg(ctx, msg, stack.SndInfo{Stream: uint16(i % 16), PPID: 60}); err != nil {
			return err
		}
		m, err := x.RecvMsg(ctx)
		if err != nil {
			return err
		}
		if !bytes.Equal(m.Data, msg) {
			return fmt.Errorf("association %d: echo %q", i, m.Data)
		}
		return nil
	}
	for i := range assocs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			x, err := st.Dial(ctx, 0, edge, 0, 36412, opts)
			if err == nil {
				assocs[i] = x
				err = echo(x, i, "before")
			}
			if err != nil {
				errs <- fmt.Errorf("association %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Println("PHASE1 OK")
	gate := os.Getenv("SGW_LAB_GATE")
	for i := 0; i < 600 && !fileExists(gate); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	for i, x := range assocs {
		wg.Add(1)
		go func(i int, x *stack.Assoc) {
			defer wg.Done()
			if err := echo(x, i, "after"); err != nil {
				errs <- err
				return
			}
			if err := x.Shutdown(ctx); err != nil {
				errs <- fmt.Errorf("association %d shutdown: %w", i, err)
			}
		}(i, x)
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Println("ALL OK")
	return nil
}
