// Package portguard keeps the kernel's own SCTP from answering packets for
// the ports sctpgw serves natively.
//
// sctpgw's native link reads SCTP through raw sockets, which see a copy of
// every packet: where the kernel's sctp module is loaded, the kernel sees the
// same packets, finds no socket of its own on our ports and answers them as
// out of the blue (RFC 9260 section 8.4): an ABORT for an INIT, racing our
// INIT ACK, an ABORT for the COOKIE ACK or DATA of an association we dialled.
// The module serves every network namespace once loaded, and is loaded on
// demand by any program that opens an SCTP socket, so a host can acquire it
// while sctpgw runs.
//
// A Guard watches for the module and, once it is there, installs one
// nftables table of its own through netlink (no nft binary):
//
//	table inet sctpgw_PID {
//		set ports { type inet_service; elements = { 36412, ... } }
//		chain output {
//			type filter hook output priority raw; policy accept;
//			meta l4proto sctp sctp sport @ports meta mark != 0x5c7 counter drop
//		}
//	}
//
// sctpgw's raw sockets carry the mark (SO_MARK); the kernel's out-of-the-blue
// replies leave from its per-namespace control socket, unmarked, and are
// dropped. The set follows the ports in use: the routes' listening ports and
// the local ports of associations sctpgw dials natively. The table goes when
// the Guard is closed; its name carries the process id, so two daemons in
// one namespace keep their own.
//
// Why a mark and not the socket's owner (meta skuid): the kernel's control
// socket has no file, so an owner match does not match it at all, neither
// "==" nor "!=" (nft_meta breaks out of the rule); a rule "skuid != sctpgw
// drop" lets every kernel reply through. The mark needs CAP_NET_ADMIN, as
// the table does, so a daemon that can install the rule can also mark.
// Without CAP_NET_ADMIN the operator's own rule must accept by owner first
// and then drop (Refusal says which).
package portguard
