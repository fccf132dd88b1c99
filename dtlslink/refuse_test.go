package dtlslink

import (
	"bytes"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/internal/testlab"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/engine"
)

// syncBuffer is a log destination safe for the link's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func pskFile(t testing.TB, line string) Files {
	p := filepath.Join(t.TempDir(), "psk")
	if err := os.WriteFile(p, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Files{PSKFile: p}
}

// TestRefusedPeersGetNoPair: a peer whose certificate does not chain to
// the CA, has expired, or is not the pinned name, and a peer with another
// pre-shared key, get nothing past the DTLS handshake. The edge's dial
// fails at once, its association ending with ErrLinkDown and the reason;
// the core's engine never sees a packet (so a gateway there would dial
// nothing); the side that judged counts the refusal under its reason and
// logs it.
func TestRefusedPeersGetNoPair(t *testing.T) {
	ca := testlab.NewCA(t, "lab")
	rogue := testlab.NewCA(t, "rogue")
	past := time.Now().Add(-48 * time.Hour)
	expired := func(name string) Files {
		cf, kf := ca.Issue(t, name, past, past.Add(24*time.Hour))
		return Files{CertFile: cf, KeyFile: kf, CAFile: ca.File}
	}
	key := func(b byte) string { return hex.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	for _, tc := range []struct {
		name       string
		core, edge Files
		judge      string // "core" or "edge": who refuses
		reason     string
	}{
		{"edge certificate from another CA", certFiles(t, ca, "core.lab", ca), certFiles(t, rogue, "edge.lab", ca), "core", ReasonUnknownCA},
		{"expired edge certificate", certFiles(t, ca, "core.lab", ca), expired("edge.lab"), "core", ReasonExpired},
		{"expired core certificate", expired("core.lab"), certFiles(t, ca, "edge.lab", ca), "edge", ReasonExpired},
		{"core is not the pinned name", certFiles(t, ca, "other.lab", ca),
			Files{CertFile: certFiles(t, ca, "edge.lab", ca).CertFile, KeyFile: "", CAFile: ca.File, PeerName: "core.lab"}, "edge", ReasonNameMismatch},
		{"pre-shared keys differ", pskFile(t, "lab:"+key(1)), pskFile(t, "lab:"+key(2)), "", ReasonPSKMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edge.CertFile != "" && tc.edge.KeyFile == "" {
				cf, kf := ca.IssueValid(t, "edge.lab")
				tc.edge.CertFile, tc.edge.KeyFile = cf, kf
			}
			l := newLab(t, 1)
			var coreLog, edgeLog syncBuffer
			core := newLinkT(t, Config{Net: l.core, Listen: corePeer, Credentials: creds(t, tc.core), HandshakeTimeout: 3 * time.Second,
				Logger: slog.New(slog.NewTextHandler(&coreLog, nil))})
			edge := newLinkT(t, Config{Net: l.edges[0], Peers: map[netip.AddrPort]*Credentials{corePeer: creds(t, tc.edge)}, HandshakeTimeout: 3 * time.Second,
				Logger: slog.New(slog.NewTextHandler(&edgeLog, nil))})
			cs := newStackT(t, core)
			es := newStackT(t, edge)
			listenS(t, cs, portS1AP, fastOpts)
			ctx := testlab.Ctx(t, 20*time.Second)

			start := time.Now()
			_, err := es.Dial(ctx, 0, toCore, 0, portS1AP, fastOpts)
			var ae *stack.AssocError
			if !errors.As(err, &ae) || ae.Event.Type != engine.CantStartAssoc || !errors.Is(err, engine.ErrLinkDown) {
				t.Fatalf("dial: %v; want CANT_START_ASSOC with the link down", err)
			}
			t.Logf("dial failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("dial error %v does not say why the session was refused", err)
			}
			if st := cs.Stats(); st.InSCTPPacks != 0 || st.PassiveEstabs != 0 {
				t.Fatalf("the core's engine saw %d SCTP packets from a refused peer", st.InSCTPPacks)
			}
			judges := map[string]*Link{"core": core, "edge": edge}
			logs := map[string]*syncBuffer{"core": &coreLog, "edge": &edgeLog}
			if tc.judge == "" {
				// Either side may be the one to notice differing keys.
				if core.Stats().Refused[tc.reason]+edge.Stats().Refused[tc.reason] == 0 {
					t.Fatalf("no side counted %s: core %v, edge %v (dial: %v)", tc.reason, core.Stats().Refused, edge.Stats().Refused, err)
				}
				return
			}
			testlab.WaitFor(t, 5*time.Second, "the refusal counted", func() bool { return judges[tc.judge].Stats().Refused[tc.reason] == 1 })
			if got := logs[tc.judge].String(); !strings.Contains(got, "dtls session refused") || !strings.Contains(got, "reason="+tc.reason) {
				t.Fatalf("%s log lacks the refusal with reason %s:\n%s", tc.judge, tc.reason, got)
			}
			if tc.judge == "edge" && re.Reason != tc.reason {
				t.Fatalf("dial error names reason %q, want %q", re.Reason, tc.reason)
			}
			if core.Stats().Opened+edge.Stats().Opened != 0 {
				t.Fatal("a session came up")
			}
		})
	}
}
