package congestion

// FastRecovery is the association-wide Fast Recovery state of RFC 9260
// 7.2.4: entered on the first Fast Retransmit, left when a SACK acknowledges
// every TSN up to and including the exit point. While in it, further Fast
// Retransmits must not lower any cwnd again (steps 2 and 6), and slow start
// does not grow cwnd (7.2.1; pass Active() as Ack.InFastRecovery).
//
// Typical use when SACK processing marks chunks for Fast Retransmit:
//
//	if fr.Enter(highestOutstandingTSN) {
//		for each destination the marked chunks were last sent to:
//			cc[dest].OnFastRetransmit()
//	}
//
// and for every SACK, before OnAck: fr.OnCumulativeAck(cumTSNAck). The zero
// value is not in Fast Recovery.
type FastRecovery struct {
	active bool
	exit   uint32
}

// Enter starts Fast Recovery with highestOutstandingTSN as the exit point
// and reports true, unless already in Fast Recovery: then it changes
// nothing and reports false, and the caller must not reduce any cwnd.
func (f *FastRecovery) Enter(highestOutstandingTSN uint32) bool {
	if f.active {
		return false
	}
	f.active = true
	f.exit = highestOutstandingTSN
	return true
}

// OnCumulativeAck leaves Fast Recovery once cumTSNAck has reached the exit
// point (TSN serial arithmetic, RFC 9260 1.6 / RFC 1982).
func (f *FastRecovery) OnCumulativeAck(cumTSNAck uint32) {
	if f.active && int32(cumTSNAck-f.exit) >= 0 {
		f.active = false
	}
}

// Exit leaves Fast Recovery unconditionally. RFC 9260 is silent on a T3-rtx
// timeout during Fast Recovery; leaving it then (as Linux does) lets the
// slow start that follows the timeout grow cwnd again before the old exit
// point is acknowledged.
func (f *FastRecovery) Exit() { f.active = false }

// Active reports whether the association is in Fast Recovery.
func (f *FastRecovery) Active() bool { return f.active }

// ExitPoint is the TSN whose acknowledgement ends Fast Recovery; meaningful
// only while Active.
func (f *FastRecovery) ExitPoint() uint32 { return f.exit }
