// Package report is the contract between the kernel-SCTP tests on the host
// and the program that runs them inside the VM: the plan the host packs into
// the initramfs, the addresses both sides use, and what the guest observed
// in each case, printed as one JSON line per case on the guest's second
// serial port. The guest observes; the host's tests judge.
package report

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sctpgw/sctpgw/test/kernel/ksock"
)

// LinePrefix starts every line the host parses; other lines are the
// guest's progress notes.
const LinePrefix = "KTEST "

// PlanPath is where the plan is in the initramfs.
const PlanPath = "/plan.json"

// Case names.
const (
	// sctpgw and kernel SCTP in the same kernel (the VM's): kernel clients
	// in one namespace, edge and core sctpgw in two others, a kernel server
	// in a fourth.
	LoadedLater   = "same-kernel/loaded-after-start" // the module is loaded while the gateways run
	Unprotected   = "same-kernel/unprotected"        // --allow-kernel-sctp, no rule: the kernel's ABORT wins
	Protected     = "same-kernel/protected"          // the module loaded at start
	NoNetAdmin    = "same-kernel/no-cap-net-admin"   // refused; then the operator's own rule and allow_kernel_sctp
	OwnerMismatch = "same-kernel/owner-rule-inverted"
	// A kernel client bound to two addresses (sctp_bindx) connecting to
	// both of the edge's (sctp_connectx), the edge listening on two; its
	// first link goes down in the middle of the messages (issue 17).
	Multihomed = "same-kernel/multihomed-client"
	// The VM's kernel at both ends of a pair on the host: a client through
	// the host's edge and core to a kernel server, natively; the kernel's
	// own RFC 6951 encapsulation straight to the host's core; the host's
	// edge to a kernel server over the kernel's RFC 6951 encapsulation.
	ThroughNative     = "through-gateways/native"
	KernelEncapToCore = "through-gateways/kernel-encap-to-core"
	EdgeToKernelEncap = "through-gateways/edge-to-kernel-encap"
	// SCTP-AUTH (RFC 4895, issue 18) with the kernel at the far end of the
	// tunnel: a kernel client holding the key encapsulates to the host
	// core's authenticated route; one without it is refused there; the
	// host edge's authenticated route reaches a kernel server holding the
	// key. Last in the plan: they turn net.sctp.auth_enable on while they
	// create their sockets.
	AuthKernelToCore   = "through-gateways/auth-kernel-encap-to-core"
	AuthKernelNoKey    = "through-gateways/auth-kernel-without-key"
	AuthEdgeToKernelEn = "through-gateways/auth-edge-to-kernel-encap"
)

// Plan is what the guest runs, in order.
type Plan struct {
	Cases []string `json:"cases"`
	// AuthKey is the SCTP-AUTH key (hex) the host's authenticated routes
	// hold as key AuthKeyID, for the kernel's sockets of the AUTH cases.
	AuthKey string `json:"auth_key,omitempty"`
}

// Addresses of the same-kernel cases, inside the VM (198.18.0.0/15, set
// aside for benchmarking):
//
//	cli  c0 198.18.50.2/24 -- e0 198.18.50.1/24 edge e1 198.18.52.2/24 --
//	k0 198.18.52.1/24 core k1 198.18.53.1/24 -- s0 198.18.53.2/24 srv
const (
	SameCli     = "198.18.50.2"
	SameEdge    = "198.18.50.1"
	SameEdgeWAN = "198.18.52.2"
	SameCoreWAN = "198.18.52.1"
	SameCoreCN  = "198.18.53.1"
	SameSrv     = "198.18.53.2"
	SamePort    = 36412 // the edge's native port
	// The multi-homed case's second network, cli c1 -- e2 edge:
	SameCli2  = "198.18.51.2"
	SameEdge2 = "198.18.51.1"
	// MultihomedMsgs messages go, one every 100 ms; the client's
	// first link (c0) goes down before message MultihomedCut.
	MultihomedMsgs = 40
	MultihomedCut  = 10
	SameSrvPort    = 38412 // the kernel server's
	SameUDPPort    = 9899
	UnprivUID      = 65534 // nobody: the daemon without CAP_NET_ADMIN
	EdgeYAMLPath   = "/tmp/edge-allow.yaml"
)

// Addresses of the through-gateways cases. The VM's eth0 is a tap in the
// host's edge namespace; the host's core namespace hangs off the edge's:
//
//	VM eth0 198.18.40.2/24 (default via .1) -- tap 198.18.40.1/24 host edge
//	host edge 198.18.41.1/24 -- 198.18.41.2/24 host core (route to .40/24 via .41.1)
const (
	VMAddr       = "198.18.40.2"
	HostEdge     = "198.18.40.1"
	HostEdgeWAN  = "198.18.41.1"
	HostCore     = "198.18.41.2"
	EdgePort     = 36412 // edge route 1: to the core over UDP, on to the VM's server natively
	EdgePortEnc  = 36413 // edge route 2: straight to the VM's server over UDP
	VMServerPort = 38412 // the VM's kernel server behind the core (native)
	VMEncapPort  = 38413 // the VM's kernel server reached over UDP
	UDPPort      = 9899  // every RFC 6951 UDP port, the VM kernel's included
	// SCTP-AUTH: the host core's authenticated route (over UDP, on to
	// VMServerPort natively), the host edge's (to VMAuthPort over UDP), the
	// VM's kernel server holding the key, and the key's id.
	AuthCorePort = 38414
	EdgePortAuth = 36414
	VMAuthPort   = 38415
	AuthKeyID    = 1
)

// AuthChunks are the chunk types the kernel's AUTH sockets require
// authenticated: what carries data or could end an association.
var AuthChunks = []byte{0, 3, 4, 5, 6, 7, 8, 9, 10, 11}

// Result is what the guest saw in one case.
type Result struct {
	Case    string        `json:"case"`
	Err     string        `json:"err,omitempty"` // the guest could not run the case
	Seconds float64       `json:"seconds"`
	Client  *Client       `json:"client,omitempty"`
	Server  []ServerAssoc `json:"server,omitempty"`
	Watch   *Watch        `json:"watch,omitempty"`
	Daemons []Daemon      `json:"daemons,omitempty"`
	// UDPIn is the rise of the VM namespace's UDP InDatagrams during the
	// case (/proc/net/snmp): encapsulated SCTP received shows there. (The
	// kernel's own encapsulated sends bypass the UDP socket layer and its
	// OutDatagrams.)
	UDPIn uint64   `json:"udp_in,omitempty"`
	Notes []string `json:"notes,omitempty"`
}

// Client is the kernel client's side of one association.
type Client struct {
	Target     string      `json:"target"`
	ConnectErr string      `json:"connect_err,omitempty"`
	Sent       []ksock.Msg `json:"sent,omitempty"`
	Echoed     []ksock.Msg `json:"echoed,omitempty"`
	Events     []string    `json:"events,omitempty"`
	Err        string      `json:"err,omitempty"` // after connect
	// ShutdownComplete: the graceful close ended in SHUTDOWN_COMP.
	ShutdownComplete bool `json:"shutdown_complete"`
	// PeerAuthChunks: what the peer required authenticated
	// (SCTP_PEER_AUTH_CHUNKS), for a socket with SCTP-AUTH.
	PeerAuthChunks []int `json:"peer_auth_chunks,omitempty"`
	// PeerAddrs: the peer's addresses the association knew once up
	// (SCTP_GET_PEER_ADDRS), for the multi-homed case.
	PeerAddrs []string `json:"peer_addrs,omitempty"`
}

// ServerAssoc is one association the kernel server accepted.
type ServerAssoc struct {
	Port     uint16      `json:"port"`
	Peer     string      `json:"peer"`
	Received []ksock.Msg `json:"received,omitempty"`
	// End: "graceful" (the peer shut down), "abort: ..." or "timeout".
	End string `json:"end"`
	// PeerAuthChunks: see Client.
	PeerAuthChunks []int `json:"peer_auth_chunks,omitempty"`
}

// Watch is what a raw socket in the client's namespace saw arrive.
type Watch struct {
	Aborts  int      `json:"aborts"`  // packets with an ABORT chunk
	Packets []string `json:"packets"` // a summary of each (bounded)
}

// GuardStatus is the kernel_sctp_guard of a daemon's /status; Error says
// why it could not be read.
type GuardStatus struct {
	Module    string `json:"module"`
	Installed bool   `json:"installed"`
	Dropped   uint64 `json:"dropped"`
	Error     string `json:"error,omitempty"`
}

// Daemon is one sctpgw process.
type Daemon struct {
	Name string   `json:"name"`
	Args []string `json:"args"`
	// Started: it logged its routes listening. Exit: its exit status once
	// stopped (-1: killed).
	Started bool     `json:"started"`
	Exit    int      `json:"exit"`
	Log     []string `json:"log"`
	// Table and Dropped: sctpgw's nftables table was present in its
	// namespace while it ran, with this many packets on its counter.
	Table   bool   `json:"table"`
	Dropped uint64 `json:"dropped"`
	// Status is what the daemon's own status (/status, sctpgw status) said
	// of its kernel SCTP guard just before, nil without an admin listener.
	Status *GuardStatus `json:"status,omitempty"`
	// TableAfter: the table was still there after the process ended.
	TableAfter bool `json:"table_after"`
}

// LogHas reports whether a line of d's log contains every one of subs.
func (d Daemon) LogHas(subs ...string) bool {
	for _, l := range d.Log {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			return true
		}
	}
	return false
}

// Daemon returns the daemon of that name.
func (r *Result) Daemon(name string) (Daemon, bool) {
	for _, d := range r.Daemons {
		if d.Name == name {
			return d, true
		}
	}
	return Daemon{}, false
}

// Line encodes r for the serial port.
func (r *Result) Line() string {
	b, err := json.Marshal(r)
	if err != nil {
		return LinePrefix + fmt.Sprintf(`{"case":%q,"err":"encoding the result: %v"}`, r.Case, err)
	}
	return LinePrefix + string(b)
}

// Parse decodes a line written by Line; ok is false for other lines.
func Parse(line string) (r Result, ok bool, err error) {
	rest, ok := strings.CutPrefix(line, LinePrefix)
	if !ok {
		return r, false, nil
	}
	return r, true, json.Unmarshal([]byte(rest), &r)
}
