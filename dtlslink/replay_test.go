package dtlslink

import (
	"encoding/binary"
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

// FuzzReplayWindow: against a model that remembers every number (a set
// and the highest), on any sequence of 48-bit numbers: jumps of any size
// up to the last sequence number, going back, repeats.
func FuzzReplayWindow(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 4, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var w replayWindow
		seen := map[uint64]bool{}
		var latest uint64
		cur := uint64(0)
		for ; len(ops) >= 8; ops = ops[8:] {
			v := binary.BigEndian.Uint64(ops)
			// The top bit says back from the current number, else ahead.
			if d := v & maxSequence; v>>63 != 0 {
				cur -= min(d%4096, cur)
			} else {
				cur = min(cur+d%(1<<20)*uint64(1+(v>>48)&0x7fff), maxSequence)
			}
			want := !seen[cur] && (len(seen) == 0 || cur > latest || latest-cur < replayWindowSize)
			if got := w.fresh(cur); got != want {
				t.Fatalf("seq %d (latest %d): fresh %v, want %v", cur, latest, got, want)
			}
			if want {
				w.mark(cur)
				seen[cur] = true
				latest = max(latest, cur)
			}
		}
	})
}
