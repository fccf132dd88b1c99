//go:build !linux

package routemtu

import "github.com/sctpgw/sctpgw/stack/link"

// Prober knows nothing outside Linux: MTU returns 0.
type Prober struct{}

// Open returns a Prober that knows nothing.
func Open(Options) (*Prober, error) { return &Prober{}, nil }

// MTU returns 0: unknown.
func (*Prober) MTU(link.Path) int { return 0 }

// Close does nothing.
func (*Prober) Close() error { return nil }
