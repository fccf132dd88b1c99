//go:build linux

package udpencap

import (
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/internal/usrsctptool"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
	"github.com/sctpgw/sctpgw/stack/link"
)

// SCTP-AUTH (RFC 4895) interop with usrsctp: authpeer, a small usrsctp
// program of ours (internal/usrsctptool/c/authpeer.c) that sets keys with
// usrsctp_setsockopt(SCTP_AUTH_KEY), makes one active, deletes usrsctp's
// null key 0 and lists the chunks it wants authenticated (SCTP_AUTH_CHUNK).
// Each side requires the other to authenticate DATA, SACK, HEARTBEAT(-ACK),
// ABORT, SHUTDOWN*, ERROR and COOKIE ECHO/ACK, so an association that
// carries data at all proves both our signing and our verifying.

var authSecret = []byte("sctpgw usrsctp interop key, 32 b")

// authPeerChunks are the chunk types authpeer requires from us.
const authPeerChunks = "0,3,4,5,6,7,8,9,10,11"

func authPeerBin(t *testing.T) string {
	t.Helper()
	testlab.NeedTool(t, "timeout")
	bin, err := usrsctptool.AuthPeer()
	if err != nil {
		testlab.Missing(t, "authpeer: %v", err)
	}
	return bin
}

func authOpts(t *testing.T, id uint16, secret []byte) (stack.Options, *engine.AuthKeys) {
	t.Helper()
	k := engine.NewAuthKeys()
	if err := k.Add(id, secret); err != nil {
		t.Fatal(err)
	}
	o := usrsctpOpts
	o.Auth = engine.AuthConfig{Keys: k, Required: true}
	return o, k
}

func keyArg(id int, secret []byte) string {
	return fmt.Sprintf("%d:%s", id, hex.EncodeToString(secret))
}

// TestUsrsctpAuthDial: our stack dials authpeer's server and every message
// comes back; usrsctp saw our CHUNKS list and signed as we asked, and
// verified ours (it requires DATA authenticated: without a valid AUTH it
// would drop every message). Debian builds usrsctp without
// SCTP_SUPPORT_HMAC_SHA256, so it offers and accepts HMAC-SHA-1 only: we
// offer SHA-256 first and both ends settle on SHA-1 (RFC 4895 6.1: the
// first listed that the sender supports). Our HMAC-SHA-256 is checked
// against hand-computed vectors (stack/internal/auth) and between our own
// ends.
func TestUsrsctpAuthDial(t *testing.T) {
	bin := authPeerBin(t)
	for _, hmac := range []string{"1"} {
		t.Run("hmac"+hmac, func(t *testing.T) {
			port := testlab.FreeUDPPort(t)
			ns := usrsctpNS(t, fmt.Sprintf("sgwau-%d-d", os.Getpid()))
			l := listenAt(t, ns, ephemeral(""))
			s := newStackT(t, l)
			const sctpPort = 5001
			srv := testlab.Start(t, testlab.ProcOptions{NS: ns, Limit: time.Minute, MergeOutput: true}, bin, "server",
				"-l", strconv.Itoa(int(port)), "-P", strconv.Itoa(sctpPort), "-k", keyArg(1, authSecret),
				"-c", authPeerChunks, "-H", hmac)
			srv.WaitOutput(t, 10*time.Second, "listening")
			opts, keys := authOpts(t, 1, authSecret)
			ctx := testlab.Ctx(t, time.Minute)
			c, err := s.Dial(ctx, 0, link.Path{Remote: lo4, RemotePort: port}, 0, sctpPort, opts)
			if err != nil {
				t.Fatalf("dial authpeer: %v", err)
			}
			const n = 200
			if err := testlab.EchoFlow(ctx, c, testlab.SmallFlow, n, flowLarge); err != nil {
				t.Fatal(err)
			}
			srv.WaitOutput(t, 10*time.Second, fmt.Sprintf("echoed: %d", n))
			out := srv.Out.String()
			var ours []string
			for _, ct := range engine.DefaultAuthChunks {
				ours = append(ours, strconv.Itoa(int(ct)))
			}
			if !strings.Contains(out, "peer-auth-chunks: "+strings.Join(ours, " ")+"\n") || !strings.Contains(out, "auth-supported: 1") {
				t.Errorf("usrsctp did not take our SCTP-AUTH parameters:\n%s", out)
			}
			st := s.AuthStats(keys)
			if st.Authenticated < n/4 || st.Signed < n/4 || st.BadMAC != 0 || st.Unauthenticated != 0 {
				t.Errorf("auth stats %+v", st)
			}
		})
	}
}

// TestUsrsctpAuthAccept: authpeer's client dials our listener, which
// requires SCTP-AUTH with the same key; we echo, it checks every echo.
func TestUsrsctpAuthAccept(t *testing.T) {
	bin := authPeerBin(t)
	ns := usrsctpNS(t, fmt.Sprintf("sgwau-%d-a", os.Getpid()))
	l := listenAt(t, ns, ephemeral("127.0.0.1"))
	s := newStackT(t, l)
	opts, keys := authOpts(t, 7, authSecret)
	ln := listenS(t, s, portS1AP, opts)
	ctx := testlab.Ctx(t, time.Minute)
	const n, size = 100, 3000
	cli := testlab.Start(t, testlab.ProcOptions{NS: ns, Limit: time.Minute, MergeOutput: true}, bin, "client",
		"-l", strconv.Itoa(int(testlab.FreeUDPPort(t))), "-a", lo4.String(), "-r", strconv.Itoa(int(l.LocalPort())),
		"-P", strconv.Itoa(portS1AP), "-n", strconv.Itoa(n), "-s", strconv.Itoa(size),
		"-k", keyArg(7, authSecret), "-c", authPeerChunks)
	x, err := ln.Accept(ctx)
	if err != nil {
		t.Fatalf("authpeer's client did not get an association up: %v", err)
	}
	for i := range n {
		m, err := x.RecvMsg(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if err := x.SendMsg(ctx, append([]byte(nil), m.Data...), stack.SndInfo{Stream: m.Stream, PPID: m.PPID}); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
	}
	cli.WaitOutput(t, 20*time.Second, fmt.Sprintf("ok: %d", n))
	if st := s.AuthStats(keys); st.Authenticated < n/2 || st.BadMAC != 0 || st.Unauthenticated != 0 || st.Keys[0].ID != 7 {
		t.Errorf("auth stats %+v", st)
	}
}

// TestUsrsctpAuthRefused: usrsctp clients without our key get nothing from
// a listener that requires it: with another secret, and with usrsctp's
// default null key 0. Their COOKIE ECHOs are discarded and counted; no
// association reaches the acceptor.
func TestUsrsctpAuthRefused(t *testing.T) {
	bin := authPeerBin(t)
	for _, c := range []struct {
		name string
		keys []string
	}{
		{"wrong secret", []string{"-k", keyArg(1, []byte("not the key"))}},
		{"null key", nil},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "-"), func(t *testing.T) {
			ns := usrsctpNS(t, fmt.Sprintf("sgwau-%d-r", os.Getpid()))
			l := listenAt(t, ns, ephemeral("127.0.0.1"))
			s := newStackT(t, l)
			opts, keys := authOpts(t, 1, authSecret)
			ln := listenS(t, s, portS1AP, opts)
			args := append([]string{bin, "client", "-l", strconv.Itoa(int(testlab.FreeUDPPort(t))), "-a", lo4.String(),
				"-r", strconv.Itoa(int(l.LocalPort())), "-P", strconv.Itoa(portS1AP), "-n", "1"}, c.keys...)
			cli := testlab.Start(t, testlab.ProcOptions{NS: ns, Limit: 30 * time.Second, MergeOutput: true}, args...)
			testlab.WaitFor(t, 15*time.Second, "a refused COOKIE ECHO", func() bool { return s.AuthStats(keys).BadMAC >= 2 })
			ctx := testlab.Ctx(t, 500*time.Millisecond)
			if x, err := ln.Accept(ctx); err == nil {
				t.Fatalf("an association was accepted: %v", x.Status())
			}
			if strings.Contains(cli.Out.String(), "up") {
				t.Errorf("the client got up:\n%s", cli.Out.String())
			}
			if st := s.AuthStats(keys); st.Authenticated != 0 || st.Keys[0].In != 0 {
				t.Errorf("auth stats %+v", st)
			}
			if n := s.Stats().DiscardedBadAuth; n < 2 {
				t.Errorf("%d packets discarded for a bad AUTH", n)
			}
		})
	}
}
