//go:build linux

package nbsys

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// udpPair is two blocking UDP sockets on loopback, the first connected to
// the second: blocking on purpose, so that only the calls' own flags keep
// them from waiting. A blocking call on them gives up after blockLimit
// (bounded), which within tells from a call that did not wait.
func udpPair(t *testing.T) (a, b int) {
	t.Helper()
	for i := range 2 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		bound(t, fd)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			a = fd
		} else {
			b = fd
		}
	}
	sa, err := unix.Getsockname(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(a, sa); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// headers points n message headers at one buffer each.
func headers(n, size int) ([]unix.Mmsghdr, [][]byte) {
	hs := make([]unix.Mmsghdr, n)
	bufs := make([][]byte, n)
	iov := make([]unix.Iovec, n)
	for i := range hs {
		bufs[i] = make([]byte, size)
		iov[i].Base = &bufs[i][0]
		iov[i].SetLen(size)
		hs[i].Hdr.Iov = &iov[i]
		hs[i].Hdr.SetIovlen(1)
	}
	return hs, bufs
}

// blockLimit bounds how long a call on the tests' blocking sockets may
// wait (SO_RCVTIMEO, SO_SNDTIMEO): a call that blocked comes back after it
// instead of holding its thread, and its P, for good (with GOMAXPROCS 1
// nothing else would run again, not even a test timeout).
const blockLimit = 5 * time.Second

// bound sets blockLimit on fd's receive and send.
func bound(t *testing.T, fd int) {
	t.Helper()
	tv := unix.NsecToTimeval(blockLimit.Nanoseconds())
	for _, opt := range []int{unix.SO_RCVTIMEO, unix.SO_SNDTIMEO} {
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
			t.Fatal(err)
		}
	}
}

// within runs f and fails the test if it took most of blockLimit: a call
// that does not wait returns in microseconds, one that waited for data
// or room returns at blockLimit.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d >= blockLimit*4/5 {
		t.Fatalf("%s waited %v on a blocking socket with nothing to do", what, d)
	}
}

func TestCallsNeverBlock(t *testing.T) {
	a, b := udpPair(t)
	hs, _ := headers(4, 64)
	var n int
	var e unix.Errno
	within(t, "Recvmmsg", func() { n, e = Recvmmsg(uintptr(b), hs, 0) })
	if n != 0 || e != unix.EAGAIN {
		t.Fatalf("Recvmmsg on an empty socket: %d, %v; want 0, EAGAIN", n, e)
	}
	var h unix.Msghdr
	buf := make([]byte, 64)
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	h.Iov = &iov
	h.SetIovlen(1)
	within(t, "Recvmsg", func() { n, e = Recvmsg(uintptr(a), &h, 0) })
	if n != 0 || e != unix.EAGAIN {
		t.Fatalf("Recvmsg on an empty socket: %d, %v; want 0, EAGAIN", n, e)
	}
	// A unix datagram socket makes its sender wait while the peer's queue
	// is full (a UDP one drops instead): fill it until a call says EAGAIN.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	bound(t, fds[0])
	out, _ := headers(64, 16384)
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("64,000 datagrams of 16 KiB queued on a socket nobody reads")
		}
		within(t, "Sendmmsg", func() { n, e = Sendmmsg(uintptr(fds[0]), out, 0) })
		if e == unix.EAGAIN {
			break
		}
		if e != 0 {
			t.Fatalf("Sendmmsg into a filling queue: %v", e)
		}
	}
}

func TestMovesDatagrams(t *testing.T) {
	a, b := udpPair(t)
	out, obufs := headers(3, 5)
	for i, p := range obufs {
		copy(p, []byte{'m', 's', 'g', ' ', byte('0' + i)})
	}
	if n, e := Sendmmsg(uintptr(a), out, 0); n != 3 || e != 0 {
		t.Fatalf("Sendmmsg: %d, %v; want 3", n, e)
	}
	in, ibufs := headers(8, 64)
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	for got < 3 && time.Now().Before(deadline) {
		n, e := Recvmmsg(uintptr(b), in[got:], 0)
		if e == unix.EAGAIN {
			time.Sleep(time.Millisecond)
			continue
		}
		if e != 0 {
			t.Fatalf("Recvmmsg: %v", e)
		}
		got += n
	}
	if got != 3 {
		t.Fatalf("received %d datagrams, want 3", got)
	}
	for i := range 3 {
		if s := string(ibufs[i][:in[i].Len]); s != string(obufs[i]) {
			t.Errorf("datagram %d: %q, want %q", i, s, obufs[i])
		}
	}
}

func TestEpollReady(t *testing.T) {
	a, b := udpPair(t)
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(epfd)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, b, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(b)}); err != nil {
		t.Fatal(err)
	}
	evs := make([]unix.EpollEvent, 4)
	if n, e := EpollReady(epfd, evs); n != 0 || e != 0 {
		t.Fatalf("EpollReady with nothing ready: %d, %v; want 0", n, e)
	}
	if _, err := unix.Write(a, []byte("x")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, e := EpollReady(epfd, evs)
		if e != 0 {
			t.Fatalf("EpollReady: %v", e)
		}
		if n == 1 && evs[0].Fd == int32(b) && evs[0].Events&unix.EPOLLIN != 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("EpollReady never reported the readable socket")
}

func TestNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	a, b := udpPair(t)
	out, _ := headers(1, 8)
	in, _ := headers(1, 64)
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(epfd)
	evs := make([]unix.EpollEvent, 1)
	var h unix.Msghdr
	allocs := testing.AllocsPerRun(100, func() {
		Sendmmsg(uintptr(a), out, 0)
		Recvmmsg(uintptr(b), in, 0)
		Recvmsg(uintptr(b), &h, unix.MSG_ERRQUEUE)
		EpollReady(epfd, evs)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round of calls, want 0", allocs)
	}
}
