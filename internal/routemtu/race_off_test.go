//go:build !race

package routemtu

const raceEnabled = false
