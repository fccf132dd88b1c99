package udpencap

import (
	"sync/atomic"

	"github.com/sctpgw/sctpgw/stack/link"
)

// Stats counts what a link moved since it was opened.
type Stats struct {
	RxPackets uint64 // datagrams delivered by ReadBatch (notices excluded)
	RxBytes   uint64 // their SCTP bytes (UDP payload)
	RxBatches uint64 // ReadBatch calls that delivered something
	// RxTruncated counts datagrams dropped because they did not fit the
	// buffer they were read into.
	RxTruncated uint64
	Notices     uint64 // ICMP reports delivered as link.Notice packets
	TxPackets   uint64 // datagrams sent by WriteBatch
	TxBytes     uint64
	TxBatches   uint64 // WriteBatch calls that sent something
	// TxFragmented counts datagrams with link.Packet.Fragment sent with DF
	// lifted (Linux only; elsewhere they go as any other).
	TxFragmented uint64
	// TxFragmentErrors counts failures to lift or restore DF around them.
	TxFragmentErrors uint64
	// TxErrors counts WriteBatch calls that failed (EMSGSIZE, ENOBUFS, a
	// refused destination, ...) on an open socket.
	TxErrors uint64
	// TxGSO counts datagrams sent as segments of UDP GSO super-datagrams
	// (Linux); TxGSOOff is 1 once the kernel refused GSO on the socket's
	// routes and the link went back to one datagram per packet.
	TxGSO    uint64
	TxGSOOff uint64
	// RxGRO counts packets that arrived in coalesced datagrams the link
	// cut apart (Config.GRO, Linux).
	RxGRO uint64
}

// Stats returns a snapshot of the link's counters.
func (l *Link) Stats() Stats {
	c := &l.stats
	return Stats{
		RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(), RxBatches: c.rxBatches.Load(),
		RxTruncated: c.rxTruncated.Load(), Notices: c.notices.Load(),
		TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(), TxBatches: c.txBatches.Load(),
		TxFragmented: c.txFragmented.Load(), TxFragmentErrors: c.txFragErrors.Load(),
		TxErrors: c.txErrors.Load(), TxGSO: c.txGSO.Load(), TxGSOOff: c.txGSOOff.Load(), RxGRO: c.rxGRO.Load(),
	}
}

// counters are updated once per batch, not per packet, so the hot path pays
// a handful of atomic adds per system call.
type counters struct {
	rxPackets, rxBytes, rxBatches, rxTruncated, notices atomic.Uint64
	txPackets, txBytes, txBatches                       atomic.Uint64
	txFragmented, txFragErrors, txErrors                atomic.Uint64
	txGSO, txGSOOff, rxGRO                              atomic.Uint64
}

func (c *counters) rx(pkts []link.Packet) {
	if len(pkts) == 0 {
		return
	}
	var n, b, notices uint64
	for i := range pkts {
		if pkts[i].Notice != link.NoticeNone {
			notices++
			continue
		}
		n++
		b += uint64(len(pkts[i].Buf))
	}
	c.rxBatches.Add(1)
	if n > 0 {
		c.rxPackets.Add(n)
		c.rxBytes.Add(b)
	}
	if notices > 0 {
		c.notices.Add(notices)
	}
}

func (c *counters) tx(pkts []link.Packet) {
	if len(pkts) == 0 {
		return
	}
	var b uint64
	for i := range pkts {
		b += uint64(len(pkts[i].Buf))
	}
	c.txBatches.Add(1)
	c.txPackets.Add(uint64(len(pkts)))
	c.txBytes.Add(b)
}
