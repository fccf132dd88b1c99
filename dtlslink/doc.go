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
// there; a core accepts sessions on its listening socket (Config.Listen).
// Every session of a link shares its one UDP socket (the listening one,
// else an ephemeral port): the link reads each datagram's first record
// header and routes it by the connection ID it gave the peer, else by the
// peer's address; a ClientHello from an unknown address starts a session.
// The link never dials anything it was not configured to: a packet for a
// path with no session and no configuration is dropped and the path
// reported down.
//
// # A peer that restarts
//
// A peer gateway that restarts and dials again from the same address and
// port (a fixed source port, a NAT that maps it the same way) sends a
// ClientHello to an address that still has a session. It starts a
// candidate session beside the old one, which goes on working; only once
// the candidate's handshake has authenticated the peer does it replace
// the old session, whose path is reported down first (the restarted peer
// lost those associations). A spoofed ClientHello therefore changes
// nothing: its handshake needs the cookie exchange (the spoofer must
// receive at the address) and a valid certificate or key, and times out
// otherwise, counted as a refusal. Peers that do not use connection IDs
// cannot be told apart from their old session after the ClientHello, so
// for them the old session must end first (idle timeout).
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
// most ten lines a second. ClientHellos are admitted so that a flood of
// them from spoofed addresses keeps no real peer out and takes no CPU
// from the sessions up (admit.go: MaxUnverified, MaxHandshakesPerSource,
// HandshakeRate).
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
// heartbeats keep every live association's session busy) is closed, and so
// is one that has been sending but has received nothing that authenticates
// for SilenceTimeout: its peer is gone, or restarted and drops records it
// has no keys for (DTLS cannot say so), and the next packet dials anew.
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
// # Speed, and the record layer
//
// Each session is a pion/dtls DetachedConn: pion does the handshake, the
// link moves the datagrams. ReadBatch reads a batch of datagrams per
// system call (udpencap's recvmmsg) and handles each on the caller's
// goroutine; WriteBatch sends a batch's records in one call (sendmmsg,
// GSO). Once a handshake is done the link protects the application data
// itself (record.go): pion seals or opens a record with about 40
// allocations and, for a received one, two goroutine switches, some 11 µs
// of CPU per 1 KiB record here, where AES-GCM itself costs well under one.
// The keys come from pion's own snapshot of the session (State.
// MarshalBinary: the master secret, randoms and sequence numbers; the key
// block is derived as RFC 5246 6.3 says, with pion's PRF). Records are the
// AES-GCM records of RFC 5288 in DTLS 1.2 (RFC 6347 4.1.2), in the
// tls12_cid form of RFC 9146 when the peer gave a connection ID:
//
//   - every record of the epoch on the wire takes its sequence number (and
//     so its explicit nonce) from one counter, which starts where pion's
//     stopped: the records pion still makes after the handover (alerts,
//     handshake retransmissions, return routability checks) are opened
//     and sealed again under it, so no nonce is ever used twice;
//   - a received record is authenticated, then checked against a
//     1024-record replay window (RFC 6347 4.1.2.6; numbers from before the
//     handover are refused); one that fails is discarded silently
//     (4.1.2.7) and counted (Stats.RxDiscarded); only records that passed
//     go on to pion, so pion never sees a replay;
//   - a record from another address than the session's goes to pion,
//     which delivers it (it authenticated and is fresh: a NAT that rebound
//     loses nothing) and checks that path (RFC 9853); the session moves
//     only when the answer to pion's challenge comes back from there, so
//     a record caught on the way and sent on from elsewhere moves nothing;
//   - a datagram that does not authenticate changes nothing: not the
//     session's address, not its idle and silence clocks (only the
//     engine's packets and authenticated records move them), and pion,
//     which sees the records of epoch 0, drops them after the handshake
//     (FuzzSessionIgnoresForgeries);
//   - only DTLS 1.2 and the epoch after the first handshake exist (pion
//     does not renegotiate); a record of another epoch is pion's.
//
// The tests run the layer against pion's own record layer both ways, with
// and without connection IDs, through replays, forgeries and a path move.
package dtlslink
