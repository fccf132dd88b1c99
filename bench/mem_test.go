package bench

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

// Issue 4: two associations over an in-memory packet link.
var memWorkloads = []workload{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"100B", 100}}

// memQueueLimit makes the in-memory link lossless: far above anything in
// flight under a 1 MiB window (memlink drops beyond its limit, as a full
// socket buffer would; the default is 4096 packets).
const memQueueLimit = 1 << 20

func memPair() (*memlink.End, *memlink.End) {
	la, lb := memlink.Pair(link.UDP, addrA, addrB)
	la.QueueLimit, lb.QueueLimit = memQueueLimit, memQueueLimit
	return la, lb
}

// BenchmarkMem measures, for each workload, three things moving b.N
// messages one way over an in-memory link:
//
//   - ours: two stack.Stacks (the runtime with its goroutines, batching and
//     locks, and the engine) over a memlink pair;
//   - engine: the sans-IO engine alone, two engine.Hosts driven in one
//     goroutine that hands packets straight from one to the other with a
//     virtual clock: no goroutines, locks, link or copies;
//   - pion: github.com/pion/sctp over the same memlink pair, through a
//     net.Conn that reads and writes one packet per call.
//
// The summary printed at the end has the ratios ours/pion and engine/pion.
func BenchmarkMem(b *testing.B) {
	for _, w := range memWorkloads {
		b.Run(w.name, func(b *testing.B) {
			b.Run("ours", func(b *testing.B) { benchMemOurs(b, w) })
			b.Run("engine", func(b *testing.B) { benchMemEngine(b, w) })
			b.Run("pion", func(b *testing.B) { benchMemPion(b, w) })
		})
	}
}

func benchMemOurs(b *testing.B, w workload) {
	msg := payload(w.size)
	runCall(b, "Mem", w, "ours", func(ctx context.Context) (func(context.Context, int) error, func() string, error) {
		la, lb := memPair()
		p, err := newOurs(ctx, la, lb, link.Path{Local: addrA, Remote: addrB, RemotePort: 9899}, stack.Options{})
		if err != nil {
			return nil, nil, err
		}
		transfer := func(ctx context.Context, n int) error { return p.transfer(ctx, n, msg) }
		teardown := func() string {
			note := lossNote(p.sa.Stats(), p.msgs)
			p.close()
			return note
		}
		return transfer, teardown, nil
	})
}

func benchMemPion(b *testing.B, w workload) {
	msg := payload(w.size)
	runCall(b, "Mem", w, "pion", func(ctx context.Context) (func(context.Context, int) error, func() string, error) {
		la, lb := memPair()
		p, err := newPion(ctx, newMemConn(la), newMemConn(lb), 1<<20, sendBuffer)
		if err != nil {
			return nil, nil, err
		}
		transfer := func(ctx context.Context, n int) error { return p.transfer(ctx, n, msg) }
		teardown := func() string {
			note := fmt.Sprintf("client srtt %.3f ms, cwnd %d", p.c.SRTT(), p.c.CWND())
			p.close()
			return note
		}
		return transfer, teardown, nil
	})
}

func benchMemEngine(b *testing.B, w workload) {
	msg := payload(w.size)
	runCall(b, "Mem", w, "engine", func(ctx context.Context) (func(context.Context, int) error, func() string, error) {
		e, err := newEnginePair()
		if err != nil {
			return nil, nil, err
		}
		transfer := func(ctx context.Context, n int) error { return e.transfer(ctx, n, msg) }
		teardown := func() string {
			return fmt.Sprintf("%s, %d rounds, %d stalls (virtual clock jumped to a timer)", lossNote(e.ha.Stats(), e.msgs), e.rounds, e.stalls)
		}
		return transfer, teardown, nil
	})
}

// enginePair is two engine Hosts wired back to back, driven by the caller's
// goroutine with a virtual clock.
type enginePair struct {
	ha, hb         *engine.Host
	c, s           *engine.Association
	now            time.Time
	atA, atB       link.Path // the path a packet arrives on at A, at B
	rounds, stalls int
	msgs           int // messages transferred, warm-up included
}

// nopHandler ignores what the associations report: the pair reads and
// sends by polling.
type nopHandler struct{}

func (nopHandler) HandleEvent(*engine.Association, engine.Event)   {}
func (nopHandler) HandleSignal(*engine.Association, engine.Signal) {}

func newEnginePair() (*enginePair, error) {
	li := []engine.LinkInfo{{Kind: link.UDP, AnswerUnserved: true}}
	e := &enginePair{
		ha:  engine.NewHost(engine.HostConfig{Links: li}),
		hb:  engine.NewHost(engine.HostConfig{Links: li}),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		atA: link.Path{Local: addrA, Remote: addrB, RemotePort: 9899},
		atB: link.Path{Local: addrB, Remote: addrA, RemotePort: 40000},
	}
	var nop nopHandler
	err := e.hb.Listen(sctpPort, engine.Config{}, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		e.s = r.Association()
		r.Accept(e.now, nop)
	}))
	if err != nil {
		return nil, err
	}
	if e.c, err = e.ha.Dial(0, e.atA, 0, sctpPort, engine.Config{}, nop, e.now); err != nil {
		return nil, err
	}
	for i := 0; i < 100 && (e.s == nil || e.c.State() != e.s.State()); i++ {
		e.exchange()
	}
	if e.s == nil {
		return nil, errors.New("engine: no association after 100 exchanges")
	}
	return e, nil
}

// deliver hands everything from has produced to the other host.
func (e *enginePair) deliver(from, to *engine.Host, at link.Path) int {
	out := from.Outgoing()
	k := len(out)
	for i := range out {
		to.HandlePacket(0, at, out[i].Buf, e.now)
	}
	from.ReleaseOutgoing()
	return k
}

func (e *enginePair) exchange() int {
	return e.deliver(e.ha, e.hb, e.atB) + e.deliver(e.hb, e.ha, e.atA)
}

// fireTimers runs the timers due; with jump, it first moves the virtual
// clock to the earliest deadline.
func (e *enginePair) fireTimers(jump bool) {
	if jump {
		da, okA := e.ha.NextDeadline()
		db, okB := e.hb.NextDeadline()
		switch {
		case okA && (!okB || da.Before(db)):
			e.now = da
		case okB:
			e.now = db
		}
	}
	for _, h := range []*engine.Host{e.ha, e.hb} {
		if d, ok := h.NextDeadline(); ok && !d.After(e.now) {
			h.HandleTimeout(e.now)
		}
	}
}

func (e *enginePair) transfer(ctx context.Context, n int, msg []byte) error {
	e.msgs += n
	info := engine.SndInfo{PPID: ppid}
	sent, recvd := 0, 0
	maxRounds := 1000 + 100*n
	for r := 0; recvd < n; r++ {
		if r > maxRounds || ctx.Err() != nil {
			return fmt.Errorf("engine: %d of %d messages after %d rounds (%v)", recvd, n, r, ctx.Err())
		}
		e.rounds++
		progress := false
		for sent < n {
			err := e.c.Send(e.now, msg, info)
			if errors.Is(err, engine.ErrFull) {
				break
			}
			if err != nil {
				return fmt.Errorf("engine Send %d: %w", sent, err)
			}
			sent++
			progress = true
		}
		if e.deliver(e.ha, e.hb, e.atB) > 0 {
			progress = true
		}
		for {
			m, ok := e.s.Read(e.now)
			if !ok {
				break
			}
			if err := checkMsg(recvd, m.Data, msg); err != nil {
				return err
			}
			recvd++
			progress = true
		}
		if e.deliver(e.hb, e.ha, e.atA) > 0 {
			progress = true
		}
		e.now = e.now.Add(time.Microsecond)
		if !progress {
			e.stalls++
		}
		e.fireTimers(!progress)
	}
	return nil
}
