// Package sim is a deterministic network simulator for the sans-IO engine:
// a virtual clock, in-memory links with seeded loss, duplication,
// reordering, delay and bandwidth limits, and engine Hosts attached to it.
// Everything runs on the caller's goroutine; a run replays exactly from its
// seed, so a failing seed is a reproducible bug report.
package sim

import (
	"container/heap"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// Impairments apply to every packet a node sends.
type Impairments struct {
	Loss      float64       // probability a packet is dropped
	Duplicate float64       // probability a packet is delivered twice
	Reorder   float64       // probability a packet is held back by up to ReorderDelay
	Delay     time.Duration // one-way propagation delay
	Jitter    time.Duration // uniform extra delay in [0, Jitter)
	// ReorderDelay is the extra delay of a reordered packet (default 3*Delay+1ms).
	ReorderDelay time.Duration
	// Bandwidth in bytes per second; 0 is unlimited. Packets queue behind
	// each other at the sender.
	Bandwidth int
	// Drop, when set, decides before the random impairments; returning true
	// drops the packet. Tests script losses with it.
	Drop func(from *Node, pkt []byte) bool
	// PathMTU, when set, is the IP-level MTU of a router on the way: a
	// packet larger than it with the link's overhead is dropped and answered
	// with a NoticeFragNeeded quoting it, as a router does for a packet with
	// DF set, unless the packet has link.Packet.Fragment, which IP
	// fragments and the peer receives whole.
	PathMTU int
}

// Epoch is the virtual clock's start: a fixed date, so runs are identical.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Network is the simulated world.
type Network struct {
	rng     *rand.Rand
	now     time.Time
	nodes   []*Node
	inbox   pktHeap
	seq     uint64
	Sent    int // packets offered to the network
	Dropped int
	// Trace, when set, sees every delivered packet.
	Trace func(now time.Time, from, to *Node, pkt []byte)
	// Offered, when set, sees every packet a host hands to the network, as
	// the host produced it, before any impairment.
	Offered func(now time.Time, from *Node, fromLink int, p link.Packet)
	// TooBig counts packets dropped for exceeding a PathMTU.
	TooBig int
	// down holds addresses whose interface is down (SetAddrDown).
	down map[netip.Addr]bool
	// Filtered counts packets a link with FilterPorts did not deliver.
	Filtered int
	// Batch, above 1, delivers up to Batch packets due at the same instant
	// to the same node and link as one engine.Host.HandleBatch, as a
	// runtime does with what one read returned; otherwise every packet is
	// its own HandlePacket.
	Batch   int
	batch   []link.Packet
	batchIn []*inflight
	free    []*inflight // delivered packets, for reuse
}

// New makes a network whose randomness comes from seed.
func New(seed uint64) *Network {
	return &Network{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: Epoch}
}

// Now is the virtual time.
func (n *Network) Now() time.Time { return n.now }

// Rand is the network's seeded source, for tests that draw workloads.
func (n *Network) Rand() *rand.Rand { return n.rng }

// Iface is one of a node's links: an address on a native or UDP link.
type Iface struct {
	Addr netip.Addr
	// More are further addresses of a native link (a multi-homed host
	// with one raw socket): packets to any of them arrive on this link,
	// and a packet leaves from its Path.Local when that is one of them,
	// else from the one sharing the longest prefix with the destination
	// (as a kernel's route would pick).
	More []netip.Addr
	Kind link.Kind
	// UDPPort is the node's source UDP port on a UDP link: what a peer sees
	// as RemotePort. Change it to simulate a NAT rebinding.
	UDPPort uint16
	// FilterPorts makes the link deliver only packets for the local ports
	// the Host asked for through engine.HostConfig.PortUse, as a native link
	// that filters in the kernel does (stack/rawip). The node's Host gets a
	// PortUse hook (and with it the port linger's deadlines) only if one of
	// its links filters.
	FilterPorts bool
	// MTU, when set, is the IP-level MTU of the node's interface: a packet
	// larger than it with the link's overhead never leaves, and the
	// sender's own kernel reports it at once with a NoticeFragNeeded
	// quoting it (as udpencap and rawip turn EMSGSIZE into one), unless
	// the packet has link.Packet.Fragment. The link also tells it to the
	// Host (engine.LinkInfo.MTUHint) unless NoMTUHint is set, as a link
	// that cannot tell. Either may change between packets.
	MTU       int
	NoMTUHint bool
}

// Node is a simulated host with one or more links (link i is Ifaces[i]).
type Node struct {
	Net    *Network
	Host   *engine.Host
	Ifaces []*Iface
	// Addr, Kind and UDPPort mirror Ifaces[0] for single-link nodes.
	Addr    netip.Addr
	Kind    link.Kind
	UDPPort uint16
	Imp     Impairments
	// Down drops everything to and from the node (a silent peer).
	Down bool
	// Refuse makes the node's host answer every packet sent to it with an
	// ICMP report quoting it (link.NoticeProtoUnreachable) instead of
	// taking it: a host without SCTP, or with nothing on its UDP port (a
	// stopped gateway). Its Host sees nothing.
	Refuse bool
	// PortUse, when set, hears every engine.HostConfig.PortUse call of the
	// node's Host (see Iface.FilterPorts), after the node has applied it.
	PortUse func(linkIdx int, port uint16, inUse bool)

	// open holds the ports the Host asked to be served, per link.
	open map[int]map[uint16]bool

	busyUntil time.Time // bandwidth queue
}

// seededReader adapts the network's generator to io.Reader for a Host.
type seededReader struct{ r *rand.Rand }

func (s seededReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

// AddNode attaches a new Host at addr with a link of the given kind.
func (n *Network) AddNode(addr string, kind link.Kind) *Node {
	return n.AddMultiNode(Iface{Addr: netip.MustParseAddr(addr), Kind: kind})
}

// AddMultiNode attaches a Host with one link per Iface (a gateway with a
// native and a UDP side). UDP ifaces without a port get 9899.
func (n *Network) AddMultiNode(ifaces ...Iface) *Node {
	nd := &Node{Net: n}
	for i := range ifaces {
		f := ifaces[i]
		if f.Kind == link.UDP && f.UDPPort == 0 {
			f.UDPPort = 9899
		}
		nd.Ifaces = append(nd.Ifaces, &f)
	}
	nd.Addr, nd.Kind, nd.UDPPort = nd.Ifaces[0].Addr, nd.Ifaces[0].Kind, nd.Ifaces[0].UDPPort
	nd.newHost()
	n.nodes = append(n.nodes, nd)
	return nd
}

// newHost gives the node a fresh Host drawing from its own stream derived
// from the seed, so traffic on one host does not change another's tags.
func (nd *Node) newHost() {
	n := nd.Net
	r := rand.New(rand.NewPCG(n.rng.Uint64(), n.rng.Uint64()))
	infos := make([]engine.LinkInfo, len(nd.Ifaces))
	for i, f := range nd.Ifaces {
		infos[i] = engine.LinkInfo{Kind: f.Kind, AnswerUnserved: f.Kind == link.UDP, MTUHint: f.mtuHint}
	}
	nd.open = map[int]map[uint16]bool{}
	cfg := engine.HostConfig{Links: infos, Rand: seededReader{r}}
	for _, f := range nd.Ifaces {
		if f.FilterPorts {
			cfg.PortUse = nd.portUse
		}
	}
	nd.Host = engine.NewHost(cfg)
}

func (nd *Node) portUse(linkIdx int, port uint16, on bool) {
	if nd.open[linkIdx] == nil {
		nd.open[linkIdx] = map[uint16]bool{}
	}
	if on {
		nd.open[linkIdx][port] = true
	} else {
		delete(nd.open[linkIdx], port)
	}
	if nd.PortUse != nil {
		nd.PortUse(linkIdx, port, on)
	}
}

// Serves reports whether the Host last told link i to serve port (through
// engine.HostConfig.PortUse), whether or not the link filters.
func (nd *Node) Serves(i int, port uint16) bool { return nd.open[i][port] }

// filtered reports whether link i of nd filters out a packet for buf's
// destination port.
func (nd *Node) filtered(i int, buf []byte) bool {
	if !nd.Ifaces[i].FilterPorts || len(buf) < 4 {
		return false
	}
	return !nd.Serves(i, uint16(buf[2])<<8|uint16(buf[3]))
}

// iface returns Ifaces[0] with the mirrored fields applied (tests change
// nd.UDPPort to simulate rebinding on single-link nodes).
func (nd *Node) iface(i int) Iface {
	f := *nd.Ifaces[i]
	if i == 0 {
		f.Addr, f.Kind, f.UDPPort = nd.Addr, nd.Kind, nd.UDPPort
	}
	return f
}

// PathTo is the path from nd to peer over their first links.
func (nd *Node) PathTo(peer *Node) link.Path {
	return nd.PathVia(0, peer, 0)
}

// PathVia is the path from nd's link i to peer's link j.
func (nd *Node) PathVia(i int, peer *Node, j int) link.Path {
	f, g := nd.iface(i), peer.iface(j)
	p := link.Path{Local: f.Addr, Remote: g.Addr}
	if f.Kind == link.UDP {
		p.RemotePort = g.UDPPort
	}
	return p
}

type inflight struct {
	at     time.Time
	seq    uint64
	from   *Node
	to     *Node
	toLink int
	path   link.Path // as the receiver sees it
	buf    []byte
	// notice, when set, makes this a report to the sender (buf the quote).
	notice link.Notice
	mtu    int
}

type pktHeap []*inflight

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(*inflight)) }
func (h *pktHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (n *Network) nodeAt(a netip.Addr) (*Node, int) {
	for _, nd := range n.nodes {
		for i := range nd.Ifaces {
			if f := nd.iface(i); f.Addr == a || slices.Contains(f.More, a) {
				return nd, i
			}
		}
	}
	return nil, 0
}

// SetAddrDown takes the interface of a down (or up again): every packet
// from or to a is dropped, as when the veth holding it is down.
func (n *Network) SetAddrDown(a netip.Addr, down bool) {
	if n.down == nil {
		n.down = map[netip.Addr]bool{}
	}
	n.down[a] = down
}

// source is the address a packet on path p leaves link f from.
func (f *Iface) source(p link.Path) netip.Addr {
	if len(f.More) == 0 {
		return f.Addr
	}
	if p.Local == f.Addr || slices.Contains(f.More, p.Local) {
		return p.Local
	}
	best, bestLen := f.Addr, commonPrefix(f.Addr, p.Remote)
	for _, a := range f.More {
		if l := commonPrefix(a, p.Remote); l > bestLen {
			best, bestLen = a, l
		}
	}
	return best
}

func commonPrefix(a, b netip.Addr) int {
	if a.BitLen() != b.BitLen() {
		return -1
	}
	x, y := a.As16(), b.As16()
	n := 0
	for i := range x {
		d := x[i] ^ y[i]
		if d != 0 {
			return n + bits.LeadingZeros8(d)
		}
		n += 8
	}
	return n
}

// collect moves every packet the hosts produced into the network.
func (n *Network) collect() {
	for _, nd := range n.nodes {
		out := nd.Host.Outgoing()
		for _, o := range out {
			n.offer(nd, o.Link, o.Packet)
		}
		nd.Host.ReleaseOutgoing()
	}
}

func (n *Network) offer(from *Node, fromLink int, p link.Packet) {
	n.Sent++
	if n.Offered != nil {
		n.Offered(n.now, from, fromLink, p)
	}
	to, toLink := n.nodeAt(p.Path.Remote)
	imp := &from.Imp
	if n.tooBig(from, fromLink, p) {
		return
	}
	f := from.iface(fromLink)
	srcAddr := f.source(p.Path)
	if to == nil || from.Down || to.Down || n.down[srcAddr] || n.down[p.Path.Remote] ||
		(imp.Drop != nil && imp.Drop(from, p.Buf)) || n.chance(imp.Loss) {
		n.Dropped++
		return
	}
	if to.Refuse {
		n.refused(from, fromLink, p)
		return
	}
	at := n.now
	if imp.Bandwidth > 0 {
		if from.busyUntil.After(at) {
			at = from.busyUntil
		}
		at = at.Add(time.Duration(int64(len(p.Buf)) * int64(time.Second) / int64(imp.Bandwidth)))
		from.busyUntil = at
	}
	at = at.Add(imp.Delay)
	if imp.Jitter > 0 {
		at = at.Add(time.Duration(n.rng.Int64N(int64(imp.Jitter))))
	}
	if n.chance(imp.Reorder) {
		rd := imp.ReorderDelay
		if rd == 0 {
			rd = 3*imp.Delay + time.Millisecond
		}
		at = at.Add(time.Duration(n.rng.Int64N(int64(rd)) + 1))
	}
	rp := link.Path{Local: p.Path.Remote, Remote: srcAddr}
	if f.Kind == link.UDP {
		rp.RemotePort = f.UDPPort
	}
	copies := 1
	if n.chance(imp.Duplicate) {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		n.seq++
		q := n.alloc()
		buf := append(q.buf[:0], p.Buf...)
		*q = inflight{at: at.Add(time.Duration(i) * time.Microsecond), seq: n.seq, from: from, to: to, toLink: toLink, path: rp, buf: buf}
		heap.Push(&n.inbox, q)
	}
}

// alloc returns a packet in flight from the free list, or a new one: the
// network allocates nothing per packet once warm, so allocation counts
// taken through it are the hosts'.
func (n *Network) alloc() *inflight {
	if k := len(n.free); k > 0 {
		q := n.free[k-1]
		n.free = n.free[:k-1]
		return q
	}
	return &inflight{}
}

// recycle gives back a delivered packet; hosts keep no packet buffer.
func (n *Network) recycle(q *inflight) {
	if len(n.free) < 4096 {
		*q = inflight{buf: q.buf[:0]}
		n.free = append(n.free, q)
	}
}

// icmpQuote is how much of a dropped packet the simulated router quotes:
// ICMP carries as much as fits a 576-byte datagram (RFC 1812 4.3.2.3).
const icmpQuote = 576 - 20 - 8 - 20

// mtuHint is the interface MTU as the link tells it (engine.LinkInfo.MTUHint).
func (f *Iface) mtuHint(link.Path) int {
	if f.NoMTUHint {
		return 0
	}
	return f.MTU
}

// tooBig drops p if it exceeds the sender's interface MTU, and queues the
// sender's own report at once, or if it exceeds the PathMTU of a router on
// the way with DF set, and queues the router's "fragmentation needed" back
// to the sender after the one-way delay. Packets with Fragment pass: IP
// fragments them and the peer reassembles, so the SCTP packet arrives
// whole.
func (n *Network) tooBig(from *Node, fromLink int, p link.Packet) bool {
	src := from.iface(fromLink)
	ovh := link.IPOverhead(p.Path.Remote)
	if src.Kind == link.UDP {
		ovh += 8
	}
	size := len(p.Buf) + ovh
	var mtu int
	var delay time.Duration
	switch {
	case p.Fragment:
		return false
	case src.MTU > 0 && size > src.MTU:
		mtu = src.MTU
	case from.Imp.PathMTU > 0 && size > from.Imp.PathMTU:
		mtu, delay = from.Imp.PathMTU, from.Imp.Delay
	default:
		return false
	}
	n.TooBig++
	n.Dropped++
	if from.Down {
		return true
	}
	q := p.Buf[:min(len(p.Buf), icmpQuote)]
	n.seq++
	heap.Push(&n.inbox, &inflight{
		at: n.now.Add(delay), seq: n.seq, from: from, to: from, toLink: fromLink,
		path:   link.Path{Local: src.Addr, Remote: p.Path.Remote, RemotePort: p.Path.RemotePort},
		buf:    append([]byte(nil), q...),
		notice: link.NoticeFragNeeded, mtu: mtu,
	})
	return true
}

// refused drops p at a node that refuses it and queues its host's ICMP
// report back to the sender after the round trip.
func (n *Network) refused(from *Node, fromLink int, p link.Packet) {
	n.Dropped++
	src := from.iface(fromLink)
	n.seq++
	heap.Push(&n.inbox, &inflight{
		at: n.now.Add(2 * from.Imp.Delay), seq: n.seq, from: from, to: from, toLink: fromLink,
		path:   link.Path{Local: src.Addr, Remote: p.Path.Remote, RemotePort: p.Path.RemotePort},
		buf:    append([]byte(nil), p.Buf[:min(len(p.Buf), icmpQuote)]...),
		notice: link.NoticeProtoUnreachable,
	})
}

func (n *Network) chance(p float64) bool { return p > 0 && n.rng.Float64() < p }

// Step runs the next event (a delivery or a timer) and reports whether there
// was one no later than limit.
func (n *Network) Step(limit time.Time) bool {
	n.collect()
	var next time.Time
	var timerNode *Node
	if len(n.inbox) > 0 {
		next = n.inbox[0].at
	}
	for _, nd := range n.nodes {
		if d, ok := nd.Host.NextDeadline(); ok && (next.IsZero() || d.Before(next)) {
			next, timerNode = d, nd
		}
	}
	if next.IsZero() || next.After(limit) {
		return false
	}
	if next.After(n.now) {
		n.now = next
	}
	if timerNode != nil {
		timerNode.Host.HandleTimeout(n.now)
	} else if n.Batch > 1 {
		n.deliverBatch()
	} else {
		p := heap.Pop(&n.inbox).(*inflight)
		switch {
		case p.to.Down:
		case p.notice == link.NoticeNone && p.to.filtered(p.toLink, p.buf):
			n.Filtered++
		case p.notice != link.NoticeNone:
			p.to.Host.HandleNotice(p.toLink, link.Packet{Path: p.path, Buf: p.buf, Notice: p.notice, MTU: p.mtu}, n.now)
		default:
			if n.Trace != nil {
				n.Trace(n.now, p.from, p.to, p.buf)
			}
			p.to.Host.HandlePacket(p.toLink, p.path, p.buf, n.now)
		}
		n.recycle(p)
	}
	n.collect()
	return true
}

// deliverBatch hands the node the next packet due and every other packet
// due at the same instant on the same node and link, up to Batch, in one
// HandleBatch.
func (n *Network) deliverBatch() {
	first := n.inbox[0]
	n.batch = n.batch[:0]
	for len(n.inbox) > 0 && len(n.batch) < n.Batch {
		p := n.inbox[0]
		if !p.at.Equal(first.at) || p.to != first.to || p.toLink != first.toLink {
			break
		}
		heap.Pop(&n.inbox)
		n.batchIn = append(n.batchIn, p)
		switch {
		case p.to.Down:
		case p.notice == link.NoticeNone && p.to.filtered(p.toLink, p.buf):
			n.Filtered++
		case p.notice != link.NoticeNone:
			n.batch = append(n.batch, link.Packet{Path: p.path, Buf: p.buf, Notice: p.notice, MTU: p.mtu})
		default:
			if n.Trace != nil {
				n.Trace(n.now, p.from, p.to, p.buf)
			}
			n.batch = append(n.batch, link.Packet{Path: p.path, Buf: p.buf})
		}
	}
	if len(n.batch) > 0 {
		first.to.Host.HandleBatch(first.toLink, n.batch, n.now)
	}
	clear(n.batch)
	for _, q := range n.batchIn {
		n.recycle(q)
	}
	clear(n.batchIn)
	n.batchIn = n.batchIn[:0]
}

// RunFor advances the clock by d, processing everything due.
func (n *Network) RunFor(d time.Duration) {
	end := n.now.Add(d)
	for i := 0; i < maxSteps && n.Step(end); i++ {
	}
	if n.now.Before(end) {
		n.now = end
	}
}

// maxSteps bounds any single run so a livelock fails instead of hanging.
const maxSteps = 50_000_000

// RunUntil runs until cond holds or the virtual time limit passes; it
// reports whether cond held.
func (n *Network) RunUntil(cond func() bool, limit time.Duration) bool {
	end := n.now.Add(limit)
	for i := 0; i < maxSteps; i++ {
		if cond() {
			return true
		}
		if !n.Step(end) {
			return cond()
		}
	}
	panic(fmt.Sprintf("sim: more than %d steps without reaching the limit", maxSteps))
}

// Restart replaces the node's Host with a fresh one, as if the machine had
// crashed and come back: every association it had is forgotten.
func (nd *Node) Restart() { nd.newHost() }
