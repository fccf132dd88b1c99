package dtlslink

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
)

// TestNATRebindingMidTransfer: an edge behind a NAT dials the core on
// demand; three associations share the one DTLS session; messages cross
// both ways with stream, PPID and unordered flag intact. Then the edge goes
// quiet while the core is sending, the NAT forgets the mapping, and the
// edge's next records come from a new external port: the connection ID
// (RFC 9146) keeps them in the same session, the core moves the session to
// the new address after a return routability check (RFC 9853), and the
// engine, whose path is the session's, sees nothing but a few losses that
// SCTP repairs. Every association stays ESTABLISHED and the transfer ends
// whole.
func TestNATRebindingMidTransfer(t *testing.T) {
	l := newLab(t, 1)
	ca := testlab.NewCA(t, "lab")
	core := coreLink(t, l.core, creds(t, certFiles(t, ca, "core.lab", ca)))
	edge := edgeLink(t, l.edges[0], creds(t, certFiles(t, ca, "edge.lab", ca)))
	cs := newStackT(t, core)
	es := newStackT(t, edge)
	ln := listenS(t, cs, portS1AP, fastOpts)
	ctx := testlab.Ctx(t, 60*time.Second)

	var ends [3][2]*stack.Assoc
	for i := range ends {
		ends[i][0], ends[i][1] = testlab.DialAccept(t, ctx, es, toCore, 0, portS1AP, fastOpts, ln)
		exchangeT(t, ctx, ends[i][0], ends[i][1], uint32(10*i+1), 30)
	}
	if e, c := edge.Stats(), core.Stats(); e.Opened != 1 || c.Opened != 1 || e.Sessions != 1 || c.Sessions != 1 {
		t.Fatalf("sessions: edge %+v, core %+v; want one each for three associations", e, c)
	}
	if p := primary(ends[0][1]); p.Remote != natAddr {
		t.Fatalf("the core's path %v is not the NAT's address", p)
	}
	before := core.Sessions()[0]

	// Mid-transfer: the edge is quiet long enough for the NAT to forget
	// its mapping, and the core sends into the stale one.
	time.Sleep(natLifetime + 500*time.Millisecond)
	for i := range ends {
		if err := ends[i][1].SendMsg(ctx, []byte("into the stale mapping"), stack.SndInfo{Stream: 3, PPID: 46, Unordered: true}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for i := range ends {
		if err := ends[i][0].SendMsg(ctx, []byte("from a new port"), stack.SndInfo{Stream: 2, PPID: 60}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range ends {
		for _, r := range []struct {
			a    *stack.Assoc
			want string
			sid  uint16
		}{{ends[i][1], "from a new port", 2}, {ends[i][0], "into the stale mapping", 3}} {
			m, err := r.a.RecvMsg(ctx)
			if err != nil || string(m.Data) != r.want || m.Stream != r.sid {
				t.Fatalf("association %d after the rebinding: %q on stream %d, %v; want %q", i, m.Data, m.Stream, err, r.want)
			}
		}
	}
	after := core.Sessions()
	if len(after) != 1 || after[0].Path != before.Path || after[0].Remote == before.Remote {
		t.Fatalf("core sessions before %+v, after %+v: want the same session at a new remote address", before, after)
	}
	t.Logf("the edge moved from %v to %v; the engine's path stayed %v", before.Remote, after[0].Remote, after[0].Path)
	for i := range ends {
		testlab.WantEstablished(t, "after the rebinding", ends[i][0], ends[i][1])
		exchangeT(t, ctx, ends[i][0], ends[i][1], uint32(10*i+5), 30)
	}
	if e, c := edge.Stats(), core.Stats(); e.Opened != 1 || c.Opened != 1 {
		t.Fatalf("a new session was opened: edge %+v, core %+v", e, c)
	}
	for i := range ends {
		if err := testlab.Shutdown(ctx, ends[i][0], ends[i][1]); err != nil {
			t.Fatal(err)
		}
	}
	_ = netip.Addr{}
}
