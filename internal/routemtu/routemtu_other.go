//go:build !linux

package routemtu

import "net/netip"

// Prober knows nothing outside Linux: MTU returns 0.
type Prober struct{}

// Open returns a Prober that knows nothing.
func Open() (*Prober, error) { return &Prober{}, nil }

// MTU returns 0: unknown.
func (*Prober) MTU(netip.Addr) int { return 0 }

// Close does nothing.
func (*Prober) Close() error { return nil }
