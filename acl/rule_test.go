package acl

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		in   string
		want Rule
		text string // canonical form; "" means same as in
	}{
		{"allow", Rule{Action: Allow}, ""},
		{"deny from 2001:db8::/32", Rule{Action: Deny, From: pfx("2001:db8::/32")}, ""},
		{"drop from 0.0.0.0/0 link udp", Rule{Action: Drop, From: pfx("0.0.0.0/0"), Link: LinkUDP}, ""},
		{"allow from 198.18.0.0/15 sport 1024-65535 port 36412 link native",
			Rule{Action: Allow, From: pfx("198.18.0.0/15"), SPort: PortRange{1024, 65535}, Port: PortRange{36412, 36412}, Link: LinkNative}, ""},
		// Any order, any case for keywords, aliases, extra blanks.
		{"  ALLOW link encapsulated\tport 38412 from 10.0.0.0/8 ", Rule{Action: Allow, From: pfx("10.0.0.0/8"), Port: PortRange{38412, 38412}, Link: LinkEncap},
			"allow from 10.0.0.0/8 port 38412 link encap"},
		{"deny link dtls", Rule{Action: Deny, Link: LinkDTLS}, ""},
		{"allow link DTLS port 36412", Rule{Action: Allow, Port: PortRange{36412, 36412}, Link: LinkDTLS}, "allow port 36412 link dtls"},
		{"deny dport 3868-3869", Rule{Action: Deny, Port: PortRange{3868, 3869}}, "deny port 3868-3869"},
		// A bare address is a host prefix.
		{"allow from 192.0.2.7", Rule{Action: Allow, From: pfx("192.0.2.7/32")}, "allow from 192.0.2.7/32"},
		{"allow from 2001:DB8::7", Rule{Action: Allow, From: pfx("2001:db8::7/128")}, "allow from 2001:db8::7/128"},
		// "any" is the same as leaving the field out.
		{"deny from any sport any port any link any", Rule{Action: Deny}, "deny"},
		{"allow port 5-5", Rule{Action: Allow, Port: PortRange{5, 5}}, "allow port 5"},
		{"allow sport 0080", Rule{Action: Allow, SPort: PortRange{80, 80}}, "allow sport 80"},
	}
	for _, tc := range tests {
		got, err := ParseRule(tc.in)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseRule(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
		text := tc.text
		if text == "" {
			text = tc.in
		}
		if s := got.String(); s != text {
			t.Errorf("ParseRule(%q).String() = %q, want %q", tc.in, s, text)
		}
		if again, err := ParseRule(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q: %v, %v", tc.in, again, err)
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty rule"},
		{"permit from 10.0.0.0/8", `unknown action "permit"`},
		{"allow to 10.0.0.0/8", `unknown field "to"`},
		{"allow from", "from needs a value"},
		{"allow from 10.0.0.0/8 from 11.0.0.0/8", "from given twice"},
		{"allow port 1 dport 2", "port given twice"},
		{"allow from 10.1.2.3/8", "host bits set (did you mean 10.0.0.0/8?)"},
		{"allow from 2001:db8::1/32", "did you mean 2001:db8::/32?"},
		{"allow from 10.0.0.0/33", `bad prefix "10.0.0.0/33"`},
		{"allow from fe80::1%eth0", "zone"},
		{"allow from ::ffff:10.0.0.0/104", "write it as 10.0.0.0/8"},
		{"allow from ::ffff:10.0.0.1", "write it as 10.0.0.1/32"},
		{"allow from host.example", `bad address "host.example"`},
		{"allow port 0", "port 0 is not a valid SCTP port"},
		{"allow port 0-100", "port 0 is not a valid SCTP port"},
		{"allow sport 2000-1000", "empty"},
		{"allow port 65536", `bad port "65536"`},
		{"allow port +5", `bad port "+5"`},
		{"allow port 1-", `bad port ""`},
		{"allow link sctp", `unknown link "sctp"`},
	}
	for _, tc := range tests {
		_, err := ParseRule(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRule(%q) error = %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	bad := []Rule{
		{},
		{Action: 9},
		{Action: Allow, From: netip.MustParsePrefix("10.1.0.0/8")},
		{Action: Allow, Port: PortRange{0, 10}},
		{Action: Allow, SPort: PortRange{10, 9}},
		{Action: Allow, Link: 7},
	}
	for _, r := range bad {
		if r.Validate() == nil {
			t.Errorf("%#v validated", r)
		}
		if _, err := r.MarshalText(); err == nil {
			t.Errorf("%#v marshalled", r)
		}
	}
	var r Rule
	if err := r.UnmarshalText([]byte("drop link udp")); err != nil || r != (Rule{Action: Drop, Link: LinkUDP}) {
		t.Errorf("UnmarshalText: %v %v", r, err)
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"50/s", 50}, {"50", 50}, {"0.5/s", 0.5}, {"600/min", 10}, {"60/m", 1}, {"3600/h", 1}, {"1e3/s", 1000},
	}
	for _, tc := range tests {
		if got, err := ParseRate(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "0/s", "-1/s", "50/d", "fast", "NaN/s", "Inf/s", "/s"} {
		if v, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %v, want an error", in, v)
		}
	}
}
