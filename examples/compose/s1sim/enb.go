//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
)

type enbConfig struct {
	name      string
	target    string
	ppid      uint32
	streams   uint16
	messages  int
	hold      bool
	connectIn time.Duration
}

func enbMain(args []string) error {
	fs := flag.NewFlagSet("enb", flag.ExitOnError)
	var c enbConfig
	var ppid, streams uint
	fs.StringVar(&c.name, "name", "enb1", "this eNB's name, sent in its setup request")
	fs.StringVar(&c.target, "target", "edge:36412", "HOST:PORT of the MME, or of the edge gateway in front of it")
	fs.UintVar(&ppid, "ppid", ppidS1AP, "PPID of every message (18 S1AP, 60 NGAP)")
	fs.UintVar(&streams, "streams", 8, "outbound streams (2-64): stream 0 for setup, the rest for the messages")
	fs.IntVar(&c.messages, "messages", 200, "messages after the setup (1-10000)")
	fs.BoolVar(&c.hold, "hold", false, "after the exchange keep the association until the far end ends it")
	fs.DurationVar(&c.connectIn, "connect-within", time.Minute, "keep trying to connect for this long")
	fs.Parse(args)
	if streams < 2 || streams > 64 {
		return fmt.Errorf("-streams %d: expected 2-64", streams)
	}
	if c.messages < 1 || c.messages > 10000 {
		return fmt.Errorf("-messages %d: expected 1-10000", c.messages)
	}
	if ppid > 1<<32-1 {
		return fmt.Errorf("-ppid %d: expected a 32-bit number", ppid)
	}
	c.ppid, c.streams = uint32(ppid), uint16(streams)
	return enb(c)
}

func enb(c enbConfig) error {
	host, portText, err := net.SplitHostPort(c.target)
	if err != nil {
		return fmt.Errorf("-target %q: %w", c.target, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return fmt.Errorf("-target %q: port: expected 1-65535", c.target)
	}
	deadline := time.Now().Add(c.connectIn)
	addr, err := resolveHost(host, deadline)
	if err != nil {
		return err
	}
	localPort := ephemeralPort()
	st, err := nativeStack([]uint16{localPort})
	if err != nil {
		return err
	}
	defer st.Close("s1sim enb: done")
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()

	a, err := connect(ctx, st, c, addr, uint16(port), localPort, deadline)
	if err != nil {
		return err
	}
	out, in := a.Streams()
	fmt.Printf("enb %s: connected to %s (%v) from port %d, streams out %d in %d\n", c.name, c.target, addr, localPort, out, in)
	if err := exchange(ctx, a, c); err != nil {
		a.AbortReason("s1sim enb: " + err.Error())
		return fmt.Errorf("enb %s: %w", c.name, err)
	}
	if !c.hold {
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		if err := a.Shutdown(sctx); err != nil {
			return fmt.Errorf("enb %s: shutdown: %w", c.name, err)
		}
		fmt.Printf("enb %s: shut down gracefully\n", c.name)
		return nil
	}
	fmt.Printf("enb %s: holding the association\n", c.name)
	_, err = a.RecvMsg(ctx)
	if err == nil {
		return fmt.Errorf("enb %s: unexpected message while holding", c.name)
	}
	how, graceful := howEnded(err)
	fmt.Printf("enb %s: association ended: %s\n", c.name, how)
	if !graceful {
		return fmt.Errorf("enb %s: not a graceful end: %s", c.name, how)
	}
	return nil
}

// connect dials until the handshake succeeds or the deadline passes: the
// gateways in front of the MME may not listen yet.
func connect(ctx context.Context, st *stack.Stack, c enbConfig, addr netip.Addr, port, localPort uint16, deadline time.Time) (*stack.Assoc, error) {
	p := link.Path{Remote: addr}
	opts := stack.Options{NoDelay: true, InitMsg: stack.InitMsg{OutStreams: c.streams, MaxInStreams: c.streams}}
	for {
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		a, derr := st.Dial(dctx, 0, p, localPort, port, opts)
		cancel()
		if derr == nil {
			return a, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("connect %s: %w", c.target, derr)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// exchange runs the setup and the messages and checks every answer.
func exchange(ctx context.Context, a *stack.Assoc, c enbConfig) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, rsp := setupNames(c.ppid)
	if err := a.SendMsg(ctx, []byte(req+" "+c.name), stack.SndInfo{Stream: 0, PPID: c.ppid}); err != nil {
		return err
	}
	m, err := a.RecvMsg(ctx)
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", rsp, err)
	}
	if string(m.Data) != rsp+" "+c.name || m.Stream != 0 || m.PPID != c.ppid {
		return fmt.Errorf("setup answered %q on stream %d PPID %d", m.Data, m.Stream, m.PPID)
	}
	fmt.Printf("enb %s: %s answered with %s\n", c.name, req, rsp)

	sent := make([]request, c.messages+1)
	for seq := 1; seq <= c.messages; seq++ {
		sent[seq] = makeRequest(c.name, seq, c.streams)
	}
	errc := make(chan error, 1)
	go func() {
		for _, r := range sent[1:] {
			if err := a.SendMsg(ctx, r.data, stack.SndInfo{Stream: r.stream, PPID: c.ppid, Unordered: r.unordered}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	got, unordered, bytes := make([]bool, c.messages+1), 0, 0
	lastOrdered := make(map[uint16]int)
	for n := 0; n < c.messages; n++ {
		m, err := a.RecvMsg(ctx)
		if err != nil {
			return fmt.Errorf("after %d/%d answers: %w", n, c.messages, err)
		}
		seq, ok := parseSeq(m.Data, 1)
		if !ok || seq < 1 || seq > c.messages || got[seq] {
			return fmt.Errorf("answer %q: unknown or repeated sequence number", m.Data[:min(len(m.Data), 64)])
		}
		r := sent[seq]
		want := answerText(seq, r.stream, c.ppid, r.unordered, r.data)
		if string(m.Data) != want || m.Stream != r.stream || m.PPID != c.ppid || m.Unordered != r.unordered {
			return fmt.Errorf("answer to %d: %q on stream %d PPID %d unordered %v; want %q on stream %d PPID %d unordered %v",
				seq, m.Data, m.Stream, m.PPID, m.Unordered, want, r.stream, c.ppid, r.unordered)
		}
		if !r.unordered {
			// Ordered answers come back in order per stream (RFC 9260 6.6).
			if lastOrdered[r.stream] > seq {
				return fmt.Errorf("stream %d: answer %d after %d", r.stream, seq, lastOrdered[r.stream])
			}
			lastOrdered[r.stream] = seq
		} else {
			unordered++
		}
		got[seq] = true
		bytes += len(r.data)
	}
	if err := <-errc; err != nil {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	fmt.Printf("enb %s: %d/%d answers intact: streams 1-%d, PPID %d, %d unordered, %d bytes sent\n",
		c.name, c.messages, c.messages, c.streams-1, c.ppid, unordered, bytes)
	return nil
}
