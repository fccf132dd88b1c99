//go:build !race

package nbsys

const raceEnabled = false
