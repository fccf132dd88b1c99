package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/wire"
)

// An ABORT is a single packet. A user reason longer than the path can
// carry is cut to its beginning, and causes after it that no longer fit are
// dropped whole, so a huge reason neither panics the encoder nor yields an
// ABORT that cannot arrive.
func TestAbortCausesBeyondMTU(t *testing.T) {
	l := newLab(t, 12, link.UDP, engine.Config{})
	a, _ := l.up(engine.Config{})
	first := &wire.UserInitiatedAbortCause{Reason: []byte("sctpgw: drain deadline")}
	huge := &wire.UserInitiatedAbortCause{Reason: bytes.Repeat([]byte("0123456789"), 7000)}
	room := a.Status().FragPoint // any cut must leave the reason's start
	a.Abort(l.net.Now(), first, huge, &wire.InvalidStreamCause{StreamID: 3})
	if !l.net.RunUntil(l.srv.ended, time.Minute) {
		t.Fatal("peer never saw the abort")
	}
	ev := l.srv.find(engine.CommLost)
	if ev == nil || ev.Err != engine.ErrPeerAborted {
		t.Fatalf("peer events %s", l.srv.types())
	}
	if len(ev.Causes) != 2 {
		t.Fatalf("peer got %d causes, want the first whole and the second cut", len(ev.Causes))
	}
	if c, ok := ev.Causes[0].(*wire.UserInitiatedAbortCause); !ok || !bytes.Equal(c.Reason, first.Reason) {
		t.Fatalf("first cause %#v", ev.Causes[0])
	}
	c, ok := ev.Causes[1].(*wire.UserInitiatedAbortCause)
	if !ok || len(c.Reason) < room/2 || !bytes.HasPrefix(huge.Reason, c.Reason) {
		t.Fatalf("second cause: %d bytes of reason", len(c.Reason))
	}
	if len(huge.Reason) != 70000 {
		t.Fatal("the caller's cause was modified")
	}
}
