package reassembly

import (
	"errors"
	"testing"

	"github.com/sctpgw/sctpgw/stack/internal/rxtsn"
)

// checkInvariants walks the internal state and checks what Buffered and Held
// claim, and the order the searches rely on.
func checkInvariants(t *testing.T, r *Reassembler) {
	t.Helper()
	bytes, items := 0, 0
	for i, c := range r.runs {
		if int(c.last-c.first)+1 != len(c.frags) {
			t.Fatalf("run %d: TSNs %d..%d with %d fragments", i, c.first, c.last, len(c.frags))
		}
		if c.begins && c.ends {
			t.Fatalf("run %d is a complete message", i)
		}
		if i > 0 && !after(c.first, r.runs[i-1].last) {
			t.Fatalf("runs %d and %d overlap or are out of order", i-1, i)
		}
		n := 0
		for _, b := range c.frags {
			n += len(b)
		}
		if n != c.bytes {
			t.Fatalf("run %d counts %d bytes, holds %d", i, c.bytes, n)
		}
		bytes += n
		items += len(c.frags)
	}
	for id, st := range r.streams.All() {
		if st == nil {
			continue
		}
		for k, m := range st.waiting {
			if k > 0 && r.dist(r.seq(&m), st.next) <= r.dist(r.seq(&st.waiting[k-1]), st.next) {
				t.Fatalf("stream %d: waiting messages out of order", id)
			}
			if r.seq(&m) == st.next {
				t.Fatalf("stream %d: deliverable message left waiting", id)
			}
			bytes += len(m.Data)
			items++
		}
		for _, list := range [][]*ipartial{st.ordered, st.unordered} {
			for k, p := range list {
				if k > 0 && !after(p.mid, list[k-1].mid) {
					t.Fatalf("stream %d: partial messages out of order", id)
				}
				n := 0
				for j, fr := range p.frags {
					if j > 0 && fr.fsn <= p.frags[j-1].fsn {
						t.Fatalf("stream %d MID %d: fragments out of order", id, p.mid)
					}
					n += len(fr.data)
				}
				if n != p.bytes {
					t.Fatalf("stream %d MID %d: counts %d bytes, holds %d", id, p.mid, p.bytes, n)
				}
				bytes += n
				items += len(p.frags)
			}
		}
	}
	for k := 0; k < r.ready.n; k++ {
		bytes += len(r.ready.buf[(r.ready.head+k)&(len(r.ready.buf)-1)].Data)
		items++
	}
	if bytes != r.Buffered() || items != r.Held() {
		t.Fatalf("Buffered %d Held %d, state holds %d bytes in %d items", r.Buffered(), r.Held(), bytes, items)
	}
}

// fuzzRun decodes data as a peer's chunks (6 bytes each: TSN offset, stream,
// sequence number, flags, payload length, FSN) and runs them through the TSN
// tracker and the reassembler as the engine would, with FORWARD TSNs mixed
// in. Whatever the peer sends, nothing panics, accounting stays exact, and
// errors are the documented ones.
func fuzzRun(t *testing.T, data []byte, interleaving bool) {
	const initial = 0xFFFFFFF0
	tr := rxtsn.New(initial)
	r := New(Config{InStreams: 3, MaxMessage: 64, Interleaving: interleaving})
	payload := make([]byte, 32)
	for len(data) >= 6 {
		op := data[:6]
		data = data[6:]
		tsn := tr.CumAck() + uint32(op[0]%16) - 2
		stream := uint16(op[1] % 4)
		seq := uint32(op[2] % 8)
		flags := op[3]
		n := int(op[4] % 33)
		if flags&0x80 != 0 {
			// A FORWARD TSN up to tsn, skipping seq on stream.
			if tr.Skip(tsn) {
				if interleaving {
					r.AbandonIData([]SkippedMessage{{Stream: stream, Unordered: flags&4 != 0, MID: seq}})
				} else {
					r.Abandon(tr.CumAck(), []SkippedStream{{Stream: stream, SSN: uint16(seq)}})
				}
			}
			checkInvariants(t, r)
			continue
		}
		if flags&0x40 != 0 {
			for r.Ready() > 0 {
				r.Pop()
			}
		}
		if !tr.InWindow(tsn, 64) || !tr.Observe(tsn) {
			continue
		}
		var err error
		if interleaving {
			err = r.AddIData(IFragment{TSN: tsn, Stream: stream, MID: seq, FSN: uint32(op[5] % 8),
				Unordered: flags&4 != 0, Beginning: flags&2 != 0, Ending: flags&1 != 0, Payload: payload[:n]})
		} else {
			err = r.Add(Fragment{TSN: tsn, Stream: stream, SSN: uint16(seq),
				Unordered: flags&4 != 0, Beginning: flags&2 != 0, Ending: flags&1 != 0, Payload: payload[:n]})
		}
		switch {
		case err == nil, errors.Is(err, ErrInvalidStream), errors.Is(err, ErrNoUserData),
			errors.Is(err, ErrProtocolViolation), errors.Is(err, ErrMessageTooLarge), errors.Is(err, ErrStale):
		default:
			t.Fatalf("unexpected error %v", err)
		}
		checkInvariants(t, r)
	}
	for r.Ready() > 0 {
		r.Pop()
	}
	checkInvariants(t, r)
}

func fuzzSeeds(f *testing.F) {
	f.Add([]byte{})
	// B, middle, E of one message, then a whole one.
	f.Add([]byte{2, 0, 0, 2, 10, 0, 3, 0, 0, 0, 10, 1, 3, 0, 0, 1, 10, 2, 3, 0, 1, 3, 5, 0})
	// Out of order with a FORWARD TSN.
	f.Add([]byte{5, 1, 1, 3, 4, 0, 3, 1, 0, 1, 8, 1, 6, 1, 0, 0x80, 0, 0, 3, 1, 2, 3, 4, 0})
	f.Add([]byte{4, 2, 0, 2, 32, 0, 3, 2, 0, 0, 32, 1, 3, 2, 0, 0, 32, 2, 3, 2, 0, 1, 32, 3})
}

func FuzzData(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRun(t, data, false) })
}

func FuzzIData(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRun(t, data, true) })
}
