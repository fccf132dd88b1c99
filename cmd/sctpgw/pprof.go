package main

import (
	"net/http"
	"net/http/pprof"
)

// mountPprof serves Go's profiler on the admin mux, for `go tool pprof
// http://ADMIN/debug/pprof/profile` and `curl ADMIN/debug/pprof/trace`
// (bench/README.md shows a relay's profiles taken this way). Off unless
// --pprof: a profile costs CPU and shows internals.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
