package routemtu

import (
	"net/netip"
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

// TestCacheBound: a full cache evicts its oldest answer for a new one and
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
	// Key 1 is now the oldest; answered again it becomes the newest, and
	// key 2 is the next to go.
	c.put(key(1), 1500, t0)
	c.put(key(bound+1), 2001, t0)
	if mtu, ok := c.get(key(1), t0); !ok || mtu != 1500 {
		t.Errorf("refreshed key 1: get = %d, %v; want 1500, true", mtu, ok)
	}
	if _, ok := c.get(key(2), t0); ok {
		t.Error("key 2, the oldest after key 1's refresh, survived")
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
