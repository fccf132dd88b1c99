// Package acl decides whether a route admits an SCTP association attempt:
// allow and deny rules, rate limits on attempts, and caps on concurrent
// pairs. It is consulted on the ingress side before the gateway creates any
// state for the association.
//
// It does no I/O, reads no clock (every call that needs time takes the
// caller's now) and holds no global state. A compiled Policy is safe for
// concurrent use by any number of goroutines.
//
// # Where the gateway asks
//
// The gateway calls Policy.Acquire when a valid COOKIE ECHO arrives (RFC
// 9260 5.1, docs/design.md 2.1): the peer has then proved it owns its
// address, so a spoofed INIT can neither spend a peer's rate budget nor be
// counted. An allowed attempt gets a Slot, held while the pair lives and
// released when it ends. Policy.Evaluate applies the rules alone, spends
// nothing and allocates nothing, so it can also be asked about a bare INIT
// to drop refused sources before any INIT ACK is sent; Policy.Screen, which
// the gateway's INIT filter uses, is the same look plus a count of what it
// refuses, so Policy.Stats shows every refusal whichever gate made it.
//
// # Rules
//
// A rule is one line:
//
//	ACTION [from PREFIX] [sport PORTS] [port PORTS] [link native|udp|dtls|encap]
//
//	allow from 198.18.0.0/15 sport 1024-65535 port 36412 link native
//	deny from 2001:db8::/32
//	drop from 0.0.0.0/0 link udp
//	allow from 203.0.113.0/24 link dtls
//
// ACTION is allow, deny or drop. The fields after it come in any order, at
// most once each; a field left out (or given as "any") matches anything.
//
//   - from: the ingress peer's source address, as a prefix (198.18.0.0/15,
//     2001:db8::/32) or a single address (a /32 or /128). A prefix with host
//     bits set (10.1.2.3/8) is an error, not silently masked: it is usually
//     a typo for something else. 0.0.0.0/0 matches every IPv4 source and
//     ::/0 every IPv6 one; leave from out to match both. A source in
//     IPv4-mapped IPv6 form (::ffff:198.18.0.1, as a dual-stack socket
//     reports it) is matched as the IPv4 address, so IPv4-mapped prefixes
//     are refused with the IPv4 spelling to use instead.
//   - sport: the peer's source port, N or LO-HI.
//   - port: the served SCTP port, i.e. the destination port the peer
//     connects to, which selects the route (dport is accepted too).
//     Port 0 is not a valid SCTP port and is refused in both.
//   - link: native (SCTP over IP), udp (plain RFC 6951 encapsulation),
//     dtls (the encrypted tunnel, RFC 8261: a dtls:// side), or encap
//     (alias encapsulated: udp or dtls). "drop link udp" with "allow link
//     dtls" admits tunnels only when they are encrypted.
//
// Keywords are case-insensitive. Rule.String writes the canonical form:
// fields in the order above, defaults left out, and ParseRule of it gives
// back the same Rule.
//
// # Evaluation
//
// Rules are tried in order and the first that matches decides; when none
// matches, the route's default decides. How the verdicts reach the peer:
//
//   - allow: the attempt goes on to the limits below.
//   - deny: the gateway answers with an ABORT carrying a User-Initiated
//     Abort cause (RFC 9260 3.3.10.12) whose reason is Decision.Reason,
//     e.g. "sctpgw: refused by policy (rule 3: deny from 198.18.0.0/16)".
//     The peer's connect fails at once and says why.
//   - drop: no answer at all, for scanners and floods that deserve no
//     reply traffic.
//
// An allowed attempt then takes a token from its source's bucket, a token
// from the route's total bucket, a place under max_pairs and a place under
// max_pairs_per_source, in that order; the first that fails refuses it with
// the verdict on_limit (deny by default) and a reason naming the limit, e.g.
// "sctpgw: refused by policy (rate limit per source 198.18.1.0/24)". Denied
// and dropped attempts spend nothing, so a refused flood cannot use up the
// budget of the peers the rules admit; a source over its own rate spends
// nothing of the total, so one flooding source cannot starve the others.
//
// Decision.Rule is the index of the deciding rule (-1 for the default) and
// Decision.Limit the limit that refused, for the gateway to log and count;
// Policy.Stats keeps per-rule and per-limit counters as well. Reasons number
// rules from 1, as they appear in the list.
//
// # Defaults
//
// A route with no acl block has no Policy: a nil *Policy admits every
// attempt. A route with an acl block but no default denies what no rule
// allows (fail closed); the example configs always say default: explicitly.
//
// # YAML
//
// A route's acl block:
//
//	acl:
//	  default: deny            # allow, deny or drop; deny if left out
//	  rules:                   # first match wins
//	    - allow from 198.18.0.0/15 port 36412
//	    - {action: allow, from: "2001:db8::/32", port: 38412, link: udp}
//	    - drop from 0.0.0.0/0
//	  rate:                    # token buckets on association attempts
//	    per_source: {rate: 50/s, burst: 100, prefix_v4: 32, prefix_v6: 64, max_sources: 16384}
//	    total: {rate: 1000/s, burst: 2000}
//	  max_pairs: 10000         # concurrent pairs on the route; 0 or absent: no cap
//	  max_pairs_per_source: 100
//	  on_limit: deny           # verdict when a limit refuses: deny or drop
//
// A rule is written either as the one-line form or as a mapping with the
// keys action, from, sport, port and link; both give the same Rule. The
// one-line form is what Rule.String writes and what logs show, so it is the
// one to prefer; the mapping suits generated configs. A one-line rule that
// contains ": " (an address like fe80:: followed by a field) must be
// quoted, or YAML reads it as a mapping; the error says so.
//
// rate is N/s, N/min or N/h (a bare N is per second, N may have a
// fraction). burst defaults to the rate per second rounded up, at least 1.
// A source is its address masked to prefix_v4 (default /32) or prefix_v6
// (default /64, since one host commonly owns a whole /64 and could
// otherwise rotate through it); the same grouping counts pairs for
// max_pairs_per_source.
//
// Config.UnmarshalYAML decodes the block through yaml.Node
// (go.yaml.in/yaml/v3), so a route struct can hold a *Config field tagged
// yaml:"acl" (nil when the block is absent); Compile turns it into a
// Policy. LoadPolicy does both from a node, ParsePolicyYAML from text.
// Unknown keys, duplicate keys and bad values are errors, reported as
// *Error with the YAML line, e.g.
//
//	line 7: rule 2 "allow from 10.1.2.3/8": prefix 10.1.2.3/8 has host bits set (did you mean 10.0.0.0/8?)
//
// Policy.Warnings lists rules that can never match because an earlier rule
// matches everything they would, for the gateway to log at start.
//
// # Costs and bounds
//
// Rules compile into a bit-vector classifier (match.go): a decision
// against 1,000 rules is a few tens of nanoseconds and allocates nothing,
// whatever rule matches. A policy has at most MaxRules rules.
//
// Per-source buckets live in a fixed-size set-associative table of
// max_sources entries (40 bytes each): an INIT flood from any number of
// sources cannot grow it. A newcomer takes a free entry, else one whose
// bucket has refilled (forgetting it loses nothing), else the least
// recently used, which Stats counts as SourceEvictions: a sign that
// max_sources is too small for the sources actually seen. Pair counters
// keep an entry only while a source holds a pair.
//
// Buckets measure time as now minus the first now the policy saw, so the
// monotonic reading of time.Now is what counts and wall-clock steps do
// not refill or freeze them. An injected clock that steps backwards
// resynchronises each bucket at its next use, without refilling it.
//
// Counters and buckets belong to the Policy value: a reloaded config is a
// new Policy that starts with full buckets and no pairs, and Slots taken
// from the old one release into the old one.
package acl
