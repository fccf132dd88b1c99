package dtlslink

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v3"
	"github.com/pion/transport/v3/vnet"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// TestPSKSession: two gateways with the same pre-shared key (a key file
// naming an identity) get a session and associations over it.
func TestPSKSession(t *testing.T) {
	l := newLab(t, 1)
	f := pskFile(t, "edge1:"+hex.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	core := coreLink(t, l.core, creds(t, f))
	edge := edgeLink(t, l.edges[0], creds(t, f))
	cs, es := newStackT(t, core), newStackT(t, edge)
	ln := listenS(t, cs, portS1AP, fastOpts)
	ctx := testlab.Ctx(t, 20*time.Second)
	c, s := testlab.DialAccept(t, ctx, es, toCore, 0, portS1AP, fastOpts, ln)
	exchangeT(t, ctx, c, s, 1, 50)
	if si := core.Sessions(); len(si) != 1 || si[0].Identity != "psk:edge1" || !strings.Contains(si[0].Cipher, "PSK") {
		t.Fatalf("core sessions %+v", si)
	}
}

// sizeNet is a vnet host that records the largest UDP payload any of its
// sockets sends.
type sizeNet struct {
	*vnet.Net
	max atomic.Int64
}

func (n *sizeNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &sizeConn{UDPConn: c, n: n}, nil
}

type sizeConn struct {
	transport.UDPConn
	n *sizeNet
}

func (c *sizeConn) WriteTo(b []byte, a net.Addr) (int, error) {
	for {
		m := c.n.max.Load()
		if int64(len(b)) <= m || c.n.max.CompareAndSwap(m, int64(len(b))) {
			break
		}
	}
	return c.UDPConn.WriteTo(b, a)
}

// TestRecordsFitThePathMTU: SCTP packets are built small enough that with
// the record's overhead (header, connection ID, AEAD nonce and tag) and
// the UDP and IP headers each one leaves as a datagram within the path
// MTU; full packets come close to it.
func TestRecordsFitThePathMTU(t *testing.T) {
	const mtu = 1280
	l := newLab(t, 1)
	ca := testlab.NewCA(t, "lab")
	sn := &sizeNet{Net: l.edges[0]}
	core := coreLink(t, l.core, creds(t, certFiles(t, ca, "core.lab", ca)))
	edge := newLinkT(t, Config{Net: sn, Peers: peersOf(creds(t, certFiles(t, ca, "edge.lab", ca)))})
	cs, es := newStackT(t, core), newStackT(t, edge)
	opts := fastOpts
	opts.PeerAddr.PathMTU = mtu
	ln := listenS(t, cs, portS1AP, opts)
	ctx := testlab.Ctx(t, 20*time.Second)
	c, s := testlab.DialAccept(t, ctx, es, toCore, 0, portS1AP, opts, ln)
	sn.max.Store(0) // the handshake's flights are pion's (MTU 1200)
	if _, err := testlab.Transfer(ctx, c, s, 1, 64, 20000, 0); err != nil {
		t.Fatal(err)
	}
	got := int(sn.max.Load())
	if limit := mtu - 20 - 8; got > limit || got < limit-64 {
		t.Fatalf("largest datagram %d bytes of UDP payload; want at most %d (MTU %d less IP and UDP) and close to it", got, limit, mtu)
	}
	t.Logf("largest datagram: %d bytes of UDP payload at path MTU %d", got, mtu)
}

// TestSessionEndEndsItsAssociations: when the peer closes the session
// (close_notify), every association on it ends at once with the link down
// and a reason naming the session; the next association dials a new one.
func TestSessionEndEndsItsAssociations(t *testing.T) {
	l := newLab(t, 1)
	ca := testlab.NewCA(t, "lab")
	core := coreLink(t, l.core, creds(t, certFiles(t, ca, "core.lab", ca)))
	edge := edgeLink(t, l.edges[0], creds(t, certFiles(t, ca, "edge.lab", ca)))
	cs, es := newStackT(t, core), newStackT(t, edge)
	ln := listenS(t, cs, portS1AP, fastOpts)
	ctx := testlab.Ctx(t, 20*time.Second)
	c1, _ := testlab.DialAccept(t, ctx, es, toCore, 0, portS1AP, fastOpts, ln)
	c2, _ := testlab.DialAccept(t, ctx, es, toCore, 0, portS1AP, fastOpts, ln)

	core.mu.Lock()
	var sess *session
	for _, s := range core.byPath {
		sess = s
	}
	core.mu.Unlock()
	core.closeIdle(sess, "idle") // as the idle janitor does

	for _, c := range []*stack.Assoc{c1, c2} {
		_, err := c.RecvMsg(ctx)
		var ae *stack.AssocError
		if !errors.As(err, &ae) || ae.Event.Type != engine.CommLost || !errors.Is(err, engine.ErrLinkDown) ||
			!strings.Contains(err.Error(), "dtls session to 203.0.113.10:4740: closed by the peer") {
			t.Fatalf("association on the closed session: %v; want COMM_LOST, link down, naming the session", err)
		}
	}
	c3, s3 := testlab.DialAccept(t, ctx, es, toCore, 0, portS1AP, fastOpts, ln)
	exchangeT(t, ctx, c3, s3, 1, 10)
	if st := edge.Stats(); st.Opened != 2 || st.Closed != 1 {
		t.Fatalf("edge sessions opened %d closed %d; want 2 and 1", st.Opened, st.Closed)
	}
}

// TestCredentialReload: new credentials apply to the handshakes after
// them; the session up, and its associations, carry on.
func TestCredentialReload(t *testing.T) {
	l := newLab(t, 3)
	ca1, ca2 := testlab.NewCA(t, "old"), testlab.NewCA(t, "new")
	core := coreLink(t, l.core, creds(t, certFiles(t, ca1, "core.lab", ca1)))
	cs := newStackT(t, core)
	ln := listenS(t, cs, portS1AP, fastOpts)
	ctx := testlab.Ctx(t, 20*time.Second)
	oldEdge := newStackT(t, edgeLink(t, l.edges[0], creds(t, certFiles(t, ca1, "edge1.lab", ca1))))
	c1, s1 := testlab.DialAccept(t, ctx, oldEdge, toCore, 0, portS1AP, fastOpts, ln)

	if err := core.SetCredentials(creds(t, certFiles(t, ca2, "core.lab", ca2)), nil); err != nil {
		t.Fatal(err)
	}
	exchangeT(t, ctx, c1, s1, 1, 30)
	testlab.WantEstablished(t, "after the reload", c1, s1)

	// An edge with a certificate of the old CA is now refused (it trusts
	// the new one, so the verdict is the core's) ...
	stale := newStackT(t, edgeLink(t, l.edges[1], creds(t, certFiles(t, ca1, "edge2.lab", ca2))))
	if _, err := stale.Dial(ctx, 0, toCore, 0, portS1AP, fastOpts); !errors.Is(err, engine.ErrLinkDown) {
		t.Fatalf("edge of the old CA after the reload: %v; want refused", err)
	}
	// The core counts once its handshake has ended, maybe after the
	// edge heard its alert.
	testlab.WaitFor(t, 5*time.Second, "the core counting the refusal as unknown_ca", func() bool {
		return core.Stats().Refused[ReasonUnknownCA] == 1
	})
	// ... and one of the new CA gets in, verifying the new core certificate.
	fresh := newStackT(t, edgeLink(t, l.edges[2], creds(t, certFiles(t, ca2, "edge3.lab", ca2))))
	c3, s3 := testlab.DialAccept(t, ctx, fresh, toCore, 0, portS1AP, fastOpts, ln)
	exchangeT(t, ctx, c3, s3, 3, 30)
	exchangeT(t, ctx, c1, s1, 5, 30)

	if err := core.SetCredentials(creds(t, pskFile(t, hex.EncodeToString(bytes.Repeat([]byte{1}, 32)))), nil); err == nil {
		t.Fatal("a certificate listener accepted a pre-shared key")
	}
}
