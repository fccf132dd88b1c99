package engine

import "fmt"

// CheckInvariants recomputes what the data path keeps incrementally and
// reports the first disagreement. Tests call it while traffic flows.
func (a *Association) CheckInvariants() error {
	d := &a.data
	if !d.inited {
		return nil
	}
	flight, flightUser, gap, rtx, bytes := 0, 0, 0, 0, 0
	for _, o := range d.live() {
		if !o.acked && !o.rtx {
			flight += o.size()
			flightUser += o.userBytes()
		}
		if o.acked {
			gap++
		}
		if o.rtx {
			rtx++
		}
		bytes += o.userBytes()
	}
	switch {
	case flight != d.flight:
		return fmt.Errorf("flight %d, recomputed %d", d.flight, flight)
	case flightUser != d.flightUser:
		return fmt.Errorf("flight user bytes %d, recomputed %d", d.flightUser, flightUser)
	case gap != d.gapAcked:
		return fmt.Errorf("gap-acked %d, recomputed %d", d.gapAcked, gap)
	case rtx != d.rtxPending:
		return fmt.Errorf("rtx pending %d, recomputed %d", d.rtxPending, rtx)
	case bytes != d.outBytes:
		return fmt.Errorf("outstanding bytes %d, recomputed %d", d.outBytes, bytes)
	case d.sq != nil && d.sq.Outstanding() != d.outBytes:
		return fmt.Errorf("send queue holds %d outstanding, engine %d", d.sq.Outstanding(), d.outBytes)
	}
	return nil
}
