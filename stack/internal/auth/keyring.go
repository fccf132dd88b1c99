package auth

import (
	"errors"
	"slices"
)

// Bounds of a Keyring.
const (
	// MaxKeys is the most endpoint-pair shared keys a Keyring holds: a
	// rotation needs two; a handful covers any procedure.
	MaxKeys = 64
	// MaxSecret bounds one key's length.
	MaxSecret = 1024
)

// Errors of Keyring changes, in the vocabulary of RFC 6458 8.3.
var (
	ErrNoKey        = errors.New("auth: no key with that identifier")
	ErrActiveKey    = errors.New("auth: the active key cannot be deleted; make another key active first")
	ErrTooManyKeys  = errors.New("auth: too many keys")
	ErrSecretLength = errors.New("auth: key longer than the limit")
)

// Stats counts packets of every association using a Keyring.
type Stats struct {
	// Authenticated: received packets whose AUTH chunk verified.
	Authenticated uint64
	// Unauthenticated: received packets refused because chunks that must
	// be authenticated came without an AUTH chunk before them, or from a
	// peer that does not take part in SCTP-AUTH where it is required.
	Unauthenticated uint64
	// BadMAC: received packets whose AUTH chunk failed: a wrong HMAC, an
	// unknown Shared Key Identifier or an HMAC Identifier not offered.
	BadMAC uint64
	// Signed: packets sent with an AUTH chunk.
	Signed uint64
}

// KeyStats are one key's figures.
type KeyStats struct {
	ID     uint16
	Active bool
	// In counts received packets that verified with the key, Out packets
	// signed with it, BadMAC received packets naming it that did not
	// verify.
	In, Out, BadMAC uint64
}

type entry struct {
	id     uint16
	secret []byte
	stats  KeyStats
}

// Keyring holds the endpoint-pair shared keys of RFC 4895 by Shared Key
// Identifier, the one active for sending (SCTP_AUTH_ACTIVE_KEY of RFC 6458
// 8.3.3), and the counters of the associations using it. With no key it
// stands for the empty key of identifier 0 that RFC 4895 6.1 prescribes
// when no endpoint-pair shared key is configured. Not safe for concurrent
// use: its owner serialises changes with the packets that use it.
type Keyring struct {
	keys   []entry // sorted by id
	active uint16
	// gen changes whenever a key that sessions may have derived from is
	// replaced or goes: they drop their derived keys then.
	gen      uint64
	sessions []*Session
	stats    Stats
}

// Add sets the key of identifier id (SCTP_AUTH_KEY, RFC 6458 8.3.2),
// replacing the secret of an existing one. The first key added becomes the
// active one. secret is copied.
func (r *Keyring) Add(id uint16, secret []byte) error {
	if len(secret) > MaxSecret {
		return ErrSecretLength
	}
	s := slices.Clone(secret)
	if i, ok := r.find(id); ok {
		clear(r.keys[i].secret)
		r.keys[i].secret = s
		r.gen++
		return nil
	}
	if len(r.keys) >= MaxKeys {
		return ErrTooManyKeys
	}
	i, _ := r.find(id)
	r.keys = slices.Insert(r.keys, i, entry{id: id, secret: s, stats: KeyStats{ID: id}})
	if len(r.keys) == 1 {
		r.active = id
		// The implicit empty key 0 is gone.
		r.gen++
	}
	return nil
}

// SetActive makes id the key used for sending (SCTP_AUTH_ACTIVE_KEY).
func (r *Keyring) SetActive(id uint16) error {
	if _, ok := r.find(id); !ok {
		return ErrNoKey
	}
	r.active = id
	return nil
}

// Delete removes key id (SCTP_AUTH_DELETE_KEY, RFC 6458 8.3.4); the active
// key cannot go. Sessions that used it hear of it (Session.OnFree): from
// now on packets naming it are refused.
func (r *Keyring) Delete(id uint16) error {
	i, ok := r.find(id)
	if !ok {
		return ErrNoKey
	}
	if id == r.active {
		return ErrActiveKey
	}
	clear(r.keys[i].secret)
	r.keys = slices.Delete(r.keys, i, i+1)
	r.gen++
	for _, s := range r.sessions {
		s.freed(id)
	}
	return nil
}

// Active is the identifier of the key used for sending.
func (r *Keyring) Active() uint16 { return r.active }

// IDs lists the identifiers held, in order.
func (r *Keyring) IDs() []uint16 {
	ids := make([]uint16, len(r.keys))
	for i := range r.keys {
		ids[i] = r.keys[i].id
	}
	return ids
}

// Has reports whether key id is held.
func (r *Keyring) Has(id uint16) bool {
	_, ok := r.find(id)
	return ok
}

// Empty reports whether no key was configured (the implicit empty key 0
// is in use).
func (r *Keyring) Empty() bool { return len(r.keys) == 0 }

// Stats returns the counters.
func (r *Keyring) Stats() Stats { return r.stats }

// KeyStats returns each key's figures, by identifier.
func (r *Keyring) KeyStats() []KeyStats {
	out := make([]KeyStats, len(r.keys))
	for i := range r.keys {
		out[i] = r.keys[i].stats
		out[i].Active = r.keys[i].id == r.active
	}
	return out
}

// NoteUnauthenticated counts a packet refused for lacking authentication.
func (r *Keyring) NoteUnauthenticated() { r.stats.Unauthenticated++ }

// NoteBadMAC counts a packet whose AUTH chunk could not be verified.
func (r *Keyring) NoteBadMAC() { r.stats.BadMAC++ }

func (r *Keyring) find(id uint16) (int, bool) {
	return slices.BinarySearchFunc(r.keys, id, func(e entry, id uint16) int { return int(e.id) - int(id) })
}

// secret returns key id's secret: with no key configured, the empty key 0.
func (r *Keyring) secret(id uint16) ([]byte, *KeyStats, bool) {
	if len(r.keys) == 0 {
		return nil, nil, id == 0
	}
	i, ok := r.find(id)
	if !ok {
		return nil, nil, false
	}
	return r.keys[i].secret, &r.keys[i].stats, true
}

func (r *Keyring) attach(s *Session) {
	s.ringIdx = len(r.sessions)
	r.sessions = append(r.sessions, s)
}

func (r *Keyring) detach(s *Session) {
	i := s.ringIdx
	if i < 0 || i >= len(r.sessions) || r.sessions[i] != s {
		return
	}
	last := len(r.sessions) - 1
	r.sessions[i] = r.sessions[last]
	r.sessions[i].ringIdx = i
	r.sessions[last] = nil
	r.sessions = r.sessions[:last]
	s.ringIdx = -1
}
