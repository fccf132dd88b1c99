package dtlslink

import (
	"context"
	"errors"
	"strings"
)

// Reasons a session was refused or failed to come up, as counted in
// Stats.Refused and logged. The first five are our own verdict on the
// peer's certificate; peer_refused means the peer's alert ended the
// handshake (it refused ours, or its own verdict).
const (
	ReasonUnknownCA      = "unknown_ca"      // the peer's chain does not lead to our CA
	ReasonExpired        = "expired"         // the peer's certificate is outside its validity period
	ReasonBadCertificate = "bad_certificate" // unparsable, revoked, wrong key, ...
	ReasonNameMismatch   = "name_mismatch"   // not the pinned peer name
	ReasonNoCertificate  = "no_certificate"  // the peer sent none
	ReasonPSKMismatch    = "psk_mismatch"    // the pre-shared keys differ, or the identity is unknown
	ReasonPeerRefused    = "peer_refused"    // the peer's alert: it refused us
	ReasonTimeout        = "timeout"         // no answer within the handshake timeout
	ReasonSessionLimit   = "session_limit"   // MaxSessions or MaxHandshakesPerSource reached
	// ReasonCookieUnanswered: a handshake whose peer had not returned the
	// cookie (HelloVerifyRequest) was pushed out by newer ClientHellos,
	// MaxUnverified being reached: a flood of them, from spoofed
	// addresses as a rule.
	ReasonCookieUnanswered = "cookie_unanswered"
	// ReasonHelloRate: a ClientHello beyond HandshakeRate, dropped.
	ReasonHelloRate = "hello_rate"
	ReasonError     = "error" // anything else (local I/O, protocol)
)

// Reasons lists every reason, in a fixed order for status and metrics.
var Reasons = []string{ReasonUnknownCA, ReasonExpired, ReasonBadCertificate, ReasonNameMismatch, ReasonNoCertificate,
	ReasonPSKMismatch, ReasonPeerRefused, ReasonTimeout, ReasonSessionLimit, ReasonCookieUnanswered, ReasonHelloRate, ReasonError}

func reasonIndex(r string) int {
	for i, x := range Reasons {
		if x == r {
			return i
		}
	}
	return len(Reasons) - 1
}

// reasonOf classifies a failed handshake. psk says which kind of
// credentials were in use: a DTLS peer that cannot decrypt our Finished
// discards it silently (RFC 6347 4.1.2.7), so with a pre-shared key a
// wrong key shows as a decrypt_error alert or, at worst, as a timeout.
func reasonOf(err error, psk bool) string {
	var ce *certError
	if errors.As(err, &ce) {
		return ce.reason
	}
	if desc, ok := alertOf(err); ok {
		switch desc {
		case "DecryptError", "BadRecordMac", "UnknownPSKIdentity":
			if psk {
				return ReasonPSKMismatch
			}
		case "HandshakeFailure":
			if psk {
				return ReasonPSKMismatch
			}
		}
		return ReasonPeerRefused
	}
	msg := err.Error()
	switch {
	case psk && (strings.Contains(msg, "PSK") || strings.Contains(msg, "psk") || strings.Contains(msg, "verify data") || strings.Contains(msg, "Finished")):
		return ReasonPSKMismatch
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "timeout") || strings.Contains(msg, "deadline"):
		return ReasonTimeout
	}
	return ReasonError
}

// alertOf finds the description of an alert that ended a handshake in
// pion's error text ("alert: Alert LevelFatal: BadCertificate"): its alert
// type is not exported.
func alertOf(err error) (string, bool) {
	msg := err.Error()
	i := strings.Index(msg, "alert: Alert ")
	if i < 0 {
		return "", false
	}
	rest := msg[i+len("alert: Alert "):]
	if j := strings.Index(rest, ": "); j >= 0 {
		rest = rest[j+2:]
	}
	if j := strings.IndexAny(rest, " ,;)"); j >= 0 {
		rest = rest[:j]
	}
	return rest, rest != ""
}
