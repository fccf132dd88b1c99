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
	// Neighbours in the order of use: prev was used more recently, next
	// less; -1 at either end.
	prev, next int
}

// cache keeps answers for a while, at most cap(slots) of them. When full,
// it forgets the one least recently used (asked about and found, or
// learnt) for a new one. Not safe for concurrent use (the Prober's lock
// guards it).
//
// Least recently used rather than first in, first out: answers are not
// refreshed by use (the TTL runs from the kernel's answer, so that a
// route's change is seen that late), and first in, first out forgets the
// answer nearest its expiry, which would be right if every key were asked
// about as often. They are not: a flood of INITs from spoofed sources
// brings keys asked about once each, at a rate the flood chooses, while a
// peer with many associations between the same addresses makes the engine
// ask about one key again and again (each INIT answered, each HEARTBEAT on
// a path other than the one answering it, each retried INIT). With more
// new keys in a TTL than the bound (1024 in 5 s), first in, first out
// forgot such a key after that many new keys, however often it was asked
// about in between, and asked the kernel again; least recently used keeps
// its answer unless that many new keys come between two of its questions.
//
// A hit is a map lookup and a move to the front of the order of use: no
// allocation. A miss allocates only while the map grows toward its bound.
type cache struct {
	ttl   time.Duration
	idx   map[cacheKey]int // slot of key's entry, live or expired
	slots []cacheEntry     // grows to its capacity, then slots are reused
	// The order of use, a doubly linked list through the slots: head the
	// most recently used, tail the least; -1 when empty.
	head, tail int
}

func newCache(ttl time.Duration, entries int) *cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if entries <= 0 {
		entries = DefaultEntries
	}
	return &cache{ttl: ttl, idx: make(map[cacheKey]int), slots: make([]cacheEntry, 0, entries), head: -1, tail: -1}
}

// get returns key's answer if one was learnt less than the TTL before now,
// and makes it the most recently used. An expired one is left where it is
// (the Prober learns a new answer for it at once).
func (c *cache) get(k cacheKey, now time.Time) (int, bool) {
	i, ok := c.idx[k]
	if !ok || !now.Before(c.slots[i].expires) {
		return 0, false
	}
	c.use(i)
	return c.slots[i].mtu, true
}

// put records key's answer, learnt at now, in place of its previous one if
// it has one (live or expired), else in a new slot or, when the cache is
// full, in the least recently used one's; it is then the most recently
// used.
func (c *cache) put(k cacheKey, mtu int, now time.Time) {
	i, ok := c.idx[k]
	switch {
	case ok:
		c.use(i)
	case len(c.slots) < cap(c.slots):
		i = len(c.slots)
		c.slots = append(c.slots, cacheEntry{})
		c.pushFront(i)
		c.idx[k] = i
	default:
		i = c.tail
		delete(c.idx, c.slots[i].key)
		c.use(i)
		c.idx[k] = i
	}
	e := &c.slots[i]
	e.key, e.mtu, e.expires = k, mtu, now.Add(c.ttl)
}

// use makes slot i, linked, the most recently used.
func (c *cache) use(i int) {
	if c.head != i {
		c.unlink(i)
		c.pushFront(i)
	}
}

// unlink takes slot i out of the order of use.
func (c *cache) unlink(i int) {
	e := &c.slots[i]
	if e.prev >= 0 {
		c.slots[e.prev].next = e.next
	} else {
		c.head = e.next
	}
	if e.next >= 0 {
		c.slots[e.next].prev = e.prev
	} else {
		c.tail = e.prev
	}
}

// pushFront puts slot i, not linked, first in the order of use.
func (c *cache) pushFront(i int) {
	e := &c.slots[i]
	e.prev, e.next = -1, c.head
	if c.head >= 0 {
		c.slots[c.head].prev = i
	} else {
		c.tail = i
	}
	c.head = i
}

// len is the number of entries indexed, live or expired.
func (c *cache) len() int { return len(c.idx) }

// clear drops every entry.
func (c *cache) clear() {
	clear(c.idx)
	c.slots = c.slots[:0]
	c.head, c.tail = -1, -1
}
