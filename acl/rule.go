package acl

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Action is what a rule does with the associations it matches, and what a
// Decision says to do. The zero value is not a valid action, so a Decision
// or Rule that was never filled in does not read as "allow".
type Action uint8

const (
	// Allow lets the association through (subject to rate and pair limits).
	Allow Action = iota + 1
	// Deny refuses the association with an ABORT carrying a User-Initiated
	// Abort cause whose reason is Decision.Reason().
	Deny
	// Drop refuses the association silently: no ABORT, so a scanner learns
	// nothing and a flood earns no reply traffic.
	Drop
)

var actionNames = [...]string{Allow: "allow", Deny: "deny", Drop: "drop"}

func (a Action) String() string {
	if a >= Allow && a <= Drop {
		return actionNames[a]
	}
	return "invalid(" + strconv.Itoa(int(a)) + ")"
}

// Valid reports whether a is Allow, Deny or Drop.
func (a Action) Valid() bool { return a >= Allow && a <= Drop }

// ParseAction parses "allow", "deny" or "drop" (ASCII case-insensitive).
func ParseAction(s string) (Action, error) {
	switch asciiLower(s) {
	case "allow":
		return Allow, nil
	case "deny":
		return Deny, nil
	case "drop":
		return Drop, nil
	}
	return 0, fmt.Errorf("unknown action %q (want allow, deny or drop)", s)
}

// MarshalText encodes a as its name.
func (a Action) MarshalText() ([]byte, error) {
	if !a.Valid() {
		return nil, fmt.Errorf("acl: invalid action %d", uint8(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText decodes an action name.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// LinkKind is the kind of link an association arrives on. In a rule, LinkAny
// matches every kind and LinkEncap both encapsulated ones; in a Request,
// LinkAny (an unknown link) matches only rules that do not name a link, and
// LinkEncap is not a kind a request arrives on.
type LinkKind uint8

const (
	LinkAny    LinkKind = iota // rule: any link
	LinkNative                 // native SCTP over IP (protocol 132)
	LinkUDP                    // SCTP encapsulated in plain UDP (RFC 6951)
	LinkDTLS                   // SCTP in DTLS over UDP (RFC 8261): the encrypted tunnel
	LinkEncap                  // rule: UDP or DTLS
)

// requestKinds are the kinds a Request can carry, LinkAny (unknown) first:
// the compiled matcher keeps one bitset per kind.
const requestKinds = int(LinkDTLS) + 1

// covers reports whether a rule naming link k matches a request on link r.
func (k LinkKind) covers(r LinkKind) bool {
	return k == LinkAny || k == r || (k == LinkEncap && (r == LinkUDP || r == LinkDTLS))
}

func (k LinkKind) String() string {
	switch k {
	case LinkAny:
		return "any"
	case LinkNative:
		return "native"
	case LinkUDP:
		return "udp"
	case LinkDTLS:
		return "dtls"
	case LinkEncap:
		return "encap"
	}
	return "invalid(" + strconv.Itoa(int(k)) + ")"
}

// ParseLinkKind parses "native", "udp", "dtls", "encap" (alias
// "encapsulated": udp or dtls) or "any".
func ParseLinkKind(s string) (LinkKind, error) {
	switch asciiLower(s) {
	case "any":
		return LinkAny, nil
	case "native":
		return LinkNative, nil
	case "udp":
		return LinkUDP, nil
	case "dtls":
		return LinkDTLS, nil
	case "encap", "encapsulated":
		return LinkEncap, nil
	}
	return 0, fmt.Errorf("unknown link %q (want native, udp, dtls or encap)", s)
}

// PortRange is an inclusive range of SCTP ports. The zero value means any
// port; port 0 itself is never valid in SCTP (RFC 9260 3.1), which is what
// lets the zero value mean "any" without ambiguity.
type PortRange struct{ Lo, Hi uint16 }

// AnyPort matches every port.
var AnyPort = PortRange{}

// IsAny reports whether r matches every port.
func (r PortRange) IsAny() bool { return r == PortRange{} }

// Contains reports whether port p is in r.
func (r PortRange) Contains(p uint16) bool {
	return r.IsAny() || (r.Lo <= p && p <= r.Hi)
}

func (r PortRange) bounds() (lo, hi uint16) {
	if r.IsAny() {
		return 0, 65535
	}
	return r.Lo, r.Hi
}

func (r PortRange) valid() error {
	switch {
	case r.IsAny():
		return nil
	case r.Lo == 0:
		return errors.New("port 0 is not a valid SCTP port")
	case r.Lo > r.Hi:
		return fmt.Errorf("port range %d-%d is empty (low end above high end)", r.Lo, r.Hi)
	}
	return nil
}

// String formats r as "N", "LO-HI", or "any".
func (r PortRange) String() string {
	switch {
	case r.IsAny():
		return "any"
	case r.Lo == r.Hi:
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// ParsePortRange parses "N", "LO-HI" or "any".
func ParsePortRange(s string) (PortRange, error) {
	if asciiLower(s) == "any" {
		return AnyPort, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	h := l
	if isRange {
		if h, err = parsePort(hi); err != nil {
			return PortRange{}, err
		}
	}
	r := PortRange{l, h}
	return r, r.valid()
}

func parsePort(s string) (uint16, error) {
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("bad port %q (want 1-65535)", s)
	}
	if v == 0 {
		return 0, errors.New("port 0 is not a valid SCTP port")
	}
	return uint16(v), nil
}

// Rule is one line of a policy. Zero-valued match fields match anything.
type Rule struct {
	Action Action
	// From is the source address prefix of the ingress peer. The zero Prefix
	// matches every source of both families; 0.0.0.0/0 matches only IPv4
	// and ::/0 only IPv6. IPv4-mapped IPv6 sources are matched as IPv4.
	From netip.Prefix
	// SPort is the ingress peer's source port.
	SPort PortRange
	// Port is the served SCTP port: the destination port of the ingress
	// association, which selects the route.
	Port PortRange
	// Link is the kind of link the ingress association arrives on.
	Link LinkKind
}

// Matches reports whether r matches req, ignoring r.Action. It is the
// reference semantics the compiled matcher must agree with.
func (r *Rule) Matches(req Request) bool {
	if r.From.IsValid() && !r.From.Contains(req.Src.Addr().Unmap()) {
		return false
	}
	link := req.Link
	if int(link) >= requestKinds {
		link = LinkAny // not a kind a request arrives on: unknown
	}
	return r.SPort.Contains(req.Src.Port()) &&
		r.Port.Contains(req.DstPort) &&
		r.Link.covers(link)
}

// Validate reports why r could never have come out of ParseRule, or nil.
func (r *Rule) Validate() error {
	if !r.Action.Valid() {
		return fmt.Errorf("invalid action %d", uint8(r.Action))
	}
	if err := checkPrefix(r.From); err != nil {
		return err
	}
	if err := r.SPort.valid(); err != nil {
		return fmt.Errorf("sport: %w", err)
	}
	if err := r.Port.valid(); err != nil {
		return fmt.Errorf("port: %w", err)
	}
	if r.Link > LinkEncap {
		return fmt.Errorf("invalid link %d", uint8(r.Link))
	}
	return nil
}

func checkPrefix(p netip.Prefix) error {
	if p == (netip.Prefix{}) {
		return nil
	}
	if !p.IsValid() {
		return fmt.Errorf("invalid prefix %s", p)
	}
	a := p.Addr()
	if a.Zone() != "" {
		return fmt.Errorf("prefix %s has a zone; zones are not matched", p)
	}
	if a.Is4In6() && p.Bits() >= 96 {
		// Sources are unmapped before matching, so this prefix would
		// silently never match; say how to write what was meant.
		v4 := netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		return fmt.Errorf("prefix %s is IPv4-mapped; write it as %s", p, v4)
	}
	if m := p.Masked(); m != p {
		return fmt.Errorf("prefix %s has host bits set (did you mean %s?)", p, m)
	}
	return nil
}

// String formats r in the one-line rule syntax, fields in canonical order,
// omitting those that match anything. ParseRule(r.String()) == r for every
// valid rule.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Action.String())
	if r.From.IsValid() {
		b.WriteString(" from ")
		b.WriteString(r.From.String())
	}
	if !r.SPort.IsAny() {
		b.WriteString(" sport ")
		b.WriteString(r.SPort.String())
	}
	if !r.Port.IsAny() {
		b.WriteString(" port ")
		b.WriteString(r.Port.String())
	}
	if r.Link != LinkAny {
		b.WriteString(" link ")
		b.WriteString(r.Link.String())
	}
	return b.String()
}

// MarshalText encodes r in the one-line rule syntax.
func (r Rule) MarshalText() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("acl: %w", err)
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses the one-line rule syntax.
func (r *Rule) UnmarshalText(b []byte) error {
	v, err := ParseRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRule parses one rule:
//
//	ACTION [from PREFIX|ADDR|any] [sport PORTS|any] [port PORTS|any] [link native|udp|any]
//
// Fields after the action may come in any order, each at most once.
func ParseRule(s string) (Rule, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Rule{}, errors.New("empty rule")
	}
	var r Rule
	var err error
	if r.Action, err = ParseAction(f[0]); err != nil {
		return Rule{}, err
	}
	var seen [4]bool
	for i := 1; i < len(f); i += 2 {
		kw := asciiLower(f[i])
		k := -1
		switch kw {
		case "from":
			k = 0
		case "sport":
			k = 1
		case "port", "dport":
			k = 2
		case "link":
			k = 3
		default:
			return Rule{}, fmt.Errorf("unknown field %q (want from, sport, port or link)", f[i])
		}
		if seen[k] {
			return Rule{}, fmt.Errorf("%s given twice", kw)
		}
		seen[k] = true
		if i+1 >= len(f) {
			return Rule{}, fmt.Errorf("%s needs a value", kw)
		}
		v := f[i+1]
		switch k {
		case 0:
			r.From, err = parseFrom(v)
		case 1:
			r.SPort, err = ParsePortRange(v)
			if err != nil {
				err = fmt.Errorf("sport: %w", err)
			}
		case 2:
			r.Port, err = ParsePortRange(v)
			if err != nil {
				err = fmt.Errorf("port: %w", err)
			}
		case 3:
			r.Link, err = ParseLinkKind(v)
		}
		if err != nil {
			return Rule{}, err
		}
	}
	return r, nil
}

// parseFrom accepts a prefix, a bare address (a host prefix) or "any".
func parseFrom(s string) (netip.Prefix, error) {
	if asciiLower(s) == "any" {
		return netip.Prefix{}, nil
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("bad prefix %q", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad address %q", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %s has a zone; zones are not matched", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p, checkPrefix(p)
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
