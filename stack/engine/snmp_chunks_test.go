package engine_test

import (
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// Ordered and unordered DATA chunks sent are counted apart, as
// SctpOutOrderChunks and SctpOutUnorderChunks are, and match what the
// receiver counts in its In counters.
func TestOutOrderAndUnorderChunks(t *testing.T) {
	l := newLab(t, 90, link.UDP, engine.Config{NoDelay: true})
	a, _ := l.up(engine.Config{NoDelay: true})
	before := l.cn.Host.Stats()
	for i := 0; i < 5; i++ {
		if err := a.Send(l.net.Now(), []byte("ordered"), engine.SndInfo{Stream: 0}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := a.Send(l.net.Now(), []byte("unordered"), engine.SndInfo{Stream: 0, Unordered: true}); err != nil {
			t.Fatal(err)
		}
	}
	l.net.RunFor(time.Second)
	c, s := l.cn.Host.Stats(), l.sn.Host.Stats()
	if got := c.OutOrderChunks - before.OutOrderChunks; got != 5 {
		t.Errorf("OutOrderChunks +%d, want 5", got)
	}
	if got := c.OutUnorderChunks - before.OutUnorderChunks; got != 3 {
		t.Errorf("OutUnorderChunks +%d, want 3", got)
	}
	if s.InUnorderChunks != 3 || s.InOrderChunks != 5 {
		t.Errorf("receiver counted %d ordered, %d unordered", s.InOrderChunks, s.InUnorderChunks)
	}
}
