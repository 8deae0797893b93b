//go:build pprof

package main

// Built with -tags pprof, serve also answers the Go profiler on CORDTRACE_PPROF_ADDR
// (default 127.0.0.1:6060), for profiling under load. Never in a production build.

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on the default mux
	"os"
)

func init() {
	addr := os.Getenv("CORDTRACE_PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	go http.ListenAndServe(addr, nil) //nolint:errcheck // a debugging aid
}
