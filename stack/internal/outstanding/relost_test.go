package outstanding

import "testing"

// TestFastOutClearedPastRelost: a chunk found lost maxRelost times stays in
// flight, waiting for T3-rtx, and can be struck no more; it must not keep
// strikeResent scanning the whole flight at every acknowledgement (the
// withheld TSN of TestWithheldTSNLeftToT3 stays for Association.Max.Retrans
// backed-off T3-rtx expiries, minutes).
func TestFastOutClearedPastRelost(t *testing.T) {
	q, _ := withheldFirst()
	if o := q.Chunks()[0]; !o.InFlight() || o.relost != maxRelost {
		t.Fatalf("scenario: %s, relost %d", show(q)[:6], o.relost)
	}
	if q.fastOut {
		t.Fatal("fastOut still set: every acknowledgement scans the flight for a chunk that can be struck no more")
	}
}
