// Package dtlslink is the RFC 8261 link: SCTP packets carried as DTLS
// application data over UDP between two gateways, so the tunnel crosses
// networks the operator does not own with every SCTP property intact
// (streams, PPIDs, unordered delivery, shutdown and abort semantics) while
// the wire carries only DTLS records.
//
// # Sessions
//
// One DTLS session per peer gateway carries every association to it, as
// one UDP port carries many associations in RFC 6951. An edge dials its
// configured peers (Config.Peers) on demand, when the engine first sends
// there; a core accepts sessions on its listening socket (Config.Listen),
// many peers on one socket, told apart by connection ID or address. The
// link never dials anything it was not configured to: a packet for a path
// with no session and no configuration is dropped and the path reported
// down.
//
// The engine sees one path per session, fixed for the session's life: the
// address and port the session was dialled at, or first accepted from
// (link.Path Remote and RemotePort). Packets the engine sends on that path
// go into that session whatever the peer's current address is.
//
// # Authentication, before anything else
//
// Each side proves itself with a certificate and verifies the other's
// against the CA of its Credentials (mutual; optionally pinning the peer's
// name), or both hold the same pre-shared key. A DTLS session carries
// application data only after its handshake has authenticated the peer, so
// no SCTP packet from an unauthenticated peer reaches the engine: no INIT,
// no COOKIE ECHO, and so no dial at the far side of a gateway (the
// gateway's handshake coupling, docs/design.md 2.1, then holds as on the
// other links). A refused handshake is counted by reason (Stats.Refused:
// unknown_ca, expired, name_mismatch, psk_mismatch, ...) and logged, at
// most ten lines a second.
//
// # NAT rebinding
//
// DTLS 1.2 with connection IDs (RFC 9146): the peer puts our 8-byte ID in
// every record it sends, so a record from a new address (a NAT that lost
// and remade its mapping) still finds its session. The session moves to
// the new address once a return routability check (RFC 9853) shows the
// peer is there, so a replayed record cannot redirect it. The engine's
// path does not change; SCTP repairs what was lost meanwhile. This is the
// same property the RFC 6951 link gets from port adoption (RFC 6951 5.4).
//
// # Failures
//
// A session that fails its handshake, is closed by its peer (close_notify)
// or dies is reported to the engine as link.NoticeDown on its path: every
// association on it ends at once with engine.ErrLinkDown and a reason that
// names the session ("dtls session to 203.0.113.10:4740: handshake: ...
// (unknown_ca)"), instead of retransmitting into nothing until
// Max.Retrans. After a failed dial, packets to that peer are refused the
// same way for a hold-down that grows from 1 s to 30 s, then the next
// packet dials again. A session idle for IdleTimeout (nothing either way;
// heartbeats keep every live association's session busy) is closed.
//
// # MTU
//
// Overhead adds RecordOverhead (record header, connection ID, inner
// content type, AEAD nonce and tag; only AEAD suites are offered) to the
// IP and UDP headers, so an SCTP packet built for the path MTU leaves as
// one datagram within it.
//
// # Reloading credentials
//
// SetCredentials replaces the credentials: handshakes from then on use the
// new certificate, key, CA or key file; sessions up keep theirs, and so do
// their associations.
//
// # Speed
//
// pion/dtls runs a goroutine per session that decrypts records; the link
// adds one reader per session that hands records to ReadBatch through a
// queue, and ReadBatch takes everything queued at once. Writes encrypt and
// send on the caller's goroutine. Receive buffers are pooled; what pion
// allocates per record is pion's (see the benchmarks).
package dtlslink
