package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	pionlog "github.com/pion/logging"
	"github.com/pion/sctp"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// workload is one benchmark shape: a one-way bulk transfer of messages of
// one size on one ordered stream, sender and receiver as fast as they can.
type workload struct {
	name string
	size int
}

var (
	addrA = netip.MustParseAddr("198.18.0.1")
	addrB = netip.MustParseAddr("198.18.0.2")
)

const (
	sctpPort = 5001
	ppid     = 53
	// sendBuffer is what each sender may have queued or unacknowledged:
	// our default SendBuffer, and the bufferedAmount pion's sender is held
	// under, so both senders block on the same amount.
	sendBuffer = 1 << 20
	// maxPacketUDP is the SCTP packet size of a 1500-byte path less the
	// IPv4 and UDP headers: what our stack uses on a UDP link, and the MTU
	// given to pion (its MTU is the SCTP packet size; its default, 1228,
	// is meant for DTLS).
	maxPacketUDP = 1500 - 20 - 8
	// checkEvery: every checkEvery-th message's content is compared in
	// full (all lengths and the stream are checked on every one).
	checkEvery = 64
)

// payload is the message every sender sends: the same bytes every time
// (the stacks never modify what they send, so one buffer serves), a
// pattern the receiver checks.
func payload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(i*7 + 1)
	}
	return p
}

func checkMsg(i int, got, want []byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("message %d: %d bytes, want %d", i, len(got), len(want))
	}
	if i%checkEvery == 0 && !bytes.Equal(got, want) {
		return fmt.Errorf("message %d: content differs", i)
	}
	return nil
}

// warmCount is how many messages run before the timer starts: enough for
// several send buffers' worth, so windows, pools and queues are at their
// steady-state sizes.
func warmCount(size int) int {
	return min(20000, max(64, (4<<20)/size))
}

// callTimeout bounds one call of a benchmark function: a stall is a
// failure, never a hang.
func callTimeout(n, size int) time.Duration {
	// Even at 1 MB/s or 10k msgs/s, plus a minute.
	return time.Minute + time.Duration(float64(n*size)/1e6*float64(time.Second)) + time.Duration(n)*100*time.Microsecond
}

func quietPion() pionlog.LoggerFactory {
	f := pionlog.NewDefaultLoggerFactory()
	f.DefaultLogLevel = pionlog.LogLevelDisabled
	f.Writer = io.Discard
	return f
}

// --- ours: stack.Stack over any pair of links ----------------------------

type oursPair struct {
	sa, sb *stack.Stack
	c, s   *stack.Assoc
	msgs   int // messages transferred, warm-up included
}

func newOurs(ctx context.Context, la, lb link.Link, toB link.Path, opts stack.Options) (*oursPair, error) {
	lf := quietPion()
	sa, err := stack.New(stack.Config{Links: []link.Link{la}, LoggerFactory: lf})
	if err != nil {
		return nil, err
	}
	sb, err := stack.New(stack.Config{Links: []link.Link{lb}, LoggerFactory: lf})
	if err != nil {
		sa.Close("")
		return nil, err
	}
	p := &oursPair{sa: sa, sb: sb}
	ln, err := sb.Listen(sctpPort, opts)
	if err != nil {
		p.close()
		return nil, err
	}
	accepted := make(chan error, 1)
	go func() {
		var err error
		p.s, err = ln.Accept(ctx)
		accepted <- err
	}()
	p.c, err = sa.Dial(ctx, 0, toB, 0, sctpPort, opts)
	if err == nil {
		err = <-accepted
	}
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *oursPair) close() {
	p.sa.Close("")
	p.sb.Close("")
}

// transfer sends n messages from c to s and reads them all.
func (p *oursPair) transfer(ctx context.Context, n int, msg []byte) error {
	p.msgs += n
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sendErr := make(chan error, 1)
	go func() {
		info := stack.SndInfo{PPID: ppid}
		for i := 0; i < n; i++ {
			if err := p.c.SendMsg(ctx, msg, info); err != nil {
				sendErr <- fmt.Errorf("SendMsg %d of %d: %w", i, n, err)
				return
			}
		}
		sendErr <- nil
	}()
	for i := 0; i < n; i++ {
		m, err := p.s.RecvMsg(ctx)
		if err != nil {
			cancel()
			if serr := <-sendErr; serr != nil {
				return errors.Join(fmt.Errorf("RecvMsg %d of %d: %w", i, n, err), serr)
			}
			return fmt.Errorf("RecvMsg %d of %d: %w", i, n, err)
		}
		if err := checkMsg(i, m.Data, msg); err != nil {
			cancel()
			<-sendErr
			return err
		}
		if m.PPID != ppid || m.Stream != 0 {
			cancel()
			<-sendErr
			return fmt.Errorf("message %d: stream %d ppid %d", i, m.Stream, m.PPID)
		}
	}
	return <-sendErr
}

// lossNote summarises the client's engine counters that reveal losses,
// stalls and how messages were cut into chunks and packets.
func lossNote(st engine.Stats, msgs int) string {
	return fmt.Sprintf("client: %.2f DATA chunks and %.2f packets per message, %d fragmented messages, T3 expiries %d, delayed-SACK expiries %d",
		float64(st.OutOrderChunks)/float64(msgs), float64(st.OutSCTPPacks)/float64(msgs), st.FragUsrMsgs, st.T3RtxExpireds, st.DelaySackExpireds)
}

// --- pion/sctp over any pair of packet conns ------------------------------

type pionPair struct {
	c, s   *sctp.Association
	cs, ss *sctp.Stream
	low    chan struct{}
	buf    []byte
	limit  uint64 // the most the sender keeps in bufferedAmount
}

// newPion connects two pion associations over ca and cb with receive
// window recvBuf; the sender keeps at most sendBuf bytes buffered.
func newPion(ctx context.Context, ca, cb net.Conn, recvBuf uint32, sendBuf int) (*pionPair, error) {
	cfg := func(c net.Conn) sctp.Config {
		return sctp.Config{
			NetConn:              c,
			LoggerFactory:        quietPion(),
			MTU:                  maxPacketUDP,
			MaxReceiveBufferSize: recvBuf,
			MaxMessageSize:       64 << 10,
		}
	}
	type res struct {
		a   *sctp.Association
		err error
	}
	srv := make(chan res, 1)
	go func() {
		a, err := sctp.ServerWithOptions(cfg(cb))
		srv <- res{a, err}
	}()
	c, err := sctp.ClientWithOptions(cfg(ca))
	if err != nil {
		cb.Close()
		<-srv
		return nil, fmt.Errorf("pion client: %w", err)
	}
	var r res
	select {
	case r = <-srv:
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
	if r.err != nil {
		c.Close()
		return nil, fmt.Errorf("pion server: %w", r.err)
	}
	p := &pionPair{c: c, s: r.a, low: make(chan struct{}, 1), buf: make([]byte, 64<<10+1), limit: uint64(sendBuf)}
	if p.cs, err = c.OpenStream(0, sctp.PayloadTypeWebRTCBinary); err != nil {
		p.close()
		return nil, err
	}
	p.cs.SetBufferedAmountLowThreshold(p.limit / 2)
	p.cs.OnBufferedAmountLow(func() {
		select {
		case p.low <- struct{}{}:
		default:
		}
	})
	// The peer's stream appears with its first message: send one.
	if _, err := p.cs.WriteSCTP([]byte{0}, ppid); err != nil {
		p.close()
		return nil, err
	}
	acc := make(chan error, 1)
	go func() {
		var err error
		if p.ss, err = r.a.AcceptStream(); err == nil {
			_, _, err = p.ss.ReadSCTP(p.buf)
		}
		acc <- err
	}()
	select {
	case err = <-acc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("pion accept stream: %w", err)
	}
	return p, nil
}

func (p *pionPair) close() {
	var wg sync.WaitGroup
	for _, a := range []*sctp.Association{p.c, p.s} {
		if a != nil {
			wg.Add(1)
			go func() { defer wg.Done(); a.Close() }()
		}
	}
	wg.Wait()
}

// transfer sends n messages on the client's stream and reads them all at
// the server. The sender keeps at most p.limit bytes buffered (queued or
// unacknowledged), as WebRTC applications do with bufferedAmount.
func (p *pionPair) transfer(ctx context.Context, n int, msg []byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sendErr := make(chan error, 1)
	go func() {
		t := time.NewTimer(time.Hour)
		defer t.Stop()
		for i := 0; i < n; i++ {
			for p.cs.BufferedAmount() >= p.limit {
				t.Reset(50 * time.Millisecond) // a missed signal costs 50 ms, never a hang
				select {
				case <-p.low:
				case <-t.C:
				case <-ctx.Done():
					sendErr <- ctx.Err()
					return
				}
			}
			if _, err := p.cs.WriteSCTP(msg, ppid); err != nil {
				sendErr <- fmt.Errorf("pion WriteSCTP %d of %d: %w", i, n, err)
				return
			}
		}
		sendErr <- nil
	}()
	stop := context.AfterFunc(ctx, func() { p.ss.SetReadDeadline(time.Now()) })
	defer stop()
	for i := 0; i < n; i++ {
		k, ppi, err := p.ss.ReadSCTP(p.buf)
		if err != nil {
			cancel()
			if serr := <-sendErr; serr != nil {
				return errors.Join(fmt.Errorf("pion ReadSCTP %d of %d: %w", i, n, err), serr)
			}
			return fmt.Errorf("pion ReadSCTP %d of %d: %w", i, n, err)
		}
		if err := checkMsg(i, p.buf[:k], msg); err != nil {
			cancel()
			<-sendErr
			return err
		}
		if ppi != ppid {
			cancel()
			<-sendErr
			return fmt.Errorf("pion message %d: ppid %d", i, ppi)
		}
	}
	return <-sendErr
}

// runCall is the body shared by every benchmark call: set up, warm up,
// measure b.N messages, tear down, report.
func runCall(b *testing.B, group string, w workload, impl string,
	setup func(ctx context.Context) (transfer func(ctx context.Context, n int) error, teardown func() string, err error)) {
	b.Helper()
	n := b.N
	warm := warmCount(w.size)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout(n+warm, w.size))
	defer cancel()
	transfer, teardown, err := setup(ctx)
	if err != nil {
		b.Fatalf("%s setup: %v", impl, err)
	}
	if err := transfer(ctx, warm); err != nil {
		note := teardown()
		b.Fatalf("%s warm-up: %v (%s)", impl, err, note)
	}
	b.SetBytes(int64(w.size))
	b.ReportAllocs()
	b.ResetTimer()
	m := startMeter()
	err = transfer(ctx, n)
	figs, _ := m.figures(n, w.size)
	b.StopTimer()
	note := teardown()
	if err != nil {
		b.Fatalf("%s: %v (%s)", impl, err, note)
	}
	report(b, group, w.name, impl, n, figs, note)
}
