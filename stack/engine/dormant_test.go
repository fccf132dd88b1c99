package engine

import "testing"

// TestFailoverWhenNoneUsable: with no destination usable, data goes to
// the confirmed one likeliest to work: potentially failed before
// inactive, then the fewest errors, then the one that proved to work
// last. Ties went to the primary, which could be the path that died first.
func TestFailoverWhenNoneUsable(t *testing.T) {
	mk := func(idx int, st PathState, errors int, heard uint64) *path {
		return &path{idx: idx, state: st, errors: errors, heard: heard, confirmed: true}
	}
	cases := []struct {
		name  string
		paths []*path
		want  int
	}{
		{"all inactive: the one heard last, not the primary", []*path{mk(0, PathInactive, 4, 1), mk(1, PathInactive, 4, 7)}, 1},
		{"all inactive: the primary when it was heard last", []*path{mk(0, PathInactive, 4, 9), mk(1, PathInactive, 4, 7)}, 0},
		{"potentially failed before inactive", []*path{mk(0, PathInactive, 1, 9), mk(1, PathPotentiallyFailed, 3, 2)}, 1},
		{"fewer errors first", []*path{mk(0, PathPotentiallyFailed, 2, 9), mk(1, PathPotentiallyFailed, 1, 2)}, 1},
		{"unconfirmed never", []*path{mk(0, PathInactive, 4, 1), {idx: 1, state: PathPotentiallyFailed, heard: 9}}, 0},
	}
	for _, c := range cases {
		tb := &pathTable{list: c.paths}
		if got := tb.failover(c.paths[0]); got.idx != c.want {
			t.Errorf("%s: path %d, want %d", c.name, got.idx, c.want)
		}
	}
}
