package outstanding

// A tail loss probe (RFC 8985 7, adapted to SCTP by the engine): when a
// destination has data in flight and hears nothing for a while, the
// engine sends its highest-TSN chunk in flight again. That chunk's
// acknowledgement shows which of the chunks sent before it are missing:
// those the peer lost at the tail of a flight, where no later chunk can
// earn them the three miss indications of Fast Retransmit (RFC 9260 7.2.4),
// and retransmissions lost again, which 7.2.4 step 3 never fast-retransmits
// twice. Without the probe both wait for T3-rtx, RTO.Min (1 s) or more.

// ProbeTail picks the chunk to send as a tail loss probe to dest: the one
// with the highest TSN in flight there. It stays in flight (its bytes
// already count), is stamped as retransmitted now (Karn's rule, RFC 9260
// 6.3.1 C5) and its index in Chunks() is returned, with seq, the probe's
// place in the order of transmissions for MarkSentBefore. ok is false if
// nothing is in flight there.
func (q *Queue) ProbeTail(dest int) (i int, seq uint32, ok bool) {
	live := q.Chunks()
	for i = len(live) - 1; i >= 0; i-- {
		if o := &live[i]; o.state == inFlight && int(o.dest) == dest {
			q.resent(o)
			return i, o.sent, true
		}
	}
	return 0, 0, false
}

// Delivered reports that the peer holds tsn: the cumulative ack covers it
// or the latest SACK's gap blocks do.
func (q *Queue) Delivered(tsn uint32) bool {
	if !after(tsn, q.cumAck) {
		return true
	}
	// Every TSN above the ack point is held, in order (nothing leaves the
	// Queue but through the cumulative ack).
	i := int(tsn - q.cumAck - 1)
	live := q.Chunks()
	return i < len(live) && live[i].tsn == tsn && live[i].state == gapAcked
}

// MarkSentBefore marks for retransmission every chunk in flight, last sent
// to dest, whose latest transmission came before the one numbered seq (a
// probe's, ProbeTail), as lost: the peer holds something sent to the same
// destination after it and not it. It reports how many it marked; each is
// out of the flight, so cwnd lets it go again, and is from then on judged
// as a fast retransmission (strikeResent), not by the SACKs that report
// its TSN missing before the new copy arrives.
func (q *Queue) MarkSentBefore(dest int, seq uint32) int {
	n := 0
	live := q.Chunks()
	for i := range live {
		if o := &live[i]; o.state == inFlight && int(o.dest) == dest && after(seq, o.sent) && o.relost < maxRelost {
			q.mark(o)
			o.fastDone = true
			o.relost++
			n++
		}
	}
	return n
}
