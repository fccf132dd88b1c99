package stack_test

import (
	"context"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// waitAuthEvent reads x's events until an AuthenticationEvent with ind.
func waitAuthEvent(ctx context.Context, t *testing.T, x *stack.Assoc, ind stack.AuthIndication) stack.Event {
	t.Helper()
	for {
		ev, err := x.NextEvent(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", ind, err)
		}
		if ev.Type == engine.AuthenticationEvent && ev.AuthIndication == ind {
			return ev
		}
	}
}

// TestAuthKeysThroughTheStack: two stacks authenticate an association with
// a key set each; ChangeAuthKeys rotates them on a live association, and
// the events it causes (the peer's NEW_KEY, FREE_KEY of the deleted key)
// arrive without waiting for more traffic.
func TestAuthKeysThroughTheStack(t *testing.T) {
	sa, sb, p := pair(t, link.UDP)
	ctx := ctxT(t)
	ka, kb := stack.NewAuthKeys(), stack.NewAuthKeys()
	for _, k := range []*stack.AuthKeys{ka, kb} {
		if err := k.Add(1, []byte("one key for both")); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := sb.Listen(5000, stack.Options{NoDelay: true, Auth: stack.AuthConfig{Keys: kb, Required: true}})
	if err != nil {
		t.Fatal(err)
	}
	accepted, _ := echoServer(ctx, ln)
	c, err := sa.Dial(ctx, 0, p, 0, 5000, stack.Options{NoDelay: true, Auth: stack.AuthConfig{Keys: ka, Required: true}})
	if err != nil {
		t.Fatal(err)
	}
	<-accepted
	echo := func() {
		t.Helper()
		if err := c.SendMsg(ctx, []byte("ping"), stack.SndInfo{}); err != nil {
			t.Fatal(err)
		}
		if m, err := c.RecvMsg(ctx); err != nil || string(m.Data) != "ping" {
			t.Fatalf("echo: %v %q", err, m.Data)
		}
	}
	echo()
	for _, s := range []struct {
		st *stack.Stack
		k  *stack.AuthKeys
	}{{sa, ka}, {sb, kb}} {
		if err := s.st.ChangeAuthKeys(func() error { return s.k.Add(2, []byte("the second key")) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := sb.ChangeAuthKeys(func() error { return kb.SetActive(2) }); err != nil {
		t.Fatal(err)
	}
	echo() // the server's echo is signed with key 2
	evCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ev := waitAuthEvent(evCtx, t, c, stack.AuthNewKey); ev.AuthKeyID != 2 {
		t.Fatalf("NEW_KEY for key %d", ev.AuthKeyID)
	}
	if err := sa.ChangeAuthKeys(func() error {
		if err := ka.SetActive(2); err != nil {
			return err
		}
		return ka.Delete(1)
	}); err != nil {
		t.Fatal(err)
	}
	// Queued by the time ChangeAuthKeys returns, not at the next packet
	// or timer.
	var free *stack.Event
	for free == nil {
		select {
		case ev := <-c.Events():
			if ev.Type == engine.AuthenticationEvent && ev.AuthIndication == stack.AuthFreeKey {
				free = &ev
			}
		default:
			t.Fatal("no FREE_KEY event queued when ChangeAuthKeys returned")
		}
	}
	if free.AuthKeyID != 1 {
		t.Fatalf("FREE_KEY for key %d", free.AuthKeyID)
	}
	echo()
	if st := sa.AuthStats(ka); st.BadMAC != 0 || st.Authenticated < 3 || len(st.Keys) != 1 || st.Keys[0].ID != 2 {
		t.Errorf("client auth stats %+v", st)
	}
	if err := sa.ChangeAuthKeys(func() error { return ka.Delete(2) }); err == nil {
		t.Error("deleted the active key")
	}
}
