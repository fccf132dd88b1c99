package cookie

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func newJar(rot time.Duration) *Jar {
	return NewJar(seeded{rand.NewChaCha8([32]byte{1})}, rot)
}

var t0 = time.Unix(1_700_000_000, 0)

func sample(now time.Time) State {
	return State{
		Created: now, Lifetime: 60 * time.Second,
		LocalPort: 36412, PeerPort: 40000,
		LocalTag: 0x11111111, PeerTag: 0x22222222, LocalTieTag: 3, PeerTieTag: 4,
		LocalTSN: 5, PeerTSN: 6, PeerRwnd: 65536, OutStreams: 10, InStreams: 2,
		Features: FeatForwardTSN | FeatAdaptation, PeerAdaptation: 0xCAFE,
	}
}

func TestRoundTrip(t *testing.T) {
	j := newJar(time.Hour)
	s := sample(t0)
	c, err := j.Seal(nil, &s, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != MinLen {
		t.Fatalf("cookie is %d bytes, MinLen says %d", len(c), MinLen)
	}
	got, err := j.Open(c, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(s.Created) {
		t.Fatalf("created %v, want %v", got.Created, s.Created)
	}
	got.Created = s.Created
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("opened %+v, want %+v", got, s)
	}
}

func TestForgedAndMalformed(t *testing.T) {
	j := newJar(time.Hour)
	s := sample(t0)
	c, _ := j.Seal(nil, &s, t0)
	for i := range c {
		bad := append([]byte(nil), c...)
		bad[i] ^= 0x40
		if _, err := j.Open(bad, t0); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	if _, err := j.Open(c[:MinLen-1], t0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short cookie: %v", err)
	}
	other := NewJar(seeded{rand.NewChaCha8([32]byte{2})}, time.Hour)
	other.Seal(nil, &s, t0) // start its secrets
	if _, err := other.Open(c, t0); !errors.Is(err, ErrForged) {
		t.Fatalf("cookie from another jar: %v, want ErrForged", err)
	}
}

func TestStale(t *testing.T) {
	j := newJar(time.Hour)
	s := sample(t0)
	c, _ := j.Seal(nil, &s, t0)
	_, err := j.Open(c, t0.Add(s.Lifetime+1500*time.Microsecond))
	var se *StaleError
	if !errors.As(err, &se) || se.Staleness != 1500*time.Microsecond {
		t.Fatalf("got %v, want staleness 1.5ms", err)
	}
}

func TestRotation(t *testing.T) {
	j := newJar(time.Minute)
	s := sample(t0)
	s.Lifetime = time.Hour
	c, _ := j.Seal(nil, &s, t0)
	// Next rotation: the old key is still the previous one.
	s2 := sample(t0.Add(61 * time.Second))
	j.Seal(nil, &s2, t0.Add(61*time.Second))
	if _, err := j.Open(c, t0.Add(62*time.Second)); err != nil {
		t.Fatalf("cookie from the previous secret: %v", err)
	}
	// Two rotations later it is gone.
	j.Seal(nil, &s2, t0.Add(125*time.Second))
	if _, err := j.Open(c, t0.Add(126*time.Second)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("cookie two secrets old: %v, want ErrUnknownKey", err)
	}
}

// A cookie carries the peer's addresses, IPv4 and IPv6 alike, and stays
// within MaxLen with all of them.
func TestPeerAddrs(t *testing.T) {
	j := newJar(time.Hour)
	s := sample(t0)
	s.PeerAddrs = [MaxPeerAddrs]netip.Addr{
		netip.MustParseAddr("198.18.1.10"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("198.18.3.10"), netip.MustParseAddr("2001:db8::2"),
	}
	c, err := j.Seal(nil, &s, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := MinLen + 2*5 + 2*17; len(c) != want || len(c) > MaxLen {
		t.Fatalf("cookie is %d bytes, want %d (at most %d)", len(c), want, MaxLen)
	}
	got, err := j.Open(c, t0)
	if err != nil {
		t.Fatal(err)
	}
	got.Created = s.Created
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("opened %+v, want %+v", got, s)
	}
	// Unused entries are left out, not encoded as zeros.
	s.PeerAddrs = [MaxPeerAddrs]netip.Addr{{}, netip.MustParseAddr("198.18.1.10")}
	c, _ = j.Seal(nil, &s, t0)
	if got, err = j.Open(c, t0); err != nil || got.PeerAddrs[0] != s.PeerAddrs[1] || got.PeerAddrs[1].IsValid() || len(c) != MinLen+5 {
		t.Fatalf("opened %v (%v) from %d bytes", got.PeerAddrs, err, len(c))
	}
	if _, err := j.Open(append(c, 0), t0); err == nil {
		t.Fatal("a cookie with a byte appended opened")
	}
}

// TestAuthRoundTrip: the SCTP-AUTH half of the handshake (our RANDOM, the
// peer's key vector) survives the cookie, and its bounds are kept.
func TestAuthRoundTrip(t *testing.T) {
	j := newJar(time.Hour)
	s := sample(t0)
	s.AuthOffered = true
	for i := range s.LocalRandom {
		s.LocalRandom[i] = byte(i + 1)
	}
	for _, peer := range [][]byte{nil, {0x80, 0x02, 0x00, 0x24, 9}, make([]byte, MaxPeerAuth)} {
		s.PeerAuth = peer
		c, err := j.Seal(nil, &s, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) > MaxLen {
			t.Fatalf("cookie is %d bytes, above MaxLen %d", len(c), MaxLen)
		}
		got, err := j.Open(c, t0)
		if err != nil {
			t.Fatal(err)
		}
		got.Created = s.Created
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("opened %+v, want %+v", got, s)
		}
	}
	s.PeerAuth = make([]byte, MaxPeerAuth+1)
	if _, err := j.Seal(nil, &s, t0); err == nil {
		t.Fatal("sealed a peer vector above MaxPeerAuth")
	}
}
