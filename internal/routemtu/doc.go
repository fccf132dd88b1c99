// Package routemtu asks the kernel the MTU of the way to an address: what
// the route toward it says, as a connected socket's IP_MTU (IPV6_MTU)
// reports it: the outgoing interface's MTU, a route's mtu attribute, or
// what path MTU discovery cached for that destination. Links report it to
// the engine (link.MTUHinter), which then never sizes a packet above it.
//
// A socket keeps the network namespace it was opened in, while a goroutine
// may run on any thread: a Prober is opened where its link's sockets are,
// and answers for that namespace whichever goroutine asks.
package routemtu
