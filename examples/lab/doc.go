// Package lab is sctpgw's end-to-end lab: five Linux network namespaces
// joined by veth pairs, with the sctpgw binary running as an edge and a core
// gateway and an nftables NAT between them.
//
//	enb ── edge (sctpgw) ── nat (masquerade) ── core (sctpgw) ── mme
//
// Everything is in the package's tests and benchmarks (they need root and
// skip without it); see README.md for the picture, the addresses and what
// each test shows.
package lab
