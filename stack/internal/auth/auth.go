// Package auth is SCTP-AUTH (RFC 4895) without the association around it:
// the endpoint-pair shared keys by identifier (Keyring), the key vectors of
// the handshake and the association shared key derived from them (section
// 6.1), and the HMAC of an AUTH chunk computed and verified over a packet
// (sections 6.2, 6.3) with HMAC-SHA-1 or HMAC-SHA-256. The engine decides
// which chunks need it and what to do with the outcome.
//
// Nothing here logs, and no secret leaves a Keyring except to be hashed.
package auth

import (
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"hash"

	"github.com/sctpgw/sctpgw/stack/wire"
)

// Algorithm is an HMAC algorithm of RFC 4895 section 3.3.
type Algorithm struct {
	ID   wire.HMACID
	Name string
	// Size is the HMAC's length in bytes, as it appears in an AUTH chunk.
	Size    int
	newHash func() hash.Hash
}

var algorithms = [...]Algorithm{
	{ID: wire.HMACSHA1, Name: "sha1", Size: sha1.Size, newHash: sha1.New},
	{ID: wire.HMACSHA256, Name: "sha256", Size: sha256.Size, newHash: sha256.New},
}

// maxHMACSize is the longest HMAC of a supported algorithm.
const maxHMACSize = sha256.Size

// Lookup returns the algorithm with identifier id, if supported.
func Lookup(id wire.HMACID) (*Algorithm, bool) {
	for i := range algorithms {
		if algorithms[i].ID == id {
			return &algorithms[i], true
		}
	}
	return nil, false
}

// ByName returns the algorithm called name ("sha1", "sha256").
func ByName(name string) (*Algorithm, bool) {
	for i := range algorithms {
		if algorithms[i].Name == name {
			return &algorithms[i], true
		}
	}
	return nil, false
}

// ChunkLen is the length of an AUTH chunk carrying an HMAC of alg: chunk
// header, Shared Key Identifier, HMAC Identifier and the HMAC (a multiple of
// four for both algorithms, so no padding).
func (alg *Algorithm) ChunkLen() int { return wire.AuthHMACOffset + alg.Size }

// ChunkSet is a set of chunk types: those a side requires to arrive
// authenticated (the CHUNKS parameter, RFC 4895 3.2).
type ChunkSet [4]uint64

// Add puts t in the set, unless t is one of the chunk types RFC 4895 3.2
// says are never authenticated (INIT, INIT ACK, SHUTDOWN COMPLETE, AUTH):
// listed by a peer, they are ignored.
func (s *ChunkSet) Add(t wire.ChunkType) {
	if Unauthenticable(t) {
		return
	}
	s[t>>6] |= 1 << (t & 63)
}

// Has reports whether t is in the set.
func (s *ChunkSet) Has(t wire.ChunkType) bool { return s[t>>6]&(1<<(t&63)) != 0 }

// Empty reports whether the set holds nothing.
func (s *ChunkSet) Empty() bool { return s[0]|s[1]|s[2]|s[3] == 0 }

// ChunkSetOf builds the set of types.
func ChunkSetOf(types []wire.ChunkType) ChunkSet {
	var s ChunkSet
	for _, t := range types {
		s.Add(t)
	}
	return s
}

// Unauthenticable reports the chunk types that never arrive authenticated
// (RFC 4895 3.2): INIT, INIT ACK, SHUTDOWN COMPLETE and AUTH itself.
func Unauthenticable(t wire.ChunkType) bool {
	switch t {
	case wire.TypeInit, wire.TypeInitAck, wire.TypeShutdownComplete, wire.TypeAuth:
		return true
	}
	return false
}

// Errors of a peer's handshake parameters (RFC 4895 6.1). The engine
// answers them with an ABORT carrying a Protocol Violation.
var (
	ErrRandomLength = errors.New("auth: RANDOM parameter is not 32 bytes (RFC 4895 6.1)")
	ErrNoSHA1       = errors.New("auth: HMAC-ALGO parameter does not list HMAC-SHA-1 (RFC 4895 6.1)")
	ErrNoHMAC       = errors.New("auth: HMAC-ALGO parameter lists no supported HMAC")
	ErrTooLong      = errors.New("auth: CHUNKS or HMAC-ALGO parameter longer than this stack keeps")
	ErrMalformed    = errors.New("auth: malformed key vector")
)
