package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// A link that loses a path for good (a DTLS session that failed,
// link.NoticeDown) ends every association on that path at once, with an
// error wrapping engine.ErrLinkDown and the link's reason, and sends
// nothing; associations on other paths are untouched. One still dialling
// ends with CantStartAssoc, so a gateway refuses its client instead of
// waiting for T1 to give up.
func TestNoticeDownEndsAssociationsOnThePath(t *testing.T) {
	cfg := engine.Config{PeerAddr: engine.PeerAddrParams{Heartbeat: engine.HeartbeatOff}}
	l := newLab(t, 61, link.UDP, cfg)
	a1, r1 := l.up(cfg)
	a2, r2 := l.up(cfg)
	path := l.cn.PathTo(l.sn)
	reason := errors.New("dtls session 198.18.0.2:4740: closed by peer")

	other := path
	other.RemotePort++
	l.cn.Host.HandleNotice(0, link.Packet{Path: other, Notice: link.NoticeDown, Err: reason}, l.net.Now())
	if a1.Status().State != engine.StateEstablished || a2.Status().State != engine.StateEstablished {
		t.Fatal("a notice about another path ended an association")
	}

	l.cn.Host.ReleaseOutgoing()
	l.cn.Host.HandleNotice(0, link.Packet{Path: path, Notice: link.NoticeDown, Err: reason}, l.net.Now())
	for i, r := range []*recorder{r1, r2} {
		ev := r.find(engine.CommLost)
		if ev == nil {
			t.Fatalf("association %d: events %s, want COMM_LOST", i, r.types())
		}
		if !errors.Is(ev.Err, engine.ErrLinkDown) || !errors.Is(ev.Err, reason) || !strings.Contains(ev.Err.Error(), "closed by peer") {
			t.Fatalf("association %d: error %v, want ErrLinkDown wrapping the link's reason", i, ev.Err)
		}
	}
	if out := l.cn.Host.Outgoing(); len(out) != 0 {
		t.Fatalf("sent %d packets on a path that is down", len(out))
	}

	// Dialling: COOKIE-WAIT ends as CantStartAssoc.
	_, r3 := l.dial(cfg)
	l.cn.Host.HandleNotice(0, link.Packet{Path: path, Notice: link.NoticeDown, Err: reason}, l.net.Now())
	if ev := r3.find(engine.CantStartAssoc); ev == nil || !errors.Is(ev.Err, engine.ErrLinkDown) {
		t.Fatalf("dialling association: events %s, want CANT_START_ASSOC with ErrLinkDown", r3.types())
	}
}
