package loadtest

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"cordtrace/api"
	"cordtrace/store"
	"cordtrace/store/storetest"
	"cordtrace/web"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const seedTestPassword = "seeded site password"

// A small history, written straight into the database, is one the service accepts as its
// own: its audit chain verifies, every daily page opens for its users, and a second seeding
// of the same database is refused.
func TestSeededHistoryVerifiesAndItsPagesOpen(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			opts := storetest.Options(t, backend, store.Options{})
			cfg := HistoryConfig{DatabaseURL: opts.DatabaseURL, DataDir: opts.DataDir, Patients: 50, Bags: 60, AuditEntries: 4000,
				Sites: 2, Years: 1, Password: seedTestPassword, PasswordCost: 4, Seed: 1}
			rep, err := SeedHistory(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.DoseBags < 40 || rep.Lots < 2 || rep.AuditEntries < 2000 {
				t.Errorf("seeded %+v: want about 60 bags, 2 lots or more and thousands of audit entries", rep)
			}
			st := storetest.OpenWith(t, opts)
			chain, err := st.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !chain.OK || chain.Entries != rep.AuditEntries {
				t.Fatalf("audit verify: %+v, want OK with the %d entries seeded", chain, rep.AuditEntries)
			}

			if _, err := SeedHistory(ctx, cfg); !errors.Is(err, ErrNotEmpty) {
				t.Errorf("second seeding of the same database: %v, want it refused as not empty", err)
			}

			srv := serve(t, st)
			pages, err := Run(ctx, Config{Target: srv.URL, Concurrency: 1, Count: 1, Scenario: ScenarioPages, AdminPassword: seedTestPassword})
			if err != nil {
				t.Fatal(err)
			}
			if n := pages.UnexpectedErrors(); n > 0 {
				t.Fatalf("%d pages did not open: %+v", n, pages.Endpoints)
			}
			if len(pages.Endpoints) != len(dailyPages) {
				t.Errorf("%d pages measured, want %d", len(pages.Endpoints), len(dailyPages))
			}
		})
	}
}

// serve runs the service's API and pages on st, as cordtrace serve wires them.
func serve(t *testing.T, st *store.Store) *httptest.Server {
	t.Helper()
	srv := api.New(api.ServicesOf(st), api.Config{Site: time.UTC})
	pages, err := web.Parse()
	if err != nil {
		t.Fatal(err)
	}
	web.Register(srv.Echo(), pages, web.ServicesOf(st),
		web.Session{Cookie: api.SessionCookie})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}
