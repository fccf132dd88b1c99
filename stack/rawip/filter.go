package rawip

import (
	"fmt"
	"math/bits"
	"slices"

	"golang.org/x/net/bpf"
)

// protoSCTP is SCTP's IP protocol number (RFC 9260 1.6).
const protoSCTP = 132

// portSet is an immutable set of SCTP ports: a bitmap, so the per-packet
// check is one load and a mask. AddPort and RemovePort replace it whole.
type portSet [65536 / 64]uint64

func (s *portSet) has(p uint16) bool { return s[p>>6]&(1<<(p&63)) != 0 }

func (s *portSet) with(p uint16, on bool) *portSet {
	n := *s
	if on {
		n[p>>6] |= 1 << (p & 63)
	} else {
		n[p>>6] &^= 1 << (p & 63)
	}
	return &n
}

func newPortSet(ports []uint16) *portSet {
	s := new(portSet)
	for _, p := range ports {
		s[p>>6] |= 1 << (p & 63)
	}
	return s
}

// list returns the ports in ascending order.
func (s *portSet) list() []uint16 {
	var out []uint16
	for w, word := range s {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			out = append(out, uint16(w*64+b))
			word &^= 1 << b
		}
	}
	return out
}

// portRange is an inclusive run of consecutive ports.
type portRange struct{ lo, hi uint16 }

func ranges(ports []uint16) []portRange {
	ps := slices.Clone(ports)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	var out []portRange
	for _, p := range ps {
		if n := len(out); n > 0 && uint32(out[n-1].hi)+1 == uint32(p) {
			out[n-1].hi = p
			continue
		}
		out = append(out, portRange{p, p})
	}
	return out
}

const (
	// bpfAccept keeps the whole packet: a socket filter returns how many
	// bytes to keep, and no IP datagram is this long.
	bpfAccept = 0x40000
	bpfDrop   = 0
	// bpfMaxInsns is the kernel's limit for a classic BPF program
	// (BPF_MAXINSNS).
	bpfMaxInsns = 4096
)

// filterProgram builds the socket filter that lets through only SCTP packets
// whose destination port is served. What the program sees differs by
// family: a raw IPv4 socket runs the filter on the packet from its IP header
// on (whose length varies with options, so the port is loaded relative to
// 4*IHL with the LoadMemShift idiom), a raw IPv6 socket on the transport
// header, after any extension headers. A packet too short to hold the port
// fails the load, and the kernel drops it.
//
// Each range costs at most three instructions, so even a few thousand
// scattered ports fit; past the kernel's limit the program accepts every
// SCTP packet and the user-space check does the filtering.
func filterProgram(ipv4 bool, ports []uint16) ([]bpf.RawInstruction, bool, error) {
	var prog []bpf.Instruction
	if ipv4 {
		prog = append(prog,
			bpf.LoadMemShift{Off: 0},          // X = 4 * (ip[0] & 0x0f)
			bpf.LoadIndirect{Off: 2, Size: 2}, // A = sctp[2:4], the destination port
		)
	} else {
		prog = append(prog, bpf.LoadAbsolute{Off: 2, Size: 2})
	}
	complete := true
	for _, r := range ranges(ports) {
		if len(prog)+4 > bpfMaxInsns {
			complete = false
			break
		}
		if r.lo == r.hi {
			prog = append(prog,
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(r.lo), SkipFalse: 1},
				bpf.RetConstant{Val: bpfAccept},
			)
			continue
		}
		prog = append(prog,
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: uint32(r.lo), SkipFalse: 2},
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(r.hi), SkipTrue: 1},
			bpf.RetConstant{Val: bpfAccept},
		)
	}
	if complete {
		prog = append(prog, bpf.RetConstant{Val: bpfDrop})
	} else {
		prog = append(prog[:0], bpf.RetConstant{Val: bpfAccept})
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, false, fmt.Errorf("rawip: assembling the port filter: %w", err)
	}
	return raw, complete, nil
}
