package reassembly

import (
	"math/rand"
	"testing"
)

// BenchmarkSingleFragment1KiB: one op is a 1 KiB ordered message added and
// popped, the S1AP/NGAP shape of traffic.
func BenchmarkSingleFragment1KiB(b *testing.B) {
	r := New(Config{InStreams: 4})
	payload := make([]byte, 1024)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := r.Add(Fragment{TSN: uint32(i), Stream: 1, SSN: uint16(i), Beginning: true, Ending: true, Payload: payload}); err != nil {
			b.Fatal(err)
		}
		r.Pop()
	}
}

// BenchmarkSingleFragment1KiBUnordered: as above, unordered.
func BenchmarkSingleFragment1KiBUnordered(b *testing.B) {
	r := New(Config{InStreams: 4})
	payload := make([]byte, 1024)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Add(Fragment{TSN: uint32(i), Stream: 1, Unordered: true, Beginning: true, Ending: true, Payload: payload})
		r.Pop()
	}
}

// addMessage64K adds one 64 KiB message in 1200-byte DATA fragments in the
// given fragment order.
func addMessage64K(b *testing.B, r *Reassembler, tsn uint32, ssn uint16, payload []byte, order []int) {
	const size, frag = 64 << 10, 1200
	n := (size + frag - 1) / frag
	for _, k := range order {
		off := k * frag
		end := min(off+frag, size)
		err := r.Add(Fragment{TSN: tsn + uint32(k), Stream: 1, SSN: ssn, Beginning: k == 0, Ending: k == n-1, Payload: payload[:end-off]})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func fragOrder(n int, rng *rand.Rand) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if rng != nil {
		// Each fragment displaced by up to 8 places: reordering on a
		// multi-path or lossy link.
		for i := range order {
			if j := i + rng.Intn(8); j < n {
				order[i], order[j] = order[j], order[i]
			}
		}
	}
	return order
}

// BenchmarkFragmented64KiB: one op is a 64 KiB message arriving in order in
// 1200-byte fragments, then popped.
func BenchmarkFragmented64KiB(b *testing.B) {
	benchFragmented(b, nil)
}

// BenchmarkFragmented64KiBReordered: the same with fragments reordered.
func BenchmarkFragmented64KiBReordered(b *testing.B) {
	benchFragmented(b, rand.New(rand.NewSource(1)))
}

func benchFragmented(b *testing.B, rng *rand.Rand) {
	const n = (64<<10 + 1199) / 1200
	r := New(Config{InStreams: 4})
	payload := make([]byte, 1200)
	order := fragOrder(n, rng)
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	tsn := uint32(0xFFFF0000)
	for i := 0; i < b.N; i++ {
		addMessage64K(b, r, tsn, uint16(i), payload, order)
		tsn += n
		if _, ok := r.Pop(); !ok {
			b.Fatal("message not complete")
		}
	}
}

// BenchmarkIData64KiB: a 64 KiB I-DATA message in 1200-byte fragments.
func BenchmarkIData64KiB(b *testing.B) {
	r := New(Config{InStreams: 4, Interleaving: true})
	payload := make([]byte, 1200)
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	tsn := uint32(0)
	for i := 0; i < b.N; i++ {
		var fsn uint32
		for off := 0; off < 64<<10; off += 1200 {
			n := min(1200, 64<<10-off)
			r.AddIData(IFragment{TSN: tsn, Stream: 1, MID: uint32(i), FSN: fsn, Beginning: off == 0, Ending: off+n == 64<<10, Payload: payload[:n]})
			tsn++
			fsn++
		}
		r.Pop()
	}
}

// BenchmarkOrderedHole1KiB: every 16th message arrives 16 messages late, so
// the stream keeps messages waiting for an earlier SSN.
func BenchmarkOrderedHole1KiB(b *testing.B) {
	r := New(Config{InStreams: 4})
	payload := make([]byte, 1024)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	var late []int
	for i := 0; i < b.N; i++ {
		if i%16 == 0 {
			late = append(late, i)
		} else {
			r.Add(Fragment{TSN: uint32(i), Stream: 1, SSN: uint16(i), Beginning: true, Ending: true, Payload: payload})
		}
		if len(late) > 0 && i-late[0] >= 16 {
			j := late[0]
			late = late[:copy(late, late[1:])]
			r.Add(Fragment{TSN: uint32(j), Stream: 1, SSN: uint16(j), Beginning: true, Ending: true, Payload: payload})
		}
		for r.Ready() > 0 {
			r.Pop()
		}
	}
}
