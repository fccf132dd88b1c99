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

// T3Deadline is when T3-rtx expires, zero if it is not running.
func (a *Association) T3Deadline() time.Time { return a.data.t3.at }
