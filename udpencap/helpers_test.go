package udpencap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// listenT opens a link that the test closes.
func listenT(t testing.TB, cfg Config) *Link {
	t.Helper()
	l, err := Listen(cfg)
	if err != nil {
		t.Fatalf("Listen(%+v): %v", cfg.Addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// ephemeral is a Config for an ephemeral port on addr ("" for the zero
// address).
func ephemeral(addr string) Config {
	c := Config{EphemeralPort: true}
	if addr != "" {
		c.Addr = netip.AddrPortFrom(netip.MustParseAddr(addr), 0)
	}
	return c
}

// buffers returns n packets with MaxPacket-sized buffers.
func buffers(n int) []link.Packet {
	pkts := make([]link.Packet, n)
	for i := range pkts {
		pkts[i].Buf = make([]byte, 0, link.MaxPacket)
	}
	return pkts
}

// dataPacket is a well-formed SCTP packet carrying one DATA chunk whose TSN,
// verification tag and payload all derive from seq, so a receiver can tell
// the packet is intact and which one it is.
func dataPacket(b []byte, src, dst uint16, seq uint32, size int) []byte {
	payload := make([]byte, 0, size)
	for len(payload) < size {
		payload = binary.BigEndian.AppendUint32(payload, seq^uint32(len(payload)))
	}
	payload = payload[:size]
	return wire.AppendPacket(b[:0], wire.CommonHeader{SrcPort: src, DstPort: dst, VerificationTag: seq},
		&wire.Data{TSN: seq, StreamID: 1, PPID: 60, Beginning: true, Ending: true, Payload: payload})
}

// checkData verifies a received dataPacket and returns its seq.
func checkData(b []byte, src, dst uint16, size int) (uint32, error) {
	var p wire.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, fmt.Errorf("received packet does not parse: %w", err)
	}
	if p.SrcPort != src || p.DstPort != dst || len(p.Chunks) != 1 {
		return 0, fmt.Errorf("received packet %d->%d with %d chunks, want %d->%d with 1", p.SrcPort, p.DstPort, len(p.Chunks), src, dst)
	}
	want := dataPacket(nil, src, dst, p.VerificationTag, size)
	if string(want) != string(b) {
		return 0, fmt.Errorf("packet %d differs from what was sent", p.VerificationTag)
	}
	return p.VerificationTag, nil
}

// pump reads a link from one goroutine (ReadBatch allows no more) and
// hands copies of the packets to the test, which can then wait with a
// timeout and never hangs on a lost datagram.
type pump struct {
	ch   chan link.Packet
	done chan struct{}
	err  error
}

// startPump starts reading l until it is closed; the test's cleanup closes
// it and waits for the reader.
func startPump(t testing.TB, l *Link) *pump {
	p := &pump{ch: make(chan link.Packet, 4096), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		pkts := buffers(16)
		for {
			for i := range pkts {
				pkts[i].Arrived = -1 // a time left in a slot must not pass for the packet's own
			}
			n, err := l.ReadBatch(pkts)
			if err != nil {
				if !isClosed(err) {
					p.err = err
				}
				return
			}
			for i := 0; i < n; i++ {
				c := pkts[i]
				c.Buf = append([]byte(nil), c.Buf...)
				select {
				case p.ch <- c:
				default: // the test stopped listening; drop
				}
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-p.done
		if p.err != nil {
			t.Errorf("reader: %v", p.err)
		}
	})
	return p
}

// next returns the first packet within d for which want is true; other
// packets are skipped, so stray notices or retransmissions do not confuse
// a test.
func (p *pump) next(d time.Duration, want func(*link.Packet) bool) (link.Packet, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case pk := <-p.ch:
			if want == nil || want(&pk) {
				return pk, true
			}
		case <-timer.C:
			return link.Packet{}, false
		}
	}
}

// quiet reports whether nothing matching want arrives within d.
func (p *pump) quiet(d time.Duration, want func(*link.Packet) bool) bool {
	_, got := p.next(d, want)
	return !got
}

func writeAll(t testing.TB, l *Link, pkts []link.Packet) {
	t.Helper()
	n, err := l.WriteBatch(pkts)
	if err != nil || n != len(pkts) {
		t.Fatalf("WriteBatch: %d of %d: %v", n, len(pkts), err)
	}
}

func isClosed(err error) bool { return errors.Is(err, link.ErrClosed) }

// chunkTypes lists a packet's chunk types, for messages.
func chunkTypes(p *wire.Packet) []wire.ChunkType {
	var ts []wire.ChunkType
	for _, c := range p.Chunks {
		ts = append(ts, c.Type)
	}
	return ts
}
