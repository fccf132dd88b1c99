package engine

import (
	"container/heap"
	"time"
)

// linkPort is a local port on one link.
type linkPort struct {
	link int
	port uint16
}

// portState is what the Host knows of one local port on one link: how many
// listeners and associations use it, whether HostConfig.PortUse was told to
// serve it, and the one pending release of a port nobody uses any more.
type portState struct {
	k     linkPort
	users int
	open  bool // PortUse(on) was called and (off) not yet
	// releaseAt is when the port, unused since, is handed back; it is
	// meaningful while relIdx >= 0, the state's place in the release heap.
	releaseAt time.Time
	relIdx    int
}

// linkPorts tracks every used or lingering (link, port). A port is open on
// its link from its first user until portLinger after its last one; a new
// user within the linger cancels the release, so the link is told once of
// the start and once of the end however often the port is reused.
type linkPorts struct {
	m        map[linkPort]*portState
	releases releaseHeap
}

func newLinkPorts() linkPorts { return linkPorts{m: make(map[linkPort]*portState)} }

// usePort counts a user of a port on a link arriving (on) or leaving, and
// tells PortUse when the port must start or may stop being served.
func (h *Host) usePort(linkIdx int, port uint16, on bool) {
	k := linkPort{linkIdx, port}
	ps := &h.ports
	st := ps.m[k]
	if st == nil {
		if !on {
			return // never counted: nothing to release
		}
		st = &portState{k: k, relIdx: -1}
		ps.m[k] = st
	}
	if on {
		st.users++
		if st.relIdx >= 0 {
			heap.Remove(&ps.releases, st.relIdx) // taken again while lingering
		}
		if !st.open && h.cfg.PortUse != nil {
			st.open = true
			h.cfg.PortUse(linkIdx, port, true)
		}
		return
	}
	if st.users--; st.users > 0 {
		return
	}
	st.users = 0
	if !st.open {
		delete(ps.m, k)
		return
	}
	// Keep the port open on the link while it lingers, so a retransmitted
	// SHUTDOWN ACK still reaches us and is answered (RFC 9260 8.4 rule 5)
	// even on a filtering native link.
	st.releaseAt = h.lastNow.Add(portLinger)
	heap.Push(&ps.releases, st)
}

// releasePorts tells PortUse of ports whose linger ended with nobody using
// them again.
func (h *Host) releasePorts(now time.Time) {
	ps := &h.ports
	for len(ps.releases) > 0 && !now.Before(ps.releases[0].releaseAt) {
		st := heap.Pop(&ps.releases).(*portState)
		delete(ps.m, st.k)
		st.open = false
		h.cfg.PortUse(st.k.link, st.k.port, false)
	}
}

// nextPortRelease is when releasePorts next has work, if ever.
func (h *Host) nextPortRelease() (time.Time, bool) {
	if len(h.ports.releases) == 0 {
		return time.Time{}, false
	}
	return h.ports.releases[0].releaseAt, true
}

// releaseHeap orders pending port releases, earliest first.
type releaseHeap []*portState

func (r releaseHeap) Len() int           { return len(r) }
func (r releaseHeap) Less(i, j int) bool { return r[i].releaseAt.Before(r[j].releaseAt) }
func (r releaseHeap) Swap(i, j int) {
	r[i], r[j] = r[j], r[i]
	r[i].relIdx = i
	r[j].relIdx = j
}
func (r *releaseHeap) Push(x any) {
	st := x.(*portState)
	st.relIdx = len(*r)
	*r = append(*r, st)
}
func (r *releaseHeap) Pop() any {
	old := *r
	st := old[len(old)-1]
	old[len(old)-1] = nil
	*r = old[:len(old)-1]
	st.relIdx = -1
	return st
}
