package engine

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/congestion"
	"github.com/sctpgw/sctpgw/stack/internal/outstanding"
	"github.com/sctpgw/sctpgw/stack/internal/reassembly"
	"github.com/sctpgw/sctpgw/stack/internal/rxtsn"
	"github.com/sctpgw/sctpgw/stack/internal/sendqueue"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// SndInfo says how to send a message (RFC 6458 sctp_sndinfo).
type SndInfo struct {
	Stream    uint16
	PPID      uint32
	Unordered bool
	// Context is returned with the message if it fails (SEND_FAILED).
	Context uint32
	// Lifetime, if nonzero, abandons the message if it is not sent in time
	// (RFC 3758 timed reliability; needs the peer's FORWARD TSN support to
	// abandon data already sent).
	Lifetime time.Duration
}

// Message is a received user message with RFC 6458 sctp_rcvinfo fields.
type Message struct {
	Stream    uint16
	SSN       uint16
	PPID      uint32
	TSN       uint32
	Unordered bool
	Data      []byte
}

// dataState is an association's data transfer: the receive side (TSN
// tracking, reassembly, SACK timing) and the send side (queue, outstanding
// chunks, congestion control, retransmission). RFC 9260 sections 6 and 7.
type dataState struct {
	// receive side
	rx       *rxtsn.Tracker
	rq       *reassembly.Reassembler
	sackNow  bool  // a SACK must go in the next flush
	sackDue  timer // delayed SACK
	unacked  int   // packets with DATA since the last SACK
	readable bool  // a Readable signal is queued
	lastRwnd uint32
	dscratch wire.Data
	// windowClosed: CloseWindow was called; refused counts the DATA chunks
	// it dropped since.
	windowClosed bool
	refused      int
	sack         wire.Sack

	// send side
	sq *sendqueue.Queue
	// out is the chunks sent and not cumulatively acknowledged, with the
	// TSNs, flight sizes and the peer's window that follow from them.
	out outstanding.Queue
	// paths are the association's destinations, each with its congestion
	// state (path.go); initialRwnd the peer's first a_rwnd, a new
	// destination's initial ssthresh.
	paths       *pathTable
	initialRwnd int
	recovery    congestion.FastRecovery // 7.2.4
	// forceOne lets one packet of marked retransmissions go regardless of
	// cwnd: after T3 (6.3.3 E3) and on Fast Retransmit (7.2.4 step 3).
	forceOne  bool
	zwp       zeroWindowProbe // 6.1 rule A (zwp.go)
	dout      wire.Data
	dry       bool // SENDER_DRY announced for the current idle spell
	wantWrite bool // Send returned ErrFull: announce Writable
	wantBytes int  // ... once this much send buffer is free
	inited    bool
	// bursts counts the messages Send took since the last flush. Each is a
	// sending opportunity of its own (6.1 rule 4): a flush that sends many
	// messages queued in one input (a relay forwarding what one batch of
	// packets completed, or deferred sends) may send Max.Burst packets per
	// message, what a flush per message would have, and no more.
	bursts int
}

// A chunk names the destination it was last sent to by its path index.
var _ [outstanding.MaxDests - maxPeerAddrs]struct{}

// init sets the data state up once the peer's INIT or INIT ACK is known.
func (d *dataState) init(a *Association, peerRwnd uint32) {
	d.stop()
	d.rx = rxtsn.New(a.peerTSN)
	d.rq = reassembly.New(reassembly.Config{InStreams: int(a.inStreams), MaxMessage: a.cfg.MaxMessage})
	old := d.sq
	d.sq = d.newQueue(a, int(a.outStreams))
	if old != nil {
		// Messages queued before the handshake finished move over; those on
		// streams the peer did not grant fail.
		var failed []FailedMessage
		for _, m := range old.Drain() {
			if err := d.sq.Push(m.Message); err != nil {
				failed = append(failed, failedFrom(m))
			}
		}
		if len(failed) > 0 {
			a.notify(Event{Type: SendFailed, Failed: failed})
		}
	}
	d.initialRwnd = int(peerRwnd)
	for _, pa := range a.paths.list {
		pa.initCC(d.initialRwnd)
	}
	d.out.Reset(a.localTSN, peerRwnd)
	// A restart in place (5.2.4 A) starts a new TSN sequence: Fast
	// Recovery's exit point and a pending forced retransmission belong to
	// the old one, as do the receive side's SACK debts.
	d.recovery = congestion.FastRecovery{}
	d.forceOne = false
	d.sackNow, d.unacked = false, 0
	d.zwp.reset(peerRwnd)
	d.lastRwnd = uint32(a.cfg.RecvBuffer)
	d.inited = true
}

// ensureQueue gives an association a send queue before the handshake, so
// messages can wait for COMM_UP.
func (d *dataState) ensureQueue(a *Association) {
	if d.sq == nil {
		d.sq = d.newQueue(a, int(a.cfg.InitMsg.OutStreams))
	}
}

// newQueue makes the send queue; messages whose lifetime (SndInfo.Lifetime,
// RFC 3758 timed reliability) ends before they are sent fail with
// SEND_FAILED.
func (d *dataState) newQueue(a *Association, streams int) *sendqueue.Queue {
	return sendqueue.New(sendqueue.Config{
		OutStreams: streams, MaxBuffered: a.cfg.SendBuffer, MaxMessage: a.cfg.MaxMessage,
		OnExpired: func(p sendqueue.Pending) {
			a.notify(Event{Type: SendFailed, Failed: []FailedMessage{failedFrom(p)}})
		},
	})
}

func failedFrom(m sendqueue.Pending) FailedMessage {
	return FailedMessage{
		Info: SndInfo{Stream: m.Message.Stream, PPID: m.Message.PPID, Unordered: m.Message.Unordered, Context: m.Message.Context},
		Data: m.Message.Data, Sent: m.Partial,
	}
}

func (d *dataState) stop() {
	d.sackDue.stop()
	d.zwp.delay.stop()
}

func (d *dataState) earliest(m time.Time) time.Time {
	m = earliest(m, d.sackDue)
	return earliest(m, d.zwp.delay)
}

func (d *dataState) cumAck() uint32 {
	if d.rx == nil {
		return 0
	}
	return d.rx.CumAck()
}

// idle reports that nothing is queued or outstanding (9.2's precondition).
func (d *dataState) idle() bool {
	return d.out.Len() == 0 && (d.sq == nil || d.sq.Buffered() == 0)
}

// rwnd is the receive window we advertise: the buffer less what the user
// has not read yet (6.2). A user who stops reading closes it, and so does
// CloseWindow.
func (d *dataState) rwnd(a *Association) uint32 {
	if d.windowClosed {
		return 0
	}
	free := a.cfg.RecvBuffer - d.rq.Buffered()
	if free < 0 {
		return 0
	}
	return uint32(free)
}

// failAll empties the send side for SEND_FAILED when the association ends.
func (d *dataState) failAll() []FailedMessage {
	var failed []FailedMessage
	// Outstanding chunks: report each message once, from its first fragment
	// still held.
	live := d.out.Chunks()
	for i := range live {
		c := live[i].Data()
		if c.Beginning || i == 0 {
			failed = append(failed, FailedMessage{
				Info: SndInfo{Stream: c.Stream, PPID: c.PPID, Unordered: c.Unordered, Context: c.Context},
				Data: c.Message, Sent: true,
			})
		}
	}
	d.out.Clear()
	if d.sq != nil {
		for _, m := range d.sq.Drain() {
			if m.Partial && len(failed) > 0 && failed[len(failed)-1].Data != nil && sameData(failed[len(failed)-1].Data, m.Message.Data) {
				continue
			}
			failed = append(failed, failedFrom(m))
		}
	}
	return failed
}

func sameData(a, b []byte) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// trimIdle gives back what a burst grew once the association is idle (its
// path due a heartbeat): the outstanding-chunk array when nothing is
// outstanding, and the fragment buffers reassembly pools. The data path
// keeps its buffers while busy, so it allocates nothing per packet.
func (d *dataState) trimIdle() {
	d.out.Trim()
	if d.rq != nil {
		d.rq.Trim()
	}
}
