// Package engine is the sans-IO SCTP core: endpoints and associations of RFC
// 9260 with the extensions sctpgw speaks.
//
// A Host holds every SCTP endpoint reachable through a set of links. It takes
// received packets with their path and the current time, user calls and timer
// expiries, and yields packets to send (Host.Outgoing), the next deadline
// (Host.NextDeadline), and reports to each association's Handler: RFC 6458
// notifications (Event) and signals to the association's driver (Signal:
// a message to read, room to send, ...). It starts no goroutine, reads no
// clock, takes no lock and does no I/O: a runtime (package stack) or a
// deterministic simulator (package stack/sim) drives it.
//
// Handlers are called after the input that caused them has been fully
// processed, never in the middle of it, so a handler may call back into the
// engine (send on another association, abort this one) safely.
//
// # Hostile input
//
// No reply grows with what a peer sends: every list received and echoed or
// reported (unrecognized parameters in an INIT ACK or in the ERROR behind a
// COOKIE ECHO, unrecognized-chunk and invalid-stream causes, relayed ERROR
// and ABORT causes, the addresses of a refused restart, HEARTBEAT ACKs) is
// cut to what one packet at the path MTU carries, and what is cut is counted
// (Stats.ReportItemsCut). A packet's chunks are processed in order and a
// partial chunk is dropped alone (RFC 9260 6.10, Stats.PartialChunks). A
// packet carrying an INIT with any other chunk, before or after it, is
// discarded whole without an answer (6.10, 8.5.1 A;
// Stats.DiscardedBundledInit). HostConfig.OnDiscard hears of each drop,
// for a runtime to log.
package engine
