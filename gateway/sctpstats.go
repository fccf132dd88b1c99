package gateway

import "github.com/sctpgw/sctpgw/stack/engine"

// SCTPStats are the gateway's SCTP stack's counters, for every association
// of every route together: those of /proc/net/sctp/snmp under their names
// there (without the Sctp prefix), then what the stack counts besides.
type SCTPStats struct {
	CurrEstab               int // associations ESTABLISHED, SHUTDOWN-RECEIVED or SHUTDOWN-PENDING
	ActiveEstabs            uint64
	PassiveEstabs           uint64
	Aborteds                uint64
	Shutdowns               uint64
	OutOfBlues              uint64
	ChecksumErrors          uint64
	OutCtrlChunks           uint64
	OutOrderChunks          uint64
	OutUnorderChunks        uint64
	InCtrlChunks            uint64
	InOrderChunks           uint64
	InUnorderChunks         uint64
	FragUsrMsgs             uint64
	ReasmUsrMsgs            uint64
	OutSCTPPacks            uint64
	InSCTPPacks             uint64
	T1InitExpireds          uint64
	T1CookieExpireds        uint64
	T2ShutdownExpireds      uint64
	T3RtxExpireds           uint64
	T5ShutdownGuardExpireds uint64
	DelaySackExpireds       uint64
	T3Retransmits           uint64
	FastRetransmits         uint64

	// HBExpireds counts heartbeat timer expiries that sent a HEARTBEAT.
	HBExpireds uint64
	// MalformedPackets: packets with nothing to process; PartialChunks:
	// packets that ended in a chunk whose framing was cut short (the
	// chunks before it were processed); DiscardedBundledInit: packets with
	// an INIT bundled with other chunks; DiscardedBadTag: a wrong
	// verification tag.
	MalformedPackets     uint64
	PartialChunks        uint64
	DiscardedBundledInit uint64
	DiscardedBadTag      uint64
	// TailLossProbes counts tail loss probes sent: a destination with
	// DATA in flight heard nothing for about two round trips, and its
	// latest chunk went again to find out what was lost without waiting
	// for T3-rtx; TailLossProbeLosses the chunks their answers showed lost.
	TailLossProbes      uint64
	TailLossProbeLosses uint64
	// LostRetransmits counts fast retransmissions found lost (chunks sent
	// after them arrived) and sent again.
	LostRetransmits uint64
	// ReportItemsCut counts what a peer provoked that was left out of a
	// reply to fit one packet (reports, causes, HEARTBEAT ACKs, addresses).
	ReportItemsCut uint64
	// SCTP-AUTH: packets refused for lacking the authentication they need
	// or for an AUTH chunk that did not verify, and COOKIE ECHOs whose
	// cookie had built an association already.
	DiscardedUnauthenticated uint64
	DiscardedBadAuth         uint64
	DiscardedReplayedCookie  uint64
}

func sctpStatsOf(st engine.Stats) SCTPStats {
	return SCTPStats{
		CurrEstab: st.CurrEstab, ActiveEstabs: st.ActiveEstabs, PassiveEstabs: st.PassiveEstabs,
		Aborteds: st.Aborteds, Shutdowns: st.Shutdowns, OutOfBlues: st.OutOfBlues, ChecksumErrors: st.ChecksumErrors,
		OutCtrlChunks: st.OutCtrlChunks, OutOrderChunks: st.OutOrderChunks, OutUnorderChunks: st.OutUnorderChunks,
		InCtrlChunks: st.InCtrlChunks, InOrderChunks: st.InOrderChunks, InUnorderChunks: st.InUnorderChunks,
		FragUsrMsgs: st.FragUsrMsgs, ReasmUsrMsgs: st.ReasmUsrMsgs, OutSCTPPacks: st.OutSCTPPacks, InSCTPPacks: st.InSCTPPacks,
		T1InitExpireds: st.T1InitExpireds, T1CookieExpireds: st.T1CookieExpireds, T2ShutdownExpireds: st.T2ShutdownExpireds,
		T3RtxExpireds: st.T3RtxExpireds, T5ShutdownGuardExpireds: st.T5ShutdownGuardExpireds,
		DelaySackExpireds: st.DelaySackExpireds, T3Retransmits: st.T3Retransmits, FastRetransmits: st.FastRetransmits,
		HBExpireds: st.HBExpireds, TailLossProbes: st.TailLossProbes, TailLossProbeLosses: st.TailLossProbeLosses,
		LostRetransmits:  st.LostRetransmits,
		MalformedPackets: st.MalformedPackets, PartialChunks: st.PartialChunks,
		DiscardedBundledInit: st.DiscardedBundledInit, DiscardedBadTag: st.DiscardedBadTag, ReportItemsCut: st.ReportItemsCut,
		DiscardedUnauthenticated: st.DiscardedUnauthenticated, DiscardedBadAuth: st.DiscardedBadAuth,
		DiscardedReplayedCookie: st.DiscardedReplayedCookie,
	}
}

// snmp names the counters as /proc/net/sctp/snmp does (Snapshot.SNMP):
// every one of its counters the stack counts (TestSNMPMapIsLinuxs lists
// those it does not, and why).
func (st SCTPStats) snmp() map[string]uint64 {
	return map[string]uint64{
		"SctpCurrEstab": uint64(st.CurrEstab), "SctpActiveEstabs": st.ActiveEstabs,
		"SctpPassiveEstabs": st.PassiveEstabs, "SctpAborteds": st.Aborteds, "SctpShutdowns": st.Shutdowns,
		"SctpOutOfBlues": st.OutOfBlues, "SctpChecksumErrors": st.ChecksumErrors,
		"SctpOutCtrlChunks": st.OutCtrlChunks, "SctpOutOrderChunks": st.OutOrderChunks, "SctpOutUnorderChunks": st.OutUnorderChunks,
		"SctpInCtrlChunks": st.InCtrlChunks, "SctpInOrderChunks": st.InOrderChunks,
		"SctpInUnorderChunks": st.InUnorderChunks, "SctpFragUsrMsgs": st.FragUsrMsgs,
		"SctpReasmUsrMsgs": st.ReasmUsrMsgs, "SctpOutSCTPPacks": st.OutSCTPPacks, "SctpInSCTPPacks": st.InSCTPPacks,
		"SctpT1InitExpireds": st.T1InitExpireds, "SctpT1CookieExpireds": st.T1CookieExpireds,
		"SctpT2ShutdownExpireds": st.T2ShutdownExpireds, "SctpT3RtxExpireds": st.T3RtxExpireds,
		"SctpT5ShutdownGuardExpireds": st.T5ShutdownGuardExpireds, "SctpDelaySackExpireds": st.DelaySackExpireds,
		"SctpT3Retransmits": st.T3Retransmits, "SctpFastRetransmits": st.FastRetransmits,
	}
}
