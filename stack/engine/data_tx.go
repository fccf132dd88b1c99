package engine

import (
	"errors"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/sendqueue"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// Send queues a message (RFC 6458 sendmsg with sctp_sndinfo). It takes
// ownership of data: the caller must not change it afterwards. Before COMM_UP
// the message waits for the handshake. ErrFull means the send buffer is full:
// wait for a Writable signal and try again; nothing is dropped.
func (a *Association) Send(now time.Time, data []byte, info SndInfo) error {
	if !a.state.acceptsUserData() && !(a.holdShutdownAck && a.state == stateShutdownReceived) {
		return ErrClosed
	}
	if len(data) == 0 {
		return errors.New("engine: empty message")
	}
	if len(data) > a.cfg.MaxMessage {
		return ErrTooLarge
	}
	d := &a.data
	d.ensureQueue(a)
	if a.outStreams != 0 && info.Stream >= a.outStreams {
		return ErrInvalidStream
	}
	m := sendqueue.Message{Stream: info.Stream, PPID: info.PPID, Unordered: info.Unordered, Data: data, Context: info.Context}
	if info.Lifetime > 0 {
		m.Expiry = now.Add(info.Lifetime)
	}
	if err := d.sq.Push(m); err != nil {
		switch {
		case errors.Is(err, sendqueue.ErrFull):
			d.wantWrite = true
			// Wake the writer when this message would fit, or half the
			// buffer is free: not on every byte freed.
			d.wantBytes = min(len(data), a.cfg.SendBuffer/2)
			return ErrFull
		case errors.Is(err, sendqueue.ErrInvalidStream):
			return ErrInvalidStream
		case errors.Is(err, sendqueue.ErrTooLarge):
			return ErrTooLarge
		}
		return err
	}
	d.dry = false
	d.bursts++
	a.markDirty()
	a.host.finishCall(now)
	return nil
}

// Buffered is the number of user bytes queued or unacknowledged.
func (a *Association) Buffered() int {
	if a.data.sq == nil {
		return 0
	}
	return a.data.sq.Buffered() + a.data.outBytes
}

// flush sends DATA: marked retransmissions first, then new data, within
// cwnd, the peer's window and Max.Burst (6.1, 7.2).
func (d *dataState) flush(a *Association, pb *packetBuilder, now time.Time) {
	if !d.inited || d.sq == nil {
		return
	}
	if a.state != stateEstablished && a.state != stateShutdownPending && a.state != stateShutdownReceived &&
		a.state != stateCookieEchoed {
		return
	}
	h := a.host
	pa := a.tx()
	maxBurst := a.cfg.MaxBurst * max(1, d.bursts)
	d.bursts = 0
	maxPayload := a.fragRoom() - wire.CommonHeaderLen - wire.DataHeaderSize
	if a.cfg.MaxSeg > 0 && a.cfg.MaxSeg < maxPayload {
		maxPayload = a.cfg.MaxSeg
	}
	// Retransmissions.
	if d.rtxPending > 0 {
		forced := d.forceOne
		d.forceOne = false
		held := a.tx() // where the retransmissions left waiting go
		live := d.live()
		for i := range live {
			o := &live[i]
			if !o.rtx {
				continue
			}
			dst := d.paths.rtxDest(a, o)
			if !forced && dst.cc.Cwnd()-dst.flight < o.size() {
				held = dst
				break
			}
			pb.to(dst)
			if forced && pb.chunks > 0 && pb.room() < wire.DataHeaderSize+o.size() {
				// Only what fits one packet bypasses cwnd.
				held = dst
				break
			}
			d.unmarkRtx(o)
			d.paths.move(o, dst)
			d.toFlight(o, 1)
			if i == 0 && !d.zwp.out {
				// The earliest outstanding chunk goes again: restart
				// T3-rtx (6.1, 7.2.4 step 4).
				d.armT3(dst, now)
			}
			o.resent = true
			o.sentAt = now
			pb.add(d.dataChunk(o))
			if d.rttActive && !serialAfter(d.rttTSN, o.tsn) {
				d.rttActive = false // Karn: the timed chunk is now ambiguous
			}
		}
		if d.rtxPending > 0 {
			d.armT3(held, now)
			return
		}
	}
	if a.state == stateCookieEchoed {
		return // new DATA may follow the COOKIE ECHO only once it is acked
	}
	// New data.
	pb.to(pa)
	mark := pb.sent
	for {
		// Max.Burst (6.1 rule 4) counts packets: those already emitted
		// by this flush and the one being built. At the limit new DATA
		// may still fill the current packet, never start another.
		packets := pb.packetsSince(mark)
		if packets >= maxBurst && (packets > maxBurst || pb.chunks == 0 ||
			pb.room() < (wire.DataHeaderSize+min(maxPayload, d.sq.Buffered())+3)&^3) {
			break
		}
		flight := pa.flight
		if flight > 0 && flight >= pa.cc.Cwnd() {
			break
		}
		// 6.1 rule A, with its zero-window probe: new data goes only if the
		// peer's window holds it, or nothing is outstanding. Never cut a
		// message down to a sliver of window: that is the silly window
		// syndrome 6.1 forbids, and it costs packets, SACKs and copies.
		probe := false
		if next := min(maxPayload, d.sq.Buffered()); int(d.peerRwnd) < next {
			if d.outstanding() > 0 {
				break
			}
			// The window is closed with nothing outstanding: the first
			// probe goes one RTO later, not at once (6.1 rule A).
			if !d.zwp.mayProbe(now, pa.rto.RTO()) {
				break
			}
			probe = true
		}
		if !a.cfg.NoDelay && d.outstanding() > 0 && pb.chunks == 0 && d.sq.Buffered() < maxPayload {
			// Nagle-like: hold a small tail while data is in flight.
			break
		}
		// Rule B (6.1), and one packet in flight after a timeout (7.2.3),
		// judged on the largest chunk Next could return.
		if !pa.cc.CanSend(flight, wire.DataHeaderSize+min(maxPayload, d.sq.Buffered())) {
			break
		}
		ch, ok := d.sq.Next(maxPayload, now)
		if !ok {
			break
		}
		o := outChunk{tsn: d.nextTSN, dst: uint8(pa.idx), chunk: ch, sentAt: now}
		d.nextTSN++
		d.out = append(d.out, o)
		pa.outstanding++
		d.outBytes += len(ch.Payload)
		d.toFlight(&d.out[len(d.out)-1], 1)
		if uint32(len(ch.Payload)) >= d.peerRwnd {
			d.peerRwnd = 0
		} else {
			d.peerRwnd -= uint32(len(ch.Payload))
		}
		if !d.rttActive {
			d.rttActive, d.rttTSN, d.rttSent = true, o.tsn, now
		}
		if ch.Beginning && !ch.Ending {
			h.stats.FragUsrMsgs++
		}
		pb.add(d.dataChunk(&d.out[len(d.out)-1]))
		pa.hb.lastRTTSend = now
		if probe {
			// One probe, timed by its own backed-off interval.
			pa.startT3(now, d.zwp.sent(o.tsn))
			break
		}
		d.zwp.windowOpen()
	}
	d.paths.armT3s(now)
	if d.wantWrite && (d.sq.Available() >= d.wantBytes || d.sq.Used() == 0) {
		d.wantWrite = false
		a.signal(Signal{Type: Writable})
	}
}

// dataChunk fills the reused encoder value for o; the packet builder encodes
// it at once, so one value serves every chunk without allocating.
func (d *dataState) dataChunk(o *outChunk) *wire.Data {
	c := &o.chunk
	d.dout = wire.Data{
		TSN: o.tsn, StreamID: c.Stream, SSN: c.SSN, PPID: c.PPID,
		Unordered: c.Unordered, Beginning: c.Beginning, Ending: c.Ending,
		Payload: c.Payload,
	}
	return &d.dout
}

// toFlight adds o to (sign 1) or takes it out of (-1) the flight: in chunk
// bytes for cwnd (7.2), in user bytes for the peer's rwnd (6.2.1), which the
// peer counts in user bytes too.
func (d *dataState) toFlight(o *outChunk, sign int) {
	d.flight += sign * o.size()
	d.flightUser += sign * o.userBytes()
	d.paths.at(int(o.dst)).flight += sign * o.size()
}

// markRtx marks o for retransmission: it leaves the flight (cwnd) but stays
// outstanding for the peer's rwnd (6.2.1 D iv counts every byte not yet
// acknowledged).
func (d *dataState) markRtx(o *outChunk) {
	o.rtx = true
	d.rtxPending++
	d.rtxUser += o.userBytes()
	d.toFlight(o, -1)
}

// unmarkRtx undoes markRtx's bookkeeping when o is sent again or acked;
// the caller puts it back into the flight if it was sent.
func (d *dataState) unmarkRtx(o *outChunk) {
	o.rtx, o.timedOut = false, false
	d.rtxPending--
	d.rtxUser -= o.userBytes()
}

// live is the outstanding chunks, oldest first.
func (d *dataState) live() []outChunk { return d.out[d.head:] }

func (d *dataState) outstanding() int { return len(d.out) - d.head }

// keepOutstanding is the most outstanding-chunk slots an idle association
// keeps (trimIdle).
const keepOutstanding = 64

// trimIdle gives back what a burst grew once the association is idle (its
// path due a heartbeat): the outstanding-chunk array when nothing is
// outstanding, and the fragment buffers reassembly pools. The data path
// keeps its buffers while busy, so it allocates nothing per packet.
func (d *dataState) trimIdle() {
	if d.outstanding() == 0 && cap(d.out) > keepOutstanding {
		d.out, d.head = nil, 0
	}
	if d.rq != nil {
		d.rq.Trim()
	}
}

// dropAcked forgets the n oldest outstanding chunks; the slice is compacted
// only once the dead prefix dominates, so a SACK costs O(acked), not O(all).
func (d *dataState) dropAcked(n int) {
	for i := d.head; i < d.head+n; i++ {
		d.paths.at(int(d.out[i].dst)).outstanding--
		d.out[i] = outChunk{}
	}
	d.head += n
	if d.head == len(d.out) {
		d.out, d.head = d.out[:0], 0
	} else if d.head > 256 && d.head > len(d.out)/2 {
		k := copy(d.out, d.out[d.head:])
		clear(d.out[k:])
		d.out, d.head = d.out[:k], 0
	}
}

// armT3 (re)starts the T3-rtx timer of pa with its RTO (6.3.2).
func (d *dataState) armT3(pa *path, now time.Time) { pa.startT3(now, pa.rto.RTO()) }

// handleSack processes a SACK (6.2.1, 7.2).
func (d *dataState) handleSack(a *Association, c wire.RawChunk, now time.Time) {
	if !d.inited {
		return
	}
	s := &d.sack
	if s.Unmarshal(c) != nil {
		return
	}
	d.processAck(a, s.CumTSNAck, s.ARwnd, s.GapBlocks, true, now)
}

// handleCumAck applies the Cumulative TSN Ack of a SHUTDOWN (9.2).
func (d *dataState) handleCumAck(a *Association, cum uint32, now time.Time) {
	if !d.inited {
		return
	}
	d.processAck(a, cum, d.peerRwnd+uint32(d.outBytes), nil, false, now)
}

func (d *dataState) processAck(a *Association, cum, arwnd uint32, gaps []wire.GapBlock, isSack bool, now time.Time) {
	// 6.2.1 D i: a SACK below the ack point is old news.
	if serialAfter(d.cumAckPt, cum) {
		return
	}
	// A cumulative ack beyond anything we sent is a protocol violation.
	if serialAfter(cum, d.nextTSN-1) {
		a.abortWith(now, []wire.Cause{&wire.ProtocolViolationCause{Info: []byte("cumulative TSN ack beyond TSNs sent")}}, ErrProtocolViolation)
		return
	}
	d.paths.beginAck()
	advanced := serialAfter(cum, d.cumAckPt)
	acked := 0
	// Cumulatively acknowledged chunks leave the queue.
	live := d.live()
	n := 0
	for n < len(live) && !serialAfter(live[n].tsn, cum) {
		o := &live[n]
		if !o.acked {
			acked += d.paths.credit(o)
		} else {
			// Acknowledged already by a gap block, maybe before the
			// path it went on failed: no news of that path now.
			d.gapAcked--
		}
		if o.rtx {
			d.unmarkRtx(o)
		} else if !o.acked {
			d.toFlight(o, -1)
		}
		if d.rttActive && o.tsn == d.rttTSN {
			d.rttActive = false
			if !o.resent {
				d.paths.at(int(o.dst)).rto.Observe(now.Sub(d.rttSent))
			}
		}
		d.outBytes -= o.userBytes()
		d.sq.Release(o.userBytes())
		n++
	}
	if n > 0 {
		d.dropAcked(n)
	}
	if advanced {
		d.cumAckPt = cum
	}
	// Gap blocks: mark what they cover, unmark what they no longer cover
	// (the peer may renege, 6.2.1 D), and count miss indications (7.2.4).
	var htna uint32 // highest TSN newly acknowledged
	haveHTNA, marked := false, false
	if isSack && (len(gaps) > 0 || d.gapAcked > 0) {
		gi := 0
		live := d.live()
		for i := range live {
			o := &live[i]
			off := o.tsn - cum
			for gi < len(gaps) && uint32(gaps[gi].End) < off {
				gi++
			}
			in := gi < len(gaps) && uint32(gaps[gi].Start) <= off && off <= uint32(gaps[gi].End)
			if in && !o.acked {
				o.acked = true
				d.gapAcked++
				acked += d.paths.credit(o)
				if o.rtx {
					d.unmarkRtx(o)
				} else {
					d.toFlight(o, -1)
				}
				htna, haveHTNA = o.tsn, true
			} else if !in && o.acked {
				// Reneged (6.2.1 D): outstanding again.
				o.acked = false
				d.gapAcked--
				d.toFlight(o, 1)
			}
		}
		// 7.2.4 HTNA: a SACK that newly acknowledges nothing strikes no
		// miss, so duplicated or reordered SACKs cannot add any. In Fast
		// Recovery a SACK that advances the cumulative ack strikes every
		// TSN it reports missing, up to its highest gap block.
		if d.fastRecov && advanced && len(gaps) > 0 {
			htna, haveHTNA = cum+uint32(gaps[len(gaps)-1].End), true
		}
		if haveHTNA {
			marked = d.countMisses(htna)
		}
	}
	// 7.2.4: leave fast recovery once the ack point passes the recovery TSN.
	if d.fastRecov && !serialAfter(d.recoverTSN, d.cumAckPt) {
		d.fastRecov = false
	}
	if acked > 0 {
		d.paths.onAck(d.fastRecov)
	}
	if marked && !d.fastRecov {
		// 7.2.4 steps 2, 3 and 6, after the 7.2.1/7.2.2 adjustments for
		// this SACK (the note ending 7.2.4): halve cwnd once, let one
		// packet of retransmissions bypass cwnd, and mark the exit point.
		d.fastRecov = true
		d.recoverTSN = d.nextTSN - 1
		d.paths.onFastRetransmit()
		d.forceOne = true
	}
	if acked > 0 || advanced {
		a.errorCount = 0
		d.paths.clearHeard()
	}
	if d.zwp.onAck(d.cumAckPt, d.outstanding(), arwnd, isSack) {
		d.probeAnswered(a, arwnd, now)
	}
	// 6.2.1 D iv: the peer's window less what is still outstanding, chunks
	// waiting for retransmission included.
	fl := uint32(d.flightUser + d.rtxUser)
	if arwnd > fl {
		d.peerRwnd = arwnd - fl
	} else {
		d.peerRwnd = 0
	}
	// 6.3.2 R2/R3, per destination.
	d.paths.afterAck(now, advanced)
	if d.outstanding() == 0 && d.sq != nil && d.sq.Buffered() == 0 && !d.dry {
		d.dry = true
		a.notify(Event{Type: SenderDry})
	}
	a.markDirty()
}

// countMisses strokes every unacknowledged chunk below htna and marks those
// with three strikes for fast retransmission (7.2.4 steps 1 and 5),
// reporting whether it marked any.
func (d *dataState) countMisses(htna uint32) bool {
	marked := false
	live := d.live()
	for i := range live {
		o := &live[i]
		if !serialAfter(htna, o.tsn) {
			break
		}
		if o.acked || o.rtx || o.fastDone {
			continue
		}
		o.misses++
		if o.misses >= 3 {
			o.fastDone = true
			d.markRtx(o)
			d.paths.at(int(o.dst)).fastMarked = true
			marked = true
		}
	}
	return marked
}

// onTimeout runs the data timers of the association: delayed SACK and the
// zero window probe's delay. T3-rtx is per destination (onT3).
func (d *dataState) onTimeout(a *Association, now time.Time) {
	if d.sackDue.due(now) {
		d.sackDue.stop()
		a.host.stats.DelaySackExpireds++
		d.sackNow = true
	}
	d.zwp.onTimeout(now)
}

// onT3 runs the T3-rtx timer of destination pa (6.3.3).
func (d *dataState) onT3(a *Association, pa *path, now time.Time) {
	pa.t3.stop()
	a.host.stats.T3RtxExpireds++
	if pa.outstanding == 0 || !d.inited {
		return
	}
	if d.reprobe(a, pa, now) {
		return
	}
	// E1, E2: congestion collapse and RTO backoff for that destination;
	// the error counters (8.1, 8.2).
	pa.cc.OnRetransmitTimeout()
	pa.rto.Backoff()
	if a.countError(pa, now, true) {
		return
	}
	d.fastRecov = false
	// E3: everything not acknowledged that was last sent there is
	// retransmitted, to another destination if one is active (6.4); one
	// packet now.
	live := d.live()
	for i := range live {
		o := &live[i]
		if !o.acked && !o.rtx && int(o.dst) == pa.idx {
			d.markRtx(o)
			o.timedOut = true
		}
	}
	d.rttActive = false
	d.forceOne = true
	d.armT3(pa, now)
}
