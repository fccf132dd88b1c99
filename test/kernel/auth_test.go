//go:build linux

package kernel

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/test/kernel/report"
)

// The SCTP-AUTH cases (issue 18): Linux's own SCTP-AUTH (SCTP_AUTH_KEY,
// SCTP_AUTH_CHUNK, net.sctp.auth_enable) as the far end of sctpgw's
// authenticated tunnel. The kernel's sockets require DATA, SACK, HEARTBEAT,
// ABORT, SHUTDOWN*, ERROR and COOKIE ECHO/ACK authenticated, sctpgw's
// routes their own list: an association that carries its messages proves
// each side verified the other's AUTH chunks.

// sctpgwChunks is the CHUNKS list sctpgw's authenticated routes send.
func sctpgwChunks() []int {
	var out []int
	for _, c := range engine.DefaultAuthChunks {
		out = append(out, int(c))
	}
	return out
}

// The kernel client holds the key and encapsulates to the host core's
// authenticated route; the core dials the VM's server natively.
func checkAuthKernelToCore(t *testing.T, r report.Result, host hostLogs) {
	worked(t, r, report.VMServerPort)
	if r.Client != nil && !slices.Equal(r.Client.PeerAuthChunks, sctpgwChunks()) {
		t.Errorf("the kernel saw the core require %v, want sctpgw's list %v", r.Client.PeerAuthChunks, sctpgwChunks())
	}
	if !strings.Contains(host["core"], "route authenticates its tunnel (SCTP-AUTH)") || !strings.Contains(host["core"], "route=core-auth") {
		t.Errorf("the host core did not log its authenticated route")
	}
	if !strings.Contains(host["core"], fmt.Sprintf("ingress_peer=udp://%s:%d/", report.VMAddr, report.UDPPort)) {
		t.Errorf("the host core logged no pair from udp://%s:%d", report.VMAddr, report.UDPPort)
	}
}

// A kernel client without SCTP-AUTH: the core answers its INIT with an
// ABORT ("SCTP-AUTH required"), the connect fails, and the kernel server
// behind the core sees nothing.
func checkAuthKernelNoKey(t *testing.T, r report.Result, _ hostLogs) {
	c := r.Client
	if c == nil || c.ConnectErr == "" {
		t.Fatalf("a kernel client without the key connected: %+v", c)
	}
	if len(r.Server) != 0 {
		t.Errorf("the kernel server behind the core saw an association: %+v", r.Server)
	}
}

// The host edge's authenticated route to the VM kernel's RFC 6951 port,
// where a kernel server holds the key.
func checkAuthEdgeToKernel(t *testing.T, r report.Result, host hostLogs) {
	worked(t, r, report.VMAuthPort)
	if len(r.Server) == 1 && !slices.Equal(r.Server[0].PeerAuthChunks, sctpgwChunks()) {
		t.Errorf("the kernel server saw the edge require %v, want sctpgw's list %v", r.Server[0].PeerAuthChunks, sctpgwChunks())
	}
	if r.UDPIn < 3 {
		t.Errorf("UDP datagrams in %d: the edge did not reach the kernel over UDP", r.UDPIn)
	}
	if !strings.Contains(host["edge"], fmt.Sprintf("egress_peer=udp://%s:%d/%d", report.VMAddr, report.UDPPort, report.VMAuthPort)) {
		t.Errorf("the host edge logged no pair to udp://%s:%d/%d", report.VMAddr, report.UDPPort, report.VMAuthPort)
	}
}
