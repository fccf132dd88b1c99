package auth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// The vectors below were written out by hand from RFC 4895 (3.1-3.3 for the
// parameters, 6.1 for the key vectors and the association key, 6.2 for
// what the HMAC covers) and their HMACs computed outside Go:
//
//	printf "$AUTH$DATA" | xxd -r -p | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seq(from, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(from + i)
	}
	return b
}

// local sent RANDOM 0x01..0x20, CHUNKS {DATA, SACK}, HMAC-ALGO {SHA-256,
// SHA-1}; peer sent RANDOM 0x21..0x40, no CHUNKS, HMAC-ALGO {SHA-1}.
var (
	localParams = Params{Random: seq(1, 32), Chunks: []wire.ChunkType{wire.TypeData, wire.TypeSack}, HasChunks: true,
		HMACs: []wire.HMACID{wire.HMACSHA256, wire.HMACSHA1}}
	peerParams = Params{Random: seq(0x21, 32), HMACs: []wire.HMACID{wire.HMACSHA1}}
)

const (
	// RANDOM (type 0x8002, length 36), CHUNKS (0x8003, length 6: unpadded,
	// the next parameter follows at once), HMAC-ALGO (0x8004, length 8).
	localVectorHex = "80020024" + "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20" +
		"80030006" + "0003" + "80040008" + "00030001"
	peerVectorHex = "80020024" + "2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40" +
		"80040006" + "0001"
	secretHex = "7363747067772074657374206b6579" // "sctpgw test key"
	// The peer's vector is the shorter, so numerically the smaller one
	// (neither has leading zeros): it goes first, though its bytes compare
	// greater from the fifth on.
	assocKeyHex = secretHex + peerVectorHex + localVectorHex

	// A packet: common header, AUTH (key 1, HMAC-SHA-256, HMAC zeroed),
	// DATA (TSN 1, stream 0, SSN 0, PPID 18, "hello", 3 bytes of padding).
	headerHex   = "138813890102030400000000"
	dataHex     = "0003001500000001000000000000001268656c6c6f000000"
	auth256Hex  = "0f00002800010003" + "0000000000000000000000000000000000000000000000000000000000000000"
	auth1Hex    = "0f00001c00010001" + "0000000000000000000000000000000000000000"
	mac256Hex   = "8a6cd301914d59dd7e659fa45485cddaf6f60d8547c2006a50689fc688d5d003"
	mac1Hex     = "8b959a190f3535714a57d30033dbedb7ae6cdfd7"
	auth0Hex    = "0f00002800000003" + "0000000000000000000000000000000000000000000000000000000000000000"
	mac0NullHex = "f83a34ccd9a3b3e79859aaf6e0757b2d6fde5b32fa67774cdcf19fc2be6872ff"
)

func TestKeyVectors(t *testing.T) {
	if got := localParams.AppendVector(nil); !bytes.Equal(got, unhex(t, localVectorHex)) {
		t.Errorf("local vector\n got %x\nwant %s", got, localVectorHex)
	}
	if got := peerParams.AppendVector(nil); !bytes.Equal(got, unhex(t, peerVectorHex)) {
		t.Errorf("peer vector\n got %x\nwant %s", got, peerVectorHex)
	}
	// An empty CHUNKS that was sent still counts: its header is in.
	empty := Params{Random: seq(1, 32), HasChunks: true, HMACs: []wire.HMACID{1}}
	if got, want := hex.EncodeToString(empty.AppendVector(nil)[36:]), "80030004"+"80040006"+"0001"; got != want {
		t.Errorf("empty CHUNKS: got %s, want %s", got, want)
	}
	back, err := ParseVector(unhex(t, localVectorHex))
	if err != nil || !bytes.Equal(back.AppendVector(nil), unhex(t, localVectorHex)) {
		t.Errorf("ParseVector: %v, %+v", err, back)
	}
	for _, bad := range []string{"8002", "80020003", "80020024", "8009000400", "80040005" + "00"} {
		if _, err := ParseVector(unhex(t, bad)); err == nil {
			t.Errorf("ParseVector(%s) accepted", bad)
		}
	}
}

func TestAssocKeyOrder(t *testing.T) {
	l, p, k := unhex(t, localVectorHex), unhex(t, peerVectorHex), unhex(t, secretHex)
	want := unhex(t, assocKeyHex)
	// Symmetric: both ends derive the same key.
	if got := AppendAssocKey(nil, k, l, p); !bytes.Equal(got, want) {
		t.Errorf("local view\n got %x\nwant %x", got, want)
	}
	if got := AppendAssocKey(nil, k, p, l); !bytes.Equal(got, want) {
		t.Errorf("peer view\n got %x\nwant %x", got, want)
	}
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"02", "0101", -1},     // shorter is smaller
		{"000003", "0101", -1}, // leading zeros do not count
		{"0102", "0101", 1},
		{"0101", "000101", -1}, // equal as numbers: the shorter first
		{"0101", "0101", 0},
	} {
		if got := compareVectors(unhex(t, c.a), unhex(t, c.b)); got != c.want {
			t.Errorf("compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareVectors(unhex(t, c.b), unhex(t, c.a)); got != -c.want {
			t.Errorf("compare(%s, %s) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

func newPair(t *testing.T, ringL, ringP *Keyring) (l, p *Session) {
	t.Helper()
	var err error
	if l, err = NewSession(ringL, &localParams, &peerParams); err != nil {
		t.Fatal(err)
	}
	if p, err = NewSession(ringP, &peerParams, &localParams); err != nil {
		t.Fatal(err)
	}
	return l, p
}

func ringWith(t *testing.T, id uint16, secret []byte) *Keyring {
	t.Helper()
	r := &Keyring{}
	if err := r.Add(id, secret); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSignVectors signs the known packet from both ends: each signs with
// the algorithm the other listed first (6.1), over the AUTH chunk with its
// HMAC zeroed and the DATA after it (6.2).
func TestSignVectors(t *testing.T) {
	secret := unhex(t, secretHex)
	l, p := newPair(t, ringWith(t, 1, secret), ringWith(t, 1, secret))
	if l.SendAlgorithm().ID != wire.HMACSHA1 || p.SendAlgorithm().ID != wire.HMACSHA256 {
		t.Fatalf("negotiated %v and %v", l.SendAlgorithm().ID, p.SendAlgorithm().ID)
	}
	for _, c := range []struct {
		s        *Session
		auth     string
		mac      string
		verifier *Session
	}{{l, auth1Hex, mac1Hex, p}, {p, auth256Hex, mac256Hex, l}} {
		pkt := unhex(t, headerHex+c.auth+dataHex)
		for i := 12; i < 12+len(c.auth)/2; i++ {
			pkt[i] = 0xee // Sign must not depend on what the reserved bytes held
		}
		c.s.Sign(pkt, 12)
		want := unhex(t, headerHex+c.auth[:16]+c.mac+dataHex)
		if !bytes.Equal(pkt, want) {
			t.Errorf("signed\n got %x\nwant %x", pkt, want)
		}
		if v := c.verifier.Verify(pkt, 12); v.Result != OK || v.KeyID != 1 {
			t.Errorf("verify: %+v", v)
		}
	}
}

// TestNullKey: with no key configured both ends use the empty key 0 (6.1).
func TestNullKey(t *testing.T) {
	l, p := newPair(t, &Keyring{}, &Keyring{})
	pkt := unhex(t, headerHex+auth0Hex+dataHex)
	p.Sign(pkt, 12)
	if got := hex.EncodeToString(pkt[20:52]); got != mac0NullHex {
		t.Errorf("null key HMAC %s, want %s", got, mac0NullHex)
	}
	if v := l.Verify(pkt, 12); v.Result != OK {
		t.Errorf("verify: %+v", v)
	}
	// A configured key retires the empty one.
	if err := l.Keyring().Add(1, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if v := l.Verify(pkt, 12); v.Result != NoKey {
		t.Errorf("key 0 after a key was added: %+v", v)
	}
}

func TestVerifyRefuses(t *testing.T) {
	secret := unhex(t, secretHex)
	l, p := newPair(t, ringWith(t, 1, secret), ringWith(t, 1, secret))
	good := unhex(t, headerHex+auth256Hex+dataHex)
	p.Sign(good, 12)
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	for _, c := range []struct {
		name string
		pkt  []byte
		want Result
	}{
		{"payload byte", mutate(func(b []byte) { b[len(b)-4] ^= 1 }), BadMAC},
		{"HMAC byte", mutate(func(b []byte) { b[30] ^= 0x80 }), BadMAC},
		{"header is not covered", mutate(func(b []byte) { b[4] ^= 1 }), OK},
		{"unknown key id", mutate(func(b []byte) { b[17] = 7 }), NoKey},
		{"HMAC id not offered", mutate(func(b []byte) { b[19] = 2 }), UnsupportedHMAC},
		{"short HMAC", mutate(func(b []byte) { b[15] = 0x24 }), BadMAC},
	} {
		if v := l.Verify(c.pkt, 12); v.Result != c.want {
			t.Errorf("%s: %v, want %v", c.name, v.Result, c.want)
		}
	}
	// A wrong key: same id, another secret.
	_, wrong := newPair(t, &Keyring{}, ringWith(t, 1, []byte("not the key")))
	pkt := unhex(t, headerHex+auth256Hex+dataHex)
	wrong.Sign(pkt, 12)
	if v := l.Verify(pkt, 12); v.Result != BadMAC {
		t.Errorf("wrong secret: %v", v.Result)
	}
	st := l.Keyring().Stats()
	if st.Authenticated != 1 || st.BadMAC != 6 {
		t.Errorf("stats %+v, want 1 authenticated, 6 bad", st)
	}
	ks := l.Keyring().KeyStats()
	if len(ks) != 1 || ks[0].In != 1 || ks[0].BadMAC != 4 || !ks[0].Active {
		t.Errorf("key stats %+v", ks)
	}
}

// TestRotation: a second key id added on both ends, made active on one end
// first; packets with either verify while both are held, NEW_KEY is seen
// once, and deleting the old key tells the sessions that used it.
func TestRotation(t *testing.T) {
	rl, rp := ringWith(t, 1, []byte("one")), ringWith(t, 1, []byte("one"))
	l, p := newPair(t, rl, rp)
	var freed []uint16
	l.OnFree = func(id uint16) { freed = append(freed, id) }
	l.Attach()
	send := func() Verdict {
		pkt := unhex(t, headerHex+auth256Hex+dataHex)
		p.Sign(pkt, 12)
		return l.Verify(pkt, 12)
	}
	if v := send(); v.Result != OK || v.NewKey {
		t.Fatalf("key 1: %+v", v)
	}
	for _, r := range []*Keyring{rl, rp} {
		if err := r.Add(2, []byte("two")); err != nil {
			t.Fatal(err)
		}
	}
	if v := send(); v.Result != OK || v.KeyID != 1 {
		t.Fatalf("still key 1: %+v", v)
	}
	if err := rp.SetActive(2); err != nil {
		t.Fatal(err)
	}
	if v := send(); v.Result != OK || v.KeyID != 2 || !v.NewKey {
		t.Fatalf("key 2: %+v", v)
	}
	if v := send(); v.Result != OK || v.NewKey {
		t.Fatalf("key 2 again: %+v", v)
	}
	if err := rl.Delete(1); !errors.Is(err, ErrActiveKey) {
		t.Fatalf("deleting the active key: %v", err)
	}
	if err := rl.SetActive(2); err != nil {
		t.Fatal(err)
	}
	if err := rl.Delete(1); err != nil {
		t.Fatal(err)
	}
	if len(freed) != 1 || freed[0] != 1 {
		t.Errorf("freed %v, want [1]", freed)
	}
	if err := rl.Delete(1); !errors.Is(err, ErrNoKey) {
		t.Errorf("deleting twice: %v", err)
	}
	if err := rp.SetActive(1); err != nil {
		t.Fatal(err)
	}
	if v := send(); v.Result != NoKey {
		t.Errorf("deleted key still verifies: %+v", v)
	}
	l.Detach()
	if len(rl.sessions) != 0 {
		t.Errorf("detach left %d sessions", len(rl.sessions))
	}
}

func TestCheck(t *testing.T) {
	ok := Params{Random: seq(0, 32), HMACs: []wire.HMACID{3, 1}}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    Params
		want error
	}{
		{Params{Random: seq(0, 31), HMACs: []wire.HMACID{1}}, ErrRandomLength},
		{Params{Random: seq(0, 33), HMACs: []wire.HMACID{1}}, ErrRandomLength},
		{Params{Random: seq(0, 32), HMACs: []wire.HMACID{3}}, ErrNoSHA1},
		{Params{Random: seq(0, 32), HMACs: make([]wire.HMACID, MaxHMACs+1)}, ErrTooLong},
		{Params{Random: seq(0, 32), HMACs: []wire.HMACID{1}, Chunks: make([]wire.ChunkType, MaxChunks+1)}, ErrTooLong},
	} {
		if err := c.p.Check(); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.p, err, c.want)
		}
	}
}

func TestChunkSet(t *testing.T) {
	s := ChunkSetOf([]wire.ChunkType{wire.TypeData, wire.TypeInit, wire.TypeInitAck, wire.TypeShutdownComplete, wire.TypeAuth, 0xC1, 0xFF})
	for _, c := range []struct {
		t    wire.ChunkType
		want bool
	}{{0, true}, {0xC1, true}, {0xFF, true}, {1, false}, {2, false}, {14, false}, {15, false}, {3, false}, {0x40, false}} {
		if s.Has(c.t) != c.want {
			t.Errorf("Has(%d) = %v", c.t, !c.want)
		}
	}
	if s.Empty() || !(&ChunkSet{}).Empty() {
		t.Error("Empty")
	}
}

func TestFromWire(t *testing.T) {
	ps := []wire.Param{
		&wire.RequestedHMACAlgoParam{IDs: []wire.HMACID{1}},
		&wire.RandomParam{Random: seq(0, 32)},
		&wire.RandomParam{Random: seq(5, 32)}, // a second RANDOM is ignored
	}
	p, offered := FromWire(ps)
	if !offered || p.Random[0] != 0 || p.HasChunks {
		t.Errorf("%+v %v", p, offered)
	}
	if _, offered := FromWire(ps[1:]); offered {
		t.Error("RANDOM without HMAC-ALGO counted as offered")
	}
}

// TestSteadyStateAllocs: signing and verifying allocate nothing once the
// association key is derived.
func TestSteadyStateAllocs(t *testing.T) {
	secret := unhex(t, secretHex)
	l, p := newPair(t, ringWith(t, 1, secret), ringWith(t, 1, secret))
	pkt := unhex(t, headerHex+auth256Hex+dataHex)
	p.Sign(pkt, 12)
	l.Verify(pkt, 12)
	n := testing.AllocsPerRun(100, func() {
		p.Sign(pkt, 12)
		if l.Verify(pkt, 12).Result != OK {
			t.Fatal("verify")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per sign and verify", n)
	}
}
