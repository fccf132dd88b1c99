package portguard

import (
	"fmt"
	"strings"
)

// Dial ports: the range the engine picks local ports of native associations
// from (RFC 6335 dynamic ports).
const dialPorts = "49152-65535"

// Refusal is the error Start returns when the kernel's SCTP is loaded and
// the process lacks CAP_NET_ADMIN: it says what to grant, or which rule to
// add by hand before starting with --allow-kernel-sctp.
type Refusal struct {
	Where string   // where the module shows: /sys/module/sctp or /proc/net/sctp
	Ports []uint16 // the native ports served
	Dials bool     // the routes dial native associations too
	UID   int      // the daemon's user, for the owner match of the rule
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("kernel SCTP is loaded (%s exists): it answers INITs to the native ports %s with ABORT "+
		"(out of the blue, RFC 9260 section 8.4), racing sctpgw's INIT ACK, in every network namespace, "+
		"and sctpgw cannot install its nftables rule against that without CAP_NET_ADMIN.\n%s",
		r.Where, r.portList(), r.Remedy())
}

// Remedy lists the ways out, the hand-written rule in full.
func (r *Refusal) Remedy() string {
	var b strings.Builder
	b.WriteString("Either grant CAP_NET_ADMIN as well as CAP_NET_RAW, and sctpgw installs and removes its rule itself:\n" +
		"  setcap cap_net_raw,cap_net_admin+ep /path/to/sctpgw      (a dedicated user runs it)\n" +
		"  docker|podman run --cap-add NET_RAW --cap-add NET_ADMIN ...\n" +
		"  systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN\n")
	b.WriteString("or add this rule in sctpgw's network namespace and start with --allow-kernel-sctp " +
		"(allow_kernel_sctp: true in the file); it lets sctpgw's own packets pass by their owner and drops the kernel's:\n")
	t := DefaultTable
	fmt.Fprintf(&b, "  nft add table inet %s\n", t)
	fmt.Fprintf(&b, "  nft add chain inet %s output '{ type filter hook output priority raw; policy accept; }'\n", t)
	fmt.Fprintf(&b, "  nft add rule inet %s output meta l4proto sctp sctp sport %s meta skuid %d accept\n", t, r.portSet(), r.UID)
	fmt.Fprintf(&b, "  nft add rule inet %s output meta l4proto sctp sctp sport %s drop\n", t, r.portSet())
	if r.Dials {
		b.WriteString("  (the routes dial native associations from ports " + dialPorts + ": keep the host's kernel SCTP " +
			"clients below them, e.g. sysctl net.ipv4.ip_local_port_range=\"32768 49151\")\n")
	}
	b.WriteString("or, if nothing on this host needs kernel SCTP, unload the module and keep it out:\n" +
		"  modprobe -r sctp && echo 'install sctp /bin/false' > /etc/modprobe.d/sctpgw-no-sctp.conf\n" +
		"See stack/rawip/README.md, \"Running beside kernel SCTP\".")
	return b.String()
}

func (r *Refusal) portList() string {
	ps := make([]string, len(r.Ports))
	for i, p := range r.Ports {
		ps[i] = fmt.Sprint(p)
	}
	if r.Dials {
		ps = append(ps, "and the dialled associations' ports")
	}
	if len(ps) == 0 {
		return "(none yet)"
	}
	return strings.Join(ps, ", ")
}

// portSet is the ports in nft's set syntax.
func (r *Refusal) portSet() string {
	ps := make([]string, 0, len(r.Ports)+1)
	for _, p := range r.Ports {
		ps = append(ps, fmt.Sprint(p))
	}
	if r.Dials {
		ps = append(ps, dialPorts)
	}
	return "{ " + strings.Join(ps, ", ") + " }"
}
