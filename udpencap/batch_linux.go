//go:build linux

package udpencap

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/stack/link"
)

const (
	// rxOOBSize holds the control messages of one received datagram: an
	// IPV6_PKTINFO and, for IPv4 peers of a dual-stack socket, an
	// IP_PKTINFO (40 + 32 bytes on 64-bit systems), UDP_GRO's segment
	// size (24) and SCM_TIMESTAMPNS (32), with room to spare. A multiple
	// of 8 keeps every slot aligned for a cmsghdr.
	rxOOBSize = 160
	// txOOBSize holds one IP_PKTINFO or IPV6_PKTINFO.
	txOOBSize = 64
	// errOOBSize holds an error queue entry's control messages: the
	// extended error with the offender's address, and a pktinfo.
	errOOBSize = 256
)

// batchIO moves datagrams with recvmmsg and sendmmsg on a real Linux socket,
// reads local addresses from pktinfo control messages and ICMP reports from
// the socket error queue. The rx half belongs to the ReadBatch goroutine, the
// tx half to the WriteBatch goroutine.
type batchIO struct {
	conn  *net.UDPConn
	rc    syscall.RawConn
	v6    bool       // an AF_INET6 socket: IPv4 peers come and go v4-mapped
	bound netip.Addr // bind address when specific: Path.Local without pktinfo
	stats *counters

	// errPending says an ICMP error may wait in the error queue: set when
	// a system call returned an error the kernel derives from ICMP, which
	// it reports once on whichever call comes next, send or receive.
	errPending atomic.Bool
	// tooBig carries packets refused with EMSGSIZE from writer to reader.
	tooBig tooBigQueue
	// gso: the socket sends runs of equal packets as UDP GSO
	// super-datagrams (gso_linux.go); cleared when the kernel refuses one.
	gso atomic.Bool
	// gro: the socket may deliver coalesced datagrams (gro_linux.go).
	gro bool

	rx rxState
	tx txState
}

type rxState struct {
	hs    []unix.Mmsghdr
	iov   []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte
	fn    func(fd uintptr) bool // b.readFD, bound once so Read does not allocate

	// The call in progress.
	pkts []link.Packet
	n    int
	err  error

	// One error queue message at a time: ICMP reports are rare.
	eh    unix.Msghdr
	eiov  unix.Iovec
	ename unix.RawSockaddrInet6
	eoob  []byte

	zones   map[uint32]string // interface index -> zone, for link-local peers
	orphans orphans           // local errors awaiting their packet

	// UDP GRO (gro_linux.go): each kept datagram's segment size, and what
	// a batch had no slot for.
	segs  []int
	carry carry
}

type txState struct {
	hs    []unix.Mmsghdr
	iov   []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte
	fn    func(fd uintptr) bool

	// The batch in progress: messages hs[moff:nmsg] remain to be sent,
	// holding pkts[off:]; message m carries cnt[m] packets (more than one
	// as a UDP GSO super-datagram, gso_linux.go). retried is the packet
	// index already retried after an error (-1: none).
	pkts            []link.Packet
	cnt             []int
	nmsg, moff, off int
	retried         int
	err             error
	noGSO           bool // this batch goes one datagram per packet (see writeBatch)
	// frag says the batch is one packet with link.Packet.Fragment, sent
	// with DF lifted at level fragLevel (IPv4 options govern IPv4 peers
	// even on a dual-stack socket).
	frag      bool
	fragLevel int

	scopes map[string]uint32 // zone -> interface index
}

// newBatchIO prepares uc for batched I/O. It fails only when the socket
// cannot report destination addresses, which replies depend on.
func newBatchIO(uc *net.UDPConn, bound netip.Addr, stats *counters, log *slog.Logger) (packetIO, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udpencap: raw socket: %w", err)
	}
	b := &batchIO{conn: uc, rc: rc, bound: bound, stats: stats}
	var serr error
	err = rc.Control(func(fd uintptr) { serr = b.setup(int(fd), log) })
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("udpencap: socket options: %w", err)
	}
	b.rx.init()
	b.tx.init()
	b.rx.fn = b.readFD
	b.tx.fn = b.writeFD
	return b, nil
}

// setup sets the socket options the link relies on. Pktinfo is required;
// extended errors and DF are best effort (documented in the package doc).
func (b *batchIO) setup(fd int, log *slog.Logger) error {
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return fmt.Errorf("SO_DOMAIN: %w", err)
	}
	b.v6 = domain == unix.AF_INET6
	v4 := !b.v6
	if b.v6 {
		only, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		v4 = err == nil && only == 0
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
			return fmt.Errorf("IPV6_RECVPKTINFO: %w", err)
		}
		bestEffort(log, "IPV6_RECVERR", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1))
		// DF always, never fragment locally, ignore the kernel's
		// cached path MTU: SCTP does its own PMTU discovery. Only a
		// packet with link.Packet.Fragment is let through with DF
		// lifted (setFragment).
		bestEffort(log, "IPV6_MTU_DISCOVER", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE))
	}
	if v4 {
		// On a dual-stack socket the IPv4 options govern IPv4 traffic:
		// errors about IPv4 peers are queued only with IP_RECVERR.
		err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		if err != nil && !b.v6 {
			return fmt.Errorf("IP_PKTINFO: %w", err)
		}
		bestEffort(log, "IP_RECVERR", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1))
		bestEffort(log, "IP_MTU_DISCOVER", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE))
	}
	// The kernel's receive time of each datagram (link.Packet.Arrived).
	bestEffort(log, "SO_TIMESTAMPNS", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1))
	return nil
}

func bestEffort(log *slog.Logger, opt string, err error) {
	if err != nil {
		log.Debug("udpencap: socket option not set", "option", opt, "err", err)
	}
}

func (r *rxState) init() {
	r.hs = make([]unix.Mmsghdr, maxBatch)
	r.iov = make([]unix.Iovec, maxBatch)
	r.names = make([]unix.RawSockaddrInet6, maxBatch)
	r.oob = make([]byte, maxBatch*rxOOBSize)
	for i := range r.hs {
		h := &r.hs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iov[i]
		h.SetIovlen(1)
		h.Control = &r.oob[i*rxOOBSize]
	}
	r.eoob = make([]byte, errOOBSize)
	r.eh.Name = (*byte)(unsafe.Pointer(&r.ename))
	r.eh.Iov = &r.eiov
	r.eh.SetIovlen(1)
	r.eh.Control = &r.eoob[0]
	r.zones = make(map[uint32]string)
	r.segs = make([]int, maxBatch)
}

func (t *txState) init() {
	t.hs = make([]unix.Mmsghdr, maxBatch)
	t.iov = make([]unix.Iovec, maxBatch)
	t.names = make([]unix.RawSockaddrInet6, maxBatch)
	t.oob = make([]byte, maxBatch*txOOBSize)
	t.cnt = make([]int, maxBatch)
	for i := range t.hs {
		h := &t.hs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&t.names[i]))
		h.Iov = &t.iov[i]
		h.SetIovlen(1)
	}
	t.scopes = make(map[string]uint32)
}
