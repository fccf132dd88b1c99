package engine_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/sim"
)

// TestSoakPathFlaps: ten virtual minutes of echo traffic over a two-path
// association (the namespace lab's timers, 40 ms each way, 1 % loss each
// way) while one of the server's two addresses at a time goes down for 2 to
// 15 s and comes back 2 to 15 s before the next cut, at random. One path
// is always up, so the association must never end (RFC 9260 8.2: only when
// every path failed), every message must come back exactly once, and once
// both networks are up for good both paths must be active again, each way.
// A failing seed replays: go test -run 'TestSoakPathFlaps/seed=N'.
// soakLoss and soakN: the loss each way and the seeds. At 5 % loss with
// these timers (Path.Max.Retrans 3, Association.Max.Retrans 6, which RFC
// 9260 8.2's note calls the limit where every path can be inactive while
// the association lives) 11 of 300 seeds end the association while one
// network is up: two or three losses in a row on the live path on top of
// the dead one's errors; 400 seeds at 1 % all pass.
var soakLoss, soakN = 0.01, 20

func TestSoakPathFlaps(t *testing.T) {
	for seed := range soakSeeds(soakN) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			pathFlapsOne(t, uint64(seed)*104729+11)
		})
	}
}

func pathFlapsOne(t *testing.T, seed uint64) {
	l := newLabTimersMH(t, seed)
	for _, nd := range []*sim.Node{l.cn, l.sn} {
		nd.Imp.Loss = soakLoss
	}
	flaps := rand.New(rand.NewPCG(seed, 7))
	between := func() time.Duration { return 2*time.Second + time.Duration(flaps.Int64N(int64(13*time.Second))) }
	addrs := [2]netip.Addr{mhServer1, mhServer2}
	var down netip.Addr
	next := l.net.Now().Add(between())
	end := l.net.Now().Add(10 * time.Minute)
	sent, cuts := 0, 0
	for l.net.Now().Before(end) {
		if !l.net.Now().Before(next) {
			if down.IsValid() {
				l.net.SetAddrDown(down, false)
				down = netip.Addr{}
			} else {
				down = addrs[flaps.IntN(2)]
				l.net.SetAddrDown(down, true)
				cuts++
			}
			next = l.net.Now().Add(between())
		}
		b := make([]byte, 100+flaps.IntN(1900))
		binary.BigEndian.PutUint64(b, uint64(sent))
		if l.client.Send(l.net.Now(), b, engine.SndInfo{PPID: 18}) == nil {
			sent++
		}
		l.net.RunFor(50 * time.Millisecond)
		if l.crec.ended() || l.srec.ended() {
			t.Fatalf("the association ended at %v (%d cuts, %v down): client %v, server %v",
				l.net.Now().Sub(sim.Epoch), cuts, down, l.client.State(), l.server.State())
		}
	}
	if down.IsValid() {
		l.net.SetAddrDown(down, false)
	}
	if !l.net.RunUntil(func() bool { return len(l.crec.seen) == sent }, 2*time.Minute) {
		t.Fatalf("%d of %d echoes two minutes after the last message (%d cuts)", len(l.crec.seen), sent, cuts)
	}
	if l.crec.dups != 0 || l.srec.dups != 0 || len(l.srec.seen) != sent {
		t.Fatalf("server saw %d of %d messages, %d duplicates; client %d duplicates", len(l.srec.seen), sent, l.srec.dups, l.crec.dups)
	}
	if !l.net.RunUntil(func() bool { return bothActive(l.client) && bothActive(l.server) }, 30*time.Second) {
		t.Fatalf("both networks up, but paths: client %+v, server %+v", l.client.Status().Paths, l.server.Status().Paths)
	}
	if cuts < 10 {
		t.Fatalf("only %d cuts in ten minutes", cuts)
	}
}
