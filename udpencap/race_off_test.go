//go:build !race

package udpencap

const raceEnabled = false
