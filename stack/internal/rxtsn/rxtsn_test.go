package rxtsn

import (
	"math/rand"
	"reflect"
	"testing"

	"github.com/sctpgw/sctpgw/stack/wire"
)

func blocks(t *Tracker) []wire.GapBlock {
	return t.AppendGapBlocks(nil, 1<<30)
}

func gb(pairs ...uint16) []wire.GapBlock {
	var out []wire.GapBlock
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, wire.GapBlock{Start: pairs[i], End: pairs[i+1]})
	}
	return out
}

// TestRFCExample is the SACK example of RFC 9260 3.3.4: TSNs 10, 11, 12, 14,
// 15 and 17 received give Cumulative TSN Ack 12 and blocks 2-3 and 5-5.
func TestRFCExample(t *testing.T) {
	tr := New(10)
	for _, tsn := range []uint32{17, 10, 14, 11, 15, 12} {
		if !tr.Observe(tsn) {
			t.Fatalf("TSN %d reported as duplicate", tsn)
		}
	}
	if tr.CumAck() != 12 {
		t.Fatalf("CumAck %d, want 12", tr.CumAck())
	}
	if got, want := blocks(tr), gb(2, 3, 5, 5); !reflect.DeepEqual(got, want) {
		t.Fatalf("gap blocks %v, want %v", got, want)
	}
	if !tr.HasGaps() || tr.GapBlocks() != 2 || tr.Highest() != 17 {
		t.Fatalf("HasGaps %v GapBlocks %d Highest %d", tr.HasGaps(), tr.GapBlocks(), tr.Highest())
	}
	// 6.7's example: 6 received, 7 lost, 8 received gives Ack 6, block 2-2.
	tr = New(6)
	tr.Observe(6)
	tr.Observe(8)
	if got, want := blocks(tr), gb(2, 2); tr.CumAck() != 6 || !reflect.DeepEqual(got, want) {
		t.Fatalf("CumAck %d blocks %v, want 6 %v", tr.CumAck(), got, want)
	}
}

func TestObserveTable(t *testing.T) {
	type step struct {
		tsn   uint32
		fresh bool
	}
	tests := []struct {
		name    string
		initial uint32
		steps   []step
		cum     uint32
		blocks  []wire.GapBlock
		dups    []uint32
	}{
		{
			name:    "nothing received",
			initial: 1000,
			cum:     999,
		},
		{
			name:    "in order",
			initial: 1000,
			steps:   []step{{1000, true}, {1001, true}, {1002, true}},
			cum:     1002,
		},
		{
			name:    "initial TSN 0 starts the ack point at 0xFFFFFFFF",
			initial: 0,
			steps:   []step{{1, true}},
			cum:     0xFFFFFFFF,
			blocks:  gb(2, 2),
		},
		{
			name:    "in order across the wrap",
			initial: 0xFFFFFFFE,
			steps:   []step{{0xFFFFFFFE, true}, {0xFFFFFFFF, true}, {0, true}, {1, true}},
			cum:     1,
		},
		{
			name:    "gap across the wrap",
			initial: 0xFFFFFFFE,
			steps:   []step{{0xFFFFFFFE, true}, {1, true}, {2, true}, {4, true}},
			cum:     0xFFFFFFFE,
			blocks:  gb(3, 4, 6, 6),
		},
		{
			name:    "gap across the wrap filled",
			initial: 0xFFFFFFFE,
			steps:   []step{{0xFFFFFFFE, true}, {1, true}, {2, true}, {4, true}, {0, true}, {0xFFFFFFFF, true}},
			cum:     2,
			blocks:  gb(2, 2),
		},
		{
			name:    "duplicates below and above the ack point",
			initial: 0xFFFFFFFF,
			steps:   []step{{0xFFFFFFFF, true}, {0xFFFFFFFF, false}, {2, true}, {2, false}, {0xFFFFFFF0, false}, {0, true}, {0, false}},
			cum:     0,
			blocks:  gb(2, 2),
			dups:    []uint32{0xFFFFFFFF, 2, 0xFFFFFFF0, 0},
		},
		{
			name:    "filling a gap merges ranges",
			initial: 1,
			steps:   []step{{3, true}, {5, true}, {4, true}, {7, true}, {6, true}},
			cum:     0,
			blocks:  gb(3, 7),
		},
		{
			name:    "extend a middle range downward",
			initial: 1,
			steps:   []step{{10, true}, {20, true}, {9, true}, {8, true}, {19, true}},
			cum:     0,
			blocks:  gb(8, 10, 19, 20),
		},
		{
			name:    "new range between two",
			initial: 1,
			steps:   []step{{10, true}, {20, true}, {15, true}, {5, true}, {15, false}, {10, false}},
			cum:     0,
			blocks:  gb(5, 5, 10, 10, 15, 15, 20, 20),
			dups:    []uint32{15, 10},
		},
		{
			name:    "cum catches up through several ranges one by one",
			initial: 1,
			steps:   []step{{3, true}, {5, true}, {1, true}, {2, true}, {4, true}},
			cum:     5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(tc.initial)
			for _, s := range tc.steps {
				if got := tr.Observe(s.tsn); got != s.fresh {
					t.Fatalf("Observe(%#x) = %v, want %v", s.tsn, got, s.fresh)
				}
			}
			if tr.CumAck() != tc.cum {
				t.Fatalf("CumAck %#x, want %#x", tr.CumAck(), tc.cum)
			}
			if got := blocks(tr); !reflect.DeepEqual(got, tc.blocks) {
				t.Fatalf("gap blocks %v, want %v", got, tc.blocks)
			}
			if tr.HasGaps() != (len(tc.blocks) > 0) {
				t.Fatalf("HasGaps %v with blocks %v", tr.HasGaps(), tc.blocks)
			}
			if got := tr.AppendDupTSNs(nil, 100); !reflect.DeepEqual(got, tc.dups) {
				t.Fatalf("dups %v, want %v", got, tc.dups)
			}
		})
	}
}

// TestSerialHorizon: RFC 1982 calls a TSN 2^31 or more above the ack point
// old; 2^31-1 above is the farthest new one, and too far for a Gap Ack Block.
func TestSerialHorizon(t *testing.T) {
	tr := New(10) // cum 9
	if tr.Observe(9 + 1<<31) {
		t.Fatal("TSN 2^31 above the ack point accepted as new")
	}
	if !tr.Observe(8 + 1<<31) {
		t.Fatal("TSN 2^31-1 above the ack point reported as duplicate")
	}
	if !tr.HasGaps() || len(blocks(tr)) != 0 || tr.Highest() != 8+1<<31 {
		t.Fatalf("HasGaps %v blocks %v Highest %#x", tr.HasGaps(), blocks(tr), tr.Highest())
	}
	if got, want := tr.AppendDupTSNs(nil, 10), []uint32{9 + 1<<31}; !reflect.DeepEqual(got, want) {
		t.Fatalf("dups %v, want %v", got, want)
	}
}

func TestDuplicateReporting(t *testing.T) {
	tr := New(100)
	tr.Observe(100)
	tr.Observe(102)
	// RFC 9260 3.3.4: a TSN received three times is listed twice.
	tr.Observe(102)
	tr.Observe(102)
	tr.Observe(99)
	if tr.Dups() != 3 {
		t.Fatalf("Dups %d, want 3", tr.Dups())
	}
	if got, want := tr.AppendDupTSNs([]uint32{7}, 100), []uint32{7, 102, 102, 99}; !reflect.DeepEqual(got, want) {
		t.Fatalf("AppendDupTSNs %v, want %v", got, want)
	}
	// The count restarts after each SACK.
	if got := tr.AppendDupTSNs(nil, 100); len(got) != 0 {
		t.Fatalf("dups after reporting: %v", got)
	}
	tr.Observe(102)
	if got, want := tr.AppendDupTSNs(nil, 100), []uint32{102}; !reflect.DeepEqual(got, want) {
		t.Fatalf("AppendDupTSNs %v, want %v", got, want)
	}

	// The cap bounds memory; a budget limits one SACK and drops the rest.
	for i := 0; i < 100; i++ {
		tr.Observe(100)
	}
	if tr.Dups() != DefaultMaxDups {
		t.Fatalf("Dups %d, want cap %d", tr.Dups(), DefaultMaxDups)
	}
	if got := tr.AppendDupTSNs(nil, 5); len(got) != 5 || tr.Dups() != 0 {
		t.Fatalf("budget 5 gave %d, %d left", len(got), tr.Dups())
	}
	tr.SetMaxDups(2)
	for i := 0; i < 5; i++ {
		tr.Observe(100)
	}
	if tr.Dups() != 2 {
		t.Fatalf("Dups %d, want cap 2", tr.Dups())
	}
	tr.ResetDups()
	if tr.Dups() != 0 {
		t.Fatal("ResetDups kept duplicates")
	}
	tr.SetMaxDups(-1)
	tr.Observe(100)
	if tr.Dups() != 0 {
		t.Fatal("cap 0 kept a duplicate")
	}
}

func TestAppendGapBlocksLimits(t *testing.T) {
	tr := New(1)
	for tsn := uint32(3); tsn < 40; tsn += 2 {
		tr.Observe(tsn)
	}
	if tr.GapBlocks() != 19 {
		t.Fatalf("GapBlocks %d, want 19", tr.GapBlocks())
	}
	// 6.7: report from the lowest TSN up.
	if got, want := tr.AppendGapBlocks(nil, 3), gb(3, 3, 5, 5, 7, 7); !reflect.DeepEqual(got, want) {
		t.Fatalf("3 blocks: %v, want %v", got, want)
	}
	if got := tr.AppendGapBlocks(nil, 0); len(got) != 0 {
		t.Fatalf("max 0 gave %v", got)
	}

	// Offsets are 16 bits: a block reaching past 65535 is cut, one starting
	// past it is left out.
	tr = New(1)
	tr.Observe(65530)
	tr.Observe(65531)
	tr.Observe(65532)
	for tsn := uint32(65533); tsn < 65540; tsn++ {
		tr.Observe(tsn)
	}
	tr.Observe(70000)
	if got, want := blocks(tr), gb(65530, 65535); !reflect.DeepEqual(got, want) {
		t.Fatalf("blocks %v, want %v", got, want)
	}
}

func TestSkip(t *testing.T) {
	tests := []struct {
		name     string
		initial  uint32
		received []uint32
		newCum   uint32
		moved    bool
		cum      uint32
		blocks   []wire.GapBlock
	}{
		{"stale", 10, []uint32{10, 11}, 11, false, 11, nil},
		{"behind", 10, []uint32{10, 11}, 5, false, 11, nil},
		{"into empty space", 10, nil, 20, true, 20, nil},
		{"drops ranges below", 10, []uint32{12, 13, 15}, 16, true, 16, nil},
		{"continues over a range starting just above", 10, []uint32{12, 17, 18, 21}, 16, true, 18, gb(3, 3)},
		{"continues over a straddling range", 10, []uint32{12, 15, 16, 17, 21}, 16, true, 17, gb(4, 4)},
		{"leaves higher ranges", 10, []uint32{12, 20}, 14, true, 14, gb(6, 6)},
		{"across the wrap", 0xFFFFFFF0, []uint32{0xFFFFFFF5, 2, 3, 9}, 1, true, 3, gb(6, 6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(tc.initial)
			for _, tsn := range tc.received {
				tr.Observe(tsn)
			}
			if got := tr.Skip(tc.newCum); got != tc.moved {
				t.Fatalf("Skip(%d) = %v, want %v", tc.newCum, got, tc.moved)
			}
			if tr.CumAck() != tc.cum {
				t.Fatalf("CumAck %#x, want %#x", tr.CumAck(), tc.cum)
			}
			if got := blocks(tr); !reflect.DeepEqual(got, tc.blocks) {
				t.Fatalf("blocks %v, want %v", got, tc.blocks)
			}
			// A skipped TSN arriving late is a duplicate (RFC 3758 3.6).
			if tc.moved && tr.Observe(tc.newCum) {
				t.Fatal("skipped TSN accepted as new")
			}
		})
	}
	tr := New(10)
	tr.Skip(100)
	if tr.Highest() != 100 {
		t.Fatalf("Highest %d after Skip(100), want 100", tr.Highest())
	}
}

func TestInWindow(t *testing.T) {
	tr := New(0xFFFFFFF0) // cum 0xFFFFFFEF
	tests := []struct {
		tsn, maxAhead uint32
		want          bool
	}{
		{0xFFFFFFEF, 10, true}, // at the ack point: a duplicate
		{0xFFFFFF00, 10, true}, // below: a duplicate
		{0xFFFFFFF9, 10, true},
		{0xFFFFFFFA, 10, false},
		{5, 100, true},
		{200, 100, false},
		{0x7FFFFFEF, 0xFFFFFFFF, true}, // capped at 2^31-1: reads as old
		{0x7FFFFFEE, 0xFFFFFFFF, true},
		{0x7FFFFFEE, 1 << 30, false},
	}
	for _, tc := range tests {
		if got := tr.InWindow(tc.tsn, tc.maxAhead); got != tc.want {
			t.Errorf("InWindow(%#x, %d) = %v, want %v", tc.tsn, tc.maxAhead, got, tc.want)
		}
	}
}

// model is the brute-force reference: a set of received TSNs in unwrapped
// space, 0 being the initial TSN.
type model struct {
	base     uint32 // wire TSN of unwrapped 0
	cum      int64
	highest  int64
	received set
	dups     []uint32
}

// set is a bitmap indexed by unwrapped TSN; -1 and anything beyond the end
// read as absent.
type set []bool

func (s set) has(x int64) bool { return x >= 0 && x < int64(len(s)) && s[x] }
func (s *set) put(x int64, v bool) {
	for int64(len(*s)) <= x {
		*s = append(*s, false)
	}
	(*s)[x] = v
}

func newModel(initial uint32) *model {
	return &model{base: initial, cum: -1, highest: -1}
}

func (m *model) wire(x int64) uint32 { return m.base + uint32(x) }

func (m *model) advance() {
	for m.received.has(m.cum + 1) {
		m.cum++
	}
}

func (m *model) observe(x int64) bool {
	if x <= m.cum || m.received.has(x) {
		if len(m.dups) < DefaultMaxDups {
			m.dups = append(m.dups, m.wire(x))
		}
		return false
	}
	m.received.put(x, true)
	if x > m.highest {
		m.highest = x
	}
	m.advance()
	return true
}

func (m *model) skip(x int64) bool {
	if x <= m.cum {
		return false
	}
	m.cum = x
	if x > m.highest {
		m.highest = x
	}
	m.advance()
	return true
}

func (m *model) blocks() []wire.GapBlock {
	var out []wire.GapBlock
	for x := m.cum + 1; x <= m.highest; x++ {
		if !m.received.has(x) {
			continue
		}
		start := x
		for m.received.has(x + 1) {
			x++
		}
		out = append(out, wire.GapBlock{Start: uint16(start - m.cum), End: uint16(x - m.cum)})
	}
	return out
}

func (m *model) highestWire() uint32 {
	if m.highest < m.cum {
		return m.wire(m.cum)
	}
	return m.wire(m.highest)
}

// TestRandomAgainstModel feeds shuffled arrivals with duplicates and FORWARD
// TSNs to the tracker and the model, starting near the wrap for half of the
// seeds, and compares everything a SACK would carry after every step.
func TestRandomAgainstModel(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		rng := rand.New(rand.NewSource(seed))
		initial := rng.Uint32()
		if seed%2 == 0 {
			initial = 0xFFFFFFFF - uint32(rng.Intn(300))
		}
		tr, m := New(initial), newModel(initial)
		const span = 600
		// Arrival order: each TSN once, displaced by up to a window, plus
		// duplicates, occasional old TSNs and FORWARD TSNs.
		order := make([]int64, span)
		for i := range order {
			order[i] = int64(i)
		}
		window := 1 + rng.Intn(64)
		for i := range order {
			j := i + rng.Intn(window)
			if j < span {
				order[i], order[j] = order[j], order[i]
			}
		}
		for step, x := range order {
			switch r := rng.Intn(100); {
			case r < 10 && step > 0:
				x = order[rng.Intn(step)] // duplicate of an earlier arrival
			case r < 12:
				newCum := m.cum + int64(rng.Intn(20)) - 5
				if got, want := tr.Skip(m.wire(newCum)), m.skip(newCum); got != want {
					t.Fatalf("seed %d step %d: Skip(%d) = %v, model %v", seed, step, newCum, got, want)
				}
			}
			if got, want := tr.Observe(m.wire(x)), m.observe(x); got != want {
				t.Fatalf("seed %d step %d: Observe(%d) = %v, model %v", seed, step, x, got, want)
			}
			if tr.CumAck() != m.wire(m.cum) {
				t.Fatalf("seed %d step %d: CumAck %#x, model %#x", seed, step, tr.CumAck(), m.wire(m.cum))
			}
			if tr.Highest() != m.highestWire() {
				t.Fatalf("seed %d step %d: Highest %#x, model %#x", seed, step, tr.Highest(), m.highestWire())
			}
			if got, want := blocks(tr), m.blocks(); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d step %d: blocks %v, model %v", seed, step, got, want)
			}
			if rng.Intn(8) == 0 {
				if got, want := tr.AppendDupTSNs(nil, 1000), m.dups; !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d step %d: dups %v, model %v", seed, step, got, want)
				}
				m.dups = nil
			}
		}
	}
}

func TestInOrderDoesNotAllocate(t *testing.T) {
	tr := New(0xFFFFFF00)
	tsn := uint32(0xFFFFFF00)
	allocs := testing.AllocsPerRun(1000, func() {
		tr.Observe(tsn)
		tsn++
	})
	if allocs != 0 {
		t.Fatalf("in-order Observe allocates %.1f times", allocs)
	}
	// Steady-state reordering reuses the range slice once it has grown.
	for i := 0; i < 10; i++ {
		tr.Observe(tsn + 1)
		tr.Observe(tsn)
		tsn += 2
	}
	allocs = testing.AllocsPerRun(1000, func() {
		tr.Observe(tsn + 2)
		tr.Observe(tsn + 1)
		tr.Observe(tsn)
		tsn += 3
	})
	if allocs != 0 {
		t.Fatalf("reordered Observe allocates %.1f times", allocs)
	}
}

func BenchmarkObserveInOrder(b *testing.B) {
	tr := New(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tr.Observe(uint32(i))
	}
}

// BenchmarkObserveReordered: every eighth TSN arrives 16 TSNs late, so about
// two gaps are open at any time.
func BenchmarkObserveReordered(b *testing.B) {
	const delay = 16
	tr := New(0)
	b.ReportAllocs()
	late := make([]uint32, 0, delay)
	for i := 0; i < b.N; i++ {
		tsn := uint32(i)
		if tsn%8 == 0 {
			late = append(late, tsn)
		} else {
			tr.Observe(tsn)
		}
		if len(late) > 0 && tsn-late[0] >= delay {
			tr.Observe(late[0])
			late = late[:copy(late, late[1:])]
		}
	}
}

// BenchmarkObserveLossy: 1 % of TSNs arrive 200 TSNs late, the worst a
// lossy path with fast retransmit produces.
func BenchmarkObserveLossy(b *testing.B) {
	tr := New(0)
	rng := rand.New(rand.NewSource(1))
	var late []uint32
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tsn := uint32(i)
		if rng.Intn(100) == 0 {
			late = append(late, tsn)
		} else {
			tr.Observe(tsn)
		}
		for len(late) > 0 && tsn-late[0] >= 200 {
			tr.Observe(late[0])
			late = late[1:]
		}
	}
}
