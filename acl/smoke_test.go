package acl

import (
	"net/netip"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	p, err := ParsePolicyYAML([]byte(`
acl:
  default: deny
  rules:
    - allow from 198.18.0.0/15 port 36412
    - drop from 0.0.0.0/0
  rate:
    per_source: {rate: 50/s, burst: 100, prefix_v4: 32, prefix_v6: 64}
    total: {rate: 1000/s, burst: 2000}
  max_pairs: 10000
  max_pairs_per_source: 100
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s, d := p.Acquire(Request{Src: netip.MustParseAddrPort("198.18.1.1:5000"), DstPort: 36412, Link: LinkNative}, now)
	t.Log(d, d.Reason(), s.Held())
	d = p.Decide(Request{Src: netip.MustParseAddrPort("10.1.1.1:5000"), DstPort: 36412, Link: LinkNative}, now)
	t.Log(d, d.Reason())
	d = p.Decide(Request{Src: netip.MustParseAddrPort("[2001:db8::1]:5000"), DstPort: 36412, Link: LinkNative}, now)
	t.Log(d, d.Reason())
	t.Logf("%+v", p.Stats())
}
