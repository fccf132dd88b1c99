package wire

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

// An item longer than a 16-bit length field can say must not be written
// with a wrapped length: 70000 bytes of DATA once encoded as length 4480.
func TestEncodeRefusesOversizedLength(t *testing.T) {
	cases := map[string]func(){
		"DATA":      func() { (&Data{TSN: 1, Payload: make([]byte, 70000)}).AppendTo(nil) },
		"raw param": func() { (RawParam{Type: 0x8123, Value: make([]byte, 0x10000)}).AppendTo(nil) },
		"user abort": func() {
			(&Abort{Causes: []Cause{&UserInitiatedAbortCause{Reason: make([]byte, 0x10000)}}}).AppendTo(nil)
		},
	}
	for name, enc := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, "16-bit length") {
					t.Fatalf("recovered %v, want the length-field panic", r)
				}
			}()
			enc()
		})
	}
	// The largest DATA that fits still encodes, with its exact length.
	max := 0xffff - ChunkHeaderLen - 12
	b := (&Data{TSN: 1, Payload: make([]byte, max)}).AppendTo(nil)
	if got := int(b[2])<<8 | int(b[3]); got != 0xffff {
		t.Fatalf("length field %d, want 65535", got)
	}
}

// An IPv4-mapped IPv6 address in an IPv4 Address parameter is written as
// the plain IPv4 address it maps.
func TestIPv4ParamWritesMappedAddress(t *testing.T) {
	mapped := (&IPv4AddressParam{Addr: netip.MustParseAddr("::ffff:198.18.0.1")}).AppendTo(nil)
	plain := (&IPv4AddressParam{Addr: netip.MustParseAddr("198.18.0.1")}).AppendTo(nil)
	if !bytes.Equal(mapped, plain) {
		t.Fatalf("mapped %x, plain %x", mapped, plain)
	}
}
