package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPprofMounted: --pprof serves the profile index and the trace
// endpoint on the admin mux; without it nothing is there.
func TestPprofMounted(t *testing.T) {
	get := func(mux *http.ServeMux, path string) (int, string) {
		srv := httptest.NewServer(mux)
		defer srv.Close()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(http.NewServeMux(), "/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("without --pprof: /debug/pprof/ answered %d", code)
	}
	mux := http.NewServeMux()
	mountPprof(mux)
	if code, body := get(mux, "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "profile") {
		t.Fatalf("/debug/pprof/: %d %.200s", code, body)
	}
	if code, _ := get(mux, "/debug/pprof/trace?seconds=0.05"); code != http.StatusOK {
		t.Fatalf("/debug/pprof/trace: %d", code)
	}
}
