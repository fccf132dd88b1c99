//go:build linux

package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/sctpgw/sctpgw/stack"
)

// mmeMain serves the ports until SIGTERM, answering every association as
// the package comment says, one log line per association opened and ended.
func mmeMain(args []string) error {
	fs := flag.NewFlagSet("mme", flag.ExitOnError)
	portList := fs.String("ports", "36412,38412", "SCTP ports to serve (S1AP, NGAP)")
	fs.Parse(args)
	var ports []uint16
	for _, p := range strings.Split(*portList, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("-ports %q: expected a comma-separated list of 1-65535", *portList)
		}
		ports = append(ports, uint16(n))
	}
	st, err := nativeStack(ports)
	if err != nil {
		return err
	}
	defer st.Close("s1sim mme: stopping")
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	for _, port := range ports {
		// Up to 64 streams each way, as an MME grants an eNB.
		ln, err := st.Listen(port, stack.Options{NoDelay: true, InitMsg: stack.InitMsg{OutStreams: 64, MaxInStreams: 64}})
		if err != nil {
			return err
		}
		go func() {
			for {
				a, err := ln.Accept(ctx)
				if err != nil {
					return
				}
				go serveAssoc(ctx, a, port)
			}
		}()
	}
	fmt.Printf("mme: serving SCTP ports %s\n", *portList)
	<-ctx.Done()
	return nil
}

// serveAssoc answers one association until it ends.
func serveAssoc(ctx context.Context, a *stack.Assoc, port uint16) {
	st := a.Status()
	who := fmt.Sprintf("%v:%d", st.Primary.Path.Remote, st.RemotePort)
	name, answered := "?", 0
	for {
		m, err := a.RecvMsg(ctx)
		if err != nil {
			how, _ := howEnded(err)
			fmt.Printf("mme: %s (%s) on port %d ended: %s after %d answers\n", name, who, port, how, answered)
			return
		}
		var reply string
		if f := bytes.Fields(m.Data[:min(len(m.Data), 64)]); len(f) >= 2 && m.Stream == 0 && bytes.HasSuffix(f[0], []byte("SetupRequest")) {
			name = string(f[1])
			_, rsp := setupNames(m.PPID)
			reply = rsp + " " + name
			fmt.Printf("mme: %s from %s on port %d, PPID %d\n", f[0], who, port, m.PPID)
		} else if seq, ok := parseSeq(m.Data, 2); ok && bytes.HasPrefix(m.Data, []byte("REQ ")) {
			reply = answerText(seq, m.Stream, m.PPID, m.Unordered, m.Data)
		} else {
			reply = "ERR unknown message"
		}
		if err := a.SendMsg(ctx, []byte(reply), stack.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered}); err != nil {
			fmt.Fprintf(os.Stderr, "mme: %s: answer: %v\n", who, err)
		}
		answered++
	}
}
