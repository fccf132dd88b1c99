package portguard

import "slices"

const (
	setName   = "ports"
	chainName = "output"
)

// RulesConfig says where the table goes and which mark passes.
type RulesConfig struct {
	// Table is the inet table's name; "" means DefaultTable. A table of
	// that name already there (left by a process that was killed, whose
	// pid this one has now: a container's 1) is replaced.
	Table string
	// Mark is the SO_MARK of sctpgw's own packets; 0 means DefaultMark.
	Mark uint32
	// NetNS is a file descriptor of the network namespace to work in
	// (/proc/PID/ns/net, /run/netns/NAME); 0 means the caller's.
	NetNS int
}

func insertPort(ports []uint16, p uint16) []uint16 {
	i, found := slices.BinarySearch(ports, p)
	if found {
		return ports
	}
	return slices.Insert(ports, i, p)
}
