package testlab

import (
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/stack"
)

func received(flow uint32, i int, streams uint16, large int) stack.Message {
	b, info := Msg(flow, i, streams, large)
	return stack.Message{RcvInfo: stack.RcvInfo{Stream: info.Stream, PPID: info.PPID, Unordered: info.Unordered}, Data: b}
}

// The checker takes a flow delivered whole and in order per stream, and
// names each way a delivery can be wrong.
func TestChecker(t *testing.T) {
	const n, streams, large = 128, 8, 30000
	c := NewChecker(7, n, streams, large)
	for i := 0; i < n; i++ {
		if err := c.Check(received(7, i, streams, large)); err != nil {
			t.Fatal(err)
		}
	}
	if !c.Done() || c.MaxSize() != large {
		t.Fatalf("done %v, largest %d: want done, %d", c.Done(), c.MaxSize(), large)
	}
	if b, _ := Msg(SmallFlow|7, 63, streams, large); len(b) != 10000 {
		t.Fatalf("a small flow's largest message is %d bytes, want 10000", len(b))
	}
	wrong := func(name, want string, f func(c *Checker) error) {
		t.Helper()
		if err := f(NewChecker(7, n, streams, large)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, want)
		}
	}
	wrong("twice", "twice", func(c *Checker) error {
		c.Check(received(7, 0, streams, large))
		return c.Check(received(7, 0, streams, large))
	})
	wrong("corrupted", "corrupted", func(c *Checker) error {
		m := received(7, 3, streams, large)
		m.Data[len(m.Data)-1] ^= 1
		return c.Check(m)
	})
	wrong("PPID", "PPID", func(c *Checker) error {
		m := received(7, 3, streams, large)
		m.PPID++
		return c.Check(m)
	})
	wrong("other flow", "of flow 8", func(c *Checker) error { return c.Check(received(8, 3, streams, large)) })
	wrong("order", "after message", func(c *Checker) error {
		// Messages 0 and 8 are both ordered, on stream 7*i+7 mod 8 = 7.
		c.Check(received(7, 8, streams, large))
		return c.Check(received(7, 0, streams, large))
	})
}
