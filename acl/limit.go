package acl

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"
)

// bucket is a token bucket. Time is in nanoseconds since the policy's
// epoch (see Policy.clock). A clock that steps backwards resynchronises the
// bucket at its next use without refilling it, so the step neither freezes
// nor floods the budget.
type bucket struct {
	tokens float64
	last   int64
}

func fullBucket(burst float64, now int64) bucket { return bucket{burst, now} }

func (b *bucket) refill(now int64, perNs, burst float64) {
	if d := now - b.last; d > 0 {
		b.tokens += float64(d) * perNs
		if b.tokens > burst {
			b.tokens = burst
		}
	}
	b.last = now
}

func (b *bucket) take(now int64, perNs, burst float64) bool {
	b.refill(now, perNs, burst)
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// isFull reports whether b would be full at now: forgetting such a bucket
// loses nothing, since a new one starts full.
func (b *bucket) isFull(now int64, perNs, burst float64) bool {
	d := now - b.last
	if d < 0 {
		d = 0
	}
	return b.tokens+float64(d)*perNs >= burst
}

// totalBucket is the route-wide attempt budget.
type totalBucket struct {
	mu           sync.Mutex
	b            bucket
	started      bool // the bucket starts full at the first attempt's time
	perNs, burst float64
}

func (t *totalBucket) take(now int64) bool {
	t.mu.Lock()
	if !t.started {
		t.b, t.started = fullBucket(t.burst, now), true
	}
	ok := t.b.take(now, t.perNs, t.burst)
	t.mu.Unlock()
	return ok
}

// srcKey is a source address masked to its group prefix. Family is part of
// the key so 0.0.0.0/32 and ::/128 stay apart. ok is set in every key made
// by Policy.sourceKey, so the zero srcKey marks a free table entry at no
// extra size.
type srcKey struct {
	hi, lo uint64
	bits   uint8
	v6, ok bool
}

func (k srcKey) prefix() netip.Prefix {
	if !k.v6 {
		if k.bits == 0 {
			return netip.Prefix{} // no valid source
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(k.lo))
		return netip.PrefixFrom(netip.AddrFrom4(b), int(k.bits))
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), int(k.bits))
}

// hash mixes the key with a per-policy seed, so that which sources share a
// set cannot be predicted from outside.
func (k srcKey) hash(seed uint64) uint64 {
	h := seed ^ uint64(k.bits)
	if k.v6 {
		h ^= 1 << 8
	}
	h = mix(h ^ k.hi)
	h = mix(h ^ k.lo)
	return h
}

func mix(x uint64) uint64 {
	hi, lo := bits.Mul64(x^0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9)
	return hi ^ lo
}

// sourceTable holds one token bucket per source group in a fixed-size,
// set-associative table: memory is bounded however many sources send INITs.
// A new source takes a free way of its set, else a way whose bucket is full
// again (forgetting it loses nothing), else the least recently used way.
// Under a flood from more sources than the table holds, evicted sources come
// back with a full burst; the total bucket still bounds the sum.
type sourceTable struct {
	sets         []sourceSet
	mask         uint64
	seed         uint64
	perNs, burst float64
	evictions    atomic.Uint64 // evictions of buckets that were not full
}

const ways = 8

type sourceSet struct {
	mu sync.Mutex
	e  [ways]sourceEntry
}

type sourceEntry struct {
	key srcKey // zero: free
	b   bucket
}

func newSourceTable(size int, perNs, burst float64, seed uint64) *sourceTable {
	n := 1
	for n*ways < size {
		n <<= 1
	}
	return &sourceTable{sets: make([]sourceSet, n), mask: uint64(n - 1), seed: seed, perNs: perNs, burst: burst}
}

func (t *sourceTable) take(k srcKey, now int64) bool {
	s := &t.sets[k.hash(t.seed)&t.mask]
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.e {
		if e := &s.e[i]; e.key == k {
			return e.b.take(now, t.perNs, t.burst)
		}
	}
	e := &s.e[t.victim(s, now)]
	*e = sourceEntry{key: k, b: fullBucket(t.burst, now)}
	return e.b.take(now, t.perNs, t.burst)
}

// victim picks the way a new source takes: a free one, else one whose
// bucket is full again, else the least recently used.
func (t *sourceTable) victim(s *sourceSet, now int64) int {
	lru := 0
	for i := range s.e {
		e := &s.e[i]
		if !e.key.ok || e.b.isFull(now, t.perNs, t.burst) {
			return i
		}
		if e.b.last < s.e[lru].b.last {
			lru = i
		}
	}
	t.evictions.Add(1)
	return lru
}

// tracked counts the sources currently held.
func (t *sourceTable) tracked() int {
	n := 0
	for i := range t.sets {
		s := &t.sets[i]
		s.mu.Lock()
		for j := range s.e {
			if s.e[j].key.ok {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// pairCounter counts live pairs in total and per source group. Entries exist
// only while their count is above zero, so memory follows the live pairs.
type pairCounter struct {
	total     atomic.Int64
	max       int64 // 0: no cap
	perSource int32 // 0: no cap, and no per-source counting
	shards    [64]pairShard
	seed      uint64
}

type pairShard struct {
	mu sync.Mutex
	m  map[srcKey]int32
}

func (c *pairCounter) acquireTotal() bool {
	n := c.total.Add(1)
	if c.max > 0 && n > c.max {
		c.total.Add(-1)
		return false
	}
	return true
}

func (c *pairCounter) acquireSource(k srcKey) bool {
	s := &c.shards[k.hash(c.seed)%uint64(len(c.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.m[k]
	if n >= c.perSource {
		return false
	}
	if s.m == nil {
		s.m = make(map[srcKey]int32)
	}
	s.m[k] = n + 1
	return true
}

func (c *pairCounter) releaseSource(k srcKey) {
	s := &c.shards[k.hash(c.seed)%uint64(len(c.shards))]
	s.mu.Lock()
	if n := s.m[k]; n > 1 {
		s.m[k] = n - 1
	} else {
		delete(s.m, k)
	}
	s.mu.Unlock()
}
