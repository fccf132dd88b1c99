//go:build linux

package lab

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// The lab's peers are our own stack on raw sockets in the enb and mme
// namespaces, driven from the test process (see lab.nativeStack).
//
// Every association a client opens starts with "HELLO <label>" so that the
// far end can tell them apart. The far end then echoes every message on its
// stream, with its PPID and unordered flag, and records it, except
// commands: "CMD shutdown" (it shuts the association down gracefully) and
// "CMD abort <reason>" (it aborts with a User-Initiated Abort carrying
// reason). A label starting with "discard" is recorded but not echoed.

// farEnd is the MME side: it accepts on its listeners and serves each
// association as above.
type farEnd struct {
	tb     testing.TB
	ctx    context.Context
	mu     sync.Mutex
	assocs map[string]*farAssoc
}

// farAssoc is one association the far end accepted.
type farAssoc struct {
	label string
	a     *stack.Assoc
	port  uint16

	mu    sync.Mutex
	msgs  []stack.Message
	bytes int
	end   *stack.Event  // how it ended, when it did
	ended chan struct{} // closed when it ended
}

// serveFar listens on ports of st and serves until the test ends.
func serveFar(tb testing.TB, st *stack.Stack, opts stack.Options, ports ...uint16) *farEnd {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	f := &farEnd{tb: tb, ctx: ctx, assocs: map[string]*farAssoc{}}
	for _, port := range ports {
		ln, err := st.Listen(port, opts)
		if err != nil {
			tb.Fatal(err)
		}
		go func() {
			for {
				a, err := ln.Accept(ctx)
				if err != nil {
					return
				}
				go f.serve(a, port)
			}
		}()
	}
	return f
}

func (f *farEnd) serve(a *stack.Assoc, port uint16) {
	fa := &farAssoc{a: a, port: port, ended: make(chan struct{})}
	defer close(fa.ended)
	setEnd := func(err error) {
		var ae *stack.AssocError
		if errors.As(err, &ae) {
			fa.mu.Lock()
			fa.end = &ae.Event
			fa.mu.Unlock()
		}
	}
	m, err := a.RecvMsg(f.ctx)
	if err != nil {
		setEnd(err)
		return
	}
	label, ok := strings.CutPrefix(string(m.Data), "HELLO ")
	if !ok {
		a.AbortReason("lab: no HELLO")
		return
	}
	fa.label = label
	f.mu.Lock()
	f.assocs[label] = fa
	f.mu.Unlock()
	echo := !strings.HasPrefix(label, "discard")
	for {
		m, err := a.RecvMsg(f.ctx)
		if err != nil {
			setEnd(err)
			return
		}
		if cmd, ok := strings.CutPrefix(string(m.Data), "CMD "); ok {
			switch {
			case cmd == "shutdown":
				if err := a.Shutdown(f.ctx); err != nil {
					setEnd(err)
				} else {
					setEnd(&stack.AssocError{Event: stack.Event{Type: engine.ShutdownComp}})
				}
				return
			case strings.HasPrefix(cmd, "abort "):
				a.AbortReason(strings.TrimPrefix(cmd, "abort "))
				return
			}
		}
		fa.mu.Lock()
		fa.bytes += len(m.Data)
		if echo {
			fa.msgs = append(fa.msgs, m)
		}
		fa.mu.Unlock()
		if echo {
			if err := a.SendMsg(f.ctx, bytes.Clone(m.Data), stack.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered}); err != nil {
				setEnd(err)
				return
			}
		}
	}
}

// get waits up to d for the association labelled label.
func (f *farEnd) get(label string, d time.Duration) *farAssoc {
	f.tb.Helper()
	var fa *farAssoc
	testlab.WaitFor(f.tb, d, "the far end to see "+label, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		fa = f.assocs[label]
		return fa != nil
	})
	return fa
}

// waitEnd waits up to d for the association to end and returns how.
func (fa *farAssoc) waitEnd(tb testing.TB, d time.Duration) stack.Event {
	tb.Helper()
	select {
	case <-fa.ended:
	case <-time.After(d):
		tb.Fatalf("far end %s: still up after %v", fa.label, d)
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if fa.end == nil {
		return stack.Event{}
	}
	return *fa.end
}

func (fa *farAssoc) received() []stack.Message {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return append([]stack.Message(nil), fa.msgs...)
}

// dialEdge opens an association from the eNB (local address from) to the
// edge gateway's port and says HELLO.
func dialEdge(ctx context.Context, st *stack.Stack, from string, port uint16, label string, opts stack.Options) (*stack.Assoc, error) {
	return dialHello(ctx, st, from, edgeRAN, port, label, opts)
}

func dialHello(ctx context.Context, st *stack.Stack, from, to string, port uint16, label string, opts stack.Options) (*stack.Assoc, error) {
	p := link.Path{Remote: netip.MustParseAddr(to)}
	if from != "" {
		p.Local = netip.MustParseAddr(from)
	}
	a, err := st.Dial(ctx, 0, p, 0, port, opts)
	if err != nil {
		return nil, err
	}
	if err := a.SendMsg(ctx, []byte("HELLO "+label), stack.SndInfo{}); err != nil {
		return nil, err
	}
	return a, nil
}

// echoOnce sends msg and expects it back unchanged with the same stream,
// PPID and flag.
func echoOnce(ctx context.Context, a *stack.Assoc, msg []byte, info stack.SndInfo) error {
	if err := a.SendMsg(ctx, bytes.Clone(msg), info); err != nil {
		return err
	}
	m, err := a.RecvMsg(ctx)
	if err != nil {
		return err
	}
	if !bytes.Equal(m.Data, msg) || m.Stream != info.Stream || m.PPID != info.PPID || m.Unordered != info.Unordered {
		return fmt.Errorf("echo: got %q stream %d ppid %d unordered %v, sent %q stream %d ppid %d unordered %v",
			trunc(m.Data), m.Stream, m.PPID, m.Unordered, trunc(msg), info.Stream, info.PPID, info.Unordered)
	}
	return nil
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// cause is one error cause as it travels: code and value.
type cause struct {
	code  uint16
	value []byte
}

// parseCauses splits an ABORT's cause bytes exactly as received.
func parseCauses(b []byte) ([]cause, error) {
	var out []cause
	for len(b) > 0 {
		if len(b) < 4 {
			return out, fmt.Errorf("%d stray bytes", len(b))
		}
		code, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			return out, fmt.Errorf("cause length %d with %d bytes left", n, len(b))
		}
		out = append(out, cause{code, b[4:n]})
		n = (n + 3) &^ 3
		if n > len(b) {
			n = len(b) // the last cause's padding may be left out
		}
		b = b[n:]
	}
	return out, nil
}

// checkUserAbort checks that ev is the end of an association by a peer's
// ABORT with exactly one User-Initiated Abort cause (12) carrying reason.
func checkUserAbort(ev stack.Event, reason string) error {
	if ev.Type != engine.CommLost {
		return fmt.Errorf("ended with %v (%v), want COMM_LOST from the peer's ABORT", ev.Type, ev.Err)
	}
	cs, err := parseCauses(ev.CauseBytes)
	if err != nil {
		return fmt.Errorf("causes %x: %v", ev.CauseBytes, err)
	}
	if len(cs) != 1 || cs[0].code != 12 || !bytes.Equal(cs[0].value, []byte(reason)) {
		return fmt.Errorf("causes %x, want one User-Initiated Abort (12) with reason %q (%x)", ev.CauseBytes, reason, reason)
	}
	return nil
}
