//go:build linux

package udpencap

import (
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/internal/nbsys"

	"github.com/sctpgw/sctpgw/stack/link"
)

func (b *batchIO) writeBatch(pkts []link.Packet) (int, error) {
	t := &b.tx
	sent := 0
	t.noGSO = false
	for sent < len(pkts) {
		end := fragmentRun(pkts, sent, min(len(pkts), sent+maxBatch))
		k, perr := b.prepare(pkts[sent:end])
		if k > 0 {
			t.pkts, t.moff, t.off, t.retried, t.err = pkts[sent:sent+k], 0, 0, -1, nil
			t.frag, t.fragLevel = pkts[sent].Fragment, unix.IPPROTO_IP
			if b.v6 && !pkts[sent].Path.Remote.Unmap().Is4() {
				t.fragLevel = unix.IPPROTO_IPV6
			}
			err := b.rc.Write(t.fn)
			t.pkts = nil
			sent += t.off
			if err != nil {
				return sent, err
			}
			if t.err == errGSORefused {
				// Sent again one datagram per packet, from the
				// super-datagram the kernel refused.
				t.noGSO = true
				continue
			}
			if t.err != nil {
				if t.err == unix.EMSGSIZE {
					b.wakeReader()
				}
				return sent, t.err
			}
		}
		if perr != nil {
			return sent, perr
		}
	}
	return sent, nil
}

// fragmentRun cuts pkts[sent:end] short so that a packet with Fragment goes
// in a system call of its own: DF is a socket option, not a per-datagram one.
func fragmentRun(pkts []link.Packet, sent, end int) int {
	if pkts[sent].Fragment {
		return sent + 1
	}
	for i := sent + 1; i < end; i++ {
		if pkts[i].Fragment {
			return i
		}
	}
	return end
}

// setFragment lifts DF on fd for a packet with link.Packet.Fragment (on) or
// puts it back (off). Such a packet carries a chunk cut for an MTU that has
// since dropped, whose TSN is assigned: RFC 9260 6.9 forbids cutting it
// again and has IP fragment it. PMTUDISC_DONT makes the kernel fragment it
// at the path MTU it learnt from ICMP, with DF clear on IPv4. A failure
// leaves DF set: the packet goes as it did before, no worse.
func (b *batchIO) setFragment(fd uintptr, level int, on bool) {
	opt, dont, probe := unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT, unix.IP_PMTUDISC_PROBE
	if level == unix.IPPROTO_IPV6 {
		opt, dont, probe = unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DONT, unix.IPV6_PMTUDISC_PROBE
	}
	val := probe
	if on {
		val = dont
	}
	if err := unix.SetsockoptInt(int(fd), level, opt, val); err != nil {
		b.stats.txFragErrors.Add(1)
	}
}

// prepare fills the send headers for pkts, one message per packet or per
// run of packets sent as one UDP GSO super-datagram (gsoRun), and returns
// how many packets are ready; an error is about pkts[k].
func (b *batchIO) prepare(pkts []link.Packet) (int, error) {
	t := &b.tx
	t.nmsg = 0
	gso := !t.noGSO && b.gso.Load()
	for i := 0; i < len(pkts); {
		p := &pkts[i]
		if err := checkPath(p.Path); err != nil {
			return i, err
		}
		n := 1
		if gso {
			n = gsoRun(pkts, i)
		}
		m := t.nmsg
		h := &t.hs[m].Hdr
		remote := p.Path.Remote.Unmap()
		if b.v6 {
			sa := &t.names[m]
			*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: remote.As16()}
			if z := remote.Zone(); z != "" {
				sa.Scope_id = t.scope(z)
			}
			putPort(&sa.Port, p.Path.RemotePort)
			h.Namelen = unix.SizeofSockaddrInet6
		} else {
			if !remote.Is4() {
				return i, fmt.Errorf("%w: IPv6 peer on an IPv4 socket", errBadPath)
			}
			sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&t.names[m]))
			*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: remote.As4()}
			putPort(&sa.Port, p.Path.RemotePort)
			h.Namelen = unix.SizeofSockaddrInet4
		}
		for j := i; j < i+n; j++ {
			if len(pkts[j].Buf) == 0 {
				t.iov[j].Base = nil
			} else {
				t.iov[j].Base = &pkts[j].Buf[0]
			}
			t.iov[j].SetLen(len(pkts[j].Buf))
		}
		h.Iov = &t.iov[i]
		h.SetIovlen(n)
		oob := t.oob[m*txOOBSize : (m+1)*txOOBSize]
		c, err := b.sourceControl(oob, p.Path.Local)
		if err != nil {
			return i, err
		}
		if n > 1 {
			c += putSegment(oob[c:], len(p.Buf))
		}
		if c == 0 {
			h.Control = nil
		} else {
			h.Control = &oob[0]
		}
		h.SetControllen(c)
		t.cnt[m] = n
		t.nmsg++
		i += n
	}
	return len(pkts), nil
}

// sourceControl writes the pktinfo control message that makes the kernel
// send from local, and returns its length; 0 when the kernel chooses.
func (b *batchIO) sourceControl(oob []byte, local netip.Addr) (int, error) {
	if !local.IsValid() || local.IsUnspecified() {
		return 0, nil
	}
	local = local.Unmap()
	ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	data := unsafe.Pointer(&oob[unix.CmsgLen(0)])
	if b.v6 {
		ch.Level, ch.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		ch.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		pi := (*unix.Inet6Pktinfo)(data)
		*pi = unix.Inet6Pktinfo{Addr: local.As16()}
		if z := local.Zone(); z != "" {
			pi.Ifindex = b.tx.scope(z)
		}
		return unix.CmsgSpace(unix.SizeofInet6Pktinfo), nil
	}
	if !local.Is4() {
		return 0, fmt.Errorf("%w: IPv6 source on an IPv4 socket", errBadPath)
	}
	ch.Level, ch.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	ch.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	*(*unix.Inet4Pktinfo)(data) = unix.Inet4Pktinfo{Spec_dst: local.As4()}
	return unix.CmsgSpace(unix.SizeofInet4Pktinfo), nil
}

// writeFD is the body of one RawConn.Write: it returns false to wait until
// the socket is writable.
func (b *batchIO) writeFD(fd uintptr) bool {
	t := &b.tx
	for t.moff < t.nmsg {
		if t.frag {
			b.setFragment(fd, t.fragLevel, true)
		}
		n, errno := nbsys.Sendmmsg(fd, t.hs[t.moff:t.nmsg], 0)
		if t.frag {
			b.setFragment(fd, t.fragLevel, false)
			if errno == 0 {
				b.stats.txFragmented.Add(1)
			}
		}
		switch {
		case errno == 0:
			for _, c := range t.cnt[t.moff : t.moff+n] {
				t.off += c
				if c > 1 {
					b.stats.txGSO.Add(uint64(c))
				}
			}
			t.moff += n
		case errno == unix.EINTR:
		case errno == unix.EAGAIN:
			return false
		case t.cnt[t.moff] > 1 && b.gsoRefused(errno):
			t.err = errGSORefused
			return true
		default:
			if icmpErrno(errno) {
				b.errPending.Store(true)
				if errno != unix.EMSGSIZE {
					// The reader may sleep with the report queued:
					// it reads the error queue only when told.
					b.wakeReader()
				}
				// The error may be an earlier ICMP report about
				// another peer, which the kernel hands to the next
				// call whatever it is; the retry tells.
				if t.retried != t.off {
					t.retried = t.off
					continue
				}
			}
			if errno == unix.EMSGSIZE {
				// Larger than the interface MTU: let the reader
				// pair it with the kernel's MTU report.
				p := &t.pkts[t.off]
				b.tooBig.push(p.Path, p.Buf)
				b.errPending.Store(true)
			}
			t.err = errno
			return true
		}
	}
	return true
}
