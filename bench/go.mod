module github.com/sctpgw/sctpgw/bench

go 1.26.8

replace github.com/sctpgw/sctpgw => ../

require (
	github.com/pion/dtls/v4 v4.0.1
	github.com/pion/logging v0.2.4
	github.com/pion/sctp v1.12.1
	github.com/sctpgw/sctpgw v0.0.0-00010101000000-000000000000
)

require (
	github.com/pion/randutil v0.1.0 // indirect
	github.com/pion/transport/v3 v3.1.1 // indirect
	github.com/pion/transport/v5 v5.1.4 // indirect
	github.com/wlynxg/anet v0.0.5 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

// pion/sctp v1.12.1 asks for pion/transport/v5 v5.1.4, which the module
// proxy reachable here refuses (403); v5.0.1 is the newest it serves.
replace github.com/pion/transport/v5 => github.com/pion/transport/v5 v5.0.1
