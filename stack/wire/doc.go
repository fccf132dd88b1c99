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
package wire
