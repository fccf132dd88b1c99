//go:build linux

package lab

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// latencyPeers are our stack in enb (the client) and an echo in mme, made
// once per lab: their raw sockets would answer tsctp's packets, so they
// start after the last tsctp run.
type latencyPeers struct {
	enb *stack.Stack
}

var latPeers struct {
	mu sync.Mutex
	m  map[*lab]*latencyPeers
}

func (l *lab) latencyPeers() *latencyPeers {
	latPeers.mu.Lock()
	defer latPeers.mu.Unlock()
	if p := latPeers.m[l]; p != nil {
		return p
	}
	if latPeers.m == nil {
		latPeers.m = map[*lab]*latencyPeers{}
	}
	opts := stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 4}}
	serveFar(l.tb, l.nativeStack("mme", mmeAddr), opts, benchPingPort)
	p := &latencyPeers{enb: l.nativeStack("enb", enbAddr)}
	latPeers.m[l] = p
	l.tb.Cleanup(func() {
		latPeers.mu.Lock()
		delete(latPeers.m, l)
		latPeers.mu.Unlock()
	})
	return p
}

// latency sends 100-byte messages at rate per second for d from enb to the
// echo in mme, through rp (nil: direct), and returns every echo's round
// trip after the first 10 % of d, sorted. Each message carries its send
// time; the sender paces itself against the clock (sleeping only when
// ahead by 200 µs or more, so under load it sends in small bursts, as
// traffic from several eNBs would arrive).
func (l *lab) latency(b *testing.B, label string, rp *relayPair, rate int, d time.Duration) []time.Duration {
	b.Helper()
	peers := l.latencyPeers()
	to := mmeAddr
	if rp != nil {
		to = edgeRAN
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	opts := stack.Options{NoDelay: true, InitMsg: engine.InitMsg{OutStreams: 4, MaxInStreams: 4}}
	a, err := dialHello(ctx, peers.enb, enbAddr, to, benchPingPort, "latency-"+label, opts)
	if err != nil {
		b.Fatalf("latency %s: %v", label, err)
	}
	n := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	rtts := make([]time.Duration, 0, n)
	done := make(chan error, 1)
	go func() {
		for range n {
			m, err := a.RecvMsg(ctx)
			if err != nil {
				done <- err
				return
			}
			if len(m.Data) < 16 {
				continue
			}
			sent := time.Duration(binary.BigEndian.Uint64(m.Data[8:16]))
			if i := binary.BigEndian.Uint64(m.Data[:8]); i >= uint64(n/10) {
				rtts = append(rtts, time.Since(start)-sent)
			}
		}
		done <- nil
	}()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if ahead := time.Until(due); ahead >= 200*time.Microsecond {
			time.Sleep(ahead)
		}
		msg := make([]byte, 100)
		binary.BigEndian.PutUint64(msg, uint64(i))
		binary.BigEndian.PutUint64(msg[8:], uint64(time.Since(start)))
		if err := a.SendMsg(ctx, msg, stack.SndInfo{PPID: 18}); err != nil {
			b.Fatalf("latency %s: send %d: %v", label, i, err)
		}
	}
	if err := <-done; err != nil {
		b.Fatalf("latency %s: receive: %v", label, err)
	}
	if err := a.Shutdown(ctx); err != nil {
		b.Fatalf("latency %s: shutdown: %v", label, err)
	}
	slices.Sort(rtts)
	return rtts
}
