package engine

import "time"

// CloseWindow stops the association taking new data from its peer while it
// goes on sending its own: a gateway draining a pair uses it so that what
// the peer sends from now on stays with the peer instead of being
// acknowledged and then lost (docs/design.md 2.8).
//
// From now on the association advertises a_rwnd 0 and drops, without
// acknowledging it, every DATA chunk whose TSN is above the highest TSN
// received so far, as RFC 9260 6.2 has a receiver with a zero window do.
// The peer keeps such data in its send buffer and probes the window (6.1
// rule A, answered by SACKs, so it counts no errors); if the association is
// then aborted, its user gets the data back as unsent (SEND_FAILED), and a
// peer that receives SHUTDOWN with data still queued cannot complete it.
// Chunks at or below that TSN, which fill holes, are still taken, so every
// message whose chunks all arrived before the call is delivered; a message
// cut by the call (its first chunks taken, the rest dropped) never is, and
// its sender learns so in the same way.
//
// A SACK announcing the closed window goes at once. The first chunk dropped
// raises DataRefused; InboundSettled reports when nothing more can arrive.
// The window stays closed for the life of the association.
func (a *Association) CloseWindow(now time.Time) {
	d := &a.data
	if a.state == stateClosed || d.windowClosed {
		return
	}
	d.windowClosed = true
	if d.inited {
		d.sackNow = true
		a.markDirty()
	}
	a.host.finishCall(now)
}

// InboundSettled reports that CloseWindow was called and no hole is left
// below the highest TSN received: nothing more will be taken from the peer,
// so once Readable is 0 every message the association will ever deliver has
// been read.
func (a *Association) InboundSettled() bool {
	d := &a.data
	return d.windowClosed && (d.rx == nil || !d.rx.HasGaps())
}

// refuseData reports whether a DATA chunk with tsn is dropped by a window
// closed by CloseWindow; if so it is counted and a SACK goes at once, so the
// peer hears again that the window is closed (6.2).
func (d *dataState) refuseData(a *Association, tsn uint32) bool {
	if !d.windowClosed || !serialAfter(tsn, d.rx.Highest()) {
		return false
	}
	d.refused++
	d.sackNow = true
	if d.refused == 1 {
		a.signal(Signal{Type: DataRefused})
	}
	return true
}
