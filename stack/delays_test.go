package stack_test

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// fedLink delivers the batches a test feeds it and takes every write; it
// stands for a link that stamps the kernel's receive time.
type fedLink struct {
	in      chan []link.Packet
	closed  chan struct{}
	once    sync.Once
	onWrite func()
}

func newFedLink() *fedLink {
	return &fedLink{in: make(chan []link.Packet), closed: make(chan struct{})}
}

func (l *fedLink) Kind() link.Kind { return link.UDP }

func (l *fedLink) ReadBatch(pkts []link.Packet) (int, error) {
	select {
	case b := <-l.in:
		for i, p := range b {
			buf := pkts[i].Buf[:copy(pkts[i].Buf[:cap(pkts[i].Buf)], p.Buf)]
			pkts[i] = p
			pkts[i].Buf = buf
		}
		return len(b), nil
	case <-l.closed:
		return 0, link.ErrClosed
	}
}

func (l *fedLink) WriteBatch(pkts []link.Packet) (int, error) {
	if l.onWrite != nil {
		l.onWrite()
	}
	return len(pkts), nil
}
func (l *fedLink) Overhead(netip.Addr) int  { return 28 }
func (l *fedLink) LocalAddrs() []netip.Addr { return nil }
func (l *fedLink) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// setClock is a clock that stands still until the test moves it; its
// timers never fire.
type setClock struct{ ns atomic.Int64 }

func (c *setClock) Now() time.Time                     { return time.Unix(0, c.ns.Load()) }
func (c *setClock) NewTimer(time.Duration) stack.Timer { return idleTimer{} }
func (c *setClock) add(d time.Duration)                { c.ns.Add(int64(d)) }

type idleTimer struct{}

func (idleTimer) C() <-chan time.Time { return nil }
func (idleTimer) Reset(time.Duration) {}
func (idleTimer) Stop()               {}

// TestDelays: the stack counts, per link, how long each packet waited from
// its kernel receive time to being taken in, leaving out packets without
// one, how long each batch took to handle, and how long the link took to
// write what a flush sent on it.
func TestDelays(t *testing.T) {
	clk := &setClock{}
	clk.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	l := newFedLink()
	l.onWrite = func() { clk.add(70 * time.Microsecond) }
	// The tap runs after the batch was taken in: moving the clock there
	// makes the batch's handling take that long.
	var handling atomic.Int64
	s, err := stack.New(stack.Config{Links: []link.Link{l}, Clock: clk, TimerSlack: -1,
		Tap: func(in bool, _ int, _ link.Path, _ []byte) {
			if in {
				clk.add(time.Duration(handling.Swap(0)))
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close("test")
	if _, err := s.Listen(5000, stack.Options{}); err != nil {
		t.Fatal(err)
	}

	path := link.Path{Local: netip.MustParseAddr("198.18.0.1"), Remote: netip.MustParseAddr("198.18.0.2"), RemotePort: 9899}
	junk := make([]byte, 12) // a common header with nothing for us: dropped
	ini := &wire.Init{InitFields: wire.InitFields{InitiateTag: 7, ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1}}
	init := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: 4000, DstPort: 5000}, ini) // answered: one write
	now := clk.Now().UnixNano()
	at := func(ago time.Duration) int64 { return now - int64(ago) }
	// One batch: waits of 7 µs, 300 µs, 3 ms; a packet without a time;
	// a time after now (the wall clock stepped back), counted as zero.
	handling.Store(int64(40 * time.Microsecond))
	l.in <- []link.Packet{
		{Path: path, Buf: init, Arrived: at(7 * time.Microsecond)},
		{Path: path, Buf: junk, Arrived: at(300 * time.Microsecond)},
		{Path: path, Buf: junk, Arrived: at(3 * time.Millisecond)},
		{Path: path, Buf: junk},
		{Path: path, Buf: junk, Arrived: at(-time.Second)},
		// An ICMP notice with a time left in its slot: no packet, not
		// counted.
		{Path: path, Notice: link.NoticeUnreachable, Arrived: at(time.Minute)},
	}
	// A second batch, handled in no time, read once the first was done
	// (the reader takes one batch at a time): it waited 2 s and the first
	// batch's 40 µs of handling and 70 µs of writing.
	l.in <- []link.Packet{{Path: path, Buf: junk, Arrived: at(2 * time.Second)}}
	var d []stack.LinkDelays
	for end := time.Now().Add(10 * time.Second); ; {
		d = s.Delays()
		if d[0].Handled.Count == 2 || time.Now().After(end) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if len(d) != 1 {
		t.Fatalf("%d links' delays, want 1", len(d))
	}
	w, h := d[0].Waited, d[0].Handled
	bucket := func(x time.Duration) int {
		for i, b := range stack.DelayBounds {
			if x <= b {
				return i
			}
		}
		return len(stack.DelayBounds)
	}
	var want [len(stack.DelayBounds) + 1]uint64
	for _, x := range []time.Duration{0, 7 * time.Microsecond, 300 * time.Microsecond, 3 * time.Millisecond, 2*time.Second + 110*time.Microsecond} {
		want[bucket(x)]++
	}
	if w.Counts != want || w.Count != 5 {
		t.Errorf("waited %v (count %d), want %v", w.Counts, w.Count, want)
	}
	if wantSum := 7*time.Microsecond + 300*time.Microsecond + 3*time.Millisecond + 2*time.Second + 110*time.Microsecond; w.Sum != wantSum {
		t.Errorf("waited sum %v, want %v", w.Sum, wantSum)
	}
	want = [len(stack.DelayBounds) + 1]uint64{}
	want[bucket(0)]++
	want[bucket(40*time.Microsecond)]++
	if h.Counts != want || h.Sum != 40*time.Microsecond {
		t.Errorf("handled %v (sum %v), want %v", h.Counts, h.Sum, want)
	}
	want = [len(stack.DelayBounds) + 1]uint64{}
	want[bucket(70*time.Microsecond)]++
	if wr := d[0].Written; wr.Counts != want || wr.Sum != 70*time.Microsecond {
		t.Errorf("written %v (sum %v), want the INIT ACK's write, 70 µs", wr.Counts, wr.Sum)
	}
}
