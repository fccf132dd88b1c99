package engine

import (
	"errors"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/outstanding"
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
	return a.data.sq.Buffered() + a.data.out.Bytes()
}

// flush sends DATA: marked retransmissions first, then new data, within
// cwnd, the peer's window and Max.Burst (6.1, 7.2).
func (d *dataState) flush(a *Association, pb *packetBuilder, now time.Time) {
	if !d.mayFlush(a) {
		return
	}
	pa := a.tx()
	maxBurst := a.cfg.MaxBurst * max(1, d.bursts)
	d.bursts = 0
	maxPayload := a.fragPoint()
	d.flushTailProbes(a, pb, now)
	if d.out.Marked() > 0 && !d.flushRtx(a, pb, now) {
		return
	}
	if a.state == stateCookieEchoed {
		return // new DATA may follow the COOKIE ECHO only once it is acked
	}
	d.flushNew(a, pb, pa, maxPayload, maxBurst, now)
	d.armT3s(now)
	if d.wantWrite && (d.sq.Available() >= d.wantBytes || d.sq.Used() == 0) {
		d.wantWrite = false
		a.signal(Signal{Type: Writable})
	}
}

// mayFlush reports whether DATA may go in the association's state: from
// ESTABLISHED until the SHUTDOWN is sent or acknowledged, and in
// COOKIE-ECHOED retransmissions only (5.1).
func (d *dataState) mayFlush(a *Association) bool {
	if !d.inited || d.sq == nil {
		return false
	}
	switch a.state {
	case stateEstablished, stateShutdownPending, stateShutdownReceived, stateCookieEchoed:
		return true
	}
	return false
}

// fragPoint is the largest DATA payload: what the smallest usable path
// carries (fragRoom), or MaxSeg if smaller.
func (a *Association) fragPoint() int {
	n := a.fragRoom() - wire.CommonHeaderLen - wire.DataHeaderSize
	if a.cfg.MaxSeg > 0 && a.cfg.MaxSeg < n {
		n = a.cfg.MaxSeg
	}
	return n
}

// flushRtx sends the chunks marked for retransmission, oldest first, each
// to its destination (6.4: rtxDest) within that destination's cwnd, or
// one packet of them regardless after T3-rtx (6.3.3 E3) or on Fast
// Retransmit (7.2.4 step 3): forceOne. It reports whether none is left
// waiting; if some are, T3-rtx runs where they wait.
func (d *dataState) flushRtx(a *Association, pb *packetBuilder, now time.Time) bool {
	forced := d.forceOne
	d.forceOne = false
	forcedIn := -1 // the packet (pb.sent then) the forced ones go in
	held := a.tx() // where the retransmissions left waiting go
	live := d.out.Chunks()
	for i := range live {
		o := &live[i]
		if !o.Marked() {
			continue
		}
		dst := d.paths.rtxDest(a, o)
		if forced && forcedIn >= 0 && (pb.sent != forcedIn || pb.dest() != dst || pb.room() < o.Size()) {
			// Only what fits one packet bypasses cwnd (7.2.4 step
			// 3); the rest go as cwnd allows (step 5, 6.1 rule C).
			forced = false
		}
		if !forced && dst.cc.Cwnd()-d.out.DestFlight(dst.idx) < o.Size() {
			held = dst
			break
		}
		pb.to(dst)
		again := o.Remarked()
		d.out.Resend(i, dst.idx)
		if i == 0 && !d.zwp.out && !again {
			// The earliest outstanding chunk goes again: restart
			// T3-rtx (6.1, 7.2.4 step 4). Only its first time: a
			// chunk found lost again and again (tailprobe.go) must
			// not keep T3-rtx, and with it the error counters, from
			// ever acting.
			d.armT3(dst, now)
		}
		pb.add(d.dataChunk(o))
		if !dst.t3.running() {
			d.armT3(dst, now) // 6.3.2 R1, for every destination sent to
		}
		if forced && forcedIn < 0 {
			forcedIn = pb.sent
		}
	}
	if d.out.Marked() > 0 {
		if !held.t3.running() {
			// 6.3.2 R1: started if it is not running, never restarted
			// here: a flush comes with every Send, and restarting
			// T3-rtx at each kept a dead peer from ever being noticed
			// while the application kept sending.
			d.armT3(held, now)
		}
		return false
	}
	return true
}

// flushNew sends new DATA from the send queue to pa, as much as Max.Burst,
// cwnd and the peer's window let go (mayStart), or one zero window probe.
func (d *dataState) flushNew(a *Association, pb *packetBuilder, pa *path, maxPayload, maxBurst int, now time.Time) {
	pb.to(pa)
	mark := pb.sent
	sent := false
	for {
		// The largest chunk Next could return: the checks judge it.
		next := min(maxPayload, d.sq.Buffered())
		if pb.burstDone(mark, maxBurst, wire.DataHeaderSize+next) {
			break
		}
		probe, ok := d.mayStart(a, pb, pa, next, maxPayload, now)
		if !ok {
			break
		}
		ch, ok := d.sq.Next(maxPayload, now)
		if !ok {
			break
		}
		o := d.out.Add(ch, pa.idx, now)
		if ch.Beginning && !ch.Ending {
			a.host.stats.FragUsrMsgs++
		}
		pb.add(d.dataChunk(o))
		pa.hb.lastRTTSend = now
		sent = true
		if probe {
			// One probe, timed by its own backed-off interval.
			pa.startT3(now, d.zwp.sent(o.TSN()))
			break
		}
		d.zwp.windowOpen()
	}
	if sent {
		d.tailProbeActivity(a, pa, now)
	}
}

// mayStart reports whether a new chunk of up to next bytes of user data
// (maxPayload at most) may go to pa, and whether it goes as a zero window
// probe.
func (d *dataState) mayStart(a *Association, pb *packetBuilder, pa *path, next, maxPayload int, now time.Time) (probe, ok bool) {
	flight := d.out.DestFlight(pa.idx)
	if flight > 0 && flight >= pa.cc.Cwnd() {
		return false, false
	}
	// 6.1 rule A, with its zero-window probe: new data goes only if the
	// peer's window holds it, or nothing is outstanding. Never cut a
	// message down to a sliver of window: that is the silly window
	// syndrome 6.1 forbids, and it costs packets, SACKs and copies.
	if int(d.out.PeerRwnd()) < next {
		// With nothing outstanding, the first probe goes one RTO after
		// the window closed, not at once (6.1 rule A).
		if d.out.Len() > 0 || !d.zwp.mayProbe(now, pa.rto.RTO()) {
			return false, false
		}
		probe = true
	}
	if !a.cfg.NoDelay && d.out.Len() > 0 && pb.chunks == 0 && next < maxPayload {
		// Nagle-like: hold a small tail while data is in flight.
		return false, false
	}
	// Rule B (6.1), and one packet in flight after a timeout (7.2.3).
	if !pa.cc.CanSend(flight, wire.DataHeaderSize+next) {
		return false, false
	}
	return probe, true
}

// dataChunk fills the reused encoder value for o; the packet builder encodes
// it at once, so one value serves every chunk without allocating.
func (d *dataState) dataChunk(o *outstanding.Chunk) *wire.Data {
	c := o.Data()
	d.dout = wire.Data{
		TSN: o.TSN(), StreamID: c.Stream, SSN: c.SSN, PPID: c.PPID,
		Unordered: c.Unordered, Beginning: c.Beginning, Ending: c.Ending,
		Payload: c.Payload,
	}
	return &d.dout
}

// armT3 (re)starts the T3-rtx timer of pa with its RTO (6.3.2).
func (d *dataState) armT3(pa *path, now time.Time) { pa.startT3(now, pa.rto.RTO()) }
