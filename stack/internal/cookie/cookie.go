// Package cookie seals and opens SCTP State Cookies (RFC 9260 5.1.3, 5.1.5):
// everything a listener needs to build a TCB from a COOKIE ECHO, so that an
// INIT costs it no state. A cookie is integrity-protected with a truncated
// HMAC-SHA256 under a secret that rotates; the previous secret stays valid for
// one more rotation so cookies issued just before a rotation still open.
package cookie

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"time"
)

// State is what a cookie carries. The listener writes it when answering an
// INIT and reads it back from the COOKIE ECHO.
type State struct {
	Created  time.Time
	Lifetime time.Duration

	LocalPort, PeerPort uint16
	LocalTag, PeerTag   uint32
	// Tie-tags (RFC 9260 5.2.2): zero unless the INIT ACK answered an INIT
	// that arrived while a TCB existed.
	LocalTieTag, PeerTieTag uint32
	LocalTSN, PeerTSN       uint32
	PeerRwnd                uint32
	// Negotiated stream counts, from our side's view (5.1.1).
	OutStreams, InStreams uint16
	// Features the peer's INIT announced.
	Features Features
	// PeerAdaptation is the peer's Adaptation Layer Indication (RFC 5061)
	// when Features has FeatAdaptation.
	PeerAdaptation uint32
	// PeerAddrs are the first addresses the peer's INIT listed (RFC 9260
	// 5.1.2), so that the TCB takes packets from them too; unused entries
	// are the zero Addr.
	PeerAddrs [MaxPeerAddrs]netip.Addr
	// AuthOffered says our INIT ACK carried SCTP-AUTH parameters (RFC
	// 4895) with LocalRandom as its RANDOM. PeerAuth is the peer's key
	// vector (its RANDOM, CHUNKS and HMAC-ALGO, RFC 4895 6.1), empty when
	// its INIT offered no SCTP-AUTH: together with the listener's own
	// parameters they give the association key that authenticates the
	// COOKIE ECHO itself (RFC 4895 6.3). Open returns PeerAuth aliasing
	// the cookie.
	AuthOffered bool
	LocalRandom [AuthRandomLen]byte
	PeerAuth    []byte
}

// MaxPeerAddrs bounds the peer addresses a cookie carries: enough for the
// usual two or three of a multi-homed eNB or MME, small enough to keep the
// cookie small (5.1.3).
const MaxPeerAddrs = 4

// Features is a bit set of negotiated extensions.
type Features uint16

const (
	FeatForwardTSN   Features = 1 << iota // RFC 3758
	FeatIData                             // RFC 8260
	FeatReconfig                          // RFC 6525
	FeatAdaptation                        // RFC 5061 adaptation layer indication present
	FeatZeroChecksum                      // RFC 9653
	FeatECN
)

// AuthRandomLen is the length of an SCTP-AUTH RANDOM (RFC 4895 6.1), and
// MaxPeerAuth the longest peer key vector a cookie carries.
const (
	AuthRandomLen = 32
	MaxPeerAuth   = 256
)

const (
	version = 3
	// fixedLen is the encoded State up to its address count.
	fixedLen = 2 + 8 + 4 + 2 + 2 + 4*4 + 4*2 + 4 + 2 + 2 + 2 + 4
	macLen   = 16 // truncated HMAC-SHA256: 128 bits resist forgery for a cookie's lifetime
	// MinLen is the size of a cookie with no peer address and no
	// SCTP-AUTH; each address adds its length and a length byte (5.1.3:
	// keep it small).
	MinLen = fixedLen + 1 + 1 + macLen
	// MaxLen is the size of a cookie with MaxPeerAddrs IPv6 addresses and
	// SCTP-AUTH with the longest peer vector.
	MaxLen = MinLen + MaxPeerAddrs*17 + AuthRandomLen + 2 + MaxPeerAuth
)

// Errors returned by Open. A forged or unknown-key cookie is discarded
// silently (5.1.5 steps 1 and 2); a stale one earns an ERROR (step 4).
var (
	ErrMalformed  = errors.New("cookie: malformed")
	ErrUnknownKey = errors.New("cookie: secret no longer held")
	ErrForged     = errors.New("cookie: MAC mismatch")
)

// StaleError reports a cookie that outlived its lifetime by Staleness.
type StaleError struct{ Staleness time.Duration }

func (e *StaleError) Error() string {
	return fmt.Sprintf("cookie: stale by %v", e.Staleness)
}

// Jar holds the rotating secrets. It reads no clock: callers pass now.
type Jar struct {
	rand     io.Reader
	rotation time.Duration

	gen        uint8 // id of cur
	cur, prev  hash.Hash
	havePrev   bool
	rotatedAt  time.Time
	started    bool
	macScratch [sha256.Size]byte
}

// NewJar makes a jar whose secrets come from rand and change every rotation
// (RFC 9260 5.1.3 suggests hourly).
func NewJar(rand io.Reader, rotation time.Duration) *Jar {
	if rotation <= 0 {
		rotation = time.Hour
	}
	return &Jar{rand: rand, rotation: rotation}
}

func (j *Jar) newKey() (hash.Hash, error) {
	var k [32]byte
	if _, err := io.ReadFull(j.rand, k[:]); err != nil {
		return nil, fmt.Errorf("cookie: secret: %w", err)
	}
	return hmac.New(sha256.New, k[:]), nil
}

// rotate makes sure the current secret is fresh at now.
func (j *Jar) rotate(now time.Time) error {
	if j.started && now.Sub(j.rotatedAt) < j.rotation {
		return nil
	}
	k, err := j.newKey()
	if err != nil {
		return err
	}
	if j.started {
		j.prev, j.havePrev = j.cur, true
		// Two rotations without use: the old previous key is too old too.
		if now.Sub(j.rotatedAt) >= 2*j.rotation {
			j.havePrev = false
		}
	}
	j.cur = k
	j.gen++
	j.rotatedAt = now
	j.started = true
	return nil
}

// Seal appends the cookie for s to b.
func (j *Jar) Seal(b []byte, s *State, now time.Time) ([]byte, error) {
	if err := j.rotate(now); err != nil {
		return b, err
	}
	start := len(b)
	b = append(b, version, j.gen)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Created.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Lifetime/time.Millisecond))
	b = binary.BigEndian.AppendUint16(b, s.LocalPort)
	b = binary.BigEndian.AppendUint16(b, s.PeerPort)
	for _, v := range [...]uint32{s.LocalTag, s.PeerTag, s.LocalTieTag, s.PeerTieTag} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = binary.BigEndian.AppendUint32(b, s.LocalTSN)
	b = binary.BigEndian.AppendUint32(b, s.PeerTSN)
	b = binary.BigEndian.AppendUint32(b, s.PeerRwnd)
	b = binary.BigEndian.AppendUint16(b, s.OutStreams)
	b = binary.BigEndian.AppendUint16(b, s.InStreams)
	b = binary.BigEndian.AppendUint16(b, uint16(s.Features))
	b = binary.BigEndian.AppendUint32(b, s.PeerAdaptation)
	n := len(b)
	b = append(b, 0)
	for _, a := range s.PeerAddrs {
		if !a.IsValid() {
			continue
		}
		raw := a.AsSlice()
		b = append(b, byte(len(raw)))
		b = append(b, raw...)
		b[n]++
	}
	if !s.AuthOffered {
		b = append(b, 0)
	} else {
		if len(s.PeerAuth) > MaxPeerAuth {
			return b[:start], ErrMalformed
		}
		b = append(b, 1)
		b = append(b, s.LocalRandom[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(s.PeerAuth)))
		b = append(b, s.PeerAuth...)
	}
	mac := j.mac(j.cur, b[start:])
	return append(b, mac[:macLen]...), nil
}

func (j *Jar) mac(h hash.Hash, body []byte) []byte {
	h.Reset()
	h.Write(body)
	return h.Sum(j.macScratch[:0])
}

// Open authenticates c and decodes it. It does not compare ports or tags with
// the packet (5.1.5 step 3): the caller does, since it has the packet.
func (j *Jar) Open(c []byte, now time.Time) (State, error) {
	var s State
	if len(c) < MinLen || len(c) > MaxLen || c[0] != version {
		return s, ErrMalformed
	}
	bodyLen := len(c) - macLen
	var h hash.Hash
	switch {
	case j.started && c[1] == j.gen:
		h = j.cur
	case j.havePrev && c[1] == j.gen-1 && now.Sub(j.rotatedAt) < j.rotation:
		h = j.prev
	default:
		return s, ErrUnknownKey
	}
	if !hmac.Equal(j.mac(h, c[:bodyLen])[:macLen], c[bodyLen:]) {
		return s, ErrForged
	}
	p := c[2:]
	s.Created = time.Unix(0, int64(binary.BigEndian.Uint64(p)))
	s.Lifetime = time.Duration(binary.BigEndian.Uint32(p[8:])) * time.Millisecond
	s.LocalPort = binary.BigEndian.Uint16(p[12:])
	s.PeerPort = binary.BigEndian.Uint16(p[14:])
	s.LocalTag = binary.BigEndian.Uint32(p[16:])
	s.PeerTag = binary.BigEndian.Uint32(p[20:])
	s.LocalTieTag = binary.BigEndian.Uint32(p[24:])
	s.PeerTieTag = binary.BigEndian.Uint32(p[28:])
	s.LocalTSN = binary.BigEndian.Uint32(p[32:])
	s.PeerTSN = binary.BigEndian.Uint32(p[36:])
	s.PeerRwnd = binary.BigEndian.Uint32(p[40:])
	s.OutStreams = binary.BigEndian.Uint16(p[44:])
	s.InStreams = binary.BigEndian.Uint16(p[46:])
	s.Features = Features(binary.BigEndian.Uint16(p[48:]))
	s.PeerAdaptation = binary.BigEndian.Uint32(p[50:])
	// The MAC held, so the list is ours; its bounds are checked all the
	// same.
	q, ok := c[fixedLen+1:bodyLen], true
	count := int(c[fixedLen])
	if count > MaxPeerAddrs {
		return State{}, ErrMalformed
	}
	for i := range count {
		if len(q) < 1 || (q[0] != 4 && q[0] != 16) || len(q) < 1+int(q[0]) {
			return State{}, ErrMalformed
		}
		s.PeerAddrs[i], _ = netip.AddrFromSlice(q[1 : 1+q[0]])
		q = q[1+q[0]:]
	}
	if q, ok = s.openAuth(q); !ok || len(q) != 0 {
		return State{}, ErrMalformed
	}
	if age := now.Sub(s.Created); age > s.Lifetime {
		// The state goes with the error: the caller needs its tags, and
		// SCTP-AUTH needs the handshake's parameters, to decide.
		return s, &StaleError{Staleness: age - s.Lifetime}
	}
	return s, nil
}

// openAuth decodes the SCTP-AUTH part of a cookie body at q and returns what
// follows it.
func (s *State) openAuth(q []byte) ([]byte, bool) {
	if len(q) < 1 || q[0] > 1 {
		return q, false
	}
	if q[0] == 0 {
		return q[1:], true
	}
	q = q[1:]
	if len(q) < AuthRandomLen+2 {
		return q, false
	}
	s.AuthOffered = true
	copy(s.LocalRandom[:], q)
	n := int(binary.BigEndian.Uint16(q[AuthRandomLen:]))
	q = q[AuthRandomLen+2:]
	if n > MaxPeerAuth || n > len(q) {
		return q, false
	}
	if n > 0 {
		s.PeerAuth = q[:n:n]
	}
	return q[n:], true
}
