package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"cordtrace/api"
	"cordtrace/domain"
	"cordtrace/labels"
	"cordtrace/store"
	"cordtrace/web"
)

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// flagSet returns a flag set whose -h lists the environment variables too.
func flagSet(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: cordtrace %s [flags]\n\nflags:\n", name)
		fs.PrintDefaults()
		fmt.Fprintf(e.stderr, "\nenvironment:\n")
		for _, v := range configVars {
			fmt.Fprintf(e.stderr, "  %-26s %s (default %q)\n", v.name, v.help, v.def)
		}
	}
	return fs
}

// configure parses flags and configuration; a non-negative status means stop with it.
func configure(e env, fs *flag.FlagSet, args []string) (Config, int) {
	cfg, err := loadConfig(e.getenv, fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return cfg, exitOK
	case err != nil:
		fmt.Fprintf(e.stderr, "cordtrace %s: %v\n", fs.Name(), err)
		return cfg, exitUsage
	}
	return cfg, -1
}

func storeOptions(cfg Config, logger *slog.Logger) store.Options {
	return store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: logger, SessionIdle: cfg.SessionIdle, SessionLifetime: cfg.SessionLifetime,
		Site: cfg.Site, DBTimeout: cfg.DBTimeout, MaxConns: cfg.DBConns, FacilityID: cfg.FacilityID, ProductCode: cfg.ProductCode,
		CollectionType: cfg.CollectionType}
}

// The service's live heap is small and nearly all it allocates lives for one request, so at
// Go's default pace (a collection each time the heap doubles) the collector took an eighth of
// serve's CPU under bedside load. serve collects at a quarter of that pace (GOGC=400), and a
// soft memory limit makes it collect sooner as the heap nears 100 MiB, inside the 150 MB the
// service is meant to stay under. Measured: 13 % less CPU for serve per verification, peak
// memory below the limit in every load scenario (README, Performance). GOGC and GOMEMLIMIT set
// in the environment win, as for any Go program.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 100 << 20
)

func paceGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
}

func cmdServe(ctx context.Context, e env, args []string) int {
	fs := flagSet("serve", e)
	demo := fs.Bool("demo", false, "load a demo site (users, a released lot, patients) into an empty database and print how to log in")
	cfg, status := configure(e, fs, args)
	if status >= 0 {
		return status
	}
	logger := newLogger(cfg, e.stderr)
	paceGC(e.getenv)
	opts := storeOptions(cfg, logger)
	st, err := store.Open(ctx, opts)
	if err != nil {
		logger.Error("cannot open the database", "err", err)
		return exitRuntime
	}
	defer st.Close()
	if err := bootstrapAdmin(ctx, st, cfg, logger); err != nil {
		logger.Error("cannot create the first administrator", "err", err)
		return exitRuntime
	}
	if *demo {
		if err := loadDemo(ctx, st, e.stdout); err != nil {
			logger.Error("cannot load the demo site", "err", err)
			return exitRuntime
		}
	}
	key, err := st.EnsureLabelKey(ctx, generateLabelKey)
	if err != nil {
		logger.Error("cannot create the label signing key", "err", err)
		return exitRuntime
	}
	logger.Info("label signing key", "kid", key.KID)

	srv := api.New(api.ServicesOf(st),
		api.Config{Logger: logger, SessionIdle: cfg.SessionIdle, SessionLifetime: cfg.SessionLifetime, SecureCookies: cfg.SecureCookies, MetricsToken: cfg.MetricsToken, Site: cfg.Site, DBTimeout: cfg.DBTimeout, MRNSystem: cfg.MRNSystem})
	srv.RegisterDB(st.SQLDB())
	pages, err := web.Parse()
	if err != nil {
		logger.Error("cannot parse the web pages", "err", err)
		return exitRuntime
	}
	web.Register(srv.Echo(), pages, web.ServicesOf(st),
		web.Session{Cookie: api.SessionCookie, Secure: cfg.SecureCookies, Idle: cfg.SessionIdle, Lifetime: cfg.SessionLifetime})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		logger.Error("cannot listen", "addr", cfg.Addr, "err", err)
		return exitRuntime
	}
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	zone, offset, source := cfg.SiteZone(time.Now())
	logger.Info("site time zone", "site_tz", zone, "offset", offset, "from", source)
	logger.Info("listening", "addr", ln.Addr().String(), "database", st.Dialect(), "site_tz", zone)
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			logger.Error("cannot listen for the metrics", "addr", cfg.MetricsAddr, "err", err)
			return exitRuntime
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		logger.Info("serving the metrics", "addr", mln.Addr().String())
		go func() { served <- metricsSrv.Serve(mln) }()
	}
	go expireLots(ctx, st, logger)

	select {
	case err := <-served:
		logger.Error("server stopped", "err", err)
		return exitRuntime
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if metricsSrv != nil {
		metricsSrv.Shutdown(shutdownCtx)
	}
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		logger.Error("shutdown", "err", err)
		return exitRuntime
	}
	logger.Info("stopped")
	return exitOK
}

// bootstrapAdmin creates "admin" on a database with no users, so that a new installation can
// be logged into; a generated password is logged once and never stored in clear.
func bootstrapAdmin(ctx context.Context, st *store.Store, cfg Config, logger *slog.Logger) error {
	password, generated := cfg.AdminPassword, false
	if password == "" {
		password, generated = rand.Text(), true
	}
	created, err := st.EnsureAdmin(ctx, password)
	if err != nil || !created {
		return err
	}
	if generated {
		logger.Warn("created the first administrator with a generated password; it is shown only this once, change it after logging in",
			"username", "admin", "password", password)
	} else {
		logger.Info("created the first administrator from CORDTRACE_ADMIN_PASSWORD", "username", "admin")
	}
	return nil
}

// expireLots moves lots past their expiry to expired once a minute, until ctx ends.
func expireLots(ctx context.Context, st *store.Store, logger *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if n, err := st.ExpireLots(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("expiring lots", "err", err)
		} else if n > 0 {
			logger.Info("lots expired", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func generateLabelKey() (domain.LabelKey, error) {
	kid, pub, priv, err := labels.NewLabelKey(time.Now())
	return domain.LabelKey{KID: kid, PublicKey: pub, PrivatePEM: priv}, err
}
