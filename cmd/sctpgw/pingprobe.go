package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// probeWait is how long one probe waits for its answer.
const probeWait = 5 * time.Second

// prober sends one probe and returns its round trip.
type prober func(ctx context.Context, seq int) (time.Duration, error)

// heartbeatProber measures to the first SCTP endpoint on the path: the
// HEARTBEAT is answered by whoever holds this association, which through
// a gateway is the gateway itself (RFC 9260 8.3).
func heartbeatProber(a *stack.Assoc) prober {
	return func(ctx context.Context, _ int) (time.Duration, error) { return a.Heartbeat(ctx) }
}

// echoProber measures end to end: a DATA message with a sequence number
// goes to the far peer, which must send it back unchanged (an echo server
// such as examples/echo); through gateways the round trip crosses them all.
func echoProber(a *stack.Assoc, size int, ppid uint32) prober {
	return func(ctx context.Context, seq int) (time.Duration, error) {
		msg := make([]byte, max(size, 8))
		binary.BigEndian.PutUint64(msg, uint64(seq))
		t0 := time.Now()
		if err := a.SendMsg(ctx, slices.Clone(msg), stack.SndInfo{PPID: ppid}); err != nil {
			return 0, err
		}
		for {
			m, err := a.RecvMsg(ctx)
			if err != nil {
				return 0, err
			}
			if len(m.Data) >= 8 && binary.BigEndian.Uint64(m.Data) < uint64(seq) {
				continue // the late echo of a probe that timed out
			}
			if !slices.Equal(m.Data, msg) {
				return 0, fmt.Errorf("the peer answered %d bytes that are not the probe's echo", len(m.Data))
			}
			return time.Since(t0), nil
		}
	}
}

// measure runs the probes, prints their round trips and how the
// association ended. It fails when the far side ended the association
// before every probe was sent, or when no probe was answered.
func measure(c *cli.Context, a *stack.Assoc, what string, probe prober) error {
	w := c.App.Writer
	n := c.Int("count")
	var rtts []time.Duration
	var ended *stack.AssocError
	for i := 0; i < n && ended == nil; i++ {
		if i > 0 {
			time.Sleep(c.Duration("interval"))
		}
		ctx, cancel := context.WithTimeout(c.Context, probeWait)
		rtt, err := probe(ctx, i+1)
		cancel()
		switch {
		case err == nil:
			rtts = append(rtts, rtt)
			fmt.Fprintf(w, "%s %d: rtt %v\n", what, i+1, rtt.Round(time.Microsecond))
		case errors.As(err, &ended):
		case errors.Is(err, context.DeadlineExceeded):
			fmt.Fprintf(w, "%s %d: no answer in %v\n", what, i+1, probeWait)
		default:
			return fmt.Errorf("%s %d: %w", what, i+1, err)
		}
	}
	summary(w, what, rtts, n)
	if ended != nil {
		return fmt.Errorf("the association ended before the last probe, after %d/%d answered: %s", len(rtts), n, describeEnd(a, ended))
	}
	sctx, scancel := context.WithTimeout(c.Context, probeWait)
	defer scancel()
	if err := a.Shutdown(sctx); err != nil {
		var ae *stack.AssocError
		if errors.As(err, &ae) {
			return fmt.Errorf("shutdown: %s", describeEnd(a, ae))
		}
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(w, "shut down gracefully")
	if len(rtts) == 0 {
		return fmt.Errorf("no %s was answered", what)
	}
	return nil
}

func summary(w io.Writer, what string, rtts []time.Duration, n int) {
	if len(rtts) == 0 {
		fmt.Fprintf(w, "%s: 0/%d answered\n", what, n)
		return
	}
	s := slices.Sorted(slices.Values(rtts))
	pc := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Microsecond) }
	fmt.Fprintf(w, "%s rtt min %v p50 %v p90 %v p99 %v max %v (%d/%d answered)\n",
		what, s[0].Round(time.Microsecond), pc(0.5), pc(0.9), pc(0.99), s[len(s)-1].Round(time.Microsecond), len(rtts), n)
}

// describeEnd says how an association we did not close ended: a SHUTDOWN
// from the peer, an ABORT with its causes, or a local failure.
func describeEnd(a *stack.Assoc, ae *stack.AssocError) string {
	ev := ae.Event
	switch {
	case ev.Type == engine.ShutdownComp && peerShutDown(a):
		return "the peer shut it down (SHUTDOWN)"
	case ev.Type == engine.ShutdownComp:
		return "shut down (SHUTDOWN COMPLETE)"
	case errors.Is(ev.Err, engine.ErrPeerAborted):
		s := "the peer aborted it (ABORT)"
		for _, cs := range ev.Causes {
			s += "; " + describeCause(cs)
		}
		return s
	case ev.Err != nil:
		return ev.Err.Error()
	}
	return ev.Type.String()
}

// peerShutDown reports whether the peer's SHUTDOWN (SCTP_SHUTDOWN_EVENT)
// is among the association's notifications.
func peerShutDown(a *stack.Assoc) bool {
	for ev := range a.Events() {
		if ev.Type == engine.ShutdownEvent {
			return true
		}
	}
	return false
}
