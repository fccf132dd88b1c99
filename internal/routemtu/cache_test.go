package routemtu

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func key(i int) cacheKey {
	return cacheKey{
		local:  netip.MustParseAddr("198.18.0.1"),
		remote: netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}),
	}
}

// TestCacheTTL: an answer is reused until its TTL has passed and not at
// its expiry; a new answer then replaces it for a full TTL.
func TestCacheTTL(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newCache(3*time.Second, 8)
	c.put(key(1), 1200, t0)
	for _, at := range []time.Duration{0, time.Second, 3*time.Second - 1} {
		if mtu, ok := c.get(key(1), t0.Add(at)); !ok || mtu != 1200 {
			t.Errorf("at +%v: get = %d, %v; want 1200, true", at, mtu, ok)
		}
	}
	if _, ok := c.get(key(1), t0.Add(3*time.Second)); ok {
		t.Error("at +3s (the TTL): still answered")
	}
	if _, ok := c.get(key(2), t0); ok {
		t.Error("a key never put was answered")
	}
	c.put(key(1), 1100, t0.Add(4*time.Second))
	if mtu, ok := c.get(key(1), t0.Add(6*time.Second)); !ok || mtu != 1100 {
		t.Errorf("after a new answer at +4s, at +6s: get = %d, %v; want 1100, true", mtu, ok)
	}
	if c.len() != 1 {
		t.Errorf("%d entries indexed for one key", c.len())
	}
}

// TestCacheBound: a full cache evicts its least recently used answer for
// a new one (here the oldest, or the least recently asked about) and
// never holds more than its bound, including when keys are answered again
// (a refreshed key goes to the back of the line, its old slot freed
// without evicting the key's new answer).
func TestCacheBound(t *testing.T) {
	const bound = 4
	t0 := time.Unix(1000, 0)
	c := newCache(time.Hour, bound)
	for i := range bound {
		c.put(key(i), 1000+i, t0)
	}
	c.put(key(bound), 2000, t0)
	if _, ok := c.get(key(0), t0); ok {
		t.Error("the oldest key survived a put into a full cache")
	}
	for i := 1; i <= bound; i++ {
		if _, ok := c.get(key(i), t0); !ok {
			t.Errorf("key %d evicted; only key 0 should have been", i)
		}
	}
	// Asked about in turn, key 1 is now the least recently used; answered
	// again it becomes the most, and key 2 is the next to go.
	c.put(key(1), 1500, t0)
	c.put(key(bound+1), 2001, t0)
	if mtu, ok := c.get(key(1), t0); !ok || mtu != 1500 {
		t.Errorf("refreshed key 1: get = %d, %v; want 1500, true", mtu, ok)
	}
	if _, ok := c.get(key(2), t0); ok {
		t.Error("key 2, the least recently used after key 1's refresh, survived")
	}
	for i := range 10 * bound {
		c.put(key(100+i), i, t0)
		if c.len() > bound {
			t.Fatalf("after %d puts: %d entries, bound %d", i, c.len(), bound)
		}
	}
	if c.len() != bound {
		t.Errorf("%d entries after many puts, want the bound %d", c.len(), bound)
	}
	for i := 10*bound - bound; i < 10*bound; i++ {
		if mtu, ok := c.get(key(100+i), t0); !ok || mtu != i {
			t.Errorf("one of the %d newest keys: get(%d) = %d, %v", bound, 100+i, mtu, ok)
		}
	}
}

// TestCacheLRU: a key asked about between each of many new keys, ten
// times as many as the cache holds (an INIT flood from spoofed sources
// while the engine asks about a path it uses), keeps its answer; first in,
// first out lost it to the bound-th new key. It is still forgotten at its
// TTL.
func TestCacheLRU(t *testing.T) {
	const bound = 8
	t0 := time.Unix(1000, 0)
	c := newCache(time.Hour, bound)
	hot := key(0)
	c.put(hot, 1280, t0)
	for i := 1; i <= 10*bound; i++ {
		c.put(key(i), 1500, t0)
		if mtu, ok := c.get(hot, t0); !ok || mtu != 1280 {
			t.Fatalf("after %d new keys: get = %d, %v; want 1280, true", i, mtu, ok)
		}
		if c.len() > bound {
			t.Fatalf("after %d new keys: %d entries, bound %d", i, c.len(), bound)
		}
		// Just evicted: the least recently used, the oldest new key.
		if i >= bound {
			if _, ok := c.get(key(i-bound+1), t0); ok {
				t.Fatalf("after %d new keys: key %d, the least recently used, survived", i, i-bound+1)
			}
		}
	}
	if _, ok := c.get(hot, t0.Add(time.Hour)); ok {
		t.Error("the key asked about outlived its TTL")
	}
}

// TestCacheModel: random puts and gets over three times as many keys as
// the cache holds, with the clock moving on past TTLs, answer as a model
// (a slice kept in order of use) does, and the cache's order of use is the
// model's, walked both ways. Seeded: a failure names its seed and step.
func TestCacheModel(t *testing.T) {
	const bound, steps = 8, 3000
	type entry struct {
		k       cacheKey
		mtu     int
		expires time.Time
	}
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		ttl := time.Duration(1+rng.IntN(20)) * time.Second
		c := newCache(ttl, bound)
		var model []entry // most recently used first
		find := func(k cacheKey) int {
			return slices.IndexFunc(model, func(e entry) bool { return e.k == k })
		}
		now := time.Unix(1000, 0)
		for step := range steps {
			now = now.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
			k := key(rng.IntN(3 * bound))
			if rng.IntN(2) == 0 {
				mtu, ok := c.get(k, now)
				wantMTU, wantOK := 0, false
				if j := find(k); j >= 0 && now.Before(model[j].expires) {
					e := model[j]
					wantMTU, wantOK = e.mtu, true
					model = slices.Insert(slices.Delete(model, j, j+1), 0, e)
				}
				if mtu != wantMTU || ok != wantOK {
					t.Fatalf("seed %d step %d: get(%v) = %d, %v; the model says %d, %v", seed, step, k.remote, mtu, ok, wantMTU, wantOK)
				}
			} else {
				mtu := 1000 + step
				c.put(k, mtu, now)
				if j := find(k); j >= 0 {
					model = slices.Delete(model, j, j+1)
				} else if len(model) == bound {
					model = model[:bound-1]
				}
				model = slices.Insert(model, 0, entry{k, mtu, now.Add(ttl)})
			}
			var order, back []cacheKey
			for i := c.head; i >= 0 && len(order) <= bound; i = c.slots[i].next {
				order = append(order, c.slots[i].key)
			}
			for i := c.tail; i >= 0 && len(back) <= bound; i = c.slots[i].prev {
				back = slices.Insert(back, 0, c.slots[i].key)
			}
			var want []cacheKey
			for _, e := range model {
				want = append(want, e.k)
			}
			if !slices.Equal(order, want) || !slices.Equal(back, want) || c.len() != len(want) {
				t.Fatalf("seed %d step %d: order of use %v, walked back %v, %d indexed; the model's %v", seed, step, remotes(order), remotes(back), c.len(), remotes(want))
			}
		}
	}
}

// remotes names keys by their remote address, the part key sets.
func remotes(ks []cacheKey) []netip.Addr {
	var a []netip.Addr
	for _, k := range ks {
		a = append(a, k.remote)
	}
	return a
}

// TestCacheGetAllocs: a hit allocates nothing, nor does a put once the
// cache is full (slots and map entries are reused).
func TestCacheGetAllocs(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newCache(time.Hour, 64)
	for i := range 64 {
		c.put(key(i), 1500, t0)
	}
	k := key(7)
	hit := testing.AllocsPerRun(1000, func() {
		if _, ok := c.get(k, t0); !ok {
			t.Fatal("miss")
		}
	})
	i := 0
	put := testing.AllocsPerRun(1000, func() { i++; c.put(key(64+i%512), 1500, t0) })
	t.Logf("%.2f allocations per hit, %.2f per put into the full cache", hit, put)
	if raceEnabled {
		t.Skip("allocation count not asserted under the race detector: make test asserts it without -race")
	}
	if hit != 0 || put != 0 {
		t.Errorf("%.2f allocations per hit, %.2f per put into the full cache; want 0 and 0", hit, put)
	}
}
