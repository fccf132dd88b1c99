// Package routemtu asks the kernel the MTU of the way a path's packets
// take: what the route says, as a connected socket's IP_MTU (IPV6_MTU)
// reports it: the outgoing interface's MTU, a route's mtu attribute, or
// what path MTU discovery cached for that destination. Links report it to
// the engine (link.MTUHinter), which then never sizes a packet above it.
//
// The route is the one the link's packets on that path take: looked up
// from the path's local address (a socket bound to it, so `ip rule from`
// applies, as on a multi-homed host where each address has its own
// uplink) and with the link's SO_MARK (so `ip rule fwmark` applies).
// Answers are kept a few seconds in a bounded cache: the engine asks for
// every INIT it answers, at a rate the peer chooses.
//
// A socket keeps the network namespace it was opened in, while a goroutine
// may run on any thread: a Prober is opened where its link's sockets are,
// and answers for that namespace whichever goroutine asks.
package routemtu
