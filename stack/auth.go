package stack

import (
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
)

// SCTP-AUTH (RFC 4895) in the stack's vocabulary: Options.Auth turns it on
// for a listener's or a dial's associations, with keys held in an
// AuthKeys that any number of them may share.
type (
	AuthKeys       = engine.AuthKeys
	AuthConfig     = engine.AuthConfig
	AuthStats      = engine.AuthStats
	AuthIndication = engine.AuthIndication
)

// The auth_indication values of an AuthenticationEvent (RFC 6458 6.1.8).
const (
	AuthNewKey  = engine.AuthNewKey
	AuthNoAuth  = engine.AuthNoAuth
	AuthFreeKey = engine.AuthFreeKey
)

// NewAuthKeys returns an empty key set (see engine.NewAuthKeys). Add keys
// before the first association uses it; afterwards change it through
// Stack.ChangeAuthKeys.
func NewAuthKeys() *AuthKeys { return engine.NewAuthKeys() }

// ChangeAuthKeys runs f, which adds, activates or deletes keys of sets the
// stack's associations use (SCTP_AUTH_KEY, SCTP_AUTH_ACTIVE_KEY,
// SCTP_AUTH_DELETE_KEY), under the stack's lock, and delivers the events it
// causes (AuthFreeKey) before returning.
func (s *Stack) ChangeAuthKeys(f func() error) error {
	var err error
	if derr := s.do(func(*engine.Host, time.Time) { err = f() }); derr != nil {
		return derr
	}
	return err
}

// AuthStats returns k's counters, read under the stack's lock.
func (s *Stack) AuthStats(k *AuthKeys) AuthStats {
	var st AuthStats
	s.do(func(*engine.Host, time.Time) { st = k.Stats() })
	return st
}
