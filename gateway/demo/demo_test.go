package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestDemoRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	rep, err := Run(ctx, &out, Options{Messages: 20})
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 20 || rep.Received != 20 || rep.Replies != 1 || !rep.ShutdownComplete || rep.AbortReason == "" {
		t.Fatalf("report %+v", rep)
	}
	if rep.NATPort == 0 {
		t.Fatal("the core never saw the NAT's port")
	}
	if !strings.Contains(out.String(), "SHUTDOWN COMPLETE on both ends") {
		t.Fatal("no shutdown line")
	}
}
