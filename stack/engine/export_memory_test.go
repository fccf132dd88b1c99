package engine

// OutstandingSlots is the capacity of the association's array of
// outstanding chunks, for tests of what an idle association keeps.
func (a *Association) OutstandingSlots() int { return a.data.out.Cap() }
