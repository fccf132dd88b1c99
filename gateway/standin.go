package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// standInPrefix holds the stand-in addresses: 240.0.0.0/4 is reserved
// (RFC 1112 4, "class E"), never a host a configuration could name, so a
// stand-in cannot collide with a literal address of another route.
var standInPrefix = netip.MustParsePrefix("240.0.0.0/4")

// StandInResolver returns a resolver for checking a configuration where
// its names do not resolve (sctpgw check --no-resolve, Config.Validate: a
// Kubernetes Service name checked outside the cluster). It looks nothing
// up: it checks that the name is a host name and gives each name an
// address of its own from 240.0.0.0/4, the same one for the same name
// (case-insensitive), so that what planning checks between routes (one
// set of DTLS credentials per peer gateway, an address listed twice in a
// multi-address URL) sees distinct names as distinct hosts. Names that
// would resolve to one address are not caught: only a lookup knows.
func StandInResolver() func(string) (netip.Addr, error) {
	var mu sync.Mutex
	given := map[string]netip.Addr{}
	return func(name string) (netip.Addr, error) {
		if err := checkHostName(name); err != nil {
			return netip.Addr{}, err
		}
		key := strings.ToLower(strings.TrimSuffix(name, "."))
		mu.Lock()
		defer mu.Unlock()
		if a, ok := given[key]; ok {
			return a, nil
		}
		n := uint32(len(given) + 1)
		if n >= 1<<(32-standInPrefix.Bits()) {
			return netip.Addr{}, errors.New("too many host names to stand in for")
		}
		base := standInPrefix.Addr().As4()
		a := netip.AddrFrom4([4]byte{base[0] | byte(n>>24), byte(n >> 16), byte(n >> 8), byte(n)})
		given[key] = a
		return a, nil
	}
}

// IsStandIn reports whether a was given by a StandInResolver.
func IsStandIn(a netip.Addr) bool { return standInPrefix.Contains(a) }

// checkHostName accepts what a lookup could resolve: dot-separated labels
// of 1 to 63 letters, digits, hyphens (not at either end) and underscores,
// 253 characters at most, an optional final dot.
func checkHostName(name string) error {
	s := strings.TrimSuffix(name, ".")
	if s == "" || len(s) > 253 {
		return fmt.Errorf("%q is not a host name (1 to 253 characters)", name)
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a host name (label %q)", name, label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%q is not a host name (%q in label %q)", name, c, label)
			}
		}
	}
	return nil
}
