package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sctpgw/sctpgw/gateway"
	"github.com/sctpgw/sctpgw/stack"
	"github.com/sctpgw/sctpgw/stack/link"
	"github.com/sctpgw/sctpgw/stack/link/memlink"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// /readyz is 200 while the gateway serves its routes, 503 "draining" from
// the moment a drain starts and 503 "stopped" after; /healthz is 200 until
// the gateway stops.
func TestReadyAndHealthEndpoints(t *testing.T) {
	mmeAddr := netip.MustParseAddr("198.19.0.10")
	enbEnd, gwNative := memlink.Pair(link.Native, enbAddr, edgeNative)
	gwUDP, mmeEnd := memlink.Pair(link.UDP, netip.MustParseAddr("198.19.0.1"), mmeAddr)
	g := startGateway(t, `routes:
  - {name: s1ap, listen: "sctp://198.18.1.1:36412", forward: "udp://198.19.0.10:9899/36412"}
`, gateway.Options{Native: gwNative, UDP: gwUDP})
	srv := httptest.NewServer(g.AdminMux())
	defer srv.Close()
	if code, body := get(t, srv.URL+"/readyz"); code != 200 || body != "ready" {
		t.Fatalf("readyz %d %q", code, body)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}

	// A pair whose eNB then goes silent keeps the drain going.
	enb, _ := stack.New(stack.Config{Links: []link.Link{enbEnd}})
	defer enb.Close("")
	mme, _ := stack.New(stack.Config{Links: []link.Link{mmeEnd}})
	defer mme.Close("")
	ln, _ := mme.Listen(36412, stack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go ln.Accept(ctx)
	if _, err := enb.Dial(ctx, 0, link.Path{Local: enbAddr, Remote: edgeNative}, 0, 36412, stack.Options{}); err != nil {
		t.Fatal(err)
	}
	enbEnd.Close()
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer dcancel()
	drained := make(chan error, 1)
	go func() { drained <- g.Drain(dctx) }()
	deadline := time.Now().Add(time.Second)
	for {
		code, body := get(t, srv.URL+"/readyz")
		if code == 503 && body == "draining" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz during the drain: %d %q", code, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz while draining %d", code)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || body != "stopped" {
		t.Fatalf("readyz after the drain %d %q", code, body)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != 503 {
		t.Fatalf("healthz after the drain %d", code)
	}
}
