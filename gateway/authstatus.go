package gateway

import "github.com/sctpgw/sctpgw/stack/engine"

// AuthStatus is a route's SCTP-AUTH figures: packets of its udp:// side
// authenticated, refused for lacking authentication, and refused for an
// AUTH chunk that did not verify, and the same per key.
type AuthStatus struct {
	Route     string `json:"route"`
	ActiveKey uint16 `json:"active_key"`
	// Authenticated counts received packets whose AUTH chunk verified.
	Authenticated uint64 `json:"authenticated"`
	// Unauthenticated counts received packets refused for coming without
	// the AUTH chunk they need: INITs of peers that offer no SCTP-AUTH,
	// COOKIE ECHOs, DATA, ABORTs... sent without it.
	Unauthenticated uint64 `json:"refused_unauthenticated"`
	// BadMAC counts received packets whose AUTH chunk failed: a wrong key,
	// an unknown key id, an HMAC not offered.
	BadMAC uint64          `json:"bad_mac"`
	Signed uint64          `json:"signed"`
	Keys   []AuthKeyStatus `json:"keys"`
}

// AuthKeyStatus is one key's packets: verified with it (in), signed with
// it (out), and naming it with a wrong HMAC (bad_mac).
type AuthKeyStatus struct {
	ID     uint16 `json:"id"`
	Active bool   `json:"active"`
	In     uint64 `json:"in"`
	Out    uint64 `json:"out"`
	BadMAC uint64 `json:"bad_mac"`
}

func authStatus(name string, k *engine.AuthKeys) AuthStatus {
	st := k.Stats()
	a := AuthStatus{Route: name, ActiveKey: k.Active(), Authenticated: st.Authenticated,
		Unauthenticated: st.Unauthenticated, BadMAC: st.BadMAC, Signed: st.Signed}
	for _, ks := range st.Keys {
		a.Keys = append(a.Keys, AuthKeyStatus{ID: ks.ID, Active: ks.Active, In: ks.In, Out: ks.Out, BadMAC: ks.BadMAC})
	}
	return a
}

// Auth reports the SCTP-AUTH figures of each route that has an auth block.
func (c *core) Auth() []AuthStatus {
	var s []AuthStatus
	for _, rs := range c.routes {
		if rs.r.Auth != nil {
			s = append(s, authStatus(rs.r.Name, rs.r.Auth))
		}
	}
	return s
}
