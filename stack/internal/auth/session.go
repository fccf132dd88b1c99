package auth

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"hash"
	"slices"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// Session is SCTP-AUTH for one association: both key vectors, the HMAC the
// peer asked for, the chunk types each side requires authenticated, and
// the association shared keys derived so far, each with its HMAC state, so
// that signing and verifying a packet allocate nothing.
type Session struct {
	ring        *Keyring
	gen         uint64
	local, peer []byte // key vectors (RFC 4895 6.1)
	localRandom []byte // aliases local
	send        *Algorithm
	accept      []wire.HMACID
	// Peer holds the chunk types the peer requires authenticated: we send
	// them behind an AUTH chunk. Local holds those we require.
	Peer, Local ChunkSet

	macs   []derived
	used   []uint16 // key ids used either way, for OnFree
	keyBuf []byte
	sum    [maxHMACSize]byte

	lastPeerKey int32 // -1 before the first verified packet
	ringIdx     int
	// OnFree, when set, hears that a key this session used was deleted
	// from the Keyring (SCTP_AUTH_FREE_KEY of RFC 6458 6.1.8).
	OnFree func(id uint16)
}

// zeroHMAC stands for the zeroed HMAC field of a received AUTH chunk: the
// packet itself is not written to. Never modified.
var zeroHMAC [maxHMACSize]byte

type derived struct {
	id  uint16
	alg *Algorithm
	h   hash.Hash
}

// NewSession makes the session of an association whose handshake carried
// local (what we sent) and peer (what the peer sent, already checked with
// Params.Check). It is not attached to ring until Attach.
func NewSession(ring *Keyring, local, peer *Params) (*Session, error) {
	if err := peer.Check(); err != nil {
		return nil, err
	}
	s := &Session{ring: ring, gen: ring.gen, lastPeerKey: -1, ringIdx: -1}
	for _, id := range peer.HMACs {
		// RFC 4895 6.1: the first listed algorithm we support.
		if alg, ok := Lookup(id); ok {
			s.send = alg
			break
		}
	}
	if s.send == nil {
		return nil, ErrNoHMAC
	}
	for _, id := range local.HMACs {
		if _, ok := Lookup(id); ok {
			s.accept = append(s.accept, id)
		}
	}
	s.local = local.AppendVector(nil)
	s.localRandom = s.local[wire.ParamHeaderLen : wire.ParamHeaderLen+len(local.Random)]
	s.peer = peer.AppendVector(nil)
	s.Peer = ChunkSetOf(peer.Chunks)
	s.Local = ChunkSetOf(local.Chunks)
	return s, nil
}

// Same reports whether the session was made from our random localRandom
// and the peer's vector peerVector: a COOKIE ECHO for an existing
// association is verified with its session when it echoes its handshake.
func (s *Session) Same(localRandom, peerVector []byte) bool {
	return bytes.Equal(s.localRandom, localRandom) && bytes.Equal(s.peer, peerVector)
}

// PeerVector is the peer's key vector (kept in state cookies).
func (s *Session) PeerVector() []byte { return s.peer }

// SendAlgorithm is the HMAC this side signs with.
func (s *Session) SendAlgorithm() *Algorithm { return s.send }

// ChunkLen is the length of the AUTH chunks this side sends.
func (s *Session) ChunkLen() int { return s.send.ChunkLen() }

// Attach registers the session with its Keyring, so that key deletions
// reach OnFree; Detach undoes it when the association ends.
func (s *Session) Attach() { s.ring.attach(s) }

// Detach: see Attach.
func (s *Session) Detach() { s.ring.detach(s) }

// Keyring is the keys the session uses.
func (s *Session) Keyring() *Keyring { return s.ring }

// Sign fills the AUTH chunk at pkt[off:] (ChunkLen bytes the caller
// reserved, whatever they hold) for the active key, and its HMAC over the
// chunk and everything after it in pkt (RFC 4895 6.2).
func (s *Session) Sign(pkt []byte, off int) {
	id := s.ring.active
	alg := s.send
	c := pkt[off : off+alg.ChunkLen()]
	c[0], c[1] = byte(wire.TypeAuth), 0
	binary.BigEndian.PutUint16(c[2:], uint16(len(c)))
	binary.BigEndian.PutUint16(c[4:], id)
	binary.BigEndian.PutUint16(c[6:], uint16(alg.ID))
	clear(c[wire.AuthHMACOffset:])
	h, st := s.derive(id, alg)
	if h == nil {
		// The active key always exists (Keyring keeps it); an empty
		// ring has key 0. Leave a zero HMAC the peer will refuse.
		return
	}
	h.Reset()
	h.Write(pkt[off:])
	copy(c[wire.AuthHMACOffset:], h.Sum(s.sum[:0]))
	s.ring.stats.Signed++
	if st != nil {
		st.Out++
	}
}

// Result is what verifying an AUTH chunk found.
type Result uint8

const (
	// OK: the HMAC matches; the chunks after the AUTH chunk are authentic.
	OK Result = iota
	// BadMAC: the HMAC does not match (or has the wrong length).
	BadMAC
	// NoKey: no key with the Shared Key Identifier is held.
	NoKey
	// UnsupportedHMAC: the HMAC Identifier is not one we offered; the
	// receiver reports it with the Unsupported HMAC Identifier cause
	// (RFC 4895 6.3).
	UnsupportedHMAC
)

// Verdict is the outcome of Verify.
type Verdict struct {
	Result Result
	KeyID  uint16
	HMACID wire.HMACID
	// NewKey is set when the peer used a key other than the one of its
	// previous authenticated packet (SCTP_AUTH_NEW_KEY).
	NewKey bool
}

// Verify checks the AUTH chunk at pkt[off:], which the packet parser has
// framed (its length fits pkt), against the chunks after it (RFC 4895 6.3),
// in constant time, and counts the outcome.
func (s *Session) Verify(pkt []byte, off int) Verdict {
	c := pkt[off:]
	l := int(binary.BigEndian.Uint16(c[2:]))
	v := Verdict{Result: BadMAC}
	if l < wire.AuthHMACOffset || l > len(c) {
		s.ring.stats.BadMAC++
		return v
	}
	v.KeyID = binary.BigEndian.Uint16(c[4:])
	v.HMACID = wire.HMACID(binary.BigEndian.Uint16(c[6:]))
	alg, _ := Lookup(v.HMACID)
	if alg == nil || !slices.Contains(s.accept, v.HMACID) {
		v.Result = UnsupportedHMAC
		s.ring.stats.BadMAC++
		return v
	}
	h, st := s.derive(v.KeyID, alg)
	if h == nil {
		v.Result = NoKey
		s.ring.stats.BadMAC++
		return v
	}
	if l-wire.AuthHMACOffset != alg.Size {
		s.ring.stats.BadMAC++
		if st != nil {
			st.BadMAC++
		}
		return v
	}
	h.Reset()
	h.Write(c[:wire.AuthHMACOffset])
	h.Write(zeroHMAC[:alg.Size])
	h.Write(c[l:])
	if !hmac.Equal(h.Sum(s.sum[:0]), c[wire.AuthHMACOffset:l]) {
		s.ring.stats.BadMAC++
		if st != nil {
			st.BadMAC++
		}
		return v
	}
	v.Result = OK
	s.ring.stats.Authenticated++
	if st != nil {
		st.In++
	}
	if s.lastPeerKey >= 0 && uint16(s.lastPeerKey) != v.KeyID {
		v.NewKey = true
	}
	s.lastPeerKey = int32(v.KeyID)
	return v
}

// derive returns the HMAC state keyed with the association shared key of
// key id, deriving it on first use (and again after the Keyring changed);
// nil when the key is not held.
func (s *Session) derive(id uint16, alg *Algorithm) (hash.Hash, *KeyStats) {
	secret, st, ok := s.ring.secret(id)
	if !ok {
		return nil, nil
	}
	if s.gen != s.ring.gen {
		s.macs = s.macs[:0]
		s.gen = s.ring.gen
	}
	for i := range s.macs {
		if d := &s.macs[i]; d.id == id && d.alg == alg {
			return d.h, st
		}
	}
	k := AppendAssocKey(s.keyBuf[:0], secret, s.local, s.peer)
	h := hmac.New(alg.newHash, k)
	clear(k)
	s.keyBuf = k[:0]
	s.macs = append(s.macs, derived{id: id, alg: alg, h: h})
	if !slices.Contains(s.used, id) {
		s.used = append(s.used, id)
	}
	return h, st
}

func (s *Session) freed(id uint16) {
	i := slices.Index(s.used, id)
	if i < 0 {
		return
	}
	s.used = slices.Delete(s.used, i, i+1)
	if s.OnFree != nil {
		s.OnFree(id)
	}
}
