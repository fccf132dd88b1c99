//go:build linux

// Package ksock is a small client of the Linux kernel's own SCTP sockets
// (one-to-one style, RFC 6458 section 4), enough for tests to play an eNB
// or an MME on a kernel with SCTP: connect, listen and accept, messages
// with their stream, PPID and unordered flag (SCTP_SNDINFO, SCTP_RCVINFO),
// association change and shutdown events, graceful shutdown and abort.
// It uses system calls only (no libsctp).
package ksock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket options and ancillary data of <linux/sctp.h>.
const (
	optInitMsg     = 2
	optNoDelay     = 3
	optRecvRcvInfo = 32
	optEvent       = 127
	cmsgSndInfo    = 2
	cmsgRcvInfo    = 3
	flagUnordered  = 1
	msgNotifiation = 0x8000

	// Notification types (enum sctp_sn_type).
	snAssocChange   = 0x8001
	snShutdownEvent = 0x8005
)

// Association states of an SCTP_ASSOC_CHANGE notification.
const (
	CommUp       = 0
	CommLost     = 1
	Restart      = 2
	ShutdownComp = 3
	CantStrAssoc = 4
)

// Msg is one user message.
type Msg struct {
	Stream    uint16 `json:"stream"`
	PPID      uint32 `json:"ppid"`
	Unordered bool   `json:"unordered"`
	Data      string `json:"data"`
}

func (m Msg) String() string {
	d := m.Data
	if len(d) > 24 {
		d = fmt.Sprintf("%s...(%d bytes)", d[:24], len(m.Data))
	}
	return fmt.Sprintf("stream=%d ppid=%d unordered=%v %q", m.Stream, m.PPID, m.Unordered, d)
}

// Event is a notification.
type Event struct {
	Type  uint16 // snAssocChange, snShutdownEvent, ...
	State uint16 // for an association change
	Error uint16
}

func (e Event) String() string {
	switch e.Type {
	case snAssocChange:
		names := []string{"COMM_UP", "COMM_LOST", "RESTART", "SHUTDOWN_COMP", "CANT_STR_ASSOC"}
		if int(e.State) < len(names) {
			return fmt.Sprintf("ASSOC_CHANGE %s error=%d", names[e.State], e.Error)
		}
		return fmt.Sprintf("ASSOC_CHANGE state=%d error=%d", e.State, e.Error)
	case snShutdownEvent:
		return "SHUTDOWN_EVENT"
	}
	return fmt.Sprintf("notification %#x", e.Type)
}

// IsShutdown reports whether e is SCTP_SHUTDOWN_EVENT: the peer sent
// SHUTDOWN.
func (e Event) IsShutdown() bool { return e.Type == snShutdownEvent }

// IsAssocChange reports whether e is an association change to state.
func (e Event) IsAssocChange(state uint16) bool { return e.Type == snAssocChange && e.State == state }

// ErrTimeout is returned when a deadline passes.
var ErrTimeout = errors.New("ksock: timed out")

// Options shape a socket; zero values keep the kernel's defaults.
type Options struct {
	OutStreams, MaxInStreams uint16
	// MaxAttempts and MaxInitTimeout bound the INIT retransmissions
	// (SCTP_INITMSG), so a refused or lost handshake fails fast.
	MaxAttempts    uint16
	MaxInitTimeout time.Duration
}

// Conn is a one-to-one style kernel SCTP socket. It belongs to the network
// namespace of the thread that created it.
type Conn struct {
	fd int
	v6 bool
}

// Socket opens an SCTP socket of the family of addr (AF_INET or AF_INET6),
// subscribed to association change and shutdown events, receiving
// SCTP_RCVINFO with every message, with SCTP_NODELAY.
func Socket(v6 bool, o Options) (*Conn, error) {
	af := unix.AF_INET
	if v6 {
		af = unix.AF_INET6
	}
	fd, err := unix.Socket(af, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil {
		return nil, fmt.Errorf("ksock: socket(IPPROTO_SCTP): %w (is the sctp module loaded?)", err)
	}
	c := &Conn{fd: fd, v6: v6}
	if err := c.setup(o); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return c, nil
}

func (c *Conn) setup(o Options) error {
	for _, opt := range []struct {
		name, val int
		what      string
	}{{optRecvRcvInfo, 1, "SCTP_RECVRCVINFO"}, {optNoDelay, 1, "SCTP_NODELAY"}} {
		if err := unix.SetsockoptInt(c.fd, unix.IPPROTO_SCTP, opt.name, opt.val); err != nil {
			return fmt.Errorf("ksock: %s: %w", opt.what, err)
		}
	}
	for _, t := range []uint16{snAssocChange, snShutdownEvent} {
		// struct sctp_event: se_assoc_id (SCTP_FUTURE_ASSOC), se_type, se_on.
		ev := make([]byte, 8)
		binary.NativeEndian.PutUint16(ev[4:], t)
		ev[6] = 1
		if err := unix.SetsockoptString(c.fd, unix.IPPROTO_SCTP, optEvent, string(ev)); err != nil {
			return fmt.Errorf("ksock: SCTP_EVENT %#x: %w", t, err)
		}
	}
	if o != (Options{}) {
		im := make([]byte, 8)
		binary.NativeEndian.PutUint16(im[0:], o.OutStreams)
		binary.NativeEndian.PutUint16(im[2:], o.MaxInStreams)
		binary.NativeEndian.PutUint16(im[4:], o.MaxAttempts)
		binary.NativeEndian.PutUint16(im[6:], uint16(o.MaxInitTimeout/time.Millisecond))
		if err := unix.SetsockoptString(c.fd, unix.IPPROTO_SCTP, optInitMsg, string(im)); err != nil {
			return fmt.Errorf("ksock: SCTP_INITMSG: %w", err)
		}
	}
	return nil
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// wait polls the socket for events until the deadline.
func (c *Conn) wait(events int16, deadline time.Time) (int16, error) {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, ErrTimeout
		}
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: events}}
		n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("ksock: poll: %w", err)
		}
		if n > 0 {
			return fds[0].Revents, nil
		}
	}
}

// Bind binds to a local address and port.
func (c *Conn) Bind(ap netip.AddrPort) error {
	if err := unix.Bind(c.fd, sockaddr(ap)); err != nil {
		return fmt.Errorf("ksock: bind %v: %w", ap, err)
	}
	return nil
}

// Listen makes the socket a listener.
func (c *Conn) Listen() error {
	if err := unix.Listen(c.fd, 16); err != nil {
		return fmt.Errorf("ksock: listen: %w", err)
	}
	return nil
}

// Accept waits up to timeout for an association.
func (c *Conn) Accept(timeout time.Duration) (*Conn, netip.AddrPort, error) {
	if _, err := c.wait(unix.POLLIN, time.Now().Add(timeout)); err != nil {
		return nil, netip.AddrPort{}, err
	}
	nfd, sa, err := unix.Accept4(c.fd, unix.SOCK_CLOEXEC)
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("ksock: accept: %w", err)
	}
	return &Conn{fd: nfd, v6: c.v6}, addrPort(sa), nil
}

// Connect sets the association up with the peer, waiting up to timeout.
// A peer's (or anyone's) ABORT during the handshake fails it with
// ECONNREFUSED.
func (c *Conn) Connect(ap netip.AddrPort, timeout time.Duration) error {
	if err := unix.SetNonblock(c.fd, true); err != nil {
		return err
	}
	defer unix.SetNonblock(c.fd, false)
	err := unix.Connect(c.fd, sockaddr(ap))
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINPROGRESS) {
		return fmt.Errorf("ksock: connect %v: %w", ap, err)
	}
	if _, err := c.wait(unix.POLLOUT, time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("ksock: connect %v: %w", ap, err)
	}
	soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("ksock: connect %v: SO_ERROR: %w", ap, err)
	}
	if soerr != 0 {
		return fmt.Errorf("ksock: connect %v: %w", ap, unix.Errno(soerr))
	}
	return nil
}

// LocalPort is the socket's local port.
func (c *Conn) LocalPort() uint16 {
	sa, err := unix.Getsockname(c.fd)
	if err != nil {
		return 0
	}
	return addrPort(sa).Port()
}

// Send sends one message (SCTP_SNDINFO). PPIDs are in host order here and
// big-endian on the wire.
func (c *Conn) Send(m Msg) error {
	info := make([]byte, 16) // struct sctp_sndinfo
	binary.NativeEndian.PutUint16(info[0:], m.Stream)
	if m.Unordered {
		binary.NativeEndian.PutUint16(info[2:], flagUnordered)
	}
	binary.BigEndian.PutUint32(info[4:], m.PPID)
	oob := cmsg(unix.IPPROTO_SCTP, cmsgSndInfo, info)
	n, err := unix.SendmsgN(c.fd, []byte(m.Data), oob, nil, 0)
	if err != nil {
		return fmt.Errorf("ksock: send %v: %w", m, err)
	}
	if n != len(m.Data) {
		return fmt.Errorf("ksock: send %v: %d of %d bytes", m, n, len(m.Data))
	}
	return nil
}

func cmsg(level, typ int, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = int32(level), int32(typ)
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

// Recv waits up to timeout for the next message or notification. It
// returns io.EOF-like ErrClosed when the association has ended (a read of
// zero bytes), and the socket error (ECONNRESET for an abort) otherwise.
func (c *Conn) Recv(timeout time.Duration) (*Msg, *Event, error) {
	deadline := time.Now().Add(timeout)
	var data []byte
	buf := make([]byte, 65536)
	oob := make([]byte, 256)
	for {
		if _, err := c.wait(unix.POLLIN, deadline); err != nil {
			return nil, nil, err
		}
		n, oobn, flags, _, err := unix.Recvmsg(c.fd, buf, oob, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("ksock: recv: %w", err)
		}
		if n == 0 && flags&unix.MSG_EOR == 0 && len(data) == 0 {
			return nil, nil, ErrClosed
		}
		data = append(data, buf[:n]...)
		if flags&unix.MSG_EOR == 0 {
			continue // a message longer than buf: the rest follows
		}
		if flags&msgNotifiation != 0 {
			if len(data) < 12 {
				return nil, nil, fmt.Errorf("ksock: notification of %d bytes", len(data))
			}
			e := &Event{Type: binary.NativeEndian.Uint16(data[0:])}
			if e.Type == snAssocChange {
				e.State = binary.NativeEndian.Uint16(data[8:])
				e.Error = binary.NativeEndian.Uint16(data[10:])
			}
			return nil, e, nil
		}
		m := &Msg{Data: string(data)}
		if info := rcvInfo(oob[:oobn]); info != nil {
			m.Stream = binary.NativeEndian.Uint16(info[0:])
			m.Unordered = binary.NativeEndian.Uint16(info[4:])&flagUnordered != 0
			m.PPID = binary.BigEndian.Uint32(info[8:])
		}
		return m, nil, nil
	}
}

// ErrClosed is Recv's answer once the association is over.
var ErrClosed = errors.New("ksock: association closed")

func rcvInfo(oob []byte) []byte {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_SCTP && m.Header.Type == cmsgRcvInfo && len(m.Data) >= 28 {
			return m.Data
		}
	}
	return nil
}

// ShutdownWrite starts a graceful shutdown (SHUTDOWN): the peer gets what
// was sent, then the association closes.
func (c *Conn) ShutdownWrite() error {
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		return fmt.Errorf("ksock: shutdown: %w", err)
	}
	return nil
}

// Abort ends the association with an ABORT and closes the socket.
func (c *Conn) Abort() error {
	unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	return c.Close()
}

// Close closes the socket (gracefully, for an association still up).
func (c *Conn) Close() error {
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}
