package engine

import "testing"

// TestHeardSinceAlone drives the rule that lets acknowledged DATA answer
// a lost HEARTBEAT (heartbeat.go heardSince) without an association: only
// DATA sent to the path from the HEARTBEAT's TSN mark on says the path
// worked after the probe left (RFC 9260 8.3: an unanswered HEARTBEAT
// counts an error); DATA sent before it, a probe the user asked for, or an
// unconfirmed address's probe (5.4) leave the probe pending. TSNs compare
// in serial arithmetic.
func TestHeardSinceAlone(t *testing.T) {
	cases := []struct {
		name             string
		afterTSN, fresh  uint32
		onDemand, uncon  bool
		wantStillPending bool
	}{
		{name: "DATA sent before the HEARTBEAT", afterTSN: 100, fresh: 99, wantStillPending: true},
		{name: "the first TSN after it", afterTSN: 100, fresh: 100},
		{name: "later DATA", afterTSN: 100, fresh: 250},
		{name: "across the wrap", afterTSN: 0xfffffff0, fresh: 5},
		{name: "before it, across the wrap", afterTSN: 5, fresh: 0xfffffff0, wantStillPending: true},
		{name: "a HEARTBEAT the user asked for", afterTSN: 100, fresh: 250, onDemand: true, wantStillPending: true},
		{name: "an unconfirmed address's probe", afterTSN: 100, fresh: 250, uncon: true, wantStillPending: true},
	}
	for _, c := range cases {
		pa := &path{confirmed: !c.uncon}
		pa.hb.pending, pa.hb.onDemand, pa.hb.afterTSN = true, c.onDemand, c.afterTSN
		pa.heardSince(c.fresh)
		if pa.hb.pending != c.wantStillPending {
			t.Errorf("%s: pending %v after an ack of TSN %d with the mark at %d, want %v", c.name, pa.hb.pending, c.fresh, c.afterTSN, c.wantStillPending)
		}
	}
}
