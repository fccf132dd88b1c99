package testlab

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// A flow is n messages whose every property derives from (flow, i): size,
// bytes, stream, PPID and unordered flag. The receiver regenerates what it
// should have got and checks each message whole (Checker); Transfer and
// Exchange move flows over associations of our stack, EchoFlow through an
// echo server.

// SmallFlow, set in a flow number, keeps its messages at 10000 bytes or
// less: usrsctp's echo_server reads into a 10240-byte buffer and echoes
// only whole messages.
const SmallFlow = 1 << 31

// PPIDs are the payload protocol identifiers flows cycle through: S1AP,
// NGAP, Diameter, M3UA, the signalling that crosses a gateway.
var PPIDs = [...]uint32{18, 60, 46, 3}

// Msg is message i of flow for an association with streams outbound
// streams. Most messages are signalling-sized (8 to 407 bytes); every 16th
// is from 2000 bytes up to large (many packets), every 64th exactly large.
// For a SmallFlow large is at most 10000.
func Msg(flow uint32, i int, streams uint16, large int) ([]byte, stack.SndInfo) {
	large = flowLarge(flow, large)
	r := rand.New(rand.NewPCG(uint64(flow), uint64(i)))
	size := 8 + r.IntN(400)
	switch {
	case i%64 == 63:
		size = large
	case i%16 == 15:
		size = 2000 + r.IntN(large-2000)
	}
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, flow)
	binary.BigEndian.PutUint32(b[4:], uint32(i))
	for j := 8; j < size; j++ {
		b[j] = byte(r.Uint32())
	}
	return b, stack.SndInfo{
		Stream:    uint16((uint32(i)*7 + flow) % uint32(streams)),
		PPID:      PPIDs[(uint32(i)+flow)%uint32(len(PPIDs))],
		Unordered: i%5 == 2,
	}
}

func flowLarge(flow uint32, large int) int {
	if flow&SmallFlow != 0 {
		large = min(large, 10000)
	}
	return max(large, 2001)
}

// Checker verifies one flow's messages as they arrive: each intact (bytes,
// stream, PPID, unordered flag), none twice, ordered ones in order within
// their stream.
type Checker struct {
	flow    uint32
	n, got  int
	streams uint16
	large   int
	seen    []bool
	last    map[uint16]int // highest ordered index per stream
	maxSize int
}

// NewChecker expects n messages of flow, sent with Msg(flow, i, streams, large).
func NewChecker(flow uint32, n int, streams uint16, large int) *Checker {
	return &Checker{flow: flow, n: n, streams: streams, large: large, seen: make([]bool, n), last: map[uint16]int{}}
}

// Done reports that every message arrived.
func (c *Checker) Done() bool { return c.got == c.n }

// Got is how many arrived.
func (c *Checker) Got() int { return c.got }

// MaxSize is the largest message that arrived.
func (c *Checker) MaxSize() int { return c.maxSize }

// Check verifies one received message.
func (c *Checker) Check(m stack.Message) error {
	if len(m.Data) < 8 {
		return fmt.Errorf("flow %d: a %d-byte message is not one of ours", c.flow, len(m.Data))
	}
	flow, i := binary.BigEndian.Uint32(m.Data), int(binary.BigEndian.Uint32(m.Data[4:]))
	if flow != c.flow || i >= c.n {
		return fmt.Errorf("flow %d: got message %d of flow %d", c.flow, i, flow)
	}
	if c.seen[i] {
		return fmt.Errorf("flow %d: message %d delivered twice", c.flow, i)
	}
	want, info := Msg(flow, i, c.streams, c.large)
	if !bytes.Equal(m.Data, want) {
		return fmt.Errorf("flow %d: message %d corrupted: %d bytes, want %d", c.flow, i, len(m.Data), len(want))
	}
	if m.Stream != info.Stream || m.PPID != info.PPID || m.Unordered != info.Unordered {
		return fmt.Errorf("flow %d: message %d on stream %d PPID %d unordered %v; sent on stream %d PPID %d unordered %v",
			c.flow, i, m.Stream, m.PPID, m.Unordered, info.Stream, info.PPID, info.Unordered)
	}
	if !m.Unordered {
		if last, ok := c.last[m.Stream]; ok && last > i {
			return fmt.Errorf("flow %d: ordered message %d on stream %d after message %d", c.flow, i, m.Stream, last)
		}
		c.last[m.Stream] = i
	}
	c.seen[i] = true
	c.got++
	c.maxSize = max(c.maxSize, len(m.Data))
	return nil
}

// Transfer sends n messages of flow (at most large bytes) from one end of
// an association, pausing gap after each (so that a flow lasts long enough
// for something to happen meanwhile), and checks them at the other end. It
// returns the largest message received and the first error of either side.
func Transfer(ctx context.Context, from, to *stack.Assoc, flow uint32, n, large int, gap time.Duration) (int, error) {
	out, _ := from.Streams()
	_, in := to.Streams()
	if out != in || out == 0 {
		return 0, fmt.Errorf("flow %d: sender has %d outbound streams, receiver %d inbound", flow, out, in)
	}
	sendErr := make(chan error, 1)
	go func() { sendErr <- sendFlow(ctx, from, flow, n, out, large, gap) }()
	c := NewChecker(flow, n, in, large)
	for !c.Done() {
		m, err := to.RecvMsg(ctx)
		if err != nil {
			return c.maxSize, errors.Join(fmt.Errorf("flow %d: RecvMsg after %d of %d: %w", flow, c.got, n, err), <-sendErr)
		}
		if err := c.Check(m); err != nil {
			return c.maxSize, err
		}
	}
	return c.maxSize, <-sendErr
}

func sendFlow(ctx context.Context, from *stack.Assoc, flow uint32, n int, streams uint16, large int, gap time.Duration) error {
	for i := 0; i < n; i++ {
		b, info := Msg(flow, i, streams, large)
		if err := from.SendMsg(ctx, b, info); err != nil {
			return fmt.Errorf("flow %d: SendMsg %d: %w", flow, i, err)
		}
		if gap > 0 {
			select {
			case <-time.After(gap):
			case <-ctx.Done():
			}
		}
	}
	return nil
}

// Exchange moves n messages each way at once between the two ends of an
// association, flow from a to b and flow+1 from b to a (see Transfer). It
// returns the largest message each end received.
func Exchange(ctx context.Context, a, b *stack.Assoc, flow uint32, n, large int, gap time.Duration) (atB, atA int, err error) {
	type res struct {
		max int
		err error
	}
	back := make(chan res, 1)
	go func() {
		m, err := Transfer(ctx, b, a, flow+1, n, large, gap)
		back <- res{m, err}
	}()
	atB, err = Transfer(ctx, a, b, flow, n, large, gap)
	r := <-back
	return atB, r.max, errors.Join(err, r.err)
}

// EchoFlow sends n messages of flow on c toward an echo server, checks
// that each comes back whole, and shuts c down gracefully. On a wrong echo
// it aborts c.
func EchoFlow(ctx context.Context, c *stack.Assoc, flow uint32, n, large int) error {
	out, in := c.Streams()
	if out == 0 || in < out {
		c.AbortReason("test: streams")
		return fmt.Errorf("flow %d: streams %d out, %d in: echoes need as many in as out", flow, out, in)
	}
	sent := make(chan error, 1)
	go func() { sent <- sendFlow(ctx, c, flow, n, out, large, 0) }()
	chk := NewChecker(flow, n, out, large)
	for !chk.Done() {
		m, err := c.RecvMsg(ctx)
		if err != nil {
			return errors.Join(fmt.Errorf("flow %d: %d of %d echoes, then %w", flow, chk.got, n, err), <-sent)
		}
		if err := chk.Check(m); err != nil {
			c.AbortReason("test: bad echo")
			return fmt.Errorf("echo: %w", err)
		}
	}
	if err := <-sent; err != nil {
		return err
	}
	if err := c.Shutdown(ctx); err != nil {
		return fmt.Errorf("flow %d: Shutdown: %w", flow, err)
	}
	return nil
}

// Burst sends n messages of size bytes from c as fast as the association
// takes them and checks that s receives them whole and in order within
// limit, and that both ends are still ESTABLISHED afterwards: what a path
// MTU drop in the middle of a burst must not break.
func Burst(tb testing.TB, ctx context.Context, c, s *stack.Assoc, n, size int, limit time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	msg := func(i int) []byte {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(i*31 + j*7)
		}
		return b
	}
	sendErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := c.SendMsg(ctx, msg(i), stack.SndInfo{PPID: 46}); err != nil {
				sendErr <- fmt.Errorf("SendMsg %d: %w", i, err)
				return
			}
		}
		sendErr <- nil
	}()
	for i := 0; i < n; i++ {
		m, err := s.RecvMsg(ctx)
		if err != nil {
			tb.Fatalf("after %d of %d messages: %v (client state %v, MTU %d)", i, n,
				errors.Join(err, <-sendErr), c.Status().State, c.Status().Primary.MTU)
		}
		if !bytes.Equal(m.Data, msg(i)) {
			tb.Fatalf("message %d: %d bytes, corrupted or out of order", i, len(m.Data))
		}
	}
	if err := <-sendErr; err != nil {
		tb.Fatal(err)
	}
	for i, x := range []*stack.Assoc{c, s} {
		if st := x.Status().State; st != engine.StateEstablished {
			tb.Fatalf("end %d is %v after the burst, want ESTABLISHED", i, st)
		}
	}
}
