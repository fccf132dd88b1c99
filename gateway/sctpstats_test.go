package gateway

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// linuxSNMP is every counter of Linux's /proc/net/sctp/snmp, in its order
// (net/sctp/proc.c, sctp_snmp_list).
var linuxSNMP = []string{
	"SctpCurrEstab", "SctpActiveEstabs", "SctpPassiveEstabs", "SctpAborteds", "SctpShutdowns",
	"SctpOutOfBlues", "SctpChecksumErrors", "SctpOutCtrlChunks", "SctpOutOrderChunks", "SctpOutUnorderChunks",
	"SctpInCtrlChunks", "SctpInOrderChunks", "SctpInUnorderChunks", "SctpFragUsrMsgs", "SctpReasmUsrMsgs",
	"SctpOutSCTPPacks", "SctpInSCTPPacks", "SctpT1InitExpireds", "SctpT1CookieExpireds", "SctpT2ShutdownExpireds",
	"SctpT3RtxExpireds", "SctpT4RtoExpireds", "SctpT5ShutdownGuardExpireds", "SctpDelaySackExpireds",
	"SctpAutocloseExpireds", "SctpT3Retransmits", "SctpPmtudRetransmits", "SctpFastRetransmits",
	"SctpInPktSoftirq", "SctpInPktBacklog", "SctpInPktDiscards", "SctpInDataChunkDiscards",
}

// notCounted are the Linux counters the stack has nothing for, and why.
var notCounted = map[string]string{
	"SctpT4RtoExpireds":       "T4-RTO guards an ASCONF (RFC 5061), which the stack does not send",
	"SctpAutocloseExpireds":   "no autoclose (RFC 6458 8.1.8): the gateway closes associations with their pairs",
	"SctpPmtudRetransmits":    "a lower path MTU does not make the stack retransmit at once",
	"SctpInPktSoftirq":        "a kernel's receive context",
	"SctpInPktBacklog":        "a kernel's receive context",
	"SctpInPktDiscards":       "packets discarded whole are counted by reason instead (Snapshot.Discards)",
	"SctpInDataChunkDiscards": "not counted host-wide (an association's Status.Refused counts DATA refused after CloseWindow)",
}

// TestSNMPMapIsLinuxs: Snapshot.SNMP has every counter of Linux's
// /proc/net/sctp/snmp the stack counts (a field of SCTPStats under the
// name without the Sctp prefix), each with its own field's value, no name
// Linux does not have, and the Linux counters left out are the ones
// notCounted explains.
func TestSNMPMapIsLinuxs(t *testing.T) {
	var st SCTPStats
	v := reflect.ValueOf(&st).Elem()
	field := map[string]uint64{} // name -> the distinct value set in its field
	for i := range v.NumField() {
		f := v.Field(i)
		val := uint64(1000 + i)
		switch f.Kind() {
		case reflect.Int:
			f.SetInt(int64(val))
		case reflect.Uint64:
			f.SetUint(val)
		default:
			continue
		}
		field["Sctp"+v.Type().Field(i).Name] = val
	}
	m := st.snmp()
	for _, name := range linuxSNMP {
		want, counted := field[name]
		why, left := notCounted[name]
		got, mapped := m[name]
		switch {
		case counted && left:
			t.Errorf("%s is counted (SCTPStats) but listed as not counted (%s)", name, why)
		case counted && !mapped:
			t.Errorf("%s is counted (SCTPStats) but missing from the SNMP map", name)
		case counted && got != want:
			t.Errorf("%s is %d in the SNMP map: another field's value, want %d", name, got, want)
		case !counted && !left:
			t.Errorf("%s has neither a field in SCTPStats nor a reason in notCounted", name)
		case !counted && mapped:
			t.Errorf("%s is in the SNMP map without a field", name)
		}
	}
	for name := range m {
		if !slices.Contains(linuxSNMP, name) {
			t.Errorf("%s is in the SNMP map but not in Linux's /proc/net/sctp/snmp", name)
		}
	}
	for name := range notCounted {
		if !slices.Contains(linuxSNMP, name) || !strings.HasPrefix(name, "Sctp") {
			t.Errorf("notCounted names %s, which Linux does not have", name)
		}
	}
}
