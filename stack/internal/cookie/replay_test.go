package cookie

import (
	"testing"
	"time"
)

func TestReplay(t *testing.T) {
	r := NewReplay(4)
	s := sample(t0)
	if !r.Use(&s, t0) {
		t.Fatal("first use refused")
	}
	if r.Use(&s, t0.Add(time.Second)) {
		t.Fatal("second use of the same cookie accepted")
	}
	// Another cookie for the same peer (a new INIT: new tags) is fine.
	s2 := s
	s2.LocalTag++
	if !r.Use(&s2, t0.Add(time.Second)) {
		t.Fatal("a different cookie refused")
	}
	// Once expired, the cookie is forgotten: Open refuses it as stale by
	// then, so remembering it longer buys nothing.
	if !r.Use(&s, t0.Add(s.Lifetime+time.Second)) {
		t.Fatal("an expired cookie is still remembered")
	}
	// Bounded: the oldest goes first.
	for i := range 10 {
		x := s
		x.PeerTag = uint32(1000 + i)
		r.Use(&x, t0.Add(s.Lifetime+2*time.Second))
	}
	if r.Len() > 4 {
		t.Fatalf("remembers %d cookies, bound 4", r.Len())
	}
}

func TestReplayCompacts(t *testing.T) {
	r := NewReplay(100)
	s := sample(t0)
	s.Lifetime = time.Second
	now := t0
	for i := range 10000 {
		x := s
		x.Created = now
		x.LocalTag = uint32(i)
		if !r.Use(&x, now) {
			t.Fatal("refused")
		}
		now = now.Add(100 * time.Millisecond)
	}
	if r.Len() > 12 || len(r.queue) > 200 {
		t.Fatalf("%d remembered, queue %d long: expired entries are kept", r.Len(), len(r.queue))
	}
}
