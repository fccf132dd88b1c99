package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestEchoOverUDP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ready := make(chan uint16, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, "127.0.0.1:0", ready) }()
	port := <-ready
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	if err := client(ctx, fmt.Sprintf("127.0.0.1:%d", port), []string{"hello", "S1SetupRequest", "bye"}, f); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	out, _ := os.ReadFile(f.Name())
	for i, w := range []string{"stream 0 ppid 51: hello", "stream 1 ppid 51: S1SetupRequest", "stream 2 ppid 51: bye"} {
		if !strings.Contains(string(out), w) {
			t.Fatalf("echo %d missing %q in:\n%s", i, w, out)
		}
	}
}
