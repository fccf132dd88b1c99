package gateway

import (
	"fmt"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
)

// ACLStatus is a route's policy counters, in the manner of iptables -L -v:
// each rule with the attempts it matched, each limit with the attempts it
// refused.
type ACLStatus struct {
	Route       string        `json:"route"`
	Default     string        `json:"default"`
	DefaultHits uint64        `json:"default_hits"`
	Rules       []RuleStatus  `json:"rules"`
	Limits      []LimitStatus `json:"limits"`
	// Pairs held under the policy's pair caps, and per-source buckets.
	Pairs           int64    `json:"pairs"`
	Sources         int      `json:"sources"`
	SourceEvictions uint64   `json:"source_evictions"`
	Warnings        []string `json:"warnings,omitempty"`
}

// RuleStatus is one rule. Hits count refused INITs for deny and drop rules
// and valid COOKIE ECHOs for allow rules: each attempt once.
type RuleStatus struct {
	Rule string `json:"rule"`
	Hits uint64 `json:"hits"`
}

// LimitStatus is one configured limit: its acl key, its setting and the
// attempts it refused.
type LimitStatus struct {
	Limit   string `json:"limit"`
	Setting string `json:"setting"`
	Refused uint64 `json:"refused"`
}

func aclStatus(r *route) ACLStatus {
	p := r.Policy
	st := p.Stats()
	a := ACLStatus{Route: r.Name, Default: p.Default().String(), DefaultHits: st.DefaultHits,
		Pairs: st.Pairs, Sources: st.Sources, SourceEvictions: st.SourceEvictions, Warnings: p.Warnings()}
	for i, rule := range p.Rules() {
		a.Rules = append(a.Rules, RuleStatus{Rule: rule.String(), Hits: st.RuleHits[i]})
	}
	for _, l := range p.Limits() {
		a.Limits = append(a.Limits, LimitStatus{Limit: l.Limit.String(), Setting: l.Text, Refused: st.Refused(l.Limit)})
	}
	return a
}

// ACL reports the policy counters of each route that has a policy.
func (c *core) ACL() []ACLStatus {
	var s []ACLStatus
	for _, rs := range c.routes {
		if rs.r.Policy != nil {
			s = append(s, aclStatus(rs.r))
		}
	}
	return s
}

// SideStatus is one association of a pair, as /proc/net/sctp/assocs shows
// associations.
type SideStatus struct {
	State      string        `json:"state"`
	Link       string        `json:"link"`
	LocalAddr  string        `json:"local_addr"`
	LocalPort  uint16        `json:"local_port"`
	RemoteAddr string        `json:"remote_addr"`
	RemotePort uint16        `json:"remote_port"`
	EncapPort  uint16        `json:"encap_port,omitempty"`
	LocalTag   uint32        `json:"local_tag"`
	PeerTag    uint32        `json:"peer_tag"`
	InStreams  uint16        `json:"in_streams"`
	OutStreams uint16        `json:"out_streams"`
	Rwnd       uint32        `json:"rwnd"`
	PeerRwnd   uint32        `json:"peer_rwnd"`
	Cwnd       int           `json:"cwnd"`
	SRTT       time.Duration `json:"srtt_ns"`
	RTO        time.Duration `json:"rto_ns"`
	Queued     int           `json:"queued"`
	Unacked    int           `json:"unacked"`
	// Paths are every destination of the peer's (a multi-homed peer has
	// several; a tunnel leg one), the primary among them.
	Paths []PathInfo `json:"paths"`
}

// PathInfo is one destination of a side's peer, as sctp_paddrinfo shows it.
type PathInfo struct {
	LocalAddr  string        `json:"local_addr,omitempty"`
	RemoteAddr string        `json:"remote_addr"`
	State      string        `json:"state"` // active, potentially-failed, inactive, unconfirmed
	Primary    bool          `json:"primary,omitempty"`
	SRTT       time.Duration `json:"srtt_ns"`
	RTO        time.Duration `json:"rto_ns"`
	Cwnd       int           `json:"cwnd"`
	Errors     int           `json:"errors"`
}

// PairStatus is one pair with traffic figures each way.
type PairStatus struct {
	Route    string     `json:"route"`
	Ingress  SideStatus `json:"ingress"`
	Egress   SideStatus `json:"egress"`
	MsgsIn   uint64     `json:"msgs_in_to_out"`
	MsgsOut  uint64     `json:"msgs_out_to_in"`
	BytesIn  uint64     `json:"bytes_in_to_out"`
	BytesOut uint64     `json:"bytes_out_to_in"`
	Since    time.Time  `json:"since"`
}

func (p *pair) status() PairStatus {
	ps := PairStatus{Route: p.r.Name, MsgsIn: p.msgs[dirIn], MsgsOut: p.msgs[dirOut],
		BytesIn: p.bytes[dirIn], BytesOut: p.bytes[dirOut], Since: p.opened}
	if !p.accepted {
		ps.Since = p.created // still dialling: since the COOKIE ECHO
	}
	ps.Ingress = sideStatus(p.c.h, p.side[dirIn].a)
	ps.Egress = sideStatus(p.c.h, p.side[dirOut].a)
	return ps
}

func sideStatus(h *engine.Host, a *engine.Association) SideStatus {
	if a == nil {
		return SideStatus{State: "NONE"}
	}
	st := a.Status()
	pp := st.Primary.Path
	return SideStatus{
		State: st.State.String(), Link: h.LinkKind(st.Primary.Link).String(),
		LocalAddr: addrString(pp.Local), LocalPort: st.LocalPort,
		RemoteAddr: addrString(pp.Remote), RemotePort: st.RemotePort, EncapPort: pp.RemotePort,
		LocalTag: st.LocalTag, PeerTag: st.PeerTag,
		InStreams: st.InStreams, OutStreams: st.OutStreams,
		Rwnd: st.Rwnd, PeerRwnd: st.PeerRwnd, Cwnd: st.Primary.Cwnd,
		SRTT: st.Primary.SRTT, RTO: st.Primary.RTO,
		Queued: st.Pending, Unacked: st.Unacked,
		Paths: pathInfos(st.Paths),
	}
}

func pathInfos(ps []engine.PathStatus) []PathInfo {
	out := make([]PathInfo, len(ps))
	for i, p := range ps {
		out[i] = PathInfo{LocalAddr: addrString(p.Path.Local), RemoteAddr: addrString(p.Path.Remote),
			State: p.State.String(), Primary: p.Primary, SRTT: p.SRTT, RTO: p.RTO, Cwnd: p.Cwnd, Errors: p.Errors}
	}
	return out
}

func addrString(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// DiscardStatus is what the engine dropped of the input it could not trust,
// and what it cut from replies a peer provoked, so that they fit one packet
// (issue 12). Each kind is logged at most once per second as well.
type DiscardStatus struct {
	ChecksumErrors uint64 `json:"checksum_errors"`
	Malformed      uint64 `json:"malformed_packets"`
	PartialChunks  uint64 `json:"partial_chunks"`
	BundledInit    uint64 `json:"bundled_init"`
	BadTag         uint64 `json:"bad_tag"`
	OutOfTheBlue   uint64 `json:"out_of_the_blue"`
	ReplyItemsCut  uint64 `json:"reply_items_cut"`
	// SCTP-AUTH: packets without the authentication they need, with an
	// AUTH chunk that did not verify, and COOKIE ECHOs replayed.
	Unauthenticated uint64 `json:"unauthenticated"`
	BadAuth         uint64 `json:"bad_auth"`
	ReplayedCookie  uint64 `json:"replayed_cookie"`
}

func discardStatus(st engine.Stats) DiscardStatus {
	return DiscardStatus{
		ChecksumErrors: st.ChecksumErrors, Malformed: st.MalformedPackets, PartialChunks: st.PartialChunks,
		BundledInit: st.DiscardedBundledInit, BadTag: st.DiscardedBadTag, OutOfTheBlue: st.OutOfBlues,
		ReplyItemsCut: st.ReportItemsCut, Unauthenticated: st.DiscardedUnauthenticated,
		BadAuth: st.DiscardedBadAuth, ReplayedCookie: st.DiscardedReplayedCookie,
	}
}

// String is the status line for people.
func (d DiscardStatus) String() string {
	return fmt.Sprintf("discarded: bad checksum %d, malformed %d, partial chunk %d, bundled INIT %d, wrong tag %d, out of the blue %d, unauthenticated %d, bad AUTH %d, replayed COOKIE ECHO %d; reply items cut %d\n",
		d.ChecksumErrors, d.Malformed, d.PartialChunks, d.BundledInit, d.BadTag, d.OutOfTheBlue,
		d.Unauthenticated, d.BadAuth, d.ReplayedCookie, d.ReplyItemsCut)
}
