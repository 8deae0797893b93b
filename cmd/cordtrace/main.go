// Command cordtrace runs the chain-of-custody service and its operations tasks.
//
//	cordtrace serve            run the service
//	cordtrace migrate [up|status]
//	cordtrace user add -username NAME -full-name "NAME" -roles qc,qa [-password-stdin]
//	cordtrace user disable|enable|roles|end-sessions -username NAME [-reason WHY] [-roles a,b]
//	cordtrace audit verify
//	cordtrace label-key rotate | list | revoke KID -reason "why"
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: cordtrace <command> [flags]

commands:
  serve                 run the service (embedded database unless DATABASE_URL is set)
  migrate [up|status]   apply pending database migrations, or list them
  user add              create a user: -username, -full-name, -roles, password on stdin
  user disable          disable an account and end its sessions: -username, -reason
  user enable           enable an account again, lifting a lock: -username
  user roles            replace a user's roles and end their sessions: -username, -roles
  user end-sessions     end every session of a user: -username
  audit verify          recompute the audit chain; exit status 1 names the first broken entry
  label-key rotate      retire the label signing key and start signing with a new one
  label-key list        list the label signing keys: active, retired, revoked
  label-key revoke KID  revoke a key (-reason): every label it signed stops until reprinted

Configuration comes from environment variables; 'cordtrace serve -h' lists them.
`

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // the command ran and found a problem (a broken audit chain)
	exitUsage   = 2
	exitRuntime = 3 // the command could not run (bad configuration, no database)
)

// env is what a command needs from the process; tests pass their own.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return cmdServe(ctx, e, rest)
	case "migrate":
		return cmdMigrate(ctx, e, rest)
	case "user":
		return cmdUser(ctx, e, rest)
	case "audit":
		return cmdAudit(ctx, e, rest)
	case "label-key":
		return cmdLabelKey(ctx, e, rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "cordtrace: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}
