package rawip

import (
	"fmt"
	"math/bits"
	"slices"
	"sync/atomic"

	"golang.org/x/net/bpf"
)

// protoSCTP is SCTP's IP protocol number (RFC 9260 1.6).
const protoSCTP = 132

// portSet is a set of SCTP ports: a bitmap whose words are read and
// changed atomically, so the per-packet check is one load and a mask, and
// AddPort and RemovePort (serialized by the link) change one bit in place
// and allocate nothing. The set was copied whole (8 KiB) per change before:
// with an ephemeral port per association on a gateway's dialling side,
// that was half of everything the core allocated while setting up 10,000
// pairs, and the garbage held its RSS up (BenchmarkLabScale).
type portSet [65536 / 64]atomic.Uint64

func (s *portSet) has(p uint16) bool { return s[p>>6].Load()&(1<<(p&63)) != 0 }

// set adds p to the set, or takes it out.
func (s *portSet) set(p uint16, on bool) {
	if on {
		s[p>>6].Or(1 << (p & 63))
	} else {
		s[p>>6].And(^uint64(1 << (p & 63)))
	}
}

func newPortSet(ports []uint16) *portSet {
	s := new(portSet)
	for _, p := range ports {
		s.set(p, true)
	}
	return s
}

// list returns the ports in ascending order.
func (s *portSet) list() []uint16 {
	var out []uint16
	for w := range s {
		for word := s[w].Load(); word != 0; {
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

// maxKernelRanges bounds the port ranges of the kernel filter. Past it the
// filter admits a cover of the served ports: whole blocks of ports (64,
// 128, ... as many as it takes) that hold a served one. A few more foreign
// packets then reach the user-space check, which rejects them, and the
// program stays small (at most three instructions a range, for every packet
// the socket sees) however many ports are served. A new port in a covered
// block needs no new program: with thousands of associations, each on its
// own ephemeral port, rebuilding and JIT-compiling a program of thousands
// of instructions per association was most of a gateway's setup cost.
const maxKernelRanges = 64

// kernelFilter is what the kernel filter admits: ranges in ascending order,
// exactly the served ports or (exact false) a cover of them.
type kernelFilter struct {
	rs    []portRange
	exact bool
}

// coverFilter is the filter for ports (ascending): exact when they form at
// most limit ranges, else the smallest blocks of a power-of-two size
// (from 64 ports up) whose union, merged, has at most limit ranges.
func coverFilter(ports []uint16, limit int) kernelFilter {
	rs := ranges(ports)
	if len(rs) <= limit {
		return kernelFilter{rs: rs, exact: true}
	}
	for shift := 6; ; shift++ {
		var out []portRange
		for _, r := range rs {
			lo := uint16(uint32(r.lo) >> shift << shift)
			hi := uint16(uint32(r.hi)>>shift<<shift | (1<<shift - 1))
			if n := len(out); n > 0 && uint32(out[n-1].hi)+1 >= uint32(lo) {
				out[n-1].hi = max(out[n-1].hi, hi)
				continue
			}
			out = append(out, portRange{lo, hi})
		}
		if len(out) <= limit {
			return kernelFilter{rs: out}
		}
	}
}

// admits reports whether the filter lets packets for port p through.
func (k kernelFilter) admits(p uint16) bool {
	i, _ := slices.BinarySearchFunc(k.rs, p, func(r portRange, p uint16) int {
		switch {
		case r.hi < p:
			return -1
		case r.lo > p:
			return 1
		}
		return 0
	})
	return i < len(k.rs) && k.rs[i].lo <= p && p <= k.rs[i].hi
}

// runs is the number of ranges the set's ports form, counted without
// listing them.
func (s *portSet) runs() int {
	n, carry := 0, uint64(0)
	for i := range s {
		w := s[i].Load()
		// A run starts at every set bit whose lower neighbour is clear.
		n += bits.OnesCount64(w &^ (w<<1 | carry))
		carry = w >> 63
	}
	return n
}

// filterProgram builds the socket filter that lets through only SCTP packets
// whose destination port lies in rs. What the program sees differs by
// family: a raw IPv4 socket runs the filter on the packet from its IP header
// on (whose length varies with options, so the port is loaded relative to
// 4*IHL with the LoadMemShift idiom), a raw IPv6 socket on the transport
// header, after any extension headers. A packet too short to hold the port
// fails the load, and the kernel drops it.
//
// Each range costs at most three instructions; coverFilter keeps them few.
func filterProgram(ipv4 bool, rs []portRange) ([]bpf.RawInstruction, error) {
	var prog []bpf.Instruction
	if ipv4 {
		prog = append(prog,
			bpf.LoadMemShift{Off: 0},          // X = 4 * (ip[0] & 0x0f)
			bpf.LoadIndirect{Off: 2, Size: 2}, // A = sctp[2:4], the destination port
		)
	} else {
		prog = append(prog, bpf.LoadAbsolute{Off: 2, Size: 2})
	}
	if 3*len(rs)+len(prog)+1 > bpfMaxInsns {
		return nil, fmt.Errorf("rawip: %d port ranges do not fit a kernel filter", len(rs))
	}
	for _, r := range rs {
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
	prog = append(prog, bpf.RetConstant{Val: bpfDrop})
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("rawip: assembling the port filter: %w", err)
	}
	return raw, nil
}
