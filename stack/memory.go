package stack

import "time"

// Config.ReturnMemory's policy: how often the association count is looked
// at, the smallest drop that calls it, and how many checks later it is
// called once more.
const (
	memoryCheckEvery = 5 * time.Second
	memoryMinDrop    = 256
	memorySettle     = 3
)

// memoryLoop calls Config.ReturnMemory after the established associations
// fell to half their peak since the last call, by at least memoryMinDrop:
// a drop large enough for the memory they held to matter, rare enough
// that the collection it forces costs nothing that counts. It calls it
// once more memorySettle checks later unless associations came back
// meanwhile: a mass close goes on after the check that saw it start, and
// what goes with it (an operator's status of every pair) is garbage that
// no collection would otherwise reclaim for minutes in an idle process.
func (s *Stack) memoryLoop() {
	defer s.wg.Done()
	t := s.clock.NewTimer(memoryCheckEvery)
	defer t.Stop()
	peak, settle, at := 0, 0, 0
	for {
		select {
		case <-s.done:
			return
		case <-t.C():
		}
		s.mu.Lock()
		n := s.host.Stats().CurrEstab
		s.mu.Unlock()
		peak = max(peak, n)
		switch {
		case peak-n >= memoryMinDrop && n <= peak/2:
			s.cfg.ReturnMemory()
			peak, at, settle = n, n, memorySettle
		case settle > 0:
			if settle--; settle == 0 && n <= at {
				s.cfg.ReturnMemory()
			}
		}
		t.Reset(memoryCheckEvery)
	}
}
