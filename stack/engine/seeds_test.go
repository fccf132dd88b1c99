package engine_test

import "testing"

// soakSeeds is n, or a tenth of it under -short and the race detector
// (whose slowdown would push the full soak past CI's time budget). `make
// test`, which CI runs, runs these soaks again without -race at the full count.
func soakSeeds(n int) int {
	if testing.Short() || raceEnabled {
		return max(n/10, 1)
	}
	return n
}
