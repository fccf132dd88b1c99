// Package streamtab holds per-stream state of one association, keyed by
// SCTP stream identifier, for the streams actually used.
//
// An association may be granted 65535 streams each way (a gateway grants
// whatever its peers ask for) and use a handful. A table indexed by every
// granted identifier would cost half a megabyte per association; this one
// costs nothing until a stream is used. Identifiers below DenseLimit, the
// common case, live in a slice that grows to the highest one used, so
// lookups there are an index; the rest live in a map.
//
// A Table is a plain data structure, not safe for concurrent use.
package streamtab

import (
	"iter"
	"slices"
)

// DenseLimit is the first identifier kept in the map rather than the slice:
// the slice never exceeds DenseLimit pointers (2 KiB).
const DenseLimit = 256

// Table maps stream identifiers to *T. The zero value is an empty table.
type Table[T any] struct {
	dense  []*T          // index: identifier; len grows on demand
	sparse map[uint16]*T // identifiers >= DenseLimit
	n      int
}

// Get returns the state of stream id, nil if the stream has none.
func (t *Table[T]) Get(id uint16) *T {
	if int(id) < len(t.dense) {
		return t.dense[id]
	}
	if id < DenseLimit || t.sparse == nil {
		return nil
	}
	return t.sparse[id]
}

// GetOrNew returns the state of stream id, creating a zero one on first use.
func (t *Table[T]) GetOrNew(id uint16) *T {
	if int(id) < len(t.dense) {
		if v := t.dense[id]; v != nil {
			return v // the hot path, small enough to inline
		}
	}
	return t.getOrNewSlow(id)
}

func (t *Table[T]) getOrNewSlow(id uint16) *T {
	if v := t.Get(id); v != nil {
		return v
	}
	v := new(T)
	t.put(id, v)
	return v
}

func (t *Table[T]) put(id uint16, v *T) {
	t.n++
	if id >= DenseLimit {
		if t.sparse == nil {
			t.sparse = make(map[uint16]*T)
		}
		t.sparse[id] = v
		return
	}
	if int(id) >= len(t.dense) {
		// Geometric growth: a peer walking up the identifiers costs
		// no copy per stream.
		n := min(max(2*len(t.dense), int(id)+1, 8), DenseLimit)
		grown := make([]*T, n)
		copy(grown, t.dense)
		t.dense = grown
	}
	t.dense[id] = v
}

// Len is the number of streams with state.
func (t *Table[T]) Len() int { return t.n }

// All yields every stream with state, in ascending identifier order. The
// loop body must not add streams.
func (t *Table[T]) All() iter.Seq2[uint16, *T] {
	return func(yield func(uint16, *T) bool) {
		for id, v := range t.dense {
			if v != nil && !yield(uint16(id), v) {
				return
			}
		}
		if len(t.sparse) == 0 {
			return
		}
		ids := make([]uint16, 0, len(t.sparse))
		for id := range t.sparse {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if !yield(id, t.sparse[id]) {
				return
			}
		}
	}
}

// Delete forgets stream id's state.
func (t *Table[T]) Delete(id uint16) {
	if int(id) < len(t.dense) {
		if t.dense[id] != nil {
			t.dense[id] = nil
			t.n--
		}
		return
	}
	if _, ok := t.sparse[id]; ok {
		delete(t.sparse, id)
		t.n--
	}
}
