package routemtu

import (
	"net/netip"
	"time"
)

// Options configure a Prober.
type Options struct {
	// Mark is the SO_MARK the link's own packets carry (rawip.Config.Mark),
	// set on the Prober's sockets too, so that a route chosen by an
	// `ip rule fwmark` is the one asked about. 0: none.
	Mark uint32
	// TTL is how long an answer is reused; 0 means DefaultTTL.
	TTL time.Duration
	// Entries bounds the answers kept; 0 means DefaultEntries.
	Entries int
	// Now is the clock the TTL is measured by; nil means time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	// DefaultTTL is how long an answer is reused. A route's change (an
	// operator's `ip route change ... mtu`, a PMTU exception learnt) is
	// seen this late; a peer's packets cannot make the kernel be asked
	// more often than once per (local, remote) in that time.
	DefaultTTL = 5 * time.Second
	// DefaultEntries bounds the cache: at most that many answers are
	// kept, whatever the number of peers (or spoofed INIT sources).
	DefaultEntries = 1024
)

// cacheKey names a route as the kernel chooses it for one Prober: the
// source (policy routing's `from`) and the destination. The third part of
// the route's selector, the mark, is the Prober's own and fixed.
type cacheKey struct {
	local, remote netip.Addr
}

type cacheEntry struct {
	key     cacheKey
	mtu     int
	expires time.Time
}

// cache keeps answers for a while, at most len(ring) of them. Entries are
// written to the ring in the order they were learnt, so the slot written
// next holds the oldest: eviction is first in, first out, which with one
// TTL for all is also soonest to expire. Not safe for concurrent use (the
// Prober's lock guards it).
//
// A hit is a map lookup: no allocation. A miss allocates only while the
// map grows toward its bound.
type cache struct {
	ttl  time.Duration
	idx  map[cacheKey]int // slot in ring of key's live entry
	ring []cacheEntry     // grows to its capacity, then wraps
	next int              // slot the next insert overwrites once ring is full
}

func newCache(ttl time.Duration, entries int) *cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if entries <= 0 {
		entries = DefaultEntries
	}
	return &cache{ttl: ttl, idx: make(map[cacheKey]int), ring: make([]cacheEntry, 0, entries)}
}

// get returns key's answer if one was learnt less than the TTL before now.
func (c *cache) get(k cacheKey, now time.Time) (int, bool) {
	i, ok := c.idx[k]
	if !ok || !now.Before(c.ring[i].expires) {
		return 0, false
	}
	return c.ring[i].mtu, true
}

// put records key's answer, learnt at now, in place of its previous one,
// evicting the oldest entry when the cache is full.
func (c *cache) put(k cacheKey, mtu int, now time.Time) {
	// An expired entry of k stays in its slot, unindexed, until that slot
	// is reused: the new one goes to the back of the line.
	delete(c.idx, k)
	e := cacheEntry{key: k, mtu: mtu, expires: now.Add(c.ttl)}
	if len(c.ring) < cap(c.ring) {
		c.idx[k] = len(c.ring)
		c.ring = append(c.ring, e)
		return
	}
	i := c.next
	c.next = (c.next + 1) % len(c.ring)
	if j, ok := c.idx[c.ring[i].key]; ok && j == i {
		// Still the slot's own: not replaced by a later put of its key.
		delete(c.idx, c.ring[i].key)
	}
	c.ring[i] = e
	c.idx[k] = i
}

// len is the number of entries indexed, live or expired.
func (c *cache) len() int { return len(c.idx) }

// clear drops every entry.
func (c *cache) clear() {
	clear(c.idx)
	c.ring = c.ring[:0]
	c.next = 0
}
