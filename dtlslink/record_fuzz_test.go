package dtlslink

import (
	"bytes"
	"testing"
)

// mirroredLayers are the two ends of one session with fixed keys: what a
// seals, b opens.
func mirroredLayers(t testing.TB, withCID bool) (a, b *recordLayer) {
	k1, k2 := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)
	mk := func(seal, open []byte, ours, peer []byte) *recordLayer {
		r := &recordLayer{epoch: 1, ourCID: ours, peerCID: peer, nextSeq: 1, cutoff: 1}
		var err error
		if r.seal, err = newGCM(seal); err != nil {
			t.Fatal(err)
		}
		if r.open, err = newGCM(open); err != nil {
			t.Fatal(err)
		}
		copy(r.sealSalt[:], seal)
		copy(r.openSalt[:], open)
		return r
	}
	var ca, cb []byte
	if withCID {
		ca, cb = []byte("AAAAAAAA"), []byte("BBBBBBBB")
	}
	return mk(k1, k2, ca, cb), mk(k2, k1, cb, ca)
}

// FuzzRecordLayer: any datagram fed to the receiving side neither panics
// nor opens unless it is a record the other side sealed, exactly once; a
// sealed record opens to its content and type, and any change to one of
// its bytes makes it fail.
func FuzzRecordLayer(f *testing.F) {
	f.Add([]byte("hello"), []byte{}, uint16(0), true)
	f.Add(bytes.Repeat([]byte{0}, 1400), []byte{25, 254, 253, 0, 1}, uint16(30), false)
	f.Add([]byte{}, []byte{23, 254, 253, 0, 1, 0, 0, 0, 0, 0, 9, 0, 0}, uint16(5), true)
	f.Fuzz(func(t *testing.T, content, junk []byte, flip uint16, withCID bool) {
		if len(content) > maxPlaintext {
			content = content[:maxPlaintext]
		}
		a, b := mirroredLayers(t, withCID)
		dst := make([]byte, 1<<15)
		// Junk: never opens (it was not sealed by a).
		for d := junk; len(d) > 0; {
			rec, rest, ok := splitRecord(d, len(b.ourCID))
			if !ok {
				break
			}
			d = rest
			if _, _, err := b.openTo(dst, rec); err == nil {
				t.Fatalf("junk record %x opened", rec)
			}
		}
		rec := make([]byte, a.sealedLen(len(content)))
		if err := a.sealTo(rec, contentAppData, content); err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(rec)
		bad[int(flip)%len(bad)] ^= 0x80
		if _, _, err := b.openTo(dst, bad); err == nil {
			t.Fatalf("a record altered at byte %d of %d opened", int(flip)%len(bad), len(bad))
		}
		typ, got, err := b.openTo(dst, rec)
		if err != nil || typ != contentAppData || !bytes.Equal(got, content) {
			t.Fatalf("sealed record: type %d, %d bytes, %v; want %d bytes of application data", typ, len(got), err, len(content))
		}
		if _, _, err := b.openTo(dst, rec); err == nil {
			t.Fatal("a replay opened")
		}
	})
}
