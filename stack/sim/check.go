package sim

import (
	"fmt"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// CheckSent reports what is wrong with a packet a node hands the network
// (see Network.Offered), for tests that drive hosts with hostile input: it
// must parse with a correct checksum and hold a chunk; it must fit pathMTU
// (IP level) unless it is marked for IP fragmentation and led by a DATA,
// I-DATA or COOKIE ECHO chunk (what was cut for a larger MTU, or the peer's
// cookie, whose size the peer chose); an INIT travels alone with tag 0;
// COOKIE ECHO and INIT ACK lead their packet; only INIT, ABORT and
// SHUTDOWN COMPLETE may carry tag 0.
func CheckSent(from *Node, fromLink int, p link.Packet, pathMTU int) error {
	var pk wire.Packet
	if err := pk.Unmarshal(p.Buf); err != nil {
		return fmt.Errorf("%v sent a packet that does not parse: %w", from.Addr, err)
	}
	if len(pk.Chunks) == 0 {
		return fmt.Errorf("%v sent a packet without chunks", from.Addr)
	}
	ovh := link.IPOverhead(p.Path.Remote)
	if from.iface(fromLink).Kind == link.UDP {
		ovh += 8
	}
	// An AUTH chunk may lead what it authenticates (RFC 4895 6.2), a
	// COOKIE ECHO included (6.3): the packet's first chunk is the next one.
	lead := 0
	if pk.Chunks[0].Type == wire.TypeAuth && len(pk.Chunks) > 1 {
		lead = 1
	}
	first := pk.Chunks[lead].Type
	if max := pathMTU - ovh; len(p.Buf) > max {
		led := first == wire.TypeData || first == wire.TypeIData || first == wire.TypeCookieEcho
		if !p.Fragment || !led {
			return fmt.Errorf("%v sent a %d-byte packet (%s) on a path that carries %d", from.Addr, len(p.Buf), chunkList(&pk), max)
		}
	}
	for i, c := range pk.Chunks {
		if c.Type == wire.TypeInit && (len(pk.Chunks) != 1 || pk.VerificationTag != 0) {
			return fmt.Errorf("%v sent an INIT bundled or tagged: %s tag %#x", from.Addr, chunkList(&pk), pk.VerificationTag)
		}
		if i > lead && c.Type == wire.TypeCookieEcho || i > 0 && c.Type == wire.TypeInitAck {
			return fmt.Errorf("%v sent %v behind another chunk: %s", from.Addr, c.Type, chunkList(&pk))
		}
	}
	if pk.VerificationTag == 0 && first != wire.TypeInit && first != wire.TypeAbort && first != wire.TypeShutdownComplete {
		return fmt.Errorf("%v sent %s with tag 0", from.Addr, chunkList(&pk))
	}
	return nil
}

func chunkList(pk *wire.Packet) string {
	s := ""
	for i, c := range pk.Chunks {
		if i > 0 {
			s += " "
		}
		s += c.Type.String()
	}
	return s
}
