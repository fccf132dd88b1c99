// Package wire converts between bytes and SCTP packets, chunks, parameters and
// error causes (RFC 9260 section 3 and the extensions sctpgw speaks: RFC 3758,
// 4820, 4895, 5061, 6525, 6951, 8260, 9653).
//
// It holds no state, does no I/O and reads no clock. Parsing never panics and
// never reads out of bounds: malformed input yields a *ParseError that names the
// structure and the offset at fault.
//
// Hot-path values (Packet, Data, IData, Sack) parse into caller-owned structs
// whose slices are reused and whose byte fields are views into the input
// buffer, so steady-state parsing allocates nothing. Every encoder appends to a
// caller-provided buffer.
//
// # Sizes a peer controls
//
// An encoder panics when a chunk, parameter or cause would not fit its 16-bit
// length field: that is a program bug, never a peer's doing. The rule for
// callers is that no size a peer controls reaches an encoder unbounded —
// unrecognized parameters and chunks to report, error causes to relay,
// heartbeat information to echo, address lists to refuse. Each is cut first to
// what fits one packet at the path MTU (the engine does, and counts what it
// cuts), so every reply is bounded by the path, not by the input, and nothing
// received can reach the panic.
package wire
