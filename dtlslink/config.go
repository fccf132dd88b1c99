package dtlslink

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v3"
	"github.com/pion/transport/v3/stdnet"
)

// Defaults of Config.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 10 * time.Minute
	DefaultSilenceTimeout   = time.Minute
	DefaultMaxSessions      = 1024
	// DefaultMaxHandshakesPerSource allows many peer gateways behind one
	// NAT address to start at once.
	DefaultMaxHandshakesPerSource = 32
	// DefaultHandshakeRate lets a thousand peer gateways back within a
	// second after a core restarts, at some 15 % of a core.
	DefaultHandshakeRate = 1000
	// CIDLength is the length of the connection IDs we ask peers to put in
	// the records they send us (RFC 9146): what lets a session survive a
	// NAT rebinding.
	CIDLength = 8
)

// Config configures a Link.
type Config struct {
	// Net is the network: nil means the real one; tests pass a pion vnet.
	Net transport.Net
	// Listen is the address whose UDP socket accepts sessions from peer
	// gateways; zero accepts none (an edge that only dials).
	Listen netip.AddrPort
	// Credentials authenticate accepted sessions, and dialled ones whose
	// Peers entry is nil.
	Credentials *Credentials
	// Peers are the gateways the link may dial, by address and DTLS port,
	// each with its credentials (nil: Credentials). Nothing else is ever
	// dialled: a packet for another path without a session is dropped and
	// the path reported down.
	Peers map[netip.AddrPort]*Credentials
	// HandshakeTimeout bounds a handshake (DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// IdleTimeout closes a session that carried nothing either way for
	// that long (DefaultIdleTimeout). Heartbeats (15 s on encapsulated
	// paths) keep every session with an association busy.
	IdleTimeout time.Duration
	// SilenceTimeout closes a session that has sent but received nothing
	// for that long (DefaultSilenceTimeout): its peer is gone, or
	// restarted and dropping records it has no keys for (DTLS has no way
	// to say so). Every live association gets something back well within
	// it (SACKs, HEARTBEAT ACKs every 15 s). The next packet to a
	// configured peer dials a new session.
	SilenceTimeout time.Duration
	// MaxSessions bounds the sessions, handshaking ones included
	// (DefaultMaxSessions).
	MaxSessions int
	// MaxUnverified bounds the accepted handshakes whose peer has not
	// returned the cookie yet (their address may be spoofed): a
	// ClientHello beyond it pushes the oldest out, so a flood of them
	// cannot fill MaxSessions (admit.go). Default: MaxSessions/4, at
	// least 1.
	MaxUnverified int
	// MaxHandshakesPerSource bounds the accepted handshakes from one
	// address at a time (DefaultMaxHandshakesPerSource).
	MaxHandshakesPerSource int
	// HandshakeRate bounds the handshakes accepted a second, with bursts
	// of as many (DefaultHandshakeRate): ClientHellos beyond it are
	// dropped, so that a flood costs the sessions that are up no CPU
	// (admit.go).
	HandshakeRate int
	// Logger receives session events (established, refused, ended); nil
	// discards them. Refusals are logged at most 10 a second.
	Logger *slog.Logger
	// PionLogger receives pion/dtls's own log lines; nil discards them.
	PionLogger logging.LoggerFactory
	// Clock is the link's time and timers (clock.go); nil: SystemClock.
	Clock Clock
	// Now is the clock certificates are checked against; nil: Clock's.
	Now func() time.Time
}

func (c *Config) withDefaults() (Config, error) {
	d := *c
	if d.HandshakeTimeout <= 0 {
		d.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = DefaultIdleTimeout
	}
	if d.SilenceTimeout <= 0 {
		d.SilenceTimeout = DefaultSilenceTimeout
	}
	if d.MaxSessions <= 0 {
		d.MaxSessions = DefaultMaxSessions
	}
	if d.MaxUnverified <= 0 {
		d.MaxUnverified = max(1, d.MaxSessions/4)
	}
	if d.MaxHandshakesPerSource <= 0 {
		d.MaxHandshakesPerSource = DefaultMaxHandshakesPerSource
	}
	if d.HandshakeRate <= 0 {
		d.HandshakeRate = DefaultHandshakeRate
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.PionLogger == nil {
		d.PionLogger = &logging.DefaultLoggerFactory{Writer: io.Discard}
	}
	if d.Clock == nil {
		d.Clock = SystemClock{}
	}
	if d.Now == nil {
		d.Now = d.Clock.Now
	}
	if d.Net == nil {
		n, err := stdnet.NewNet()
		if err != nil {
			return d, fmt.Errorf("dtlslink: real network: %w", err)
		}
		d.Net = n
	}
	if d.Listen.IsValid() {
		if err := d.Credentials.Validate(); err != nil {
			return d, fmt.Errorf("dtlslink: listen %s: %w", d.Listen, err)
		}
	}
	for p, cr := range d.Peers {
		if cr == nil {
			cr = d.Credentials
		}
		if err := cr.Validate(); err != nil {
			return d, fmt.Errorf("dtlslink: peer %s: %w", p, err)
		}
	}
	if !d.Listen.IsValid() && len(d.Peers) == 0 {
		return d, errors.New("dtlslink: neither a listen address nor peers to dial")
	}
	return d, nil
}
