package bench

import (
	"net"
	"sync"
	"time"

	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

// memConn is a net.Conn carrying one SCTP packet per Read or Write over a
// memlink.End: pion/sctp's Client and Server take a net.Conn, and this one
// gives them exactly the in-memory link our stack runs on (same queue, same
// lock, same two copies per packet, no loss). The only difference is the
// API: pion reads and writes one packet per call where our runtime moves a
// batch per call.
type memConn struct {
	end *memlink.End

	rmu sync.Mutex
	rd  [1]link.Packet
	wmu sync.Mutex
	wr  [1]link.Packet
}

func newMemConn(end *memlink.End) *memConn { return &memConn{end: end} }

func (c *memConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rd[0].Buf = p[:0]
	if _, err := c.end.ReadBatch(c.rd[:]); err != nil {
		return 0, net.ErrClosed
	}
	b := c.rd[0].Buf
	c.rd[0].Buf = nil
	if len(b) > 0 && len(p) > 0 && &b[0] != &p[0] {
		// The packet did not fit p: memlink grew the buffer. Deliver what
		// fits, as a datagram socket would.
		return copy(p, b), nil
	}
	return len(b), nil
}

func (c *memConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wr[0].Buf = p
	_, err := c.end.WriteBatch(c.wr[:])
	c.wr[0].Buf = nil
	if err != nil {
		return 0, net.ErrClosed
	}
	return len(p), nil
}

func (c *memConn) Close() error                     { return c.end.Close() }
func (c *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "memlink" }
func (memAddr) String() string  { return "memlink" }
