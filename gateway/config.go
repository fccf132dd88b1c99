package gateway

import (
	"fmt"
	"os"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sctpgw/sctpgw/acl"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// Config is the daemon's configuration file.
//
//	udp: {listen: "0.0.0.0:9899"}     # the one UDP socket for RFC 6951
//	admin: "127.0.0.1:9900"           # status endpoint; "" disables it (absent: the default)
//	drain_timeout: 10s
//	allow_kernel_sctp: false          # true: the operator handles kernel SCTP
//	log: {level: info, scopes: {sctp: warn}, format: text}
//	routes:
//	  - name: s1ap
//	    listen: sctp://0.0.0.0:36412
//	    forward: udp://core.example:9899/36412
//	    sctp: {out_streams: 10, rto_min: 200ms, ...}
//	    acl: {default: allow, rules: [...]}
type Config struct {
	UDP struct {
		// Listen is the UDP address for encapsulated traffic. Routes that
		// listen on udp:// must use this address and port.
		Listen string `yaml:"listen"`
	} `yaml:"udp"`
	// Admin is the admin listener's address: nil when the file does not
	// say (the daemon's --admin, 127.0.0.1:9900 by default, applies), ""
	// when it turns the listener off (admin: "", or admin: with no value).
	Admin        *string       `yaml:"admin"`
	DrainTimeout Duration      `yaml:"drain_timeout"`
	Log          LogConfig     `yaml:"log"`
	Routes       []RouteConfig `yaml:"routes"`
	// AllowKernelSCTP says the operator keeps the kernel's SCTP from
	// answering for the native ports (or accepts the race): sctpgw then
	// installs no nftables rule and starts without CAP_NET_ADMIN on a host
	// where the sctp module is loaded. See package portguard.
	AllowKernelSCTP bool `yaml:"allow_kernel_sctp"`
}

// RouteConfig is one route of the file.
type RouteConfig struct {
	Name    string `yaml:"name"`
	Listen  string `yaml:"listen"`
	Forward string `yaml:"forward"`
	// DialTimeout bounds each egress handshake (default DefaultDialTimeout).
	DialTimeout Duration    `yaml:"dial_timeout"`
	SCTP        SCTPConfig  `yaml:"sctp"`
	ACL         *acl.Config `yaml:"acl"`
	// Auth authenticates the route's udp:// side with SCTP-AUTH (RFC 4895):
	// a core serves only edges holding the key. Native sides are unchanged.
	Auth *AuthConfig `yaml:"auth"`
	// TLS and PSKFile authenticate the route's dtls:// side (RFC 8261):
	// mutual certificates under a CA, or a pre-shared key. One of the two
	// is required there, and neither is allowed without a dtls:// side.
	TLS     *TLSConfig `yaml:"tls"`
	PSKFile string     `yaml:"psk_file"`
}

// TLSConfig is a route's tls block: our certificate and key, the CA that
// signs the peer gateways' certificates, and optionally the name the
// peer's certificate must carry.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	CAFile   string `yaml:"ca_file"`
	PeerName string `yaml:"peer_name"`
}

// DefaultDialTimeout bounds an egress handshake when a route does not say:
// a few seconds, so the client's connect fails with a reason before its
// own INIT and COOKIE ECHO retransmissions give up (Linux: 3 s initial
// RTO, 8 attempts), however the network toward the target behaves.
const DefaultDialTimeout = 5 * time.Second

// SCTPConfig holds a route's SCTP settings, named after the RFC 6458 socket
// options they mirror. Zero values take the defaults of RFC 9260 section 16.
type SCTPConfig struct {
	OutStreams     int      `yaml:"out_streams"`      // SCTP_INITMSG sinit_num_ostreams (the most granted)
	MaxInStreams   int      `yaml:"max_in_streams"`   // SCTP_INITMSG sinit_max_instreams
	MaxInitRetrans int      `yaml:"max_init_retrans"` // SCTP_INITMSG sinit_max_attempts
	MaxInitTimeout Duration `yaml:"max_init_timeout"` // SCTP_INITMSG sinit_max_init_timeo
	RTOInitial     Duration `yaml:"rto_initial"`      // SCTP_RTOINFO
	RTOMin         Duration `yaml:"rto_min"`
	RTOMax         Duration `yaml:"rto_max"`
	MaxRetrans     int      `yaml:"max_retrans"` // SCTP_ASSOCINFO sasoc_asocmaxrxt
	CookieLife     Duration `yaml:"cookie_life"` // SCTP_ASSOCINFO sasoc_cookie_life
	HBInterval     Duration `yaml:"hb_interval"` // SCTP_PEER_ADDR_PARAMS spp_hbinterval
	Heartbeat      *bool    `yaml:"heartbeat"`   // SPP_HB_ENABLE / SPP_HB_DISABLE
	PathMaxRetrans int      `yaml:"path_max_retrans"`
	PathMTU        int      `yaml:"path_mtu"`
	// PotentiallyFailed and PFMaxRetrans: RFC 7829 quick failover on a
	// multi-homed leg (on, 0 by default; Linux's pf_enable, pf_retrans).
	PotentiallyFailed *bool    `yaml:"potentially_failed"`
	PFMaxRetrans      int      `yaml:"pf_max_retrans"`
	SackDelay         Duration `yaml:"sack_delay"` // SCTP_DELAYED_SACK sack_delay
	SackFreq          int      `yaml:"sack_freq"`  // SCTP_DELAYED_SACK sack_freq
	NoDelay           *bool    `yaml:"nodelay"`    // SCTP_NODELAY; the gateway defaults to true
	MaxSeg            int      `yaml:"maxseg"`     // SCTP_MAXSEG
	RecvBuffer        int      `yaml:"recv_buffer"`
	SendBuffer        int      `yaml:"send_buffer"`
	MaxMessage        int      `yaml:"max_message"`
	MaxBurst          int      `yaml:"max_burst"`
	// TailLossProbe: a lost tail of a flight is found by a probe after
	// about two round trips instead of T3-rtx (on by default; off keeps
	// to RFC 9260's recovery alone). stack/engine/tailprobe.go.
	TailLossProbe *bool `yaml:"tail_loss_probe"`
}

// LogConfig is the log block: a default level, levels per scope (gateway,
// pair, sctp, link) and the output format. Command-line flags override it.
type LogConfig struct {
	Level  string            `yaml:"level"`
	Scopes map[string]string `yaml:"scopes"`
	Format string            `yaml:"format"`
}

// Duration reads "1s", "200ms".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		return fmt.Errorf("%s: expected a duration like 1s or 200ms", describeNode(n))
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes YAML strictly (unknown keys are errors, a value of
// the wrong type is named by its field path) and validates the result
// without resolving names.
func ParseConfig(b []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var c Config
	if err := decodeNode(&doc, reflect.ValueOf(&c).Elem(), ""); err != nil {
		return nil, err
	}
	return &c, c.Validate()
}

// Validate checks the configuration as Plan does, without resolving forward
// host names (StandInResolver), and names the field, the value and what is
// expected for the first problem it finds. It does not change c.
func (c *Config) Validate() error {
	_, err := c.Plan(StandInResolver())
	return err
}

// Validate checks the settings as Plan does, naming the setting, its value
// and what is expected.
func (s SCTPConfig) Validate() error {
	_, err := s.engineConfig()
	return err
}

// engineConfig turns the settings into an engine configuration, with
// defaults, and checks them.
func (s SCTPConfig) engineConfig() (engine.Config, error) {
	var e engine.Config
	for _, v := range []struct {
		name string
		val  int
		max  int
	}{{"out_streams", s.OutStreams, 65535}, {"max_in_streams", s.MaxInStreams, 65535}} {
		if v.val < 0 || v.val > v.max {
			return e, fmt.Errorf("%s: %d: expected 1 to %d", v.name, v.val, v.max)
		}
	}
	for _, v := range []struct {
		name string
		val  int
	}{{"max_init_retrans", s.MaxInitRetrans}, {"max_retrans", s.MaxRetrans}, {"path_max_retrans", s.PathMaxRetrans},
		{"sack_freq", s.SackFreq}, {"maxseg", s.MaxSeg}, {"recv_buffer", s.RecvBuffer}, {"send_buffer", s.SendBuffer},
		{"max_message", s.MaxMessage}, {"max_burst", s.MaxBurst}, {"path_mtu", s.PathMTU}, {"pf_max_retrans", s.PFMaxRetrans}} {
		if v.val < 0 {
			return e, fmt.Errorf("%s: %d: expected a positive number", v.name, v.val)
		}
	}
	// A gateway grants what its peers ask for (docs/design.md 2.1): the stream
	// maxima default to the protocol's.
	e.InitMsg.OutStreams = uint16(or(s.OutStreams, 65535))
	e.InitMsg.MaxInStreams = uint16(or(s.MaxInStreams, 65535))
	e.InitMsg.MaxAttempts = s.MaxInitRetrans
	e.InitMsg.MaxInitTimeout = time.Duration(s.MaxInitTimeout)
	e.RTO = engine.RTOInfo{Initial: time.Duration(s.RTOInitial), Min: time.Duration(s.RTOMin), Max: time.Duration(s.RTOMax)}
	e.Assoc = engine.AssocParams{MaxRetrans: s.MaxRetrans, CookieLife: time.Duration(s.CookieLife)}
	e.PeerAddr = engine.PeerAddrParams{HBInterval: time.Duration(s.HBInterval), PathMaxRetrans: s.PathMaxRetrans, PathMTU: s.PathMTU}
	if s.Heartbeat != nil && !*s.Heartbeat {
		e.PeerAddr.Heartbeat = engine.HeartbeatOff
	}
	if s.PotentiallyFailed != nil && !*s.PotentiallyFailed {
		e.PeerAddr.PotentiallyFailed = engine.PFOff
	}
	e.PeerAddr.PFMaxRetrans = s.PFMaxRetrans
	e.DelayedAck = engine.DelayedAck{Delay: time.Duration(s.SackDelay), Freq: s.SackFreq}
	// Signalling wants latency, not Nagle: on unless the route says no.
	e.NoDelay = s.NoDelay == nil || *s.NoDelay
	e.NoTailLossProbe = s.TailLossProbe != nil && !*s.TailLossProbe
	e.MaxSeg = s.MaxSeg
	e.RecvBuffer, e.SendBuffer, e.MaxMessage, e.MaxBurst = s.RecvBuffer, s.SendBuffer, s.MaxMessage, s.MaxBurst
	e = e.WithDefaults()
	if err := e.Validate(); err != nil {
		return e, err
	}
	return e, nil
}

// sctpConfigOf is e as an sctp block with every setting given: what
// RoutePlan.SCTP shows of a route's engine configuration.
func sctpConfigOf(e engine.Config) SCTPConfig {
	heartbeat := e.PeerAddr.Heartbeat != engine.HeartbeatOff
	pf := e.PeerAddr.PotentiallyFailed != engine.PFOff
	nodelay, tlp := e.NoDelay, !e.NoTailLossProbe
	return SCTPConfig{
		OutStreams: int(e.InitMsg.OutStreams), MaxInStreams: int(e.InitMsg.MaxInStreams),
		MaxInitRetrans: e.InitMsg.MaxAttempts, MaxInitTimeout: Duration(e.InitMsg.MaxInitTimeout),
		RTOInitial: Duration(e.RTO.Initial), RTOMin: Duration(e.RTO.Min), RTOMax: Duration(e.RTO.Max),
		MaxRetrans: e.Assoc.MaxRetrans, CookieLife: Duration(e.Assoc.CookieLife),
		HBInterval: Duration(e.PeerAddr.HBInterval), Heartbeat: &heartbeat,
		PathMaxRetrans: e.PeerAddr.PathMaxRetrans, PathMTU: e.PeerAddr.PathMTU,
		PotentiallyFailed: &pf, PFMaxRetrans: e.PeerAddr.PFMaxRetrans,
		SackDelay: Duration(e.DelayedAck.Delay), SackFreq: e.DelayedAck.Freq, NoDelay: &nodelay,
		MaxSeg: e.MaxSeg, RecvBuffer: e.RecvBuffer, SendBuffer: e.SendBuffer, MaxMessage: e.MaxMessage, MaxBurst: e.MaxBurst,
		TailLossProbe: &tlp,
	}
}

func or(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}
