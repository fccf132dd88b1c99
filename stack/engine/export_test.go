package engine

import "fmt"

// CheckInvariants recomputes what the data path keeps incrementally and
// reports the first disagreement. Tests call it while traffic flows.
func (a *Association) CheckInvariants() error {
	d := &a.data
	if !d.inited {
		return nil
	}
	if err := d.out.Verify(); err != nil {
		return err
	}
	if d.sq != nil && d.sq.Outstanding() != d.out.Bytes() {
		return fmt.Errorf("send queue holds %d outstanding, engine %d", d.sq.Outstanding(), d.out.Bytes())
	}
	return nil
}
