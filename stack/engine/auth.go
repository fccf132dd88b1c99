package engine

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sctpgw/sctpgw/stack/internal/auth"
	"github.com/sctpgw/sctpgw/stack/internal/cookie"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// SCTP-AUTH (RFC 4895) as the engine uses it. The unit stack/internal/auth
// holds the keys and does the cryptography; this file decides where:
//
//   - INIT and INIT ACK carry RANDOM, CHUNKS and HMAC-ALGO (and AUTH in the
//     Supported Extensions) when Config.Auth has keys; the listener keeps
//     both sides' parameters in the cookie.
//   - Outbound, a packet holding a chunk the peer listed gets an AUTH chunk
//     first, covering the whole packet (seal).
//   - Inbound, the first AUTH chunk of a packet is taken out of the chunk
//     list and remembered (rxAuthPrepare); the chunks after it are verified
//     before they are processed, and chunks we listed that arrive without
//     it are discarded (rxAllowed). A COOKIE ECHO is verified with the key
//     its cookie gives, before any state is created (cookieAuth, 6.3).

// AuthKeys are the endpoint-pair shared keys of SCTP-AUTH, by Shared Key
// Identifier, and the counters of every association that uses them. One
// AuthKeys may serve a listener and any number of dialled associations (a
// gateway route). Like the Host, it is not safe for concurrent use: change
// it from the goroutine that drives the Host (stack.Stack.ChangeAuthKeys), or
// before any association uses it. Keys are never logged.
type AuthKeys struct {
	ring auth.Keyring
}

// NewAuthKeys returns an empty key set: until a key is added it stands for
// the empty key 0 of RFC 4895 6.1, which authenticates nothing a stranger
// could not compute.
func NewAuthKeys() *AuthKeys { return &AuthKeys{} }

// Add sets key id to secret, replacing a key of that id (SCTP_AUTH_KEY,
// RFC 6458 8.3.2). The first key added is the active one.
func (k *AuthKeys) Add(id uint16, secret []byte) error { return authKeyErr(k.ring.Add(id, secret), id) }

// SetActive makes key id the one used for sending (SCTP_AUTH_ACTIVE_KEY,
// RFC 6458 8.3.3). Received packets may use any key held.
func (k *AuthKeys) SetActive(id uint16) error { return authKeyErr(k.ring.SetActive(id), id) }

// Delete removes key id (SCTP_AUTH_DELETE_KEY, RFC 6458 8.3.4); the active
// key cannot be deleted. Associations that used it get an
// AuthenticationEvent with AuthFreeKey.
func (k *AuthKeys) Delete(id uint16) error { return authKeyErr(k.ring.Delete(id), id) }

// Active is the identifier of the key used for sending.
func (k *AuthKeys) Active() uint16 { return k.ring.Active() }

// IDs lists the key identifiers held, in order.
func (k *AuthKeys) IDs() []uint16 { return k.ring.IDs() }

// Has reports whether key id is held.
func (k *AuthKeys) Has(id uint16) bool { return k.ring.Has(id) }

func authKeyErr(err error, id uint16) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("engine: auth key %d: %w", id, err)
}

// AuthStats are the packet counts of the associations using an AuthKeys.
type AuthStats struct {
	// Authenticated counts received packets whose AUTH chunk verified.
	Authenticated uint64
	// Unauthenticated counts received packets refused for lacking
	// authentication: chunks listed as requiring it (a COOKIE ECHO, DATA,
	// an ABORT...) that came without an AUTH chunk before them, and INITs,
	// INIT ACKs and COOKIE ECHOs of peers offering no SCTP-AUTH where
	// AuthConfig.Required.
	Unauthenticated uint64
	// BadMAC counts received packets whose AUTH chunk failed: a wrong HMAC
	// (a wrong key), a Shared Key Identifier not held, an HMAC not offered.
	BadMAC uint64
	// Signed counts packets sent with an AUTH chunk.
	Signed uint64
	// Keys are the per-key figures, by identifier.
	Keys []AuthKeyStats
}

// AuthKeyStats are one key's counts.
type AuthKeyStats struct {
	ID     uint16
	Active bool
	// In: received packets verified with the key; Out: packets signed with
	// it; BadMAC: received packets naming it whose HMAC did not match.
	In, Out, BadMAC uint64
}

// Stats returns the counters.
func (k *AuthKeys) Stats() AuthStats {
	s := k.ring.Stats()
	out := AuthStats{Authenticated: s.Authenticated, Unauthenticated: s.Unauthenticated, BadMAC: s.BadMAC, Signed: s.Signed}
	for _, ks := range k.ring.KeyStats() {
		out.Keys = append(out.Keys, AuthKeyStats{ID: ks.ID, Active: ks.Active, In: ks.In, Out: ks.Out, BadMAC: ks.BadMAC})
	}
	return out
}

// AuthConfig turns SCTP-AUTH on for an association (SCTP_AUTH_CHUNK,
// SCTP_HMAC_IDENT and the keys of RFC 6458 8.3).
type AuthConfig struct {
	// Keys are the endpoint-pair shared keys; nil leaves SCTP-AUTH off and
	// the other fields unused.
	Keys *AuthKeys
	// Chunks are the chunk types the peer must authenticate (the CHUNKS
	// parameter). Nil means DefaultAuthChunks; INIT, INIT ACK, SHUTDOWN
	// COMPLETE and AUTH cannot be listed (RFC 4895 3.2).
	Chunks []wire.ChunkType
	// HMACs are the HMAC algorithms offered, most preferred first
	// (HMAC-ALGO). Nil means SHA-256 then SHA-1; SHA-1 is added last when
	// missing, since RFC 4895 6.1 makes it mandatory.
	HMACs []wire.HMACID
	// Required refuses peers that do not take part in SCTP-AUTH: an INIT
	// without it is answered with an ABORT, an INIT ACK without it aborts
	// the dial, a COOKIE ECHO of such a handshake builds nothing. Without
	// Required such a peer gets an unauthenticated association and an
	// AuthenticationEvent with AuthNoAuth.
	Required bool
}

// DefaultAuthChunks is every chunk type that can be authenticated and that
// this engine sends or processes on an association: with them all listed,
// nothing but the handshake's INIT and INIT ACK and a SHUTDOWN COMPLETE is
// taken from a peer that does not hold the key, and a forged ABORT cannot
// end an association.
var DefaultAuthChunks = []wire.ChunkType{
	wire.TypeData, wire.TypeSack, wire.TypeHeartbeat, wire.TypeHeartbeatAck, wire.TypeAbort,
	wire.TypeShutdown, wire.TypeShutdownAck, wire.TypeError, wire.TypeCookieEcho, wire.TypeCookieAck,
	wire.TypeECNE, wire.TypeCWR, wire.TypeIData, wire.TypeAsconfAck, wire.TypeReconfig, wire.TypePad,
	wire.TypeForwardTSN, wire.TypeAsconf, wire.TypeIForwardTSN,
}

// ErrAuthRequired: the peer offered no SCTP-AUTH and AuthConfig.Required.
var ErrAuthRequired = errors.New("peer does not take part in SCTP-AUTH (RFC 4895), which is required")

// AuthIndication says what an AuthenticationEvent reports (the
// auth_indication of SCTP_AUTHENTICATION_EVENT, RFC 6458 6.1.8).
type AuthIndication uint8

const (
	// AuthNewKey: the peer authenticated with a key other than the one it
	// used before (SCTP_AUTH_NEW_KEY); Event.AuthKeyID names it.
	AuthNewKey AuthIndication = iota + 1
	// AuthNoAuth: the peer does not take part in SCTP-AUTH; the
	// association is not authenticated (SCTP_AUTH_NO_AUTH).
	AuthNoAuth
	// AuthFreeKey: key Event.AuthKeyID, which the association used, was
	// deleted and will not be used again (SCTP_AUTH_FREE_KEY).
	AuthFreeKey
)

func (i AuthIndication) String() string {
	switch i {
	case AuthNewKey:
		return "NEW_KEY"
	case AuthNoAuth:
		return "NO_AUTH"
	case AuthFreeKey:
		return "FREE_KEY"
	}
	return fmt.Sprintf("auth indication %d", uint8(i))
}

// withDefaults fills Chunks and HMACs when keys are set; the caller's
// slices are never written to.
func (c AuthConfig) withDefaults() AuthConfig {
	if c.Keys == nil {
		return c
	}
	if c.Chunks == nil {
		c.Chunks = DefaultAuthChunks
	}
	if len(c.HMACs) == 0 {
		c.HMACs = []wire.HMACID{wire.HMACSHA256, wire.HMACSHA1}
	} else if !slices.Contains(c.HMACs, wire.HMACSHA1) {
		c.HMACs = append(slices.Clip(c.HMACs), wire.HMACSHA1)
	}
	return c
}

func (c AuthConfig) validate() error {
	if c.Keys == nil {
		if c.Required || c.Chunks != nil || c.HMACs != nil {
			return errors.New("engine: Auth.Required, Auth.Chunks or Auth.HMACs set without Auth.Keys")
		}
		return nil
	}
	if len(c.Chunks) > auth.MaxChunks || len(c.HMACs) > auth.MaxHMACs {
		return fmt.Errorf("engine: Auth lists %d chunk types and %d HMACs, at most %d and %d", len(c.Chunks), len(c.HMACs), auth.MaxChunks, auth.MaxHMACs)
	}
	for _, t := range c.Chunks {
		if auth.Unauthenticable(t) {
			return fmt.Errorf("engine: Auth.Chunks: %v cannot be authenticated (RFC 4895 3.2)", t)
		}
	}
	for _, id := range c.HMACs {
		if _, ok := auth.Lookup(id); !ok {
			return fmt.Errorf("engine: Auth.HMACs: HMAC identifier %d, want %d (SHA-1) or %d (SHA-256)", id, wire.HMACSHA1, wire.HMACSHA256)
		}
	}
	return nil
}

// localAuthParams are the parameters our INIT or INIT ACK carries for cfg
// with RANDOM random: exactly what the key vector is made of.
func localAuthParams(cfg *Config, random []byte) auth.Params {
	return auth.Params{Random: random, Chunks: cfg.Auth.Chunks, HasChunks: len(cfg.Auth.Chunks) > 0, HMACs: cfg.Auth.HMACs}
}

// appendAuthParams adds our SCTP-AUTH parameters to an INIT or INIT ACK.
func appendAuthParams(ps []wire.Param, cfg *Config, random []byte) []wire.Param {
	if cfg.Auth.Keys == nil {
		return ps
	}
	lp := localAuthParams(cfg, random)
	// Linux and usrsctp take a peer for SCTP-AUTH capable only when its
	// Supported Extensions list AUTH.
	ps = append(ps, &wire.SupportedExtensionsParam{Types: []wire.ChunkType{wire.TypeAuth}})
	return append(ps, lp.Params()...)
}

// assocAuth is an association's SCTP-AUTH state.
type assocAuth struct {
	s      *auth.Session // nil: packets are not authenticated
	random [auth.RandomLen]byte
	// hasRandom: random is drawn (a dialled association's INIT carries it).
	hasRandom bool
	// overhead is what the AUTH chunk takes in the packets that need it,
	// reserved in every packet (path.maxPacket).
	overhead int
	// noAuth: we offered SCTP-AUTH and the peer did not (AuthNoAuth).
	noAuth bool
}

// authRandom returns our RANDOM, drawing it on first use.
func (a *Association) authRandom() []byte {
	if !a.auth.hasRandom {
		a.host.fill(a.auth.random[:])
		a.auth.hasRandom = true
	}
	return a.auth.random[:]
}

// setAuth makes s the association's session (nil: none).
func (a *Association) setAuth(s *auth.Session) {
	if a.auth.s == s {
		return
	}
	if a.auth.s != nil {
		a.auth.s.Detach()
	}
	a.auth.s, a.auth.overhead = s, 0
	if s == nil {
		return
	}
	a.auth.noAuth = false
	s.Attach()
	s.OnFree = func(id uint16) {
		if a.state != stateClosed {
			a.notify(Event{Type: AuthenticationEvent, AuthIndication: AuthFreeKey, AuthKeyID: id})
		}
	}
	if !s.Peer.Empty() {
		a.auth.overhead = s.ChunkLen()
	}
}

// authClosed releases the session when the association ends.
func (a *Association) authClosed() { a.setAuth(nil) }

// authUp announces, with COMM_UP, a peer that would not authenticate.
func (a *Association) authUp() {
	if a.auth.noAuth {
		a.notify(Event{Type: AuthenticationEvent, AuthIndication: AuthNoAuth})
	}
}

// authFromInitAck takes the peer's SCTP-AUTH parameters from its INIT ACK
// (the peer's tag is known). It reports false when it aborted the
// association: the peer offered none while Required, or broke RFC 4895 6.1.
func (a *Association) authFromInitAck(ps []wire.Param) bool {
	keys := a.cfg.Auth.Keys
	if keys == nil {
		return true
	}
	peer, offered := auth.FromWire(ps)
	if !offered {
		if a.cfg.Auth.Required {
			keys.ring.NoteUnauthenticated()
			a.abortWith(a.host.lastNow, []wire.Cause{authRequiredCause()}, ErrAuthRequired)
			return false
		}
		a.auth.noAuth = true
		a.setAuth(nil)
		return true
	}
	local := localAuthParams(&a.cfg, a.authRandom())
	s, err := auth.NewSession(&keys.ring, &local, &peer)
	if err != nil {
		a.abortWith(a.host.lastNow, []wire.Cause{&wire.ProtocolViolationCause{Info: []byte(err.Error())}}, ErrProtocolViolation)
		return false
	}
	a.setAuth(s)
	return true
}

func authRequiredCause() wire.Cause {
	return &wire.ProtocolViolationCause{Info: []byte("sctpgw: SCTP-AUTH (RFC 4895) required")}
}

// authForInit decides on the SCTP-AUTH parameters of an INIT a listener
// answers with cfg: what the cookie keeps (st) and the parameters to add to
// the INIT ACK. A non-nil cause refuses the INIT with an ABORT.
func (h *Host) authForInit(cfg *Config, ini *wire.Init, random []byte, st *cookie.State) ([]wire.Param, wire.Cause) {
	keys := cfg.Auth.Keys
	if keys == nil {
		return nil, nil
	}
	peer, offered := auth.FromWire(ini.Params)
	if offered {
		if err := peer.Check(); err != nil {
			return nil, &wire.ProtocolViolationCause{Info: []byte(err.Error())}
		}
		st.PeerAuth = peer.AppendVector(nil)
	} else if cfg.Auth.Required {
		h.refuseUnauthenticated(keys)
		return nil, authRequiredCause()
	}
	st.AuthOffered = true
	if random == nil {
		h.fill(st.LocalRandom[:])
	} else {
		copy(st.LocalRandom[:], random)
	}
	return appendAuthParams(nil, cfg, st.LocalRandom[:]), nil
}

// cookieAuth authenticates a packet whose first chunk is a COOKIE ECHO that
// opened to st, for an endpoint configured with cfg, before anything is
// built from it (RFC 4895 6.3): the association key comes from the
// parameters both INITs carried, which the cookie keeps. It returns the
// session the association is to use (nil: none) and whether the packet may
// be processed. existing, the session of an association the cookie may
// belong to, is reused when the cookie is its own.
func (h *Host) cookieAuth(cfg *Config, st *cookie.State, existing *auth.Session) (*auth.Session, bool) {
	keys := cfg.Auth.Keys
	if keys == nil {
		return nil, true
	}
	if !st.AuthOffered || len(st.PeerAuth) == 0 {
		if cfg.Auth.Required {
			h.refuseUnauthenticated(keys)
			return nil, false
		}
		return nil, true
	}
	s := existing
	if s == nil || !s.Same(st.LocalRandom[:], st.PeerAuth) {
		peer, err := auth.ParseVector(st.PeerAuth)
		if err != nil {
			return nil, false
		}
		local := localAuthParams(cfg, st.LocalRandom[:])
		if s, err = auth.NewSession(&keys.ring, &local, &peer); err != nil {
			return nil, false
		}
	}
	rx := &h.rxAuth
	if !rx.present || rx.from != 0 {
		if s.Local.Has(wire.TypeCookieEcho) {
			h.refuseUnauthenticated(keys)
			return nil, false
		}
		return s, true
	}
	if v := s.Verify(rx.raw, rx.off); v.Result != auth.OK {
		rx.result = -1
		h.discard(DiscardBadAuth, rx.link, rx.path, nil, 1)
		return nil, false
	}
	rx.result = 1
	return s, true
}

func (h *Host) refuseUnauthenticated(keys *AuthKeys) {
	rx := &h.rxAuth
	if rx.refused {
		return
	}
	rx.refused = true
	keys.ring.NoteUnauthenticated()
	h.discard(DiscardUnauthenticated, rx.link, rx.path, nil, 1)
}

// seal puts an AUTH chunk first in the packet at b[start:] (common header
// on, chunks appended, checksum not yet set) when it holds a chunk the peer
// requires authenticated, and signs it (RFC 4895 6.2). The room was
// reserved: path.maxPacket leaves auth.overhead free.
func (a *Association) seal(b []byte, start int) []byte {
	s := a.auth.s
	if s == nil || s.Peer.Empty() {
		return b
	}
	first := start + wire.CommonHeaderLen
	need := false
	for off := first; off+wire.ChunkHeaderLen <= len(b); {
		l := int(b[off+2])<<8 | int(b[off+3])
		if s.Peer.Has(wire.ChunkType(b[off])) {
			need = true
			break
		}
		if l < wire.ChunkHeaderLen {
			break
		}
		off += pad4(l)
	}
	if !need {
		return b
	}
	n := s.ChunkLen()
	end := len(b)
	b = slices.Grow(b, n)[:end+n]
	copy(b[first+n:], b[first:end])
	s.Sign(b[start:], wire.CommonHeaderLen)
	return b
}

// fill reads len(b) random bytes.
func (h *Host) fill(b []byte) {
	if _, err := io.ReadFull(h.rand, b); err != nil {
		panic(fmt.Sprintf("engine: random source failed: %v", err))
	}
}

// adoptAuth gives an association built or rebuilt from a cookie the
// session cookieAuth returned: nil with keys configured means the peer
// offered no SCTP-AUTH (AuthNoAuth at COMM_UP).
func (a *Association) adoptAuth(s *auth.Session) {
	a.setAuth(s)
	a.auth.noAuth = s == nil && a.cfg.Auth.Keys != nil
}

// useCookie records that st builds an association; a cookie that built one
// already is discarded (cookie.Replay).
func (h *Host) useCookie(st *cookie.State, now time.Time) bool {
	if h.replay == nil {
		h.replay = cookie.NewReplay(0)
	}
	if h.replay.Use(st, now) {
		return true
	}
	h.discard(DiscardReplayedCookie, h.rxAuth.link, h.rxAuth.path, nil, 1)
	return false
}

// sendOOTBAuth is sendOOTB for an answer to a COOKIE ECHO that built
// nothing (a Stale Cookie ERROR): authenticated with s, the session the
// cookie gives, when the peer requires c's type authenticated, since it
// would discard the answer otherwise.
func (h *Host) sendOOTBAuth(linkIdx int, p link.Path, srcPort, dstPort uint16, vtag uint32, c wire.Chunk, s *auth.Session) {
	if s == nil || !s.Peer.Has(c.ChunkType()) {
		h.sendOOTB(linkIdx, p, srcPort, dstPort, vtag, c)
		return
	}
	n := s.ChunkLen()
	b := h.getBuf(256 + n)
	start := len(b)
	b = wire.AppendHeader(b, wire.CommonHeader{SrcPort: srcPort, DstPort: dstPort, VerificationTag: vtag})
	b = slices.Grow(b, n)
	b = b[:len(b)+n]
	b = c.AppendTo(b)
	s.Sign(b[start:], wire.CommonHeaderLen)
	wire.FinishPacket(b, start)
	h.stats.OutCtrlChunks++
	h.emit(linkIdx, p, b)
}
