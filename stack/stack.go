// Package stack is sctpgw's SCTP stack as a Go API: a runtime that drives
// the sans-IO engine (stack/engine) with goroutines, timers and links, and
// associations with blocking calls in the vocabulary of RFC 6458 and
// gen_sctp: Listen/Accept, Dial, SendMsg, RecvMsg, Shutdown, Abort, Status
// and events.
//
// One Stack owns one engine Host and its links. One reader goroutine per
// link receives packets in batches and one timer goroutine fires timers; no
// goroutine is started per association or per packet.
//
// # Concurrency
//
// Every method of Stack, Listener, Assoc and AcceptRequest is safe for
// concurrent use. One mutex per Stack (Stack.mu) guards the engine Host and
// everything it touches: each received batch takes it once for the whole
// batch, each timer expiry and each call (SendMsg, RecvMsg, Status, ...)
// once. Engine work for all of a Stack's associations therefore runs on one
// core at a time; the batching (ReadBatch, deferred flushes that bundle the
// messages queued meanwhile) is what keeps the lock's cost per message low.
// BenchmarkManyAssocsConcurrentSend measures it with 1000 associations over
// one link. Applications needing more cores run several Stacks. Blocking
// calls wait outside the lock; events and accept hooks run under it and must
// not block.
package stack

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pion/logging"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// Config configures a Stack.
type Config struct {
	// Links the stack sends and receives on; at least one.
	Links []link.Link
	// AnswerUnserved per link: see engine.LinkInfo. Nil means true for UDP
	// links and false for native ones.
	AnswerUnserved []bool
	Clock          Clock
	Rand           io.Reader
	LoggerFactory  logging.LoggerFactory
	// BatchSize is how many packets one ReadBatch may return (default 64).
	BatchSize int
	// PortUse hears when a local port starts or stops being used on a link
	// (engine.HostConfig.PortUse); it runs under the Stack's lock.
	PortUse func(linkIdx int, port uint16, inUse bool)
	// Tap, when set, sees every SCTP packet received (in) and sent, with its
	// link and path, e.g. to write a pcap. It runs under the Stack's lock.
	Tap func(in bool, linkIdx int, p link.Path, pkt []byte)
	// CookieKeyRotation is how often the secret that signs state cookies
	// changes (RFC 9260 5.1.3); the previous one stays valid for one more
	// period. Zero means the engine's default (1 h).
	CookieKeyRotation time.Duration
	// TimerSlack coalesces timers: the stack wakes for them at the first
	// multiple of TimerSlack (on the clock, not since some start) at or
	// after the earliest deadline, and runs every timer due by then. So the
	// heartbeats of thousands of associations leave in batches, one wakeup
	// and one system call each, and, since peers that do the same wake on
	// the same boundaries, arrive in batches. RFC 9260 timers are lower
	// bounds; a few milliseconds on timers of 200 ms (delayed SACK) and up
	// are harmless. Zero means DefaultTimerSlack; negative turns it off.
	TimerSlack time.Duration
	// ReturnMemory, when set, is called (outside the Stack's lock) once the
	// established associations have fallen to half their peak, by at least
	// 256, checked every 5 s. A daemon passes debug.FreeOSMemory: the Go
	// runtime otherwise keeps what thousands of closed associations held
	// resident for minutes (it collects only when something allocates, and
	// returns freed pages slowly).
	ReturnMemory func()
}

// DefaultTimerSlack is Config.TimerSlack's default, the granularity of
// kernel timers (jiffies) at HZ=100. With 10,000 associations a gateway
// sends and answers about 1,000 heartbeats a second: woken per heartbeat
// it spent 7 % of a core idle, mostly switching threads.
const DefaultTimerSlack = 10 * time.Millisecond

// Stack is a running SCTP stack.
type Stack struct {
	cfg   Config
	clock Clock
	log   logging.LeveledLogger

	mu     sync.Mutex // guards host and everything the engine touches
	host   *engine.Host
	links  []link.Link
	out    [][]link.Packet // per-link write batches, reused
	closed bool

	kick chan struct{} // the timer goroutine re-reads the deadline
	// flushDue: user sends are queued in the engine and the timer goroutine
	// owes them a flush (see sendLocked).
	flushDue bool
	// armed is the deadline the timer goroutine sleeps toward (zero: none).
	// A flush wakes it only for an earlier one: waking it after every
	// batch cost a goroutine switch, often a thread wakeup, per batch.
	armed time.Time
	done  chan struct{}
	wg    sync.WaitGroup
	// discards logs the engine's drops, rate-limited.
	discards discardLog
	// delays per link (Delays).
	delays []LinkDelays
}

// ErrClosed is returned by calls on a closed Stack or association.
var ErrClosed = errors.New("stack: closed")

// New starts a Stack on its links.
func New(cfg Config) (*Stack, error) {
	if len(cfg.Links) == 0 {
		return nil, errors.New("stack: no links")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 64
	}
	if cfg.TimerSlack == 0 {
		cfg.TimerSlack = DefaultTimerSlack
	}
	lf := cfg.LoggerFactory
	if lf == nil {
		lf = logging.NewDefaultLoggerFactory()
	}
	infos := make([]engine.LinkInfo, len(cfg.Links))
	for i, l := range cfg.Links {
		ans := l.Kind().Encapsulated()
		if i < len(cfg.AnswerUnserved) {
			ans = cfg.AnswerUnserved[i]
		}
		cv, _ := l.(link.ChecksumVerifier)
		infos[i] = engine.LinkInfo{Kind: l.Kind(), Overhead: l.Overhead, AnswerUnserved: ans,
			ChecksumVerified: cv != nil && cv.VerifiesChecksum()}
		if mh, ok := l.(link.MTUHinter); ok {
			infos[i].MTUHint = mh.MTUHint
		}
	}
	s := &Stack{
		cfg: cfg, clock: cfg.Clock, log: lf.NewLogger("sctp"),
		links: cfg.Links, out: make([][]link.Packet, len(cfg.Links)),
		delays: make([]LinkDelays, len(cfg.Links)),
		kick:   make(chan struct{}, 1), done: make(chan struct{}),
	}
	s.discards.log = s.log
	s.host = engine.NewHost(engine.HostConfig{Links: infos, Rand: cfg.Rand, PortUse: cfg.PortUse,
		CookieKeyRotation: cfg.CookieKeyRotation, OnDiscard: s.discards.note})
	for i := range cfg.Links {
		s.wg.Add(1)
		go s.readLoop(i)
	}
	s.wg.Add(1)
	go s.timerLoop()
	if cfg.ReturnMemory != nil {
		s.wg.Add(1)
		go s.memoryLoop()
	}
	return s, nil
}

// AssocCount is the number of associations the engine holds, in any state
// (those waiting for an accept answer included).
func (s *Stack) AssocCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	s.host.Associations(func(*engine.Association) { n++ })
	return n
}

// Stats returns the engine's counters.
func (s *Stack) Stats() engine.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host.Stats()
}

func (s *Stack) readLoop(i int) {
	defer s.wg.Done()
	l := s.links[i]
	pkts := make([]link.Packet, s.cfg.BatchSize)
	for j := range pkts {
		pkts[j].Buf = make([]byte, 0, link.MaxPacket)
	}
	for {
		for j := range pkts {
			// A slot keeps what the last batch left in it: a link that
			// fills a packet without a receive time must not pass the
			// old one on.
			pkts[j].Buf, pkts[j].Arrived = pkts[j].Buf[:cap(pkts[j].Buf)], 0
		}
		// A link may return packets together with an error (an error met
		// after them): the packets are good and go in first.
		n, err := l.ReadBatch(pkts)
		if n > 0 && !s.input(i, pkts[:n]) {
			return
		}
		if err != nil {
			if errors.Is(err, link.ErrClosed) || s.isClosed() {
				return
			}
			s.log.Warnf("link %d: read: %v", i, err)
			select {
			case <-s.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// input hands a batch read from link i to the engine and sends what it
// produced; false means the stack is closed.
func (s *Stack) input(i int, pkts []link.Packet) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	now := s.clock.Now()
	s.noteWaited(i, pkts, now)
	if s.cfg.Tap != nil {
		for _, p := range pkts {
			if p.Notice == link.NoticeNone {
				s.cfg.Tap(true, i, p.Path, p.Buf)
			}
		}
	}
	// One input for the whole batch: one SACK per association, and the
	// relay's handlers forward what the batch completed at once.
	s.host.HandleBatch(i, pkts, now)
	s.delays[i].Handled.observe(s.clock.Now().Sub(now))
	s.flushLocked()
	return true
}

func (s *Stack) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// sendLocked queues a message without sending it at once: the timer
// goroutine flushes soon after, and every message queued meanwhile leaves
// in the same packets. Under light load that is one goroutine switch later;
// under load it turns one packet per message into full packets.
func (s *Stack) sendLocked(a *engine.Association, data []byte, info engine.SndInfo) error {
	s.host.Defer(true)
	err := a.Send(s.clock.Now(), data, info)
	s.host.Defer(false)
	if err == nil && !s.flushDue {
		s.flushDue = true
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return err
}

// flushLocked writes what the engine produced, one batch per link, and
// makes the timer goroutine look at the (maybe earlier) next deadline.
func (s *Stack) flushLocked() {
	out := s.host.Outgoing()
	if len(out) > 0 {
		for i := range s.out {
			s.out[i] = s.out[i][:0]
		}
		for _, o := range out {
			s.out[o.Link] = append(s.out[o.Link], o.Packet)
		}
		start := s.clock.Now()
		for i, b := range s.out {
			if len(b) == 0 {
				continue
			}
			s.writeLocked(i, b)
			end := s.clock.Now()
			s.delays[i].Written.observe(end.Sub(start))
			start = end
			// The batches keep their size after a burst: their packets
			// must not keep the engine's buffers, which it recycles or
			// drops, alive.
			clear(b)
		}
		s.host.ReleaseOutgoing()
	}
	if d, ok := s.host.NextDeadline(); ok && (s.armed.IsZero() || s.wakeFor(d).Before(s.armed)) {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// writeLocked sends b on link i. A packet the link refuses (EMSGSIZE, an
// unreachable destination) is skipped and the rest of the batch still goes:
// one peer's bad path must not cost others their packets. Tap sees only
// what the link took, so a capture never shows a refused packet as sent.
func (s *Stack) writeLocked(i int, b []link.Packet) {
	for len(b) > 0 {
		n, err := s.links[i].WriteBatch(b)
		n = min(max(n, 0), len(b))
		if s.cfg.Tap != nil {
			for _, p := range b[:n] {
				s.cfg.Tap(false, i, p.Path, p.Buf)
			}
		}
		if err == nil || errors.Is(err, link.ErrClosed) {
			return
		}
		s.log.Debugf("link %d: write: %v", i, err)
		if n == len(b) {
			return
		}
		b = b[n+1:]
	}
}

// wakeFor is when the timer goroutine wakes for a deadline d: the first
// multiple of TimerSlack at or after it (see Config.TimerSlack).
func (s *Stack) wakeFor(d time.Time) time.Time {
	g := s.cfg.TimerSlack
	if g <= 0 {
		return d
	}
	if w := d.Truncate(g); w.Before(d) {
		return w.Add(g)
	}
	return d
}

func (s *Stack) timerLoop() {
	defer s.wg.Done()
	t := s.clock.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		d, ok := s.host.NextDeadline()
		now := s.clock.Now()
		wait := time.Hour
		s.armed = time.Time{}
		if ok {
			s.armed = s.wakeFor(d)
			wait = max(s.armed.Sub(now), 0)
		}
		armed := s.armed
		s.mu.Unlock()
		t.Stop()
		if ta, ok := t.(TimerAt); ok && !armed.IsZero() {
			ta.ResetAt(armed)
		} else {
			t.Reset(wait)
		}
		select {
		case <-s.done:
			return
		case <-s.kick:
			s.mu.Lock()
			if s.flushDue && !s.closed {
				s.flushDue = false
				s.host.Flush(s.clock.Now())
				s.flushLocked()
			}
			s.mu.Unlock()
		case <-t.C():
			s.mu.Lock()
			if !s.closed {
				now := s.clock.Now()
				s.host.HandleTimeout(now)
				s.flushLocked()
			}
			s.mu.Unlock()
		}
	}
}

// Close aborts every association with reason (a User-Initiated Abort cause,
// if not empty), closes the links and waits for the goroutines to end.
func (s *Stack) Close(reason string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.host.Close(s.clock.Now(), reason)
	s.flushLocked()
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	var errs []error
	for i, l := range s.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stack: close link %d: %w", i, err))
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}
