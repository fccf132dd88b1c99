package streamtab

import (
	"slices"
	"testing"
)

func TestTable(t *testing.T) {
	var tb Table[int]
	if tb.Get(0) != nil || tb.Get(65535) != nil || tb.Len() != 0 {
		t.Fatal("an empty table has state")
	}
	ids := []uint16{65535, 3, 0, DenseLimit - 1, DenseLimit, 1000, 7}
	for i, id := range ids {
		*tb.GetOrNew(id) = i + 1
	}
	for i, id := range ids {
		if v := tb.Get(id); v == nil || *v != i+1 {
			t.Fatalf("stream %d: %v, want %d", id, v, i+1)
		}
		if tb.GetOrNew(id) != tb.Get(id) {
			t.Fatalf("stream %d: GetOrNew made a second state", id)
		}
	}
	for _, id := range []uint16{1, 2, 8, DenseLimit + 1, 65534} {
		if tb.Get(id) != nil {
			t.Fatalf("stream %d has state nobody created", id)
		}
	}
	if tb.Len() != len(ids) {
		t.Fatalf("Len %d, want %d", tb.Len(), len(ids))
	}
	var got []uint16
	for id, v := range tb.All() {
		if *v != slices.Index(ids, id)+1 {
			t.Fatalf("All: stream %d with %d", id, *v)
		}
		got = append(got, id)
	}
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Fatalf("All yields %v, want %v in order", got, want)
	}
	for _, id := range []uint16{3, 1000, 1000, 2} {
		tb.Delete(id)
	}
	if tb.Get(3) != nil || tb.Get(1000) != nil || tb.Len() != len(ids)-2 {
		t.Fatalf("after Delete: Len %d", tb.Len())
	}
	if len(tb.dense) > DenseLimit {
		t.Fatalf("dense part %d long", len(tb.dense))
	}
}

// TestTableSmall: a table of a few low streams costs a few pointers, and a
// lookup allocates nothing.
func TestTableSmall(t *testing.T) {
	var tb Table[int]
	for id := uint16(0); id < 4; id++ {
		tb.GetOrNew(id)
	}
	if len(tb.dense) > 8 || tb.sparse != nil {
		t.Fatalf("4 streams: dense %d, sparse %v", len(tb.dense), tb.sparse != nil)
	}
	if n := testing.AllocsPerRun(100, func() { _ = tb.Get(2); _ = tb.GetOrNew(3); _ = tb.Get(60000) }); n != 0 {
		t.Fatalf("%v allocations per lookup", n)
	}
}
