//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/sctpgw/sctpgw/test/kernel/ksock"
	"github.com/sctpgw/sctpgw/test/kernel/report"
)

// initOpts bound the kernel's INIT retransmissions, so a handshake that
// cannot succeed fails in seconds.
var initOpts = ksock.Options{OutStreams: 10, MaxInStreams: 10, MaxAttempts: 3, MaxInitTimeout: 2 * time.Second}

// testMessages is what every client sends: signalling-sized ordered and
// unordered messages on several streams with S1AP's and NGAP's PPIDs, and
// one that needs several DATA chunks.
func testMessages(tag string) []ksock.Msg {
	return []ksock.Msg{
		{Stream: 0, PPID: 18, Data: tag + " S1SetupRequest"},
		{Stream: 3, PPID: 18, Unordered: true, Data: tag + " unordered on stream 3"},
		{Stream: 1, PPID: 60, Data: tag + " NGAP " + strings.Repeat("x", 3000)},
	}
}

// runClientWith connects a kernel SCTP socket created in ns to target, sends
// msgs, waits for their echoes, and shuts down gracefully.
// prep, when set, is applied to the socket before it connects (in ns, so
// that the namespace's sysctls apply).
func runClientWith(ns netns.NsHandle, target netip.AddrPort, msgs []ksock.Msg, prep func(*ksock.Conn) error) *report.Client {
	c := &report.Client{Target: target.String()}
	var conn *ksock.Conn
	err := inNS(ns, func() (err error) {
		if conn, err = ksock.Socket(target.Addr().Is6(), initOpts); err != nil || prep == nil {
			return err
		}
		if err = prep(conn); err != nil {
			conn.Close()
		}
		return err
	})
	if err != nil {
		c.ConnectErr = err.Error()
		return c
	}
	defer conn.Close()
	if err := conn.Connect(target, 15*time.Second); err != nil {
		c.ConnectErr = err.Error()
		return c
	}
	if prep != nil {
		c.PeerAuthChunks, _ = conn.PeerAuthChunks()
	}
	for _, m := range msgs {
		if err := conn.Send(m); err != nil {
			c.Err = err.Error()
			return c
		}
		c.Sent = append(c.Sent, m)
	}
	for len(c.Echoed) < len(msgs) {
		m, ev, err := conn.Recv(15 * time.Second)
		switch {
		case err != nil:
			c.Err = fmt.Sprintf("waiting for echo %d of %d: %v", len(c.Echoed)+1, len(msgs), err)
			return c
		case ev != nil:
			c.Events = append(c.Events, ev.String())
		default:
			c.Echoed = append(c.Echoed, *m)
		}
	}
	if err := conn.ShutdownWrite(); err != nil {
		c.Err = err.Error()
		return c
	}
	for {
		m, ev, err := conn.Recv(15 * time.Second)
		switch {
		case errors.Is(err, ksock.ErrClosed):
			return c
		case err != nil:
			c.Err = fmt.Sprintf("waiting for the shutdown to complete: %v", err)
			return c
		case ev != nil:
			c.Events = append(c.Events, ev.String())
			if ev.IsAssocChange(ksock.ShutdownComp) {
				c.ShutdownComplete = true
				return c
			}
		default:
			c.Events = append(c.Events, "unexpected message "+m.String())
		}
	}
}

// server is a kernel SCTP echo server: it accepts on its ports and sends
// every message back on its stream with its PPID and flags.
type server struct {
	auth  bool // its sockets hold an SCTP-AUTH key: report what the peer required
	mu    sync.Mutex
	ended []report.ServerAssoc
	wake  chan struct{}
	socks []*ksock.Conn
	wg    sync.WaitGroup
}

func newServer() *server { return &server{wake: make(chan struct{}, 1)} }

// listen opens a listening socket in ns on port (every address).
func (s *server) listen(ns netns.NsHandle, port uint16) error {
	return s.listenWith(ns, port, nil)
}

// listenWith is listen with prep applied to the socket before it binds.
func (s *server) listenWith(ns netns.NsHandle, port uint16, prep func(*ksock.Conn) error) error {
	var l *ksock.Conn
	err := inNS(ns, func() (err error) {
		if l, err = ksock.Socket(false, initOpts); err != nil {
			return err
		}
		if prep != nil {
			if err = prep(l); err != nil {
				return err
			}
			s.auth = true
		}
		if err = l.Bind(netip.AddrPortFrom(netip.IPv4Unspecified(), port)); err != nil {
			return err
		}
		return l.Listen()
	})
	if err != nil {
		return fmt.Errorf("kernel server on %d: %w", port, err)
	}
	s.socks = append(s.socks, l)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, peer, err := l.Accept(time.Hour)
			if err != nil {
				return // closed
			}
			go s.serve(port, c, peer)
		}
	}()
	return nil
}

func (s *server) serve(port uint16, c *ksock.Conn, peer netip.AddrPort) {
	defer c.Close()
	a := report.ServerAssoc{Port: port, Peer: peer.String()}
	if s.auth {
		a.PeerAuthChunks, _ = c.PeerAuthChunks()
	}
	shutdown := false
	for a.End == "" {
		m, ev, err := c.Recv(30 * time.Second)
		switch {
		case errors.Is(err, ksock.ErrClosed):
			a.End = "closed without SHUTDOWN"
			if shutdown {
				a.End = "graceful"
			}
		case errors.Is(err, ksock.ErrTimeout):
			a.End = "timeout"
		case err != nil:
			a.End = "abort: " + err.Error()
		case ev != nil:
			switch {
			case ev.IsShutdown():
				shutdown = true
			case ev.IsAssocChange(ksock.CommLost):
				a.End = "abort: " + ev.String()
			}
		default:
			a.Received = append(a.Received, *m)
			if err := c.Send(*m); err != nil {
				a.End = "echo failed: " + err.Error()
			}
		}
	}
	s.mu.Lock()
	s.ended = append(s.ended, a)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take waits up to timeout for n associations to have ended and returns
// those that have.
func (s *server) take(n int, timeout time.Duration) []report.ServerAssoc {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		if len(s.ended) >= n {
			out := s.ended
			s.ended = nil
			s.mu.Unlock()
			return out
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			out := s.ended
			s.ended = nil
			return out
		}
	}
}

// watcher counts the SCTP packets carrying an ABORT that arrive in a
// namespace, through a raw socket there (which sees a copy of each).
type watcher struct {
	fd   int
	stop chan struct{}
	done chan struct{}
	rep  report.Watch
}

const maxWatched = 60

func watch(ns netns.NsHandle) (*watcher, error) {
	w := &watcher{stop: make(chan struct{}), done: make(chan struct{})}
	err := inNS(ns, func() (err error) {
		w.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("watch socket: %w", err)
	}
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	defer close(w.done)
	defer unix.Close(w.fd)
	buf := make([]byte, 65536)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, 50); n <= 0 {
			continue
		}
		n, _, err := unix.Recvfrom(w.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			continue
		}
		w.note(buf[:n])
	}
}

var chunkNames = map[byte]string{0: "DATA", 1: "INIT", 2: "INIT_ACK", 3: "SACK", 4: "HEARTBEAT", 5: "HEARTBEAT_ACK",
	6: "ABORT", 7: "SHUTDOWN", 8: "SHUTDOWN_ACK", 9: "ERROR", 10: "COOKIE_ECHO", 11: "COOKIE_ACK", 14: "SHUTDOWN_COMPLETE", 15: "AUTH"}

// note parses an IPv4 packet with its header (raw IPv4 sockets deliver it).
func (w *watcher) note(p []byte) {
	if len(p) < 20 {
		return
	}
	ihl := int(p[0]&0xf) * 4
	if len(p) < ihl+12 {
		return
	}
	src := netip.AddrFrom4([4]byte(p[12:16]))
	s := p[ihl:]
	sport, dport := binary.BigEndian.Uint16(s[0:]), binary.BigEndian.Uint16(s[2:])
	var chunks []string
	abort := false
	for off := 12; off+4 <= len(s); {
		t, flags, l := s[off], s[off+1], int(binary.BigEndian.Uint16(s[off+2:]))
		name := chunkNames[t]
		if name == "" {
			name = fmt.Sprintf("type%d", t)
		}
		if t == 6 {
			abort = true
			name += fmt.Sprintf("(T=%d)", flags&1)
		}
		chunks = append(chunks, name)
		if l < 4 {
			break
		}
		off += (l + 3) &^ 3
	}
	if abort {
		w.rep.Aborts++
	}
	if len(w.rep.Packets) < maxWatched {
		w.rep.Packets = append(w.rep.Packets, fmt.Sprintf("%v:%d -> :%d vtag=%#x %s", src, sport, dport,
			binary.BigEndian.Uint32(s[4:]), strings.Join(chunks, ",")))
	}
}

// finish waits a moment for late packets (a kernel ABORT that lost the race
// still arrives), stops, and returns what was seen.
func (w *watcher) finish() *report.Watch {
	time.Sleep(300 * time.Millisecond)
	close(w.stop)
	<-w.done
	return &w.rep
}
