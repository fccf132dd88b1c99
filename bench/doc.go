// Package bench compares sctpgw's SCTP stack with other SCTP stacks measured
// in the same run: github.com/pion/sctp over the same in-memory packet link
// and over a UDP socket pair, and usrsctp's tsctp with UDP encapsulation on
// loopback. It is a module of its own so that the product never depends on
// the stacks it is compared with; everything is in its _test.go files.
//
// See README.md for how to run it and what each figure means.
package bench
