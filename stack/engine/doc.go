// Package engine is the sans-IO SCTP core: endpoints and associations of RFC
// 9260 with the extensions sctpgw speaks.
//
// A Host holds every SCTP endpoint reachable through a set of links. It takes
// received packets with their path and the current time, user calls and timer
// expiries, and yields packets to send (Host.Outgoing), events and message
// deliveries through each association's Handler, and the next deadline
// (Host.NextDeadline). It starts no goroutine, reads no clock, takes no lock
// and does no I/O: a runtime (package stack) or a deterministic simulator
// (package stack/sim) drives it.
//
// Handlers are called after the input that caused them has been fully
// processed, never in the middle of it, so a handler may call back into the
// engine (send on another association, abort this one) safely.
package engine
