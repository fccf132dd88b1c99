package acl

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
)

// Limits on a policy's shape. MaxRules keeps the compiled matcher, whose
// worst case grows with the square of the rule count, in tens of megabytes.
const (
	MaxRules      = 10000
	MaxSourcesCap = 1 << 20 // 40 MiB of buckets
	// DefaultMaxSources is how many per-source buckets a route tracks when
	// the config does not say: 40 bytes each, so under a megabyte.
	DefaultMaxSources = 16384
	// DefaultPrefixV4 and DefaultPrefixV6 group sources: one IPv4 host, and
	// one IPv6 /64 (a single host commonly owns a whole /64, so a smaller
	// group would let it dodge the limits by rotating addresses).
	DefaultPrefixV4 = 32
	DefaultPrefixV6 = 64
)

// Request is what the gateway knows about an association attempt before it
// creates any state for it.
type Request struct {
	Src     netip.AddrPort // ingress peer address and source port
	DstPort uint16         // served SCTP port the peer connects to
	Link    LinkKind       // link the attempt arrived on
}

// Config is a route's policy before compilation. It mirrors the YAML block
// (see the package doc) and decodes from it through UnmarshalYAML.
type Config struct {
	// Default applies when no rule matches. Zero means Deny: a policy that
	// lists rules but forgets its default fails closed.
	Default Action
	Rules   []Rule
	// PerSource limits association attempts per source group (nil: none).
	// Its prefixes also group sources for MaxPairsPerSource.
	PerSource *SourceRate
	// Total limits association attempts on the route (nil: none).
	Total *Rate
	// MaxPairs caps concurrent pairs on the route; 0: no cap.
	MaxPairs int
	// MaxPairsPerSource caps concurrent pairs per source group; 0: no cap.
	MaxPairsPerSource int
	// OnLimit is the verdict when a rate or pair limit refuses an attempt
	// a rule allowed: Deny (zero value, an ABORT that tells the client why)
	// or Drop (silence).
	OnLimit Action

	line      int   // YAML line of the block, 0 if not from YAML
	ruleLines []int // YAML line of each rule, when decoded from YAML
}

// Rate is a token bucket: PerSecond tokens refill each second, up to Burst.
type Rate struct {
	PerSecond float64
	Burst     int // 0: PerSecond rounded up, at least 1
}

// SourceRate is a per-source-group token bucket.
type SourceRate struct {
	Rate
	PrefixV4   int // source group for IPv4, 1-32; 0: DefaultPrefixV4
	PrefixV6   int // source group for IPv6, 1-128; 0: DefaultPrefixV6
	MaxSources int // buckets tracked at once; 0: DefaultMaxSources
}

func (r Rate) burst() float64 {
	if r.Burst > 0 {
		return float64(r.Burst)
	}
	return max(1, math.Ceil(r.PerSecond))
}

func (r Rate) check() error {
	if !(r.PerSecond > 0) || math.IsInf(r.PerSecond, 0) {
		return fmt.Errorf("rate %v must be a positive number per second (to refuse everyone, use a deny rule)", r.PerSecond)
	}
	if r.Burst < 0 {
		return fmt.Errorf("burst %d must not be negative", r.Burst)
	}
	return nil
}

// String formats r in the YAML form, e.g. "50/s".
func (r Rate) String() string {
	return strconv.FormatFloat(r.PerSecond, 'g', -1, 64) + "/s"
}

// ParseRate parses "N/s", "N/min" (or "N/m"), "N/h" or a bare N (per
// second); N may have a fraction.
func ParseRate(s string) (float64, error) {
	num, unit, _ := cutLast(s, '/')
	var per float64
	switch asciiLower(unit) {
	case "", "s", "sec", "second":
		per = 1
	case "m", "min", "minute":
		per = 60
	case "h", "hour":
		per = 3600
	default:
		return 0, fmt.Errorf("rate %q: unknown unit %q (want /s, /min or /h)", s, unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("rate %q: want a positive number per /s, /min or /h", s)
	}
	return v / per, nil
}

func cutLast(s string, c byte) (before, after string, found bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Limit names the limit that refused an attempt a rule allowed. Its String
// is the YAML key, ready to be a metric label.
type Limit uint8

const (
	LimitNone Limit = iota
	LimitPerSourceRate
	LimitTotalRate
	LimitMaxPairs
	LimitMaxPairsPerSource
)

var limitNames = [...]string{"none", "per_source_rate", "total_rate", "max_pairs", "max_pairs_per_source"}

func (l Limit) String() string {
	if int(l) < len(limitNames) {
		return limitNames[l]
	}
	return "invalid(" + strconv.Itoa(int(l)) + ")"
}

// Decision says what to do with an attempt and why.
type Decision struct {
	Verdict Action
	// Rule is the index in the rule list of the rule that matched, -1 when
	// the default applied (or there is no policy). When a limit refused an
	// attempt, Rule is still the rule that allowed it.
	Rule int
	// RuleText is that rule in canonical syntax, or "default allow|deny|drop".
	RuleText string
	// Limit is the limit that refused the attempt, LimitNone if none did.
	Limit Limit
	// Source is the source group a per-source limit applied to.
	Source netip.Prefix

	reason string // preformatted, except for per-source limits
	cap    int32  // MaxPairsPerSource, for the per-source pair reason
}

// Allowed reports whether the verdict is Allow.
func (d Decision) Allowed() bool { return d.Verdict == Allow }

// Reason explains the decision in one line, ready to be the reason of a
// User-Initiated Abort cause and a log message, e.g.
//
//	sctpgw: refused by policy (rule 3: deny from 198.18.0.0/16)
//	sctpgw: refused by policy (rate limit per source 198.18.1.0/24)
//
// Rules are numbered from 1 as they appear in the list (Rule+1). It
// allocates only for per-source limits; AppendReason never does.
func (d Decision) Reason() string {
	if d.reason != "" {
		return d.reason
	}
	return string(d.AppendReason(nil))
}

// AppendReason appends Reason to b.
func (d Decision) AppendReason(b []byte) []byte {
	if d.reason != "" {
		return append(b, d.reason...)
	}
	switch d.Limit {
	case LimitPerSourceRate:
		b = append(b, "sctpgw: refused by policy (rate limit per source "...)
		b = d.Source.AppendTo(b)
	case LimitMaxPairsPerSource:
		b = append(b, "sctpgw: refused by policy (max pairs per source "...)
		b = d.Source.AppendTo(b)
		b = append(b, ": "...)
		b = strconv.AppendInt(b, int64(d.cap), 10)
	default:
		return append(b, "sctpgw: no decision"...)
	}
	return append(b, ')')
}

// Policy is a compiled route policy. Evaluate is lock-free on immutable
// data; Decide and Acquire add rate and pair accounting whose locks are
// sharded per source. All methods are safe for concurrent use, and all
// methods of a nil *Policy allow everything (a route without an acl block).
type Policy struct {
	def     Action
	onLimit Action
	rules   []Rule
	lines   []int
	m       *matcher

	// Preformatted decisions, so deciding never formats or allocates.
	ruleDec, limitDec []Decision // per rule: as matched, and as refused by a limit
	defDec            Decision
	totalRateReason   string
	maxPairsReason    string

	v4Bits, v6Bits int
	src            *sourceTable // nil: no per-source rate
	total          *totalBucket // nil: no total rate
	pairs          pairCounter

	// epoch is the first time the policy was asked; bucket times are
	// durations since it, which keeps the monotonic reading of time.Now
	// (UnixNano would drop it and follow wall-clock steps).
	epoch atomic.Pointer[time.Time]

	hits     []atomic.Uint64
	defHits  atomic.Uint64
	limited  [len(limitNames)]atomic.Uint64
	warnings []string
	limits   []LimitInfo
}

// Compile checks c and builds its Policy. Errors name the rule (numbered
// from 1) and, for a config decoded from YAML, its line.
func Compile(c Config) (*Policy, error) {
	p := &Policy{def: c.Default, onLimit: c.OnLimit, v4Bits: DefaultPrefixV4, v6Bits: DefaultPrefixV6}
	if p.def == 0 {
		p.def = Deny
	}
	if p.onLimit == 0 {
		p.onLimit = Deny
	}
	fail := func(line int, format string, args ...any) error {
		return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	block := c.line
	if !p.def.Valid() {
		return nil, fail(block, "acl: default: invalid action %d", uint8(c.Default))
	}
	if p.onLimit != Deny && p.onLimit != Drop {
		return nil, fail(block, "acl: on_limit: %v (want deny or drop)", p.onLimit)
	}
	if len(c.Rules) > MaxRules {
		return nil, fail(block, "acl: %d rules, more than %d", len(c.Rules), MaxRules)
	}
	p.rules = append([]Rule(nil), c.Rules...)
	p.lines = make([]int, len(c.Rules))
	copy(p.lines, c.ruleLines)
	for i := range p.rules {
		if err := p.rules[i].Validate(); err != nil {
			return nil, fail(p.lines[i], "rule %d %q: %v", i+1, p.rules[i].String(), err)
		}
	}
	if c.MaxPairs < 0 || c.MaxPairsPerSource < 0 || c.MaxPairsPerSource > math.MaxInt32 {
		return nil, fail(block, "acl: max_pairs and max_pairs_per_source must be 0 (no cap) or positive")
	}
	seed := rand.Uint64()
	if s := c.PerSource; s != nil {
		if err := s.check(); err != nil {
			return nil, fail(block, "acl: rate.per_source: %v", err)
		}
		if s.PrefixV4 < 0 || s.PrefixV4 > 32 || s.PrefixV6 < 0 || s.PrefixV6 > 128 {
			return nil, fail(block, "acl: rate.per_source: prefix_v4 must be 1-32 and prefix_v6 1-128")
		}
		if s.MaxSources < 0 || s.MaxSources > MaxSourcesCap {
			return nil, fail(block, "acl: rate.per_source: max_sources must be 1-%d", MaxSourcesCap)
		}
		if s.PrefixV4 > 0 {
			p.v4Bits = s.PrefixV4
		}
		if s.PrefixV6 > 0 {
			p.v6Bits = s.PrefixV6
		}
		size := s.MaxSources
		if size == 0 {
			size = DefaultMaxSources
		}
		p.src = newSourceTable(size, s.PerSecond/1e9, s.burst(), seed)
	}
	if t := c.Total; t != nil {
		if err := t.check(); err != nil {
			return nil, fail(block, "acl: rate.total: %v", err)
		}
		p.total = &totalBucket{perNs: t.PerSecond / 1e9, burst: t.burst()}
	}
	p.pairs.max = int64(c.MaxPairs)
	p.pairs.perSource = int32(c.MaxPairsPerSource)
	p.pairs.seed = seed

	p.m = compileMatcher(p.rules)
	p.hits = make([]atomic.Uint64, len(p.rules))
	p.ruleDec = make([]Decision, len(p.rules))
	p.limitDec = make([]Decision, len(p.rules))
	for i, r := range p.rules {
		text := r.String()
		what := " (rule " + strconv.Itoa(i+1) + ": " + text + ")"
		d := Decision{Verdict: r.Action, Rule: i, RuleText: text, reason: "sctpgw: " + verb(r.Action) + " by policy" + what}
		p.ruleDec[i] = d
		d.Verdict, d.reason = p.onLimit, ""
		p.limitDec[i] = d
	}
	text := "default " + p.def.String()
	p.defDec = Decision{Verdict: p.def, Rule: -1, RuleText: text, reason: "sctpgw: " + verb(p.def) + " by policy (" + text + ")"}
	p.totalRateReason = "sctpgw: refused by policy (rate limit total)"
	p.maxPairsReason = "sctpgw: refused by policy (max pairs " + strconv.Itoa(c.MaxPairs) + ")"
	p.warnings = shadowWarnings(p.rules, p.lines)
	p.limits = limitInfos(&c, p.v4Bits, p.v6Bits)
	return p, nil
}

// LimitInfo is a limit a policy sets, described for people.
type LimitInfo struct {
	Limit Limit
	Text  string // e.g. "rate 50/s burst 100 per source (/32 IPv4, /64 IPv6)"
}

// Limits lists the limits the policy sets, in the order Decide and Acquire
// apply them.
func (p *Policy) Limits() []LimitInfo {
	if p == nil {
		return nil
	}
	return append([]LimitInfo(nil), p.limits...)
}

func limitInfos(c *Config, v4, v6 int) []LimitInfo {
	var l []LimitInfo
	group := " per source (/" + strconv.Itoa(v4) + " IPv4, /" + strconv.Itoa(v6) + " IPv6)"
	bucket := func(r Rate) string {
		return "rate " + humanRate(r.PerSecond) + " burst " + strconv.FormatFloat(r.burst(), 'f', -1, 64)
	}
	if c.PerSource != nil {
		l = append(l, LimitInfo{LimitPerSourceRate, bucket(c.PerSource.Rate) + group})
	}
	if c.Total != nil {
		l = append(l, LimitInfo{LimitTotalRate, bucket(*c.Total)})
	}
	if c.MaxPairs > 0 {
		l = append(l, LimitInfo{LimitMaxPairs, strconv.Itoa(c.MaxPairs)})
	}
	if c.MaxPairsPerSource > 0 {
		l = append(l, LimitInfo{LimitMaxPairsPerSource, strconv.Itoa(c.MaxPairsPerSource) + group})
	}
	return l
}

// humanRate writes a rate in the unit that makes it a whole number, as it
// was most likely written (1/h rather than 0.000277.../s).
func humanRate(perSecond float64) string {
	for _, u := range []struct {
		name string
		secs float64
	}{{"/s", 1}, {"/min", 60}, {"/h", 3600}} {
		v := perSecond * u.secs
		if r := math.Round(v); r >= 1 && math.Abs(v-r) <= 1e-9*r {
			return strconv.FormatFloat(r, 'f', -1, 64) + u.name
		}
	}
	return strconv.FormatFloat(perSecond, 'g', -1, 64) + "/s"
}

func verb(a Action) string {
	if a == Allow {
		return "allowed"
	}
	return "refused"
}

var noPolicy = Decision{Verdict: Allow, Rule: -1, RuleText: "no policy", reason: "sctpgw: allowed (no policy)"}

// Evaluate applies the rules alone: no rate or pair accounting, no
// counters, no state. It suits an early look at an INIT (which must cost
// nothing) and tools that show which rule a peer hits.
func (p *Policy) Evaluate(req Request) Decision {
	if p == nil {
		return noPolicy
	}
	if i := p.m.first(&req); i >= 0 {
		return p.ruleDec[i]
	}
	return p.defDec
}

// Screen is Evaluate for a gate that sees each attempt before Decide or
// Acquire does, such as the gateway's INIT filter: it counts an attempt it
// refuses against the rule (or the default) that refused it, so Stats shows
// refusals that never reach Decide. An attempt it allows is not counted
// here but by the Decide or Acquire that follows, so each attempt counts
// once. Like Evaluate it spends no budget, takes no lock and allocates
// nothing. (A refused INIT may be spoofed: these counts say what arrived,
// not who sent it.)
func (p *Policy) Screen(req Request) Decision {
	if p == nil {
		return noPolicy
	}
	if i := p.m.first(&req); i >= 0 {
		if p.rules[i].Action != Allow {
			p.hits[i].Add(1)
		}
		return p.ruleDec[i]
	}
	if p.def != Allow {
		p.defHits.Add(1)
	}
	return p.defDec
}

// Decide applies the rules and, when they allow, the rate limits: an
// allowed attempt costs a token from its source's bucket and from the total
// bucket. now is the caller's clock. Pair caps are not checked; use Acquire
// for an attempt that will hold a pair.
func (p *Policy) Decide(req Request, now time.Time) Decision {
	d, _ := p.decide(&req, now, false)
	return d
}

// Acquire is Decide plus the pair caps. When the decision allows, the
// returned Slot holds a pair place until its Release; otherwise the Slot is
// empty and Release is a no-op. The gateway calls it on a valid COOKIE
// ECHO, before dialling egress, and releases when the pair ends.
func (p *Policy) Acquire(req Request, now time.Time) (Slot, Decision) {
	d, s := p.decide(&req, now, true)
	return s, d
}

// clock turns the caller's time into nanoseconds since the epoch.
func (p *Policy) clock(now time.Time) int64 {
	e := p.epoch.Load()
	if e == nil {
		first := new(time.Time) // only here, so now itself stays on the stack
		*first = now
		p.epoch.CompareAndSwap(nil, first)
		e = p.epoch.Load()
	}
	return int64(now.Sub(*e))
}

func (p *Policy) decide(req *Request, now time.Time, pairs bool) (Decision, Slot) {
	if p == nil {
		return noPolicy, Slot{}
	}
	i := p.m.first(req)
	if i < 0 {
		p.defHits.Add(1)
		if p.def != Allow {
			return p.defDec, Slot{}
		}
	} else {
		p.hits[i].Add(1)
		if p.rules[i].Action != Allow {
			return p.ruleDec[i], Slot{}
		}
	}
	perSource := pairs && p.pairs.perSource > 0
	var key srcKey
	if p.src != nil || perSource {
		key = p.sourceKey(req.Src.Addr())
	}
	var ns int64
	if p.src != nil || p.total != nil {
		ns = p.clock(now)
	}
	if p.src != nil && !p.src.take(key, ns) {
		return p.refuse(i, LimitPerSourceRate, key), Slot{}
	}
	if p.total != nil && !p.total.take(ns) {
		return p.refuse(i, LimitTotalRate, key), Slot{}
	}
	var s Slot
	if pairs {
		if !p.pairs.acquireTotal() {
			return p.refuse(i, LimitMaxPairs, key), Slot{}
		}
		if perSource && !p.pairs.acquireSource(key) {
			p.pairs.total.Add(-1)
			return p.refuse(i, LimitMaxPairsPerSource, key), Slot{}
		}
		s = Slot{p: p, key: key, perSource: perSource}
	}
	if i < 0 {
		return p.defDec, s
	}
	return p.ruleDec[i], s
}

func (p *Policy) refuse(rule int, l Limit, key srcKey) Decision {
	p.limited[l].Add(1)
	var d Decision
	if rule >= 0 {
		d = p.limitDec[rule]
	} else {
		d = Decision{Verdict: p.onLimit, Rule: -1, RuleText: p.defDec.RuleText}
	}
	d.Limit = l
	switch l {
	case LimitPerSourceRate, LimitMaxPairsPerSource:
		d.Source = key.prefix()
		d.cap = p.pairs.perSource
	case LimitTotalRate:
		d.reason = p.totalRateReason
	case LimitMaxPairs:
		d.reason = p.maxPairsReason
	}
	return d
}

// sourceKey masks a source to its group. Invalid sources share one key,
// which no valid source has (IPv4 groups are at least /1).
func (p *Policy) sourceKey(a netip.Addr) srcKey {
	a = a.Unmap()
	switch {
	case a.Is4():
		b := a.As4()
		v := binary.BigEndian.Uint32(b[:])
		v &^= uint32(uint64(1)<<(32-p.v4Bits) - 1)
		return srcKey{lo: uint64(v), bits: uint8(p.v4Bits), ok: true}
	case a.Is6():
		x := u128From(a)
		n := 128 - p.v6Bits
		if n >= 64 {
			x.lo = 0
			if n > 64 {
				x.hi &^= ^uint64(0) >> (128 - n)
			}
		} else if n > 0 {
			x.lo &^= ^uint64(0) >> (64 - n)
		}
		return srcKey{hi: x.hi, lo: x.lo, bits: uint8(p.v6Bits), v6: true, ok: true}
	}
	return srcKey{ok: true}
}

// Slot is a pair place taken by Acquire. Release it exactly once, when the
// pair ends; Release through the same variable twice is harmless, but
// releasing two copies of a Slot frees two places.
type Slot struct {
	p         *Policy
	key       srcKey
	perSource bool
}

// Held reports whether s holds a pair place.
func (s *Slot) Held() bool { return s.p != nil }

// Release gives the pair place back.
func (s *Slot) Release() {
	if s.p == nil {
		return
	}
	s.p.pairs.total.Add(-1)
	if s.perSource {
		s.p.pairs.releaseSource(s.key)
	}
	*s = Slot{}
}

// Default is the action for attempts no rule matches.
func (p *Policy) Default() Action {
	if p == nil {
		return Allow
	}
	return p.def
}

// Rules returns a copy of the rule list.
func (p *Policy) Rules() []Rule {
	if p == nil {
		return nil
	}
	return append([]Rule(nil), p.rules...)
}

// Warnings lists what compiled but is likely a mistake: rules that can
// never match because an earlier rule matches all they would.
func (p *Policy) Warnings() []string {
	if p == nil {
		return nil
	}
	return append([]string(nil), p.warnings...)
}

// Stats are the policy's counters since it was compiled, in the manner of
// iptables -L -v: what matched, what the limits refused, what is held.
type Stats struct {
	RuleHits    []uint64 // per rule, by index: attempts the rule matched
	DefaultHits uint64   // attempts no rule matched

	// Attempts a rule (or the default) allowed and a limit refused.
	PerSourceRate     uint64
	TotalRate         uint64
	MaxPairs          uint64
	MaxPairsPerSource uint64

	Pairs           int64  // pair places held now
	Sources         int    // source buckets tracked now
	SourceEvictions uint64 // buckets forgotten before they were full again
	MatcherBytes    int    // memory of the compiled rules
}

// Refused is the count of attempts limit l refused.
func (s *Stats) Refused(l Limit) uint64 {
	switch l {
	case LimitPerSourceRate:
		return s.PerSourceRate
	case LimitTotalRate:
		return s.TotalRate
	case LimitMaxPairs:
		return s.MaxPairs
	case LimitMaxPairsPerSource:
		return s.MaxPairsPerSource
	}
	return 0
}

// Stats reads the counters. Attempts are counted by Decide and Acquire,
// and refused ones by Screen; Evaluate counts nothing.
func (p *Policy) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	s := Stats{
		RuleHits:          make([]uint64, len(p.hits)),
		DefaultHits:       p.defHits.Load(),
		PerSourceRate:     p.limited[LimitPerSourceRate].Load(),
		TotalRate:         p.limited[LimitTotalRate].Load(),
		MaxPairs:          p.limited[LimitMaxPairs].Load(),
		MaxPairsPerSource: p.limited[LimitMaxPairsPerSource].Load(),
		Pairs:             p.pairs.total.Load(),
		MatcherBytes:      p.m.size(),
	}
	for i := range p.hits {
		s.RuleHits[i] = p.hits[i].Load()
	}
	if p.src != nil {
		s.Sources = p.src.tracked()
		s.SourceEvictions = p.src.evictions.Load()
	}
	return s
}

// shadowWarnings finds each rule that an earlier rule covers in every
// field. (A rule covered only by the union of several earlier rules is not
// reported: that search is costlier and rarely what went wrong.)
func shadowWarnings(rules []Rule, lines []int) []string {
	var w []string
	name := func(i int) string {
		s := "rule " + strconv.Itoa(i+1)
		if lines[i] > 0 {
			s += " (line " + strconv.Itoa(lines[i]) + ")"
		}
		return s
	}
	for j := range rules {
		for i := 0; i < j; i++ {
			if covers(&rules[i], &rules[j]) {
				w = append(w, fmt.Sprintf("%s %q is never reached: %s %q matches everything it does",
					name(j), rules[j].String(), name(i), rules[i].String()))
				break
			}
		}
	}
	return w
}

func covers(a, b *Rule) bool {
	if a.From.IsValid() {
		if !b.From.IsValid() || a.From.Bits() > b.From.Bits() || !a.From.Contains(b.From.Addr()) {
			return false
		}
	}
	alo, ahi := a.SPort.bounds()
	blo, bhi := b.SPort.bounds()
	if alo > blo || ahi < bhi {
		return false
	}
	alo, ahi = a.Port.bounds()
	blo, bhi = b.Port.bounds()
	if alo > blo || ahi < bhi {
		return false
	}
	return a.Link.covers(b.Link)
}
