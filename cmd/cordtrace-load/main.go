// Command cordtrace-load measures a running cordtrace service: it seeds its own site through
// the API, drives bedside verifications and custody scans, and prints the figures; or it
// writes years of history straight into an empty database (seed) and times the daily pages
// against it (-scenario pages). It is a program of its own so that none of it is in the
// clinical binary.
//
//	cordtrace-load -target URL [-scenario verify|scan|mixed|pages] [-concurrency 16] [-duration 30s | -count N] [-rate R]
//	cordtrace-load seed [-database-url URL] [-years 5 -sites 10 -patients 20000 -bags 40000 -audit-entries 1000000]
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"cordtrace/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(loadtest.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
