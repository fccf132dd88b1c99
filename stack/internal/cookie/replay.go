package cookie

import "time"

// Replay remembers the cookies that built an association, until they
// expire, so that a COOKIE ECHO captured on the way and sent again (from the
// same or another address, after the association it built has ended) builds
// nothing: RFC 9260 5.1.5 bounds such replays only by the cookie's
// lifetime, and a gateway would dial its far side for each. It reads no
// clock: callers pass now.
type Replay struct {
	seen  map[replayKey]struct{}
	queue []replayEntry // in order of use; head is the oldest
	head  int
	max   int
}

// A cookie is named by what makes it unique: our Initiate Tag (random,
// fresh for every INIT answered without a TCB), the peer's, and when it was
// made.
type replayKey struct {
	localTag, peerTag uint32
	created           int64
}

type replayEntry struct {
	key     replayKey
	expires time.Time
}

// DefaultReplayEntries bounds a Replay's memory (about 48 bytes an entry):
// a listener builds fewer associations than that within a cookie lifetime,
// and when it builds more the oldest entries go first.
const DefaultReplayEntries = 1 << 16

// NewReplay remembers at most max cookies (DefaultReplayEntries if max <= 0).
func NewReplay(max int) *Replay {
	if max <= 0 {
		max = DefaultReplayEntries
	}
	return &Replay{seen: make(map[replayKey]struct{}), max: max}
}

// Use records that s built an association and reports whether that is its
// first use. A cookie used before and not yet expired reports false.
func (r *Replay) Use(s *State, now time.Time) bool {
	r.prune(now)
	k := replayKey{s.LocalTag, s.PeerTag, s.Created.UnixNano()}
	if _, dup := r.seen[k]; dup {
		return false
	}
	if len(r.seen) >= r.max {
		r.pop()
	}
	r.seen[k] = struct{}{}
	r.queue = append(r.queue, replayEntry{key: k, expires: s.Created.Add(s.Lifetime)})
	return true
}

// Len is how many cookies are remembered.
func (r *Replay) Len() int { return len(r.seen) }

// prune forgets the expired cookies at the front: lifetimes differ (a
// Cookie Preservative lengthens one), so an expired one behind a live one
// waits for it, still bounded by max.
func (r *Replay) prune(now time.Time) {
	for r.head < len(r.queue) && now.After(r.queue[r.head].expires) {
		r.pop()
	}
}

func (r *Replay) pop() {
	if r.head >= len(r.queue) {
		return
	}
	delete(r.seen, r.queue[r.head].key)
	r.queue[r.head] = replayEntry{}
	r.head++
	// Compact once the dead front is as large as the live part.
	if r.head > 64 && r.head*2 >= len(r.queue) {
		n := copy(r.queue, r.queue[r.head:])
		r.queue = r.queue[:n]
		r.head = 0
	}
}
