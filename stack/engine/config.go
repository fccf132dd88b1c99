package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// InitMsg mirrors SCTP_INITMSG (RFC 6458 8.1.3).
type InitMsg struct {
	// OutStreams is the number of outbound streams requested.
	OutStreams uint16
	// MaxInStreams is the most inbound streams this side accepts.
	MaxInStreams uint16
	// MaxAttempts bounds INIT and COOKIE ECHO retransmissions
	// (Max.Init.Retransmits, RFC 9260 15).
	MaxAttempts int
	// MaxInitTimeout caps the T1 timer's backed-off RTO.
	MaxInitTimeout time.Duration
}

// RTOInfo mirrors SCTP_RTOINFO (RFC 6458 8.1.1).
type RTOInfo struct {
	Initial, Min, Max time.Duration
}

// AssocParams mirrors the parts of SCTP_ASSOCINFO (RFC 6458 8.1.2) that are
// settings.
type AssocParams struct {
	// MaxRetrans is Association.Max.Retrans.
	MaxRetrans int
	// CookieLife is Valid.Cookie.Life.
	CookieLife time.Duration
}

// Heartbeat selects the heartbeat mode of SCTP_PEER_ADDR_PARAMS.
type Heartbeat uint8

const (
	// HeartbeatOn sends heartbeats on idle paths (the default).
	HeartbeatOn Heartbeat = iota
	// HeartbeatOff sends none (failure detection then relies on data).
	HeartbeatOff
)

// PeerAddrParams mirrors SCTP_PEER_ADDR_PARAMS (RFC 6458 8.1.12).
type PeerAddrParams struct {
	// HBInterval is HB.interval; zero selects the default for the link: 30 s
	// natively, 15 s on UDP-encapsulated paths, where NAT bindings expire
	// sooner (draft-tuexen-tsvwg-sctp-udp-encaps-cons section 5).
	HBInterval     time.Duration
	PathMaxRetrans int
	Heartbeat      Heartbeat
	// PathMTU is the IP-level MTU assumed for a path until PLPMTUD or ICMP
	// says otherwise.
	PathMTU int
	// PotentiallyFailed turns RFC 7829's quick failover on (the default,
	// as in Linux) or off. With it, a destination of a multi-homed peer
	// whose error count exceeds PFMaxRetrans (PotentiallyFailed.Max.Retrans,
	// 0 by default: the first timeout) is avoided by data at once and
	// probed by a HEARTBEAT every RTO until it answers, instead of taking
	// new data until Path.Max.Retrans timeouts made it inactive.
	PotentiallyFailed PotentiallyFailed
	PFMaxRetrans      int
}

// PotentiallyFailed selects RFC 7829 (SCTP-PF) for PeerAddrParams.
type PotentiallyFailed uint8

const (
	// PFOn uses the potentially-failed state (the default).
	PFOn PotentiallyFailed = iota
	// PFOff fails over only once a destination is inactive (RFC 9260 8.2).
	PFOff
)

// DelayedAck mirrors SCTP_DELAYED_SACK (RFC 6458 8.1.19).
type DelayedAck struct {
	// Delay is the longest a SACK waits (RFC 9260 6.2: at most 500 ms).
	Delay time.Duration
	// Freq acknowledges at the latest every Freq-th packet carrying DATA.
	Freq int
}

// Config holds every per-association setting. Zero fields take the RFC 9260
// section 16 defaults through WithDefaults.
type Config struct {
	InitMsg    InitMsg
	RTO        RTOInfo
	Assoc      AssocParams
	PeerAddr   PeerAddrParams
	DelayedAck DelayedAck
	// NoDelay disables Nagle-like bundling delays (SCTP_NODELAY).
	NoDelay bool
	// NoTailLossProbe turns tail loss probes off (tailprobe.go): a lost
	// tail of a flight then waits for T3-rtx, as RFC 9260 alone has it.
	NoTailLossProbe bool
	// MaxSeg caps the DATA fragment size (SCTP_MAXSEG); 0 derives it from
	// the path MTU.
	MaxSeg int
	// RecvBuffer is the receive window advertised when empty (a_rwnd).
	RecvBuffer int
	// SendBuffer bounds queued plus unacknowledged user bytes.
	SendBuffer int
	// MaxMessage is the largest user message accepted either way; at most
	// RecvBuffer (the default is 256 KiB, or RecvBuffer if smaller).
	MaxMessage int
	// MaxBurst is Max.Burst (RFC 9260 6.1).
	MaxBurst int
	// Adaptation, when HasAdaptation, is sent as an Adaptation Layer
	// Indication (RFC 5061 4.2.6).
	Adaptation    uint32
	HasAdaptation bool
	// Auth turns SCTP-AUTH (RFC 4895) on: see AuthConfig.
	Auth AuthConfig
	// LocalAddrs are the local addresses of a multi-homed endpoint on a
	// native link (sctp_bindx, RFC 6458 9.1), at most MaxLocalAddrs. With
	// more than one, the INIT or INIT ACK lists them (RFC 9260 5.1.2), so
	// the peer keeps a path to each; a listener takes INITs sent to them
	// only. Empty: the address a packet used, as a single-homed endpoint.
	// A UDP link never lists addresses (RFC 6951 5.7).
	LocalAddrs []netip.Addr
}

// MaxLocalAddrs bounds Config.LocalAddrs: what a peer keeps of them (ours
// keeps that many of a peer's, cookie.MaxPeerAddrs).
const MaxLocalAddrs = maxPeerAddrs

// servesAddr reports whether a packet to local address addr is for an
// endpoint with this configuration.
func (c *Config) servesAddr(addr netip.Addr) bool {
	return len(c.LocalAddrs) == 0 || !addr.IsValid() || slices.Contains(c.LocalAddrs, addr.Unmap())
}

// appendLocalAddrs lists the local addresses of a multi-homed endpoint in
// an INIT or INIT ACK on a native link (5.1.2).
func appendLocalAddrs(ps []wire.Param, c *Config, kind link.Kind) []wire.Param {
	if len(c.LocalAddrs) < 2 || kind != link.Native {
		return ps
	}
	for _, addr := range c.LocalAddrs {
		if addr.Is4() {
			ps = append(ps, &wire.IPv4AddressParam{Addr: addr})
		} else {
			ps = append(ps, &wire.IPv6AddressParam{Addr: addr})
		}
	}
	return ps
}

// minPathMTU is the least IP-level MTU believed, from the configuration, a
// link's hint or an ICMP report: IPv4's 576 (RFC 791).
const minPathMTU = 576

// Defaults of RFC 9260 section 16 and common stack practice.
const (
	DefaultRTOInitial        = time.Second
	DefaultRTOMin            = time.Second
	DefaultRTOMax            = 60 * time.Second
	DefaultMaxBurst          = 4
	DefaultMaxRetrans        = 10
	DefaultPathMaxRetrans    = 5
	DefaultMaxInitRetrans    = 8
	DefaultHBInterval        = 30 * time.Second
	DefaultHBIntervalUDP     = 15 * time.Second
	DefaultCookieLife        = 60 * time.Second
	DefaultOutStreams        = 10
	DefaultMaxInStreams      = 65535
	DefaultPathMTU           = 1500
	DefaultRecvBuffer        = 1 << 20
	DefaultSendBuffer        = 1 << 20
	DefaultMaxMessage        = 256 << 10
	DefaultSackDelay         = 200 * time.Millisecond
	DefaultSackFreq          = 2
	maxSackDelay             = 500 * time.Millisecond
	minRecvBuffer            = 1500
	defaultCookieKeyRotation = time.Hour
)

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	seti := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	if c.InitMsg.OutStreams == 0 {
		c.InitMsg.OutStreams = DefaultOutStreams
	}
	if c.InitMsg.MaxInStreams == 0 {
		c.InitMsg.MaxInStreams = DefaultMaxInStreams
	}
	seti(&c.InitMsg.MaxAttempts, DefaultMaxInitRetrans)
	set(&c.RTO.Initial, DefaultRTOInitial)
	set(&c.RTO.Min, DefaultRTOMin)
	set(&c.RTO.Max, DefaultRTOMax)
	set(&c.InitMsg.MaxInitTimeout, c.RTO.Max)
	seti(&c.Assoc.MaxRetrans, DefaultMaxRetrans)
	set(&c.Assoc.CookieLife, DefaultCookieLife)
	seti(&c.PeerAddr.PathMaxRetrans, DefaultPathMaxRetrans)
	seti(&c.PeerAddr.PathMTU, DefaultPathMTU)
	set(&c.DelayedAck.Delay, DefaultSackDelay)
	seti(&c.DelayedAck.Freq, DefaultSackFreq)
	seti(&c.RecvBuffer, DefaultRecvBuffer)
	seti(&c.SendBuffer, DefaultSendBuffer)
	// A message must fit the receive buffer, or its reassembly could never
	// finish: with a small buffer the default limit shrinks to it.
	seti(&c.MaxMessage, min(DefaultMaxMessage, c.RecvBuffer))
	seti(&c.MaxBurst, DefaultMaxBurst)
	c.Auth = c.Auth.withDefaults()
	return c
}

// Validate reports the first setting that cannot work, naming it.
func (c Config) Validate() error {
	switch {
	case c.RTO.Min > c.RTO.Max:
		return fmt.Errorf("engine: RTO.Min %v above RTO.Max %v", c.RTO.Min, c.RTO.Max)
	case c.RTO.Initial < c.RTO.Min || c.RTO.Initial > c.RTO.Max:
		return fmt.Errorf("engine: RTO.Initial %v outside [RTO.Min %v, RTO.Max %v]", c.RTO.Initial, c.RTO.Min, c.RTO.Max)
	case c.InitMsg.MaxAttempts < 1:
		return fmt.Errorf("engine: InitMsg.MaxAttempts %d, want at least 1", c.InitMsg.MaxAttempts)
	case c.Assoc.MaxRetrans < 1:
		return fmt.Errorf("engine: Assoc.MaxRetrans %d, want at least 1", c.Assoc.MaxRetrans)
	case c.PeerAddr.PathMaxRetrans < 1:
		return fmt.Errorf("engine: PeerAddr.PathMaxRetrans %d, want at least 1", c.PeerAddr.PathMaxRetrans)
	case c.PeerAddr.PFMaxRetrans < 0 || c.PeerAddr.PFMaxRetrans >= c.PeerAddr.PathMaxRetrans:
		// RFC 7829 5.1: PFMR from 0 up to, not reaching, PMR.
		return fmt.Errorf("engine: PeerAddr.PFMaxRetrans %d, want 0 to PathMaxRetrans-1 (%d)", c.PeerAddr.PFMaxRetrans, c.PeerAddr.PathMaxRetrans-1)
	case c.DelayedAck.Delay > maxSackDelay:
		return fmt.Errorf("engine: DelayedAck.Delay %v above the 500 ms of RFC 9260 6.2", c.DelayedAck.Delay)
	case c.RecvBuffer < minRecvBuffer:
		// RFC 9260 6.1 / 3.3.2: a_rwnd of at least 1500.
		return fmt.Errorf("engine: RecvBuffer %d below %d", c.RecvBuffer, minRecvBuffer)
	case c.PeerAddr.PathMTU < minPathMTU:
		return fmt.Errorf("engine: PathMTU %d below %d", c.PeerAddr.PathMTU, minPathMTU)
	case c.MaxSeg != 0 && c.MaxSeg < 64:
		return fmt.Errorf("engine: MaxSeg %d below 64", c.MaxSeg)
	case c.MaxMessage < 1:
		return fmt.Errorf("engine: MaxMessage %d, want at least 1", c.MaxMessage)
	case len(c.LocalAddrs) > MaxLocalAddrs:
		return fmt.Errorf("engine: LocalAddrs has %d addresses, want at most %d", len(c.LocalAddrs), MaxLocalAddrs)
	case badLocalAddr(c.LocalAddrs) != nil:
		return fmt.Errorf("engine: LocalAddrs: %v: want a unicast address, each once", *badLocalAddr(c.LocalAddrs))
	case c.MaxMessage > c.RecvBuffer:
		// Without partial delivery a message is held whole until read: one
		// larger than the receive buffer closes the window before it is
		// complete and the association deadlocks.
		return fmt.Errorf("engine: MaxMessage %d above RecvBuffer %d: a message must fit the receive buffer", c.MaxMessage, c.RecvBuffer)
	}
	return c.Auth.validate()
}

// badLocalAddr is the first of addrs that is not a unicast address or
// repeats one before it, or nil.
func badLocalAddr(addrs []netip.Addr) *netip.Addr {
	for i, a := range addrs {
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.Is4In6() || a.Zone() != "" || slices.Contains(addrs[:i], a) {
			return &addrs[i]
		}
	}
	return nil
}
