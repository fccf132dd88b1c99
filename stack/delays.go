package stack

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
)

// DelayBounds are the upper bounds of the buckets of a DelayHistogram: from
// what one batch costs on a quiet host (tens of microseconds) to the
// hundreds of milliseconds a starved process waits for a CPU.
var DelayBounds = [...]time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, time.Second,
}

// DelayHistogram counts durations in the buckets of DelayBounds, as a
// Prometheus histogram does. It is a value: copying it copies the counts.
type DelayHistogram struct {
	// Counts holds the observations per bucket; the last is above every
	// bound.
	Counts [len(DelayBounds) + 1]uint64
	Sum    time.Duration
	Count  uint64
}

// observe counts d; a negative d (the wall clock stepped back between a
// kernel timestamp and now) counts as zero.
func (h *DelayHistogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(DelayBounds) && d > DelayBounds[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += d
	h.Count++
}

// LinkDelays are the delays of one link's packets in the stack, the
// stack's share of the latency it adds, apart from what the network and
// the peers add (docs/design.md 6.5).
type LinkDelays struct {
	// Waited is, per packet, the time from the kernel's receipt
	// (link.Packet.Arrived) to the stack taking it in: queued in the
	// socket, the reader's wake-up and its wait for a CPU, and the wait
	// for the Stack's lock. A host short of CPU shows here. Packets whose
	// link gives no receive time are not counted.
	Waited DelayHistogram
	// Handled is, per batch read, the time from taking it in to having
	// done with it, what it produced still to be written: the engine's
	// input and the handlers it ran (a relay's forwarding). The stack's
	// own work.
	Handled DelayHistogram
	// Written is, per flush that sent on the link, the time the link took
	// to take the packets: the system calls, and on a veth the receiving
	// namespaces' network stacks, which run in them. A message relayed
	// at once leaves the stack about Waited and Handled on the link it
	// came on and Written on the link it goes out on after it arrived.
	Written DelayHistogram
}

// Delays reads the delay histograms of every link, indexed as
// Config.Links.
func (s *Stack) Delays() []LinkDelays {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LinkDelays(nil), s.delays...)
}

// noteWaited counts how long the packets of a batch waited, to now;
// notices (ICMP reports) are no packets and are left out.
func (s *Stack) noteWaited(i int, pkts []link.Packet, now time.Time) {
	h := &s.delays[i].Waited
	ns := now.UnixNano()
	for j := range pkts {
		if at := pkts[j].Arrived; at != 0 && pkts[j].Notice == link.NoticeNone {
			h.observe(time.Duration(ns - at))
		}
	}
}
