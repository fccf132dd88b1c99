package gateway

import (
	"math"

	"github.com/sctpgw/sctpgw/dtlslink"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/rawip"
	"github.com/sctpgw/sctpgw/udpencap"
)

// LinkStatus is one link's counters, from its Stats. A figure a kind of
// link does not keep stays zero (the native link counts no bytes or
// batches; the UDP link leaves checksums to the engine).
type LinkStatus struct {
	Kind      string `json:"kind"` // native or udp
	Local     string `json:"local,omitempty"`
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	RxBatches uint64 `json:"rx_batches"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
	TxBatches uint64 `json:"tx_batches"`
	// Notices are ICMP reports (unreachable, packet too big) delivered.
	Notices uint64 `json:"icmp_notices"`
	// ChecksumErrors: native packets with a wrong CRC32c, dropped by the
	// link (the engine counts those arriving over UDP).
	ChecksumErrors uint64 `json:"checksum_errors"`
	// Filtered: native packets not for us or not well formed enough to
	// check; Truncated: datagrams larger than the read buffer.
	Filtered       uint64 `json:"filtered"`
	Truncated      uint64 `json:"truncated"`
	SendErrors     uint64 `json:"send_errors"`
	Fragmented     uint64 `json:"fragmented"`
	FragmentErrors uint64 `json:"fragment_errors"`
	// UncheckedLocal (native link): packets accepted with a zero CRC32c
	// from a local virtual interface (veth, bridge, ...): a kernel SCTP
	// client of this host whose checksum offload left it to the device.
	UncheckedLocal uint64 `json:"unchecked_local"`
	// DTLS link only: sessions up and handshaking, sessions opened and
	// ended, handshakes refused by reason (dtlslink.Reasons), packets
	// dropped for a path without a session.
	Sessions       int               `json:"sessions,omitempty"`
	Handshaking    int               `json:"handshaking,omitempty"`
	SessionsOpened uint64            `json:"sessions_opened,omitempty"`
	SessionsClosed uint64            `json:"sessions_closed,omitempty"`
	Refused        map[string]uint64 `json:"refused,omitempty"`
	Dropped        uint64            `json:"dropped,omitempty"`
	// DTLS link only: received records discarded for failing
	// authentication or the replay check, and datagrams that belonged to
	// no session (unknown connection ID, no ClientHello, refused).
	Discarded uint64 `json:"discarded_records,omitempty"`
	Unknown   uint64 `json:"unknown_datagrams,omitempty"`
	// Waited, Handled and Written are the SCTP stack's delays on the link
	// (stack.LinkDelays), in DelayBuckets: per packet received, from the
	// kernel's receipt to the stack taking it in (none counted on a link
	// that gives no receive time: DTLS); per batch read, the stack's work
	// on it; per flush, the link's time to take what was sent on it.
	// Exported as metrics, left out of /status.
	Waited  Histogram `json:"-"`
	Handled Histogram `json:"-"`
	Written Histogram `json:"-"`
	// Delays sums the three up for people (`sctpgw status`); nil before
	// the link carried anything.
	Delays *DelaySummary `json:"delays,omitempty"`
}

// DelaySummary is a link's delays since the gateway started, p50 and p99
// of each histogram of LinkStatus as the upper bound of its bucket, in
// seconds: 0 without an observation, -1 above the last bound (1 s).
type DelaySummary struct {
	Packets     uint64  `json:"packets"`
	WaitP50     float64 `json:"wait_p50_seconds"`
	WaitP99     float64 `json:"wait_p99_seconds"`
	HandlingP50 float64 `json:"handling_p50_seconds"`
	HandlingP99 float64 `json:"handling_p99_seconds"`
	WriteP50    float64 `json:"write_p50_seconds"`
	WriteP99    float64 `json:"write_p99_seconds"`
}

// delaySummary sums up s's histograms; nil when none has an observation.
func delaySummary(s *LinkStatus) *DelaySummary {
	if s.Waited.Count == 0 && s.Handled.Count == 0 && s.Written.Count == 0 {
		return nil
	}
	q := func(h *Histogram, p float64) float64 {
		v, ok := h.Quantile(p)
		switch {
		case !ok:
			return 0
		case math.IsInf(v, 1):
			return -1 // JSON has no +Inf
		}
		return v
	}
	d := &DelaySummary{Packets: s.Waited.Count,
		WaitP50: q(&s.Waited, .5), WaitP99: q(&s.Waited, .99),
		HandlingP50: q(&s.Handled, .5), HandlingP99: q(&s.Handled, .99),
		WriteP50: q(&s.Written, .5), WriteP99: q(&s.Written, .99)}
	return d
}

// DelayBuckets are the upper bounds, in seconds, of LinkStatus.Waited,
// Handled and Written: stack.DelayBounds.
var DelayBuckets = func() []float64 {
	b := make([]float64, len(stack.DelayBounds))
	for i, d := range stack.DelayBounds {
		b[i] = d.Seconds()
	}
	return b
}()

// delayHistogram converts one of the stack's delay histograms.
func delayHistogram(d *stack.DelayHistogram) Histogram {
	h := NewHistogram(DelayBuckets)
	copy(h.Counts, d.Counts[:])
	h.Sum, h.Count = d.Sum.Seconds(), d.Count
	return h
}

// linkStatus reads a link's counters; links that keep none (in-memory
// links of tests) report their kind alone.
func linkStatus(l link.Link) LinkStatus {
	s := LinkStatus{Kind: l.Kind().String()}
	switch x := l.(type) {
	case *dtlslink.Link:
		st := x.Stats()
		if a := x.LocalAddr(); a.IsValid() {
			s.Local = a.String()
		}
		s.RxPackets, s.RxBytes, s.RxBatches = st.RxPackets, st.RxBytes, st.RxBatches
		s.TxPackets, s.TxBytes, s.TxBatches = st.TxPackets, st.TxBytes, st.TxBatches
		s.Truncated, s.SendErrors, s.Dropped = st.RxTruncated, st.TxErrors, st.TxDropped
		s.Sessions, s.Handshaking, s.SessionsOpened, s.SessionsClosed = st.Sessions, st.Handshaking, st.Opened, st.Closed
		s.Refused = st.Refused
		s.Discarded, s.Unknown = st.RxDiscarded, st.RxUnknown
	case *rawip.Link:
		st := x.Stats()
		s.RxPackets, s.TxPackets, s.Notices = st.Received, st.Sent, st.Notices
		s.ChecksumErrors, s.Filtered, s.SendErrors = st.ChecksumErrors, st.Filtered, st.SendErrors
		s.Fragmented, s.FragmentErrors = st.Fragmented, st.FragmentErrors
		s.UncheckedLocal = st.UncheckedLocal
	case *udpencap.Link:
		st := x.Stats()
		s.Local = x.LocalAddr().String()
		s.RxPackets, s.RxBytes, s.RxBatches = st.RxPackets, st.RxBytes, st.RxBatches
		s.TxPackets, s.TxBytes, s.TxBatches = st.TxPackets, st.TxBytes, st.TxBatches
		s.Notices, s.Truncated, s.SendErrors = st.Notices, st.RxTruncated, st.TxErrors
		s.Fragmented, s.FragmentErrors = st.TxFragmented, st.TxFragmentErrors
	}
	return s
}

// linkStatuses reports the gateway's links, native first, each with the
// delays the stack counted for it.
func (g *Gateway) linkStatuses() []LinkStatus {
	var delays []stack.LinkDelays
	if g.st != nil {
		delays = g.st.Delays()
	}
	return linkStatusesOf([3]link.Link{g.native, g.udp, g.dtls}, g.idx, delays)
}

// linkStatusesOf reports links (native, udp, dtls; nil when absent), each
// with the delays the stack counted at its index in the stack's list.
func linkStatusesOf(links [3]link.Link, idx linkIndex, delays []stack.LinkDelays) []LinkStatus {
	var out []LinkStatus
	for k, i := range [3]int{idx.native, idx.udp, idx.dtls} {
		if links[k] == nil {
			continue
		}
		s := linkStatus(links[k])
		if i >= 0 && i < len(delays) {
			s.Waited = delayHistogram(&delays[i].Waited)
			s.Handled = delayHistogram(&delays[i].Handled)
			s.Written = delayHistogram(&delays[i].Written)
			s.Delays = delaySummary(&s)
		}
		out = append(out, s)
	}
	return out
}
