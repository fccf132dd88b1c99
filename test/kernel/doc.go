// Package kernel tests sctpgw against a real Linux kernel with SCTP: it
// boots Debian's cloud kernel under qemu (no KVM needed), with sctpgw and
// kernel SCTP peers inside, and the host's own sctpgw pair around it. See
// README.md.
package kernel
