package stack_test

import (
	"bytes"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"

	"github.com/sctpgw/sctpgw/internal/stackhost"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
	"github.com/sctpgw/sctpgw/stack/wire"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(s, substr) {
			out = append(out, s)
		}
	}
	return out
}

// Issue 12: malformed input is visible in the log, at most once per second
// per kind, with its source and how many went unlogged; a flood of bad
// packets is not a flood of log lines.
func TestDiscardsLoggedRateLimited(t *testing.T) {
	var logs lockedBuffer
	lf := logging.NewDefaultLoggerFactory()
	lf.Writer = &logs
	lf.DefaultLogLevel = logging.LogLevelWarn
	clk := newVClock()
	la, _ := memlink.Pair(link.UDP, addrA, addrB)
	s, err := stack.New(stack.Config{Links: []link.Link{la}, Clock: clk, LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close("")
	src := netip.MustParseAddr("198.18.9.9")
	from := link.Path{Local: addrA, Remote: src, RemotePort: 40123}
	hb := &wire.Heartbeat{Info: []byte("x")}
	partial := append(wire.AppendPacket(nil, wire.CommonHeader{SrcPort: 1, DstPort: 2, VerificationTag: 3}, hb), 0xFA, 0, 0x10, 0)
	wire.SetChecksum(partial)
	badCRC := wire.AppendPacket(nil, wire.CommonHeader{SrcPort: 1, DstPort: 2, VerificationTag: 3}, hb)
	badCRC[8] ^= 0xFF
	flood := func() {
		stackhost.Do(s, func(h *engine.Host, now time.Time) {
			for i := 0; i < 100; i++ {
				h.HandlePacket(0, from, partial, now)
				h.HandlePacket(0, from, badCRC, now)
			}
		})
	}
	flood()
	if got := logs.lines("partial chunk"); len(got) != 1 || !strings.Contains(got[0], "198.18.9.9 udp/40123") || !strings.Contains(got[0], "bad length") {
		t.Fatalf("after 100 partial chunks, log lines %q; want one naming the source and the fault", got)
	}
	if got := logs.lines("bad checksum"); len(got) != 1 {
		t.Fatalf("after 100 bad checksums, log lines %q; want one", got)
	}
	clk.Advance(t, 500*time.Millisecond)
	flood()
	if got := logs.lines("partial chunk"); len(got) != 1 {
		t.Fatalf("half a second later: %q", got)
	}
	clk.Advance(t, 600*time.Millisecond)
	flood()
	got := logs.lines("partial chunk")
	if len(got) != 2 || !strings.Contains(got[1], "(199 more since the last report)") {
		t.Fatalf("a second later: %q, want a second line counting the 199 not logged", got)
	}
	if st := s.Stats(); st.PartialChunks != 300 || st.ChecksumErrors != 300 {
		t.Fatalf("counters %d partial, %d checksum; want every one counted", st.PartialChunks, st.ChecksumErrors)
	}
}
