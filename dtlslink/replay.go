package dtlslink

// replayWindowSize is how far behind the newest record a record may
// arrive and still be taken once (RFC 6347 4.1.2.6 asks for at least 32;
// batches over reordering paths need more).
const replayWindowSize = 1024

// replayWindow remembers which of the last replayWindowSize sequence
// numbers were received: bit d of the bitmap stands for latest-d. It does
// not allocate (pion's replaydetector does, once per record).
type replayWindow struct {
	latest uint64
	seen   bool
	bits   [replayWindowSize / 64]uint64
}

// fresh reports whether seq may be taken: newer than anything seen, or
// within the window and not seen yet.
func (w *replayWindow) fresh(seq uint64) bool {
	if !w.seen || seq > w.latest {
		return true
	}
	d := w.latest - seq
	return d < replayWindowSize && w.bits[d/64]&(1<<(d%64)) == 0
}

// mark records seq as received; call it only once the record
// authenticated.
func (w *replayWindow) mark(seq uint64) {
	if !w.seen {
		w.seen, w.latest = true, seq
		w.bits = [len(w.bits)]uint64{1}
		return
	}
	if seq > w.latest {
		w.shift(seq - w.latest)
		w.latest = seq
		w.bits[0] |= 1
		return
	}
	d := w.latest - seq
	if d < replayWindowSize {
		w.bits[d/64] |= 1 << (d % 64)
	}
}

// shift moves the bitmap k positions older.
func (w *replayWindow) shift(k uint64) {
	if k >= replayWindowSize {
		w.bits = [len(w.bits)]uint64{}
		return
	}
	words, bits := int(k/64), k%64
	for i := len(w.bits) - 1; i >= 0; i-- {
		var v uint64
		if j := i - words; j >= 0 {
			v = w.bits[j] << bits
			if bits > 0 && j > 0 {
				v |= w.bits[j-1] >> (64 - bits)
			}
		}
		w.bits[i] = v
	}
}
