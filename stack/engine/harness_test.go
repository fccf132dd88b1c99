package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/sim"
	"github.com/sctpgw/sctpgw/stack/wire"
)

const serverPort = 5000

// recorder is a Handler that keeps every event and signal and reads every
// message.
type recorder struct {
	net     *sim.Network
	events  []engine.Event
	at      []time.Time
	signals []engine.Signal
	msgs    []engine.Message
	// noRead leaves messages in the association (a receiver that stalls).
	noRead bool
	assoc  *engine.Association
}

func (r *recorder) HandleEvent(a *engine.Association, ev engine.Event) {
	r.assoc = a
	r.events = append(r.events, ev)
	r.at = append(r.at, r.net.Now())
}

func (r *recorder) HandleSignal(a *engine.Association, s engine.Signal) {
	r.assoc = a
	r.signals = append(r.signals, s)
	if s.Type == engine.Readable && !r.noRead {
		r.drain(a)
	}
}

// signaled counts the signals of type t.
func (r *recorder) signaled(t engine.SignalType) int {
	n := 0
	for _, s := range r.signals {
		if s.Type == t {
			n++
		}
	}
	return n
}

func (r *recorder) drain(a *engine.Association) {
	for i := 0; i < 1_000_000; i++ {
		m, ok := a.Read(r.net.Now())
		if !ok {
			return
		}
		r.msgs = append(r.msgs, m)
	}
}

func (r *recorder) has(t engine.EventType) bool { return r.find(t) != nil }

func (r *recorder) find(t engine.EventType) *engine.Event {
	for i := range r.events {
		if r.events[i].Type == t {
			return &r.events[i]
		}
	}
	return nil
}

func (r *recorder) count(t engine.EventType) int {
	n := 0
	for i := range r.events {
		if r.events[i].Type == t {
			n++
		}
	}
	return n
}

// ended reports whether the association has had its last event.
func (r *recorder) ended() bool {
	for _, ev := range r.events {
		switch ev.Type {
		case engine.CommLost, engine.ShutdownComp, engine.CantStartAssoc:
			return true
		}
	}
	return false
}

func (r *recorder) types() string {
	s := ""
	for _, ev := range r.events {
		s += ev.Type.String() + " "
	}
	return s
}

// lab is a client node and a server node on one simulated link.
type lab struct {
	t      *testing.T
	net    *sim.Network
	cn, sn *sim.Node
	srv    *recorder // the last accepted association's recorder
	srvAll []*recorder
	reqs   []*engine.AcceptRequest
	// deferAccept leaves accept requests pending in reqs.
	deferAccept bool
}

func newLab(t *testing.T, seed uint64, kind link.Kind, cfg engine.Config) *lab {
	t.Helper()
	l := &lab{t: t, net: sim.New(seed)}
	l.cn = l.net.AddNode("198.18.0.1", kind)
	l.sn = l.net.AddNode("198.18.0.2", kind)
	if kind == link.UDP {
		l.cn.UDPPort = 40001
	}
	err := l.sn.Host.Listen(serverPort, cfg, engine.AcceptFunc(func(r *engine.AcceptRequest) {
		l.reqs = append(l.reqs, r)
		if l.deferAccept {
			return
		}
		l.accept(r)
	}))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *lab) accept(r *engine.AcceptRequest) {
	rec := &recorder{net: l.net}
	l.srv = rec
	l.srvAll = append(l.srvAll, rec)
	if err := r.Accept(l.net.Now(), rec); err != nil {
		l.t.Fatalf("accept: %v", err)
	}
}

func (l *lab) dial(cfg engine.Config) (*engine.Association, *recorder) {
	l.t.Helper()
	rec := &recorder{net: l.net}
	a, err := l.cn.Host.Dial(0, l.cn.PathTo(l.sn), 0, serverPort, cfg, rec, l.net.Now())
	if err != nil {
		l.t.Fatal(err)
	}
	rec.assoc = a
	return a, rec
}

// up dials and runs until both sides are ESTABLISHED.
func (l *lab) up(cfg engine.Config) (*engine.Association, *recorder) {
	l.t.Helper()
	a, rec := l.dial(cfg)
	if !l.net.RunUntil(func() bool { return rec.has(engine.CommUp) && l.srv != nil && l.srv.has(engine.CommUp) }, time.Minute) {
		l.t.Fatalf("no COMM_UP: client %s server %v", rec.types(), l.srv)
	}
	return a, rec
}

// probe injects hand-made packets into a host and returns what it answers.
type probe struct {
	nd   *sim.Node
	from link.Path // the path as the host sees it
}

func (p probe) send(t *testing.T, now time.Time, h wire.CommonHeader, chunks ...wire.Chunk) []wire.Packet {
	t.Helper()
	buf := wire.AppendPacket(nil, h, chunks...)
	// Take whatever was pending first so only the answer is returned.
	p.nd.Host.ReleaseOutgoing()
	p.nd.Host.HandlePacket(0, p.from, buf, now)
	var out []wire.Packet
	for _, o := range p.nd.Host.Outgoing() {
		var pk wire.Packet
		if err := pk.Unmarshal(append([]byte(nil), o.Buf...)); err != nil {
			t.Fatalf("host sent a bad packet: %v", err)
		}
		out = append(out, pk)
	}
	p.nd.Host.ReleaseOutgoing()
	return out
}

func chunkTypes(pk []wire.Packet) string {
	s := ""
	for _, p := range pk {
		s += "["
		for i, c := range p.Chunks {
			if i > 0 {
				s += " "
			}
			s += c.Type.String()
		}
		s += fmt.Sprintf(" vtag=%#x]", p.VerificationTag)
	}
	return s
}
