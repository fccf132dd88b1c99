package engine

import "time"

// RecvHeld is what the receive side holds: payload bytes and items
// (fragments and messages) in reassembly, for tests bounding memory.
func (a *Association) RecvHeld() (bytes, items int) {
	if a.data.rq == nil {
		return 0, 0
	}
	return a.data.rq.Buffered(), a.data.rq.Held()
}

// RecvCumAck is the receiver's Cumulative TSN Ack.
func (a *Association) RecvCumAck() uint32 { return a.data.cumAck() }

// T3Deadline is when the earliest T3-rtx expires, zero if none is running.
func (a *Association) T3Deadline() time.Time {
	var m time.Time
	for _, pa := range a.paths.list {
		m = earliest(m, pa.t3)
	}
	return m
}
