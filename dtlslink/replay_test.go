package dtlslink

import (
	"math/rand/v2"
	"testing"

	"github.com/pion/transport/v3/replaydetector"
)

// TestReplayWindowAgreesWithPion: on sequences with jumps, reordering and
// duplicates, the window takes exactly what pion's replay detector of the
// same size takes.
func TestReplayWindowAgreesWithPion(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var w replayWindow
		ref := replaydetector.New(replayWindowSize, maxSequence)
		next := uint64(rng.IntN(5))
		for i := range 20000 {
			var seq uint64
			switch x := rng.IntN(100); {
			case x < 60:
				seq = next
				next++
			case x < 85 && next > 0:
				seq = next - 1 - uint64(rng.IntN(int(min(next, 1500))))
			case x < 95:
				next += uint64(rng.IntN(200))
				seq = next
			default:
				next += uint64(rng.IntN(3000))
				seq = next
			}
			accept, ok := ref.Check(seq)
			if got := w.fresh(seq); got != ok {
				t.Fatalf("seed %d step %d: seq %d (latest %d): window says %v, pion %v", seed, i, seq, w.latest, got, ok)
			}
			if ok {
				accept()
				w.mark(seq)
			}
		}
	}
}

func TestReplayWindowEdges(t *testing.T) {
	var w replayWindow
	if !w.fresh(0) {
		t.Fatal("an empty window refuses 0")
	}
	w.mark(5000)
	for _, c := range []struct {
		seq  uint64
		want bool
	}{{5000, false}, {5001, true}, {4999, true}, {5000 - replayWindowSize + 1, true}, {5000 - replayWindowSize, false}, {0, false}} {
		if got := w.fresh(c.seq); got != c.want {
			t.Errorf("after 5000: fresh(%d) = %v, want %v", c.seq, got, c.want)
		}
	}
	w.mark(4999)
	w.mark(5000 + 64)
	if w.fresh(4999) || w.fresh(5000) || !w.fresh(5001) || w.fresh(5064) {
		t.Error("a shift by one word lost or invented a bit")
	}
	w.mark(5064 + 65)
	if w.fresh(5064) || w.fresh(5000) || !w.fresh(5001) {
		t.Error("a shift across words lost or invented a bit")
	}
}
