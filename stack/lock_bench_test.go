package stack_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

// BenchmarkManyAssocsConcurrentSend puts a figure on the Stack's one lock
// (see the package doc): 1000 associations share one in-memory link, and
// several goroutines send small messages on them at once, each on its own
// share of the associations, while a reader per association drains the far
// side. Every send, every received batch and every timer takes the sending
// and the receiving Stack's lock. msgs/s counts messages delivered.
func BenchmarkManyAssocsConcurrentSend(b *testing.B) {
	const assocs = 1000
	for _, senders := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("assocs=%d/senders=%d", assocs, senders), func(b *testing.B) {
			benchManyAssocs(b, assocs, senders)
		})
	}
}

func benchManyAssocs(b *testing.B, assocs, senders int) {
	la, lb := memlink.Pair(link.UDP, addrA, addrB)
	// No loss: a drop would cost an RTO (1 s) and measure that instead.
	la.QueueLimit, lb.QueueLimit = 1<<20, 1<<20
	sa, err := stack.New(stack.Config{Links: []link.Link{la}})
	if err != nil {
		b.Fatal(err)
	}
	sb, err := stack.New(stack.Config{Links: []link.Link{lb}})
	if err != nil {
		b.Fatal(err)
	}
	defer sa.Close("")
	defer sb.Close("")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts := stack.Options{NoDelay: true, SendBuffer: 64 << 10}
	ln, err := sb.Listen(5000, opts)
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	go func() {
		for {
			x, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				for {
					if _, err := x.RecvMsg(ctx); err != nil {
						return
					}
					if got.Add(1) == target {
						close(done)
					}
				}
			}()
		}
	}()
	p := link.Path{Local: addrA, Remote: addrB, RemotePort: 9899}
	cs := make([]*stack.Assoc, assocs)
	var wg sync.WaitGroup
	errs := make(chan error, assocs)
	for i := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := sa.Dial(ctx, 0, p, 0, 5000, opts)
			cs[i] = c
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	msg := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < senders; g++ {
		n := b.N / senders
		if g < b.N%senders {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := cs[g*assocs/senders : (g+1)*assocs/senders]
			for i := 0; i < n; i++ {
				// SendMsg owns the slice it is given; these are never read
				// back, so one buffer serves every message.
				if err := mine[i%len(mine)].SendMsg(ctx, msg, stack.SndInfo{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.N > 0 {
		select {
		case <-done:
		case <-ctx.Done():
			b.Fatalf("%d of %d messages delivered", got.Load(), b.N)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
