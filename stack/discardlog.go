package stack

import (
	"strconv"
	"time"

	"github.com/pion/logging"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// discardLogEvery is how often at most the log mentions one kind of drop:
// a flood of bad packets must not become a flood of log lines.
const discardLogEvery = time.Second

// discardLog logs what the engine drops (engine.HostConfig.OnDiscard), at
// most once per discardLogEvery per kind, with the source of the packet and
// how many of that kind went unlogged since the last line. The counters in
// engine.Stats count every one. It runs under the Stack's lock.
type discardLog struct {
	log        logging.LeveledLogger
	last       [engine.NumDiscardKinds]time.Time
	suppressed [engine.NumDiscardKinds]uint64
}

func (d *discardLog) note(ev engine.Discard) {
	k := ev.Kind
	if k >= engine.NumDiscardKinds {
		return
	}
	if !d.last[k].IsZero() && ev.At.Sub(d.last[k]) < discardLogEvery && !ev.At.Before(d.last[k]) {
		d.suppressed[k] += uint64(ev.Count)
		return
	}
	d.last[k] = ev.At
	more := ""
	if n := d.suppressed[k]; n > 0 {
		more = " (" + strconv.FormatUint(n, 10) + " more since the last report)"
		d.suppressed[k] = 0
	}
	detail := ""
	if ev.Err != nil {
		detail = ": " + ev.Err.Error()
	}
	if k == engine.DiscardReportCut {
		d.log.Warnf("cut %d %s, to %s%s%s", ev.Count, k, source(ev.Path), detail, more)
		return
	}
	d.log.Warnf("discarded %s from %s%s%s", k, source(ev.Path), detail, more)
}

// source names a packet's origin: the address, and the UDP port on an
// encapsulating link.
func source(p link.Path) string {
	if p.RemotePort != 0 {
		return p.Remote.String() + " udp/" + strconv.Itoa(int(p.RemotePort))
	}
	return p.Remote.String()
}
