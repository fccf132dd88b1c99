// Command echo uses sctpgw's SCTP stack directly, without the gateway: an
// echo server and client over RFC 6951 UDP encapsulation, no root needed.
//
//	go run ./examples/echo -listen 127.0.0.1:9899           # server, SCTP port 7
//	go run ./examples/echo -connect 127.0.0.1:9899 hello    # client
//
// The server echoes every message on its stream with its PPID; the client
// sends its arguments as messages, prints the echoes and shuts down.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/netip"
	"os"
	"time"

	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/udpencap"
)

const sctpPort = 7 // echo

func main() {
	listen := flag.String("listen", "", "serve on this UDP address (e.g. 127.0.0.1:9899)")
	connect := flag.String("connect", "", "connect to this UDP address")
	flag.Parse()
	var err error
	switch {
	case *listen != "":
		err = serve(context.Background(), *listen, nil)
	case *connect != "":
		err = client(context.Background(), *connect, flag.Args(), os.Stdout)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// serve echoes on addr until ctx ends; ready, if set, gets the UDP port.
func serve(ctx context.Context, addr string, ready chan<- uint16) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	l, err := udpencap.Listen(udpencap.Config{Addr: ap, EphemeralPort: ap.Port() == 0})
	if err != nil {
		return err
	}
	st, err := stack.New(stack.Config{Links: []link.Link{l}})
	if err != nil {
		return err
	}
	defer st.Close("echo server stopping")
	ln, err := st.Listen(sctpPort, stack.Options{NoDelay: true})
	if err != nil {
		return err
	}
	if ready != nil {
		ready <- l.LocalPort()
	}
	for {
		a, err := ln.Accept(ctx)
		if err != nil {
			return nil // ctx ended or the stack closed
		}
		go func() {
			for {
				m, err := a.RecvMsg(ctx)
				if err != nil {
					return // shut down or aborted by the client
				}
				if err := a.SendMsg(ctx, m.Data, stack.SndInfo{Stream: m.Stream, PPID: m.PPID, Unordered: m.Unordered}); err != nil {
					return
				}
			}
		}()
	}
}

// client sends each of msgs and prints the echoes.
func client(ctx context.Context, addr string, msgs []string, out *os.File) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	l, err := udpencap.Listen(udpencap.Config{EphemeralPort: true})
	if err != nil {
		return err
	}
	st, err := stack.New(stack.Config{Links: []link.Link{l}})
	if err != nil {
		return err
	}
	defer st.Close("")
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, err := st.Dial(ctx, 0, link.Path{Remote: ap.Addr(), RemotePort: ap.Port()}, 0, sctpPort, stack.Options{NoDelay: true})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	for i, s := range msgs {
		if err := a.SendMsg(ctx, []byte(s), stack.SndInfo{Stream: uint16(i % 10), PPID: 51}); err != nil {
			return err
		}
		m, err := a.RecvMsg(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "echo on stream %d ppid %d: %s\n", m.Stream, m.PPID, m.Data)
	}
	if err := a.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
