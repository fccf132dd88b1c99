package acl_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/sctpgw/sctpgw/acl"
)

func Example() {
	p, err := acl.ParsePolicyYAML([]byte(`
acl:
  default: deny
  rules:
    - allow from 198.18.0.0/15 port 36412 link native
    - drop from 0.0.0.0/0 link udp
  rate:
    per_source: {rate: 1/s, burst: 1}
  max_pairs: 10000
`))
	if err != nil {
		panic(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	enb := acl.Request{Src: netip.MustParseAddrPort("198.18.0.10:36412"), DstPort: 36412, Link: acl.LinkNative}

	// On a valid COOKIE ECHO: ask, and hold the slot while the pair lives.
	slot, d := p.Acquire(enb, now)
	fmt.Println(d.Verdict, d.Rule, d.Reason())
	defer slot.Release()

	// The same eNB again within the second: over its rate.
	_, d = p.Acquire(enb, now)
	fmt.Println(d.Verdict, d.Limit, d.Reason())

	// Others: refused by a rule or by the default.
	d = p.Evaluate(acl.Request{Src: netip.MustParseAddrPort("203.0.113.9:5000"), DstPort: 36412, Link: acl.LinkUDP})
	fmt.Println(d.Verdict, d.Rule, d.Reason())
	d = p.Evaluate(acl.Request{Src: netip.MustParseAddrPort("[2001:db8::9]:5000"), DstPort: 36412, Link: acl.LinkNative})
	fmt.Println(d.Verdict, d.Rule, d.Reason())
	// Output:
	// allow 0 sctpgw: allowed by policy (rule 1: allow from 198.18.0.0/15 port 36412 link native)
	// deny per_source_rate sctpgw: refused by policy (rate limit per source 198.18.0.10/32)
	// drop 1 sctpgw: refused by policy (rule 2: drop from 0.0.0.0/0 link udp)
	// deny -1 sctpgw: refused by policy (default deny)
}

func ExampleParseRule() {
	r, err := acl.ParseRule("ALLOW link encap port 38412 from 2001:DB8::/32")
	fmt.Println(r, err)
	_, err = acl.ParseRule("allow from 10.1.2.3/8")
	fmt.Println(err)
	// Output:
	// allow from 2001:db8::/32 port 38412 link encap <nil>
	// prefix 10.1.2.3/8 has host bits set (did you mean 10.0.0.0/8?)
}
