package reassembly

import "sort"

// IFragment is the user data of one I-DATA chunk (RFC 8260 2.1).
type IFragment struct {
	TSN    uint32
	Stream uint16
	MID    uint32 // Message Identifier
	// FSN is the Fragment Sequence Number; ignored when Beginning is set,
	// since the B fragment carries the PPID in its place and has FSN 0.
	FSN       uint32
	PPID      uint32 // valid when Beginning is set
	Unordered bool
	Beginning bool
	Ending    bool
	// Payload is copied: the caller may reuse it once AddIData returns.
	Payload []byte
}

// SkippedMessage is one entry of an I-FORWARD-TSN chunk (RFC 8260 2.3.1): the
// largest MID the sender abandoned among the ordered or unordered messages of
// a stream.
type SkippedMessage struct {
	Stream    uint16
	Unordered bool
	MID       uint32
}

// ipartial is an I-DATA message under assembly, keyed by stream, U bit and
// MID. The TSNs of its fragments say nothing (RFC 8260 2.2.3): FSNs order
// them, from 0 on the B fragment to the E fragment's.
type ipartial struct {
	mid       uint32
	ppid      uint32
	tsn       uint32 // of the B fragment
	haveFirst bool
	haveLast  bool
	lastFSN   uint32
	bytes     int
	frags     []ifrag // sorted by FSN
}

type ifrag struct {
	fsn  uint32
	data []byte
}

// AddIData is Add for I-DATA chunks, on an association that negotiated user
// message interleaving. Errors are those of Add, plus ErrStale for a fragment
// of an ordered message whose MID is behind the stream's next one.
//
// MIDs are compared with serial arithmetic (RFC 8260 2.1 applies RFC 1982
// with 32 bits). FSNs are plain counters from 0: the MaxMessage bound keeps
// them far from wrapping.
func (r *Reassembler) AddIData(f IFragment) error {
	if !r.interleaving {
		return violation(f.TSN, f.Stream, "I-DATA chunk on an association that did not negotiate it (RFC 8260 2.2.3)")
	}
	if int(f.Stream) >= r.inStreams {
		return ErrInvalidStream
	}
	if len(f.Payload) == 0 {
		return ErrNoUserData
	}
	st := r.stream(f.Stream)
	list := &st.unordered
	if f.Unordered {
		if st.abandonedUnordered {
			if !after(f.MID, st.unorderedFloor) {
				return ErrStale
			}
			// Keep the floor within serial range of the MIDs in use; a
			// fragment 2^30 messages late is not worth recognizing.
			if f.MID-st.unorderedFloor > 1<<30 {
				st.unorderedFloor = f.MID - 1<<30
			}
		}
	} else {
		if f.MID-st.next >= 1<<31 {
			return ErrStale
		}
		list = &st.ordered
	}
	fsn := f.FSN
	if f.Beginning {
		fsn = 0
	} else if fsn == 0 {
		return violation(f.TSN, f.Stream, "FSN 0 on a fragment without the B bit")
	}

	// Find the message under assembly, if any; the newest is the likely one.
	ps := *list
	n := len(ps)
	i := n
	if n > 0 && !after(f.MID, ps[n-1].mid) {
		i = sort.Search(n, func(k int) bool { return !after(f.MID, ps[k].mid) })
	}
	var p *ipartial
	if i < n && ps[i].mid == f.MID {
		p = ps[i]
	}

	if p == nil && f.Beginning && f.Ending {
		if len(f.Payload) > r.maxMessage {
			return &MessageTooLargeError{Stream: f.Stream, Size: len(f.Payload), Max: r.maxMessage}
		}
		r.buffered += len(f.Payload)
		r.held++
		m := Message{Stream: f.Stream, MID: f.MID, PPID: f.PPID, TSN: f.TSN, Unordered: f.Unordered, Data: copyPayload(f.Payload)}
		if !f.Unordered && f.MID == st.next && len(st.waiting) == 0 {
			r.ready.push(m)
			st.next++
			return nil
		}
		return r.deliver(m)
	}

	if p != nil {
		if err := p.check(&f, fsn); err != nil {
			return err
		}
		if size := p.bytes + len(f.Payload); size > r.maxMessage {
			r.dropPartial(list, i)
			return &MessageTooLargeError{Stream: f.Stream, Size: size, Max: r.maxMessage}
		}
	} else if len(f.Payload) > r.maxMessage {
		return &MessageTooLargeError{Stream: f.Stream, Size: len(f.Payload), Max: r.maxMessage}
	}

	buf := r.pool.get(len(f.Payload))
	copy(buf, f.Payload)
	r.buffered += len(f.Payload)
	r.held++
	if p == nil {
		p = r.newPartial(f.MID)
		*list = append(*list, nil)
		copy((*list)[i+1:], (*list)[i:])
		(*list)[i] = p
	}
	p.insert(&f, fsn, buf)
	if !p.haveFirst || !p.haveLast || uint32(len(p.frags)) != p.lastFSN+1 {
		return nil
	}

	r.held -= len(p.frags) - 1 // the fragments become one message
	m := Message{Stream: f.Stream, MID: p.mid, PPID: p.ppid, TSN: p.tsn, Unordered: f.Unordered, Data: make([]byte, 0, p.bytes)}
	for _, fr := range p.frags {
		m.Data = append(m.Data, fr.data...)
		r.pool.put(fr.data)
	}
	r.removePartial(list, i)
	return r.deliver(m)
}

// check rejects a fragment that contradicts those held: a second fragment
// with one FSN, or one beyond the E fragment.
func (p *ipartial) check(f *IFragment, fsn uint32) error {
	if p.haveLast && fsn > p.lastFSN {
		return violation(f.TSN, f.Stream, "fragment beyond the last fragment of its message")
	}
	k := len(p.frags)
	if k > 0 && f.Ending && p.frags[k-1].fsn > fsn {
		return violation(f.TSN, f.Stream, "last fragment below a fragment already received")
	}
	j := sort.Search(k, func(j int) bool { return p.frags[j].fsn >= fsn })
	if j < k && p.frags[j].fsn == fsn {
		return violation(f.TSN, f.Stream, "two fragments with the same FSN")
	}
	return nil
}

// insert adds a checked fragment in FSN order.
func (p *ipartial) insert(f *IFragment, fsn uint32, buf []byte) {
	k := len(p.frags)
	if k == 0 || p.frags[k-1].fsn < fsn {
		p.frags = append(p.frags, ifrag{fsn, buf})
	} else {
		j := sort.Search(k, func(j int) bool { return p.frags[j].fsn > fsn })
		p.frags = append(p.frags, ifrag{})
		copy(p.frags[j+1:], p.frags[j:])
		p.frags[j] = ifrag{fsn, buf}
	}
	p.bytes += len(buf)
	if f.Beginning {
		p.haveFirst, p.ppid, p.tsn = true, f.PPID, f.TSN
	}
	if f.Ending {
		p.haveLast, p.lastFSN = true, fsn
	}
}

// maxFreePartials bounds the recycled message headers.
const maxFreePartials = 16

func (r *Reassembler) newPartial(mid uint32) *ipartial {
	var p *ipartial
	if k := len(r.freePartials); k > 0 {
		p = r.freePartials[k-1]
		r.freePartials = r.freePartials[:k-1]
	} else {
		p = &ipartial{}
	}
	*p = ipartial{mid: mid, frags: p.frags[:0]}
	return p
}

// removePartial takes (*list)[i] out and recycles it; its buffers are gone.
func (r *Reassembler) removePartial(list *[]*ipartial, i int) {
	ps := *list
	p := ps[i]
	n := copy(ps[i:], ps[i+1:])
	ps[i+n] = nil
	*list = ps[:i+n]
	clear(p.frags)
	p.frags = p.frags[:0]
	if len(r.freePartials) < maxFreePartials {
		r.freePartials = append(r.freePartials, p)
	}
}

// dropPartial discards (*list)[i] and its fragments.
func (r *Reassembler) dropPartial(list *[]*ipartial, i int) {
	p := (*list)[i]
	for _, fr := range p.frags {
		r.pool.put(fr.data)
	}
	r.buffered -= p.bytes
	r.held -= len(p.frags)
	r.removePartial(list, i)
}

// AbandonIData applies an I-FORWARD-TSN (RFC 8260 2.3.1; RFC 3758 3.6) after
// the TSN tracker moved its cumulative ack point. For each entry, messages
// under assembly on that stream and U bit with a MID up to the skipped one
// are dropped; for ordered messages, complete ones up to the skipped MID that
// wait become ready, the stream's next MID moves past the skipped one and the
// messages that follow without a hole become ready too. The new cumulative
// TSN itself plays no part: I-DATA fragments are not reassembled by TSN.
// Out-of-date entries and streams beyond InStreams are ignored, and so is
// the call on an association without I-DATA.
func (r *Reassembler) AbandonIData(entries []SkippedMessage) {
	if !r.interleaving {
		return
	}
	for _, e := range entries {
		if int(e.Stream) >= r.inStreams {
			continue
		}
		st := r.stream(e.Stream)
		if e.Unordered {
			// Unordered partials are sorted by MID; drop the prefix up to
			// the skipped one. Fragments of those messages may still be
			// in flight with TSNs above the new cumulative TSN: the floor
			// turns them away instead of starting messages that can
			// never complete.
			for len(st.unordered) > 0 && !after(st.unordered[0].mid, e.MID) {
				r.dropPartial(&st.unordered, 0)
			}
			if !st.abandonedUnordered || after(e.MID, st.unorderedFloor) {
				st.abandonedUnordered, st.unorderedFloor = true, e.MID
			}
			continue
		}
		ahead := e.MID - st.next
		if ahead >= 1<<31 {
			continue
		}
		for len(st.ordered) > 0 && st.ordered[0].mid-st.next <= ahead {
			r.dropPartial(&st.ordered, 0)
		}
		r.skipTo(st, ahead)
		st.next = e.MID + 1
		r.release(st)
	}
}
