package acl

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// matcher finds the first rule matching a request without scanning the rules.
//
// It is the bit-vector classifier (Lakshman and Stiliadis, SIGCOMM 1998):
// each field's value space is cut into elementary intervals at every rule
// boundary, and each interval carries the bitset of rules whose range covers
// it. A lookup is one binary search per field and an AND of four bitsets;
// the lowest set bit is the first matching rule, so first-match semantics
// come for free. With 1,000 rules that is ~33 ns of searches and 16 words of
// ANDs, against ~1,000 rule comparisons for a scan.
//
// Identical bitsets are stored once (neighbouring intervals often share
// one), in a single arena so that a lookup touches no pointers. Everything
// is built once and never written again, so lookups need no locks.
type matcher struct {
	words int      // uint64 words per bitset: ceil(rules/64)
	arena []uint64 // all distinct bitsets, each words long

	v4    dim[uint32]
	v6    dim[u128]
	noSrc int // bitset of rules matching a request without a valid source
	sport dim[uint32]
	dport dim[uint32]
	link  [requestKinds]int // bitset per LinkKind of the request
}

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) next() (u128, bool) {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}, a.hi == ^uint64(0)
	}
	return u128{a.hi, a.lo + 1}, false
}

func u128From(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// dim is one field: starts[i] is the first value of elementary interval i
// (starts[0] is the bottom of the value space) and sets[i] the arena offset
// of its bitset.
type dim[T any] struct {
	starts []T
	sets   []int
}

// find returns the bitset offset of the interval holding x.
func find32(d *dim[uint32], x uint32) int {
	s := d.starts
	lo, hi := 0, len(s) // invariant: s[lo] <= x, and x < s[hi] if hi < len(s)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if s[m] <= x {
			lo = m
		} else {
			hi = m
		}
	}
	return d.sets[lo]
}

func find128(d *dim[u128], x u128) int {
	s := d.starts
	lo, hi := 0, len(s)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if !x.less(s[m]) {
			lo = m
		} else {
			hi = m
		}
	}
	return d.sets[lo]
}

// first returns the index of the first rule matching req, or -1.
func (m *matcher) first(req *Request) int {
	w := m.words
	if w == 0 {
		return -1
	}
	a := m.noSrc
	if src := req.Src.Addr().Unmap(); src.Is4() {
		b := src.As4()
		a = find32(&m.v4, binary.BigEndian.Uint32(b[:]))
	} else if src.Is6() {
		a = find128(&m.v6, u128From(src))
	}
	s := find32(&m.sport, uint32(req.Src.Port()))
	d := find32(&m.dport, uint32(req.DstPort))
	l := m.link[0]
	if int(req.Link) < requestKinds {
		l = m.link[req.Link]
	}
	ar := m.arena
	A, S, D, L := ar[a:a+w], ar[s:s+w], ar[d:d+w], ar[l:l+w]
	for i := range A {
		if x := A[i] & S[i] & D[i] & L[i]; x != 0 {
			return i*64 + bits.TrailingZeros64(x)
		}
	}
	return -1
}

// builder accumulates distinct bitsets into the arena.
type builder struct {
	m    *matcher
	seen map[string]int
	key  []byte
}

func (b *builder) intern(set []uint64) int {
	b.key = b.key[:0]
	for _, w := range set {
		b.key = binary.LittleEndian.AppendUint64(b.key, w)
	}
	if off, ok := b.seen[string(b.key)]; ok {
		return off
	}
	off := len(b.m.arena)
	b.m.arena = append(b.m.arena, set...)
	b.seen[string(b.key)] = off
	return off
}

// span is a rule's inclusive range in one field.
type span[T any] struct {
	rule   int
	lo, hi T
}

// build cuts the value space [bottom, top] at every span boundary and sweeps
// the sorted boundaries once, adding a rule's bit where its span starts and
// removing it past its end.
func build[T any](b *builder, spans []span[T], bottom T, less func(a, b T) bool, next func(T) (T, bool)) dim[T] {
	type event struct {
		at  T
		add bool
		bit int
	}
	ev := make([]event, 0, 2*len(spans))
	for _, s := range spans {
		ev = append(ev, event{s.lo, true, s.rule})
		if n, wrapped := next(s.hi); !wrapped {
			ev = append(ev, event{n, false, s.rule})
		}
	}
	cmp := func(x, y T) int {
		if less(x, y) {
			return -1
		}
		if less(y, x) {
			return 1
		}
		return 0
	}
	slices.SortFunc(ev, func(x, y event) int { return cmp(x.at, y.at) })
	cur := make([]uint64, b.m.words)
	var d dim[T]
	d.starts = append(d.starts, bottom)
	d.sets = append(d.sets, b.intern(cur))
	for i := 0; i < len(ev); {
		at := ev[i].at
		for ; i < len(ev) && cmp(ev[i].at, at) == 0; i++ {
			if ev[i].add {
				cur[ev[i].bit/64] |= 1 << (ev[i].bit % 64)
			} else {
				cur[ev[i].bit/64] &^= 1 << (ev[i].bit % 64)
			}
		}
		off := b.intern(cur)
		if cmp(at, bottom) == 0 {
			d.sets[0] = off
			continue
		}
		if off == d.sets[len(d.sets)-1] {
			continue // same rules as the interval before: merge
		}
		d.starts = append(d.starts, at)
		d.sets = append(d.sets, off)
	}
	return d
}

func compileMatcher(rules []Rule) *matcher {
	m := &matcher{words: (len(rules) + 63) / 64}
	if m.words == 0 {
		return m
	}
	b := &builder{m: m, seen: make(map[string]int)}
	var v4 []span[uint32]
	var v6 []span[u128]
	var sp, dp []span[uint32]
	noSrc := make([]uint64, m.words)
	var link [requestKinds][]uint64
	for k := range link {
		link[k] = make([]uint64, m.words)
	}
	for i, r := range rules {
		bit := uint64(1) << (i % 64)
		switch {
		case !r.From.IsValid():
			noSrc[i/64] |= bit
			v4 = append(v4, span[uint32]{i, 0, ^uint32(0)})
			v6 = append(v6, span[u128]{i, u128{}, u128{^uint64(0), ^uint64(0)}})
		case r.From.Addr().Is4():
			a4 := r.From.Addr().As4()
			lo := binary.BigEndian.Uint32(a4[:])
			v4 = append(v4, span[uint32]{i, lo, lo | uint32(uint64(1)<<(32-r.From.Bits())-1)})
		default:
			lo := u128From(r.From.Addr())
			hi := lo
			if n := 128 - r.From.Bits(); n >= 64 {
				hi.lo = ^uint64(0)
				if n > 64 {
					hi.hi |= ^uint64(0) >> (128 - n)
				}
			} else if n > 0 {
				hi.lo |= ^uint64(0) >> (64 - n)
			}
			v6 = append(v6, span[u128]{i, lo, hi})
		}
		slo, shi := r.SPort.bounds()
		sp = append(sp, span[uint32]{i, uint32(slo), uint32(shi)})
		dlo, dhi := r.Port.bounds()
		dp = append(dp, span[uint32]{i, uint32(dlo), uint32(dhi)})
		for k := range link {
			if r.Link.covers(LinkKind(k)) {
				link[k][i/64] |= bit
			}
		}
	}
	less32 := func(a, b uint32) bool { return a < b }
	next32 := func(a uint32) (uint32, bool) { return a + 1, a == ^uint32(0) }
	// Port spans live in [0, 65535]: the end marker 65536 is never looked up,
	// so the uint32 space needs no special top.
	m.v4 = build(b, v4, 0, less32, next32)
	m.v6 = build(b, v6, u128{}, u128.less, u128.next)
	m.sport = build(b, sp, 0, less32, next32)
	m.dport = build(b, dp, 0, less32, next32)
	m.noSrc = b.intern(noSrc)
	for k := range link {
		m.link[k] = b.intern(link[k])
	}
	m.arena = slices.Clip(m.arena)
	return m
}

// size is the matcher's memory in bytes, for Stats.
func (m *matcher) size() int {
	return 8*len(m.arena) + 12*(len(m.v4.starts)+len(m.sport.starts)+len(m.dport.starts)) + 24*len(m.v6.starts)
}
