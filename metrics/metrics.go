// Package metrics exports a gateway's figures in the Prometheus format
// with github.com/prometheus/client_golang.
//
// Figures are read from gateway.Stats at scrape time: nothing is counted
// twice and the packet path pays nothing for metrics. Labels are routes,
// links, directions and reasons, never an association: the number of
// series stays fixed however many pairs come and go.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/portguard"
)

// Source is what a Collector reads; *gateway.Gateway is one.
type Source interface {
	Stats() gateway.Stats
}

// BuildInfo labels sctpgw_build_info.
type BuildInfo struct {
	Version, Revision, GoVersion string
}

// Handler serves /metrics: the gateway's figures, sctpgw_build_info, and
// the Go runtime's and the process's standard collectors.
func Handler(src Source, info BuildInfo) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src, info), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Collector turns one gateway.Stats per scrape into metrics.
type Collector struct {
	src  Source
	info BuildInfo
}

// NewCollector makes a collector of src's figures.
func NewCollector(src Source, info BuildInfo) *Collector { return &Collector{src: src, info: info} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("sctpgw_"+name, help, labels, nil)
}

// Directions of a pair's traffic, as label values.
const (
	inToOut = "ingress_to_egress"
	outToIn = "egress_to_ingress"
)

var (
	buildInfo = desc("build_info", "Build of the running sctpgw (always 1).", "version", "revision", "goversion")
	draining  = desc("draining", "1 while the gateway drains (SIGTERM): no new pairs.")

	pairsOpened   = desc("pairs_opened_total", "Pairs that came up: both associations established.", "route")
	pairsClosed   = desc("pairs_closed_total", "Pairs that came up and ended.", "route")
	pairsRefused  = desc("pairs_refused_total", "Attempts refused, by reason: rule (an ACL rule or the default), rate, pair_limit, egress_failed, draining.", "route", "reason")
	pairsActive   = desc("pairs_active", "Pairs alive, those still dialling the egress side included.", "route")
	pairSetup     = desc("pair_setup_seconds", "Time from a valid COOKIE ECHO to the egress side's COMM_UP (the client's COOKIE ACK).", "route")
	msgs          = desc("messages_forwarded_total", "Messages forwarded, by direction.", "route", "direction")
	bytes         = desc("bytes_forwarded_total", "User data bytes forwarded, by direction.", "route", "direction")
	abortedMsgs   = desc("aborted_messages_total", "Messages acknowledged to one peer and not delivered to the other because the pair was aborted (the ABORT told their sender).", "route")
	invalidStream = desc("invalid_stream_messages_total", "Messages answered with ERROR cause 1: the stream was not granted by the far peer.", "route")
	oversize      = desc("oversize_messages_total", "Messages larger than the far side's max_message: the pair was aborted toward their sender (both sides of a route share max_message, so this stays 0).", "route")
	restarts      = desc("peer_restarts_total", "Peer restarts that replaced a pair.", "route")

	aclRuleHits  = desc("acl_rule_hits_total", "Attempts each ACL rule decided (rule is its number, or default).", "route", "rule", "text")
	aclLimit     = desc("acl_limit_refusals_total", "Attempts each ACL limit refused.", "route", "limit")
	aclPairs     = desc("acl_pairs_held", "Pairs counted against the route's pair limits.", "route")
	aclSources   = desc("acl_sources_tracked", "Source groups with per-source state.", "route")
	aclEvictions = desc("acl_source_evictions_total", "Per-source states evicted at max_sources.", "route")

	authReceived  = desc("auth_received_packets_total", "SCTP-AUTH on the route's udp:// side: received packets authenticated, refused as unauthenticated (no AUTH chunk where one is needed, or a peer without SCTP-AUTH), refused for a bad MAC (wrong key, unknown key id, HMAC not offered).", "route", "result")
	authSigned    = desc("auth_signed_packets_total", "Packets sent with an AUTH chunk on the route's udp:// side.", "route")
	authKeyPkts   = desc("auth_key_packets_total", "Packets per SCTP-AUTH key: verified with it (in), signed with it (out), naming it with a wrong MAC (bad_mac).", "route", "key", "direction")
	authActiveKey = desc("auth_active_key", "The SCTP-AUTH key id the route signs with.", "route")
)

// linkCounter is one counter of gateway.LinkStatus.
type linkCounter struct {
	d   *prometheus.Desc
	get func(*gateway.LinkStatus) uint64
}

var (
	linkPackets = desc("link_packets_total", "Packets received (rx) and sent (tx) by the link.", "link", "direction")
	linkBytes   = desc("link_bytes_total", "SCTP bytes received and sent by the link (UDP link only).", "link", "direction")
	linkBatches = desc("link_batches_total", "System calls that moved packets (UDP link only).", "link", "direction")
	linkWaited  = desc("link_packet_wait_seconds", "Time from the kernel's receipt of a packet to the SCTP stack taking it in: queued in the socket, the reader's wake-up and its wait for a CPU, the stack's lock. A gateway short of CPU shows here (not counted on the DTLS link).", "link")
	linkHandled = desc("link_batch_handling_seconds", "Time the SCTP stack spent on each batch read from the link, up to writing what it produced: the protocol and the relay's forwarding.", "link")
	linkWritten = desc("link_write_seconds", "Time the link took to take each batch of packets the stack sent on it: the system calls (on a veth they run the receiving namespaces' network stacks too). A message relayed at once leaves about the packet wait and batch handling of the link it came on plus the write of the link it goes out on after it arrived.", "link")
	linkOther   = []linkCounter{
		{desc("link_icmp_notices_total", "ICMP errors delivered to the stack (unreachable, packet too big).", "link"), func(l *gateway.LinkStatus) uint64 { return l.Notices }},
		{desc("link_checksum_errors_total", "Native packets dropped by the link for a bad CRC32c.", "link"), func(l *gateway.LinkStatus) uint64 { return l.ChecksumErrors }},
		{desc("link_filtered_packets_total", "Native packets dropped before the stack: not ours, too short, truncated.", "link"), func(l *gateway.LinkStatus) uint64 { return l.Filtered }},
		{desc("link_truncated_packets_total", "Datagrams larger than the read buffer, dropped.", "link"), func(l *gateway.LinkStatus) uint64 { return l.Truncated }},
		{desc("link_send_errors_total", "Sends the kernel refused (EMSGSIZE, ENOBUFS, unreachable, ...).", "link"), func(l *gateway.LinkStatus) uint64 { return l.SendErrors }},
		{desc("link_fragmented_packets_total", "Packets sent with DF lifted (cut before a path MTU drop).", "link"), func(l *gateway.LinkStatus) uint64 { return l.Fragmented }},
		{desc("link_fragment_errors_total", "Failures to lift or restore DF around such a send.", "link"), func(l *gateway.LinkStatus) uint64 { return l.FragmentErrors }},
		{desc("link_unchecked_local_packets_total", "Native packets accepted with a zero CRC32c from a local virtual interface (veth, bridge, macvlan, ipvlan, loopback): a kernel SCTP of this host with checksum offload.", "link"), func(l *gateway.LinkStatus) uint64 { return l.UncheckedLocal }},
	}
)

var (
	dtlsSessions = desc("dtls_sessions", "DTLS sessions with peer gateways (RFC 8261 link), by state: up or handshaking.", "state")
	dtlsOpened   = desc("dtls_sessions_opened_total", "DTLS sessions that completed their handshake (dialled or accepted).")
	dtlsClosed   = desc("dtls_sessions_closed_total", "DTLS sessions that ended (closed by the peer, failed, idle, replaced).")
	dtlsRefused  = desc("dtls_refused_total", "DTLS handshakes that failed, by reason: unknown_ca, expired, bad_certificate, name_mismatch, no_certificate, psk_mismatch, peer_refused, timeout, session_limit, cookie_unanswered, hello_rate, error.", "reason")
	dtlsDropped  = desc("dtls_dropped_packets_total", "SCTP packets the DTLS link could not send: no session and none may be dialled, or the handshake queue full.")
	dtlsDiscard  = desc("dtls_discarded_total", "What the DTLS link discarded on receipt, by why: records that failed authentication or the replay check (unauthenticated), datagrams of no session (no_session).", "why")
)

var (
	kernelLoaded   = desc("kernel_sctp_loaded", "1 while the kernel's sctp module is loaded (it answers packets for our native ports unless guarded).")
	guardInstalled = desc("kernel_sctp_guard_installed", "1 while the nftables rule that drops the kernel's replies for our native ports is in place.")
	guardDropped   = desc("kernel_sctp_guard_dropped_packets_total", "Kernel SCTP replies (out of the blue ABORTs) the guard's rule dropped.")
)

// collectGuard exports the kernel SCTP guard's state.
func collectGuard(ch chan<- prometheus.Metric, g *portguard.Status) {
	gauge(ch, kernelLoaded, boolValue(g.Module != ""))
	gauge(ch, guardInstalled, boolValue(g.Installed))
	counter(ch, guardDropped, g.Dropped)
}

// collectDTLS exports the DTLS link's session figures.
func collectDTLS(ch chan<- prometheus.Metric, l *gateway.LinkStatus) {
	gauge(ch, dtlsSessions, float64(l.Sessions), "up")
	gauge(ch, dtlsSessions, float64(l.Handshaking), "handshaking")
	counter(ch, dtlsOpened, l.SessionsOpened)
	counter(ch, dtlsClosed, l.SessionsClosed)
	for _, r := range dtlslink.Reasons {
		counter(ch, dtlsRefused, l.Refused[r], r)
	}
	counter(ch, dtlsDropped, l.Dropped)
	counter(ch, dtlsDiscard, l.Discarded, "unauthenticated")
	counter(ch, dtlsDiscard, l.Unknown, "no_session")
}

// snmpCounter is one engine counter, named as /proc/net/sctp/snmp names it
// (SctpT3RtxExpireds becomes sctpgw_sctp_t3_rtx_expireds_total).
type snmpCounter struct {
	d   *prometheus.Desc
	get func(*gateway.SCTPStats) uint64
}

func snmp(name, snmpName string, get func(*gateway.SCTPStats) uint64) snmpCounter {
	return snmpCounter{desc("sctp_"+name+"_total", snmpName+" of /proc/net/sctp/snmp.", nil...), get}
}

// engineCounter is an engine counter /proc/net/sctp/snmp does not have.
func engineCounter(name, help string, get func(*gateway.SCTPStats) uint64) snmpCounter {
	return snmpCounter{desc("sctp_"+name+"_total", help, nil...), get}
}

var (
	currEstab    = desc("sctp_curr_estab", "SctpCurrEstab: associations ESTABLISHED, SHUTDOWN-RECEIVED or SHUTDOWN-PENDING.")
	snmpCounters = []snmpCounter{
		snmp("active_estabs", "SctpActiveEstabs", func(s *gateway.SCTPStats) uint64 { return s.ActiveEstabs }),
		snmp("passive_estabs", "SctpPassiveEstabs", func(s *gateway.SCTPStats) uint64 { return s.PassiveEstabs }),
		snmp("aborteds", "SctpAborteds", func(s *gateway.SCTPStats) uint64 { return s.Aborteds }),
		snmp("shutdowns", "SctpShutdowns", func(s *gateway.SCTPStats) uint64 { return s.Shutdowns }),
		snmp("out_of_blues", "SctpOutOfBlues", func(s *gateway.SCTPStats) uint64 { return s.OutOfBlues }),
		snmp("checksum_errors", "SctpChecksumErrors", func(s *gateway.SCTPStats) uint64 { return s.ChecksumErrors }),
		snmp("out_ctrl_chunks", "SctpOutCtrlChunks", func(s *gateway.SCTPStats) uint64 { return s.OutCtrlChunks }),
		snmp("out_order_chunks", "SctpOutOrderChunks", func(s *gateway.SCTPStats) uint64 { return s.OutOrderChunks }),
		snmp("out_unorder_chunks", "SctpOutUnorderChunks", func(s *gateway.SCTPStats) uint64 { return s.OutUnorderChunks }),
		snmp("in_ctrl_chunks", "SctpInCtrlChunks", func(s *gateway.SCTPStats) uint64 { return s.InCtrlChunks }),
		snmp("in_order_chunks", "SctpInOrderChunks", func(s *gateway.SCTPStats) uint64 { return s.InOrderChunks }),
		snmp("in_unorder_chunks", "SctpInUnorderChunks", func(s *gateway.SCTPStats) uint64 { return s.InUnorderChunks }),
		snmp("frag_usr_msgs", "SctpFragUsrMsgs", func(s *gateway.SCTPStats) uint64 { return s.FragUsrMsgs }),
		snmp("reasm_usr_msgs", "SctpReasmUsrMsgs", func(s *gateway.SCTPStats) uint64 { return s.ReasmUsrMsgs }),
		snmp("out_sctp_packs", "SctpOutSCTPPacks", func(s *gateway.SCTPStats) uint64 { return s.OutSCTPPacks }),
		snmp("in_sctp_packs", "SctpInSCTPPacks", func(s *gateway.SCTPStats) uint64 { return s.InSCTPPacks }),
		snmp("t1_init_expireds", "SctpT1InitExpireds", func(s *gateway.SCTPStats) uint64 { return s.T1InitExpireds }),
		snmp("t1_cookie_expireds", "SctpT1CookieExpireds", func(s *gateway.SCTPStats) uint64 { return s.T1CookieExpireds }),
		snmp("t2_shutdown_expireds", "SctpT2ShutdownExpireds", func(s *gateway.SCTPStats) uint64 { return s.T2ShutdownExpireds }),
		snmp("t3_rtx_expireds", "SctpT3RtxExpireds", func(s *gateway.SCTPStats) uint64 { return s.T3RtxExpireds }),
		snmp("t5_shutdown_guard_expireds", "SctpT5ShutdownGuardExpireds", func(s *gateway.SCTPStats) uint64 { return s.T5ShutdownGuardExpireds }),
		snmp("delay_sack_expireds", "SctpDelaySackExpireds", func(s *gateway.SCTPStats) uint64 { return s.DelaySackExpireds }),
		snmp("t3_retransmits", "SctpT3Retransmits", func(s *gateway.SCTPStats) uint64 { return s.T3Retransmits }),
		snmp("fast_retransmits", "SctpFastRetransmits", func(s *gateway.SCTPStats) uint64 { return s.FastRetransmits }),
		engineCounter("hb_expireds", "Heartbeat timer expiries that sent a HEARTBEAT.", func(s *gateway.SCTPStats) uint64 { return s.HBExpireds }),
		engineCounter("tail_loss_probes", "Tail loss probes sent: the latest DATA chunk in flight sent again after about two round trips without an acknowledgement.", func(s *gateway.SCTPStats) uint64 { return s.TailLossProbes }),
		engineCounter("tail_loss_probe_losses", "DATA chunks the answers to tail loss probes showed lost, retransmitted without waiting for T3-rtx.", func(s *gateway.SCTPStats) uint64 { return s.TailLossProbeLosses }),
		engineCounter("lost_retransmits", "Fast retransmissions found lost, by DATA sent after them being acknowledged, and sent again.", func(s *gateway.SCTPStats) uint64 { return s.LostRetransmits }),
		engineCounter("malformed_packets", "Packets discarded as malformed.", func(s *gateway.SCTPStats) uint64 { return s.MalformedPackets }),
		engineCounter("discarded_bad_tag", "Packets discarded for a wrong verification tag.", func(s *gateway.SCTPStats) uint64 { return s.DiscardedBadTag }),
		engineCounter("partial_chunks", "Packets ending in a chunk whose framing was cut short; the chunk was dropped.", func(s *gateway.SCTPStats) uint64 { return s.PartialChunks }),
		engineCounter("discarded_bundled_init", "Packets discarded for an INIT bundled with other chunks.", func(s *gateway.SCTPStats) uint64 { return s.DiscardedBundledInit }),
		engineCounter("reply_items_cut", "Items a peer provoked that were left out of a reply to fit one packet.", func(s *gateway.SCTPStats) uint64 { return s.ReportItemsCut }),
		engineCounter("discarded_unauthenticated", "Packets discarded for lacking the SCTP-AUTH they need.", func(s *gateway.SCTPStats) uint64 { return s.DiscardedUnauthenticated }),
		engineCounter("discarded_bad_auth", "Packets discarded for an AUTH chunk that did not verify.", func(s *gateway.SCTPStats) uint64 { return s.DiscardedBadAuth }),
		engineCounter("discarded_replayed_cookie", "COOKIE ECHOs discarded: their cookie had built an association already.", func(s *gateway.SCTPStats) uint64 { return s.DiscardedReplayedCookie }),
	}
)

// Describe sends every descriptor the collector uses.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{buildInfo, draining, pairsOpened, pairsClosed, pairsRefused, pairsActive, pairSetup,
		msgs, bytes, abortedMsgs, invalidStream, oversize, restarts, aclRuleHits, aclLimit, aclPairs, aclSources, aclEvictions,
		authReceived, authSigned, authKeyPkts, authActiveKey, linkPackets, linkBytes, linkBatches, linkWaited, linkHandled, linkWritten, currEstab,
		kernelLoaded, guardInstalled, guardDropped,
		dtlsSessions, dtlsOpened, dtlsClosed, dtlsRefused, dtlsDropped, dtlsDiscard} {
		ch <- d
	}
	for _, l := range linkOther {
		ch <- l.d
	}
	for _, s := range snmpCounters {
		ch <- s.d
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// Collect reads the gateway's figures once and sends them.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	gauge(ch, buildInfo, 1, c.info.Version, c.info.Revision, c.info.GoVersion)
	gauge(ch, draining, boolValue(s.Draining))
	for i := range s.Routes {
		collectRoute(ch, &s.Routes[i])
	}
	for i := range s.Links {
		l := &s.Links[i]
		counter(ch, linkPackets, l.RxPackets, l.Kind, "rx")
		counter(ch, linkPackets, l.TxPackets, l.Kind, "tx")
		counter(ch, linkBytes, l.RxBytes, l.Kind, "rx")
		counter(ch, linkBytes, l.TxBytes, l.Kind, "tx")
		counter(ch, linkBatches, l.RxBatches, l.Kind, "rx")
		counter(ch, linkBatches, l.TxBatches, l.Kind, "tx")
		for _, o := range linkOther {
			counter(ch, o.d, o.get(l), l.Kind)
		}
		if l.Waited.Counts != nil {
			ch <- prometheus.MustNewConstHistogram(linkWaited, l.Waited.Count, l.Waited.Sum, l.Waited.Cumulative(), l.Kind)
			ch <- prometheus.MustNewConstHistogram(linkHandled, l.Handled.Count, l.Handled.Sum, l.Handled.Cumulative(), l.Kind)
			ch <- prometheus.MustNewConstHistogram(linkWritten, l.Written.Count, l.Written.Sum, l.Written.Cumulative(), l.Kind)
		}
		if l.Kind == "dtls" {
			collectDTLS(ch, l)
		}
	}
	if s.KernelSCTP != nil {
		collectGuard(ch, s.KernelSCTP)
	}
	gauge(ch, currEstab, float64(s.SCTP.CurrEstab))
	for _, sc := range snmpCounters {
		counter(ch, sc.d, sc.get(&s.SCTP))
	}
}

func collectRoute(ch chan<- prometheus.Metric, r *gateway.RouteStats) {
	n, k := r.Name, &r.Counters
	counter(ch, pairsOpened, k.PairsOpened, n)
	counter(ch, pairsClosed, k.PairsClosed, n)
	for _, x := range []struct {
		reason string
		v      uint64
	}{{"rule", k.RefusedByRule}, {"rate", k.RefusedByRate}, {"pair_limit", k.RefusedByPairLimit},
		{"egress_failed", k.PairsFailed}, {"draining", k.RefusedDraining}} {
		counter(ch, pairsRefused, x.v, n, x.reason)
	}
	gauge(ch, pairsActive, float64(r.Active), n)
	ch <- prometheus.MustNewConstHistogram(pairSetup, r.Setup.Count, r.Setup.Sum, r.Setup.Cumulative(), n)
	counter(ch, msgs, k.MsgsForwarded[0], n, inToOut)
	counter(ch, msgs, k.MsgsForwarded[1], n, outToIn)
	counter(ch, bytes, k.BytesForwarded[0], n, inToOut)
	counter(ch, bytes, k.BytesForwarded[1], n, outToIn)
	counter(ch, abortedMsgs, k.AbortedMsgs, n)
	counter(ch, invalidStream, k.InvalidStreamMsgs, n)
	counter(ch, oversize, k.OversizeMsgs, n)
	counter(ch, restarts, k.Restarts, n)
	if a := r.ACL; a != nil {
		for i, rule := range a.Rules {
			counter(ch, aclRuleHits, rule.Hits, n, strconv.Itoa(i+1), rule.Rule)
		}
		counter(ch, aclRuleHits, a.DefaultHits, n, "default", "default "+a.Default)
		for _, l := range a.Limits {
			counter(ch, aclLimit, l.Refused, n, l.Limit)
		}
		gauge(ch, aclPairs, float64(a.Pairs), n)
		gauge(ch, aclSources, float64(a.Sources), n)
		counter(ch, aclEvictions, a.SourceEvictions, n)
	}
	if a := r.Auth; a != nil {
		counter(ch, authReceived, a.Authenticated, n, "authenticated")
		counter(ch, authReceived, a.Unauthenticated, n, "unauthenticated")
		counter(ch, authReceived, a.BadMAC, n, "bad_mac")
		counter(ch, authSigned, a.Signed, n)
		gauge(ch, authActiveKey, float64(a.ActiveKey), n)
		for _, k := range a.Keys {
			id := strconv.Itoa(int(k.ID))
			counter(ch, authKeyPkts, k.In, n, id, "in")
			counter(ch, authKeyPkts, k.Out, n, id, "out")
			counter(ch, authKeyPkts, k.BadMAC, n, id, "bad_mac")
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
