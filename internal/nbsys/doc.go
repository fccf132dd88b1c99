// Package nbsys makes the system calls of the packet path that cannot
// block (recvmmsg and sendmmsg with MSG_DONTWAIT, recvmsg of an error
// queue, epoll_wait with no timeout) without telling the Go scheduler:
// they run as raw system calls, the goroutine keeps its P.
//
// A system call made the usual way (syscall.Syscall6) enters the
// scheduler's syscall state. That costs little in itself, but two things
// follow from it on a gateway, whose process goes idle and busy thousands
// of times a second. Entering a system call wakes sysmon when it sleeps
// because every P was idle, and a sysmon woken that way polls every 20 µs
// for at least a millisecond before it backs off (runtime.sysmon): the
// lab's edge made 2,400 nanosleeps a second, 15 % of its CPU samples. And
// a call that lasts past a sysmon tick while another goroutine waits has
// its P handed to another thread: sendmmsg on a veth runs the receiving
// namespaces' network stack inside the call, often for tens of
// microseconds, so each such hand-off woke a thread. A raw call that
// cannot block holds its P for as long as the kernel works on it, at most
// a batch's worth; sysmon then sees a running goroutine, not a syscall.
//
// Every call here forces non-blocking behaviour itself (MSG_DONTWAIT, a
// zero timeout), whatever the descriptor's own flags: a raw call that
// blocked would stall its P, and with it every goroutine queued there.
package nbsys
