package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"cordtrace/domain"
	"cordtrace/migrations"
	"cordtrace/store"
)

func cmdMigrate(ctx context.Context, e env, args []string) int {
	sub := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if sub != "up" && sub != "status" {
		fmt.Fprintf(e.stderr, "cordtrace migrate: unknown subcommand %q; use up or status\n", sub)
		return exitUsage
	}
	cfg, status := configure(e, flagSet("migrate "+sub, e), args)
	if status >= 0 {
		return status
	}
	logger := newLogger(cfg, e.stderr)
	db, dialect, err := store.OpenDB(storeOptions(cfg, logger))
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace migrate: %v\n", err)
		return exitRuntime
	}
	defer db.Close()
	if sub == "status" {
		list, err := migrations.Status(ctx, db, dialect)
		if err != nil {
			fmt.Fprintf(e.stderr, "cordtrace migrate status: %v\n", err)
			return exitRuntime
		}
		for _, m := range list {
			state := "pending"
			if m.Applied {
				state = "applied " + m.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(e.stdout, "%05d  %-40s %s\n", m.Version, m.Name, state)
		}
		return exitOK
	}
	applied, err := migrations.Up(ctx, db, dialect, logger)
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace migrate up: %v\n", err)
		return exitRuntime
	}
	if len(applied) == 0 {
		fmt.Fprintf(e.stdout, "the %s database is up to date\n", dialect)
	} else {
		fmt.Fprintf(e.stdout, "applied %d migration(s) to the %s database: %v\n", len(applied), dialect, applied)
	}
	return exitOK
}

const userUsage = `usage: cordtrace user add -username NAME -full-name "FULL NAME" -roles qc,qa  (password on stdin)
       cordtrace user disable -username NAME -reason "WHY"   (ends the user's sessions)
       cordtrace user enable -username NAME                  (also lifts a lock after failed logins)
       cordtrace user roles -username NAME -roles nurse,physician   (ends the user's sessions)
       cordtrace user end-sessions -username NAME
`

// cliActor is who the audit trail names for changes made on the command line.
var cliActor = domain.Actor{Username: "cli", FullName: "cordtrace command line", Role: "system", RequestID: "cli"}

func cmdUser(ctx context.Context, e env, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "add":
			return cmdUserAdd(ctx, e, args)
		case "disable", "enable", "roles", "end-sessions":
			return cmdUserAccount(ctx, e, args[0], args[1:])
		}
	}
	fmt.Fprint(e.stderr, userUsage)
	return exitUsage
}

// cmdUserAccount disables or enables an account, or ends its sessions, as an admin would on
// the users page; for when no admin can log in.
func cmdUserAccount(ctx context.Context, e env, action string, args []string) int {
	fs := flagSet("user "+action, e)
	username := fs.String("username", "", "login name")
	reason := fs.String("reason", "", "why the account is disabled (user disable; required)")
	roles := fs.String("roles", "", "comma-separated roles (user roles): "+roleList())
	cfg, status := configure(e, fs, args)
	if status >= 0 {
		return status
	}
	if *username == "" {
		fmt.Fprintf(e.stderr, "cordtrace user %s: give -username\n%s", action, userUsage)
		return exitUsage
	}
	st, err := store.Open(ctx, storeOptions(cfg, newLogger(cfg, e.stderr)))
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace user %s: %v\n", action, err)
		return exitRuntime
	}
	defer st.Close()
	u, err := st.UserByUsername(ctx, *username)
	if err == nil {
		switch action {
		case "disable":
			if _, err = st.DisableUser(ctx, cliActor, u.ID, *reason); err == nil {
				fmt.Fprintf(e.stdout, "disabled %s; their sessions have ended\n", u.Username)
			}
		case "enable":
			if _, err = st.EnableUser(ctx, cliActor, u.ID); err == nil {
				fmt.Fprintf(e.stdout, "enabled %s\n", u.Username)
			}
		case "roles":
			var changed domain.User
			if changed, err = st.SetRoles(ctx, cliActor, u.ID, parseRoles(*roles)); err == nil {
				fmt.Fprintf(e.stdout, "%s now holds %v; their sessions have ended\n", u.Username, changed.Roles)
			}
		case "end-sessions":
			var n int64
			if n, err = st.EndUserSessions(ctx, cliActor, u.ID); err == nil {
				fmt.Fprintf(e.stdout, "ended %d session(s) of %s\n", n, u.Username)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace user %s: %s\n", action, userFacing(err))
		if domain.ErrorCode(err) == domain.EUnavailable || domain.ErrorCode(err) == domain.EInternal {
			return exitRuntime
		}
		return exitUsage
	}
	return exitOK
}

func cmdUserAdd(ctx context.Context, e env, args []string) int {
	fs := flagSet("user add", e)
	username := fs.String("username", "", "login name")
	fullName := fs.String("full-name", "", "printed name, shown on signatures")
	roles := fs.String("roles", "", "comma-separated roles: "+roleList())
	cfg, status := configure(e, fs, args[1:])
	if status >= 0 {
		return status
	}
	fmt.Fprintln(e.stderr, "password (one line on standard input):")
	password, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && password == "" {
		fmt.Fprintln(e.stderr, "cordtrace user add: no password on standard input")
		return exitUsage
	}
	n := domain.NewUser{Username: *username, FullName: *fullName, Password: strings.TrimRight(password, "\r\n"), Roles: parseRoles(*roles)}
	st, err := store.Open(ctx, storeOptions(cfg, newLogger(cfg, e.stderr)))
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace user add: %v\n", err)
		return exitRuntime
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, cliActor, n)
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace user add: %s\n", userFacing(err))
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "created user %s (id %d) with roles %v\n", u.Username, u.ID, u.Roles)
	return exitOK
}

func cmdAudit(ctx context.Context, e env, args []string) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(e.stderr, "usage: cordtrace audit verify")
		return exitUsage
	}
	cfg, status := configure(e, flagSet("audit verify", e), args[1:])
	if status >= 0 {
		return status
	}
	opts := storeOptions(cfg, newLogger(cfg, e.stderr))
	db, dialect, err := store.OpenDB(opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace audit verify: %v\n", err)
		return exitRuntime
	}
	st, err := store.New(db, dialect, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace audit verify: %v\n", err)
		return exitRuntime
	}
	defer st.Close()
	// Verifying reads every entry once and keeps none of them: at Go's default pace the
	// collector took a fifth of its CPU over a million entries.
	paceGC(e.getenv)
	rep, err := st.VerifyAudit(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace audit verify: %v\n", err)
		return exitRuntime
	}
	if !rep.OK {
		fmt.Fprintf(e.stdout, "audit chain BROKEN at entry %d: %s (%d entries read)\n", *rep.FirstBad, rep.Problem, rep.Entries)
		return exitFailed
	}
	fmt.Fprintf(e.stdout, "audit chain OK: %d entries verified\n", rep.Entries)
	return exitOK
}

// parseRoles splits a -roles flag; the domain checks what it holds.
func parseRoles(list string) []domain.Role {
	var roles []domain.Role
	for _, r := range strings.Split(list, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, domain.Role(r))
		}
	}
	return roles
}

func roleList() string {
	names := make([]string, len(domain.AllRoles))
	for i, r := range domain.AllRoles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// userFacing is the sentence for a person: the domain message, with the field it names.
func userFacing(err error) string {
	if f := domain.ErrorField(err); f != "" {
		return f + ": " + domain.ErrorMessage(err)
	}
	return domain.ErrorMessage(err)
}

const labelKeyUsage = `usage: cordtrace label-key rotate
       cordtrace label-key list
       cordtrace label-key revoke KID -reason "why"`

func cmdLabelKey(ctx context.Context, e env, args []string) int {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list" && args[0] != "revoke") {
		fmt.Fprintln(e.stderr, labelKeyUsage)
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	name := "label-key " + sub
	fs := flagSet(name, e)
	reason := ""
	if sub == "revoke" {
		fs.StringVar(&reason, "reason", "", "why the key is revoked (required; kept in the audit trail)")
	}
	// The key id may come before the flags, as the usage shows it.
	kid := ""
	if sub == "revoke" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		kid, rest = rest[0], rest[1:]
	}
	cfg, status := configure(e, fs, rest)
	if status >= 0 {
		return status
	}
	if kid == "" && fs.NArg() > 0 {
		kid, rest = fs.Arg(0), fs.Args()[1:]
	} else {
		rest = fs.Args()
	}
	if len(rest) > 0 || (sub != "revoke" && kid != "") {
		fmt.Fprintf(e.stderr, "cordtrace %s: unexpected arguments %q\n%s\n", name, rest, labelKeyUsage)
		return exitUsage
	}
	st, err := store.Open(ctx, storeOptions(cfg, newLogger(cfg, e.stderr)))
	if err != nil {
		fmt.Fprintf(e.stderr, "cordtrace %s: %v\n", name, err)
		return exitRuntime
	}
	defer st.Close()
	actor := domain.Actor{Username: "cli", FullName: "cordtrace command line", Role: "system", RequestID: "cli"}
	switch sub {
	case "rotate":
		k, err := st.RotateLabelKey(ctx, actor, generateLabelKey)
		if err != nil {
			fmt.Fprintf(e.stderr, "cordtrace %s: %v\n", name, err)
			return exitRuntime
		}
		fmt.Fprintf(e.stdout, "new label signing key %s; earlier keys are retired, their private keys destroyed, and still verify the labels printed with them\n", k.KID)
	case "list":
		keys, err := st.LabelKeys(ctx)
		if err != nil {
			fmt.Fprintf(e.stderr, "cordtrace %s: %v\n", name, err)
			return exitRuntime
		}
		for _, k := range keys {
			state := "active (signs new labels)"
			switch {
			case k.RevokedAt != nil:
				state = fmt.Sprintf("revoked %s: %s", k.RevokedAt.UTC().Format(time.RFC3339), k.RevokeReason)
			case k.RetiredAt != nil:
				state = "retired " + k.RetiredAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(e.stdout, "%s\tcreated %s\t%s\n", k.KID, k.CreatedAt.UTC().Format(time.RFC3339), state)
		}
	case "revoke":
		rev, err := st.RevokeLabelKey(ctx, actor, kid, reason, generateLabelKey)
		if err != nil {
			fmt.Fprintf(e.stderr, "cordtrace %s: %s\n", name, userFacing(err))
			if c := domain.ErrorCode(err); c == domain.EInvalid || c == domain.ENotFound || c == domain.EConflict {
				return exitUsage
			}
			return exitRuntime
		}
		fmt.Fprintf(e.stdout, "label key %s revoked: every label it signed is refused at every scan until it is reprinted\n", rev.KID)
		if rev.NewKey != "" {
			fmt.Fprintf(e.stdout, "new label signing key %s\n", rev.NewKey)
		}
		fmt.Fprintf(e.stdout, "%d labels to reprint:\n", len(rev.Reprint))
		for _, r := range rev.Reprint {
			fmt.Fprintf(e.stdout, "  %s %s (print %d)\n", strings.ReplaceAll(r.EntityType, "_", " "), r.Code, r.Serial)
		}
	}
	return exitOK
}
