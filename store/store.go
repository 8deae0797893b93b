// Package store keeps cordtrace's records with gorm, on PostgreSQL or on an embedded SQLite
// file, and implements the domain's services. Every write goes through (*Store).write, which
// commits the change and its audit entries together.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" database/sql driver
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"cordtrace/domain"
	"cordtrace/migrations"
)

// Options configure a Store.
type Options struct {
	// DatabaseURL is a postgres:// URL. Empty selects the embedded SQLite file in DataDir.
	DatabaseURL string
	DataDir     string
	Logger      *slog.Logger
	// Now is the clock; tests replace it to check expiry and timeouts without sleeping.
	Now          func() time.Time
	PasswordCost int
	// SessionIdle ends a session after that long without a request, SessionLifetime that long
	// after its login (domain.CheckSession).
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	// DBTimeout bounds a connection attempt and one write transaction (retries included), so
	// that an unreachable database fails requests instead of hanging them.
	DBTimeout time.Duration
	// MaxConns bounds this process's connections to PostgreSQL. Past a few per core, more
	// connections only add backends competing for the CPU, and a backend descheduled while it
	// holds the audit chain's lock stalls every write: requests wait for a connection here
	// instead. Default: DefaultMaxConns.
	MaxConns int
	// Site is the site's time zone; FacilityID its ISBT 128 facility for new DINs;
	// ProductCode the product description code of its units; CollectionType the type of
	// collection in their product codes (ISBT 128 Table 7; default V).
	Site           *time.Location
	FacilityID     string
	ProductCode    string
	CollectionType byte
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PasswordCost == 0 {
		o.PasswordCost = domain.DefaultPasswordCost
	}
	if o.SessionIdle == 0 {
		o.SessionIdle = domain.DefaultSessionIdle
	}
	if o.SessionLifetime == 0 {
		o.SessionLifetime = domain.DefaultSessionLifetime
	}
	if o.DBTimeout == 0 {
		o.DBTimeout = DefaultDBTimeout
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns()
	}
	if o.DataDir == "" {
		o.DataDir = "data"
	}
	if o.Site == nil {
		o.Site = time.UTC
	}
	if o.FacilityID == "" {
		o.FacilityID = "A9999"
	}
	if o.ProductCode == "" {
		o.ProductCode = "S1234"
	}
	if o.CollectionType == 0 {
		o.CollectionType = domain.DefaultCollectionType
	}
}

// DefaultDBTimeout is Options.DBTimeout when unset.
const DefaultDBTimeout = domain.DefaultDBTimeout

// DefaultMaxConns is Options.MaxConns when unset: two connections per CPU and two more, the
// size at which the bedside load test peaked on two cores (PostgreSQL's own rule of thumb is
// about twice the cores).
func DefaultMaxConns() int { return 2*runtime.NumCPU() + 2 }

// Store is the database. It is safe for concurrent use, and any number of processes may share
// one PostgreSQL database.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect string
	opts    Options
	specs   sync.Map // version → domain.ReleaseSpec, see specForVersion
	// together queues the custody scans that arrive while others are committed (writeTogether).
	together writeQueue
}

// OpenDB opens the database named by opts without migrating it, and returns its dialect.
func OpenDB(opts Options) (*sql.DB, string, error) {
	opts.setDefaults()
	if opts.DatabaseURL != "" {
		cfg, err := connConfig(opts)
		if err != nil {
			return nil, "", err
		}
		db := stdlib.OpenDB(*cfg)
		db.SetMaxOpenConns(opts.MaxConns)
		db.SetMaxIdleConns(opts.MaxConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
		return db, migrations.Postgres, nil
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create data directory %s: %w", opts.DataDir, err)
	}
	db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(opts.DataDir, "cordtrace.db")))
	if err != nil {
		return nil, "", fmt.Errorf("open SQLite: %w", err)
	}
	return db, migrations.SQLite, nil
}

// connConfig is the PostgreSQL connection configuration of opts.DatabaseURL.
func connConfig(opts Options) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(opts.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: DATABASE_URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 { // connect_timeout in the URL wins
		cfg.ConnectTimeout = opts.DBTimeout
	}
	return cfg, nil
}

// SQLiteDSN is the connection string for the embedded database file at path. Transactions
// begin IMMEDIATE so that writers queue on SQLite's lock instead of failing mid-transaction,
// and synchronous=FULL so that an acknowledged write survives a power cut.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
}

// Open opens the database, applies pending migrations and returns the store.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.setDefaults()
	sqlDB, dialect, err := OpenDB(opts)
	if err != nil {
		return nil, err
	}
	if err := pingWithRetry(ctx, sqlDB); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if _, err := migrations.Up(ctx, sqlDB, dialect, opts.Logger); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return New(sqlDB, dialect, opts)
}

// New wraps an open, migrated database.
func New(sqlDB *sql.DB, dialect string, opts Options) (*Store, error) {
	opts.setDefaults()
	var dialector gorm.Dialector
	switch dialect {
	case migrations.Postgres:
		dialector = postgres.New(postgres.Config{Conn: sqlDB})
	case migrations.SQLite:
		dialector = sqlite.Dialector{Conn: sqlDB}
	default:
		return nil, fmt.Errorf("unknown dialect %q", dialect)
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		TranslateError:         true,
		SkipDefaultTransaction: true, // every write has its own explicit transaction
		NowFunc:                func() time.Time { return opts.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open gorm: %w", err)
	}
	return &Store{db: db, sqlDB: sqlDB, dialect: dialect, opts: opts}, nil
}

// pingWithRetry waits a little for a database that is still starting, so that the service and
// its database can be started together.
func pingWithRetry(ctx context.Context, db *sql.DB) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = db.PingContext(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the database cannot be reached: %w", err)
}

// Close closes the database.
func (s *Store) Close() error { return s.sqlDB.Close() }

// Dialect is migrations.Postgres or migrations.SQLite.
func (s *Store) Dialect() string { return s.dialect }

// SQLDB is the underlying database handle, for health checks and operations tools.
func (s *Store) SQLDB() *sql.DB { return s.sqlDB }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return classify(err)
	}
	return nil
}

func (s *Store) now() time.Time { return s.opts.Now().UTC() }

// tx is one write transaction. Queries go through db; every change is recorded with audit, and
// a transaction that records no change is rolled back, so nothing unaudited can commit.
type tx struct {
	db      *gorm.DB
	now     time.Time
	actor   domain.Actor // who makes the write now running; its changes are audited as theirs
	changes []change
}

type change struct {
	actor                        domain.Actor
	at                           time.Time
	action, entityType, entityID string
	before, after                any
	reason                       string
}

// audit records a change made in this transaction. before is nil on create, after is nil on
// delete; both are stored as JSON.
func (t *tx) audit(action, entityType string, entityID any, before, after any, reason string) {
	t.changes = append(t.changes, change{
		actor: t.actor, at: t.now, action: action, entityType: entityType, entityID: fmt.Sprint(entityID),
		before: before, after: after, reason: reason,
	})
}

// maxAttempts bounds retries of a transaction that lost a serialization race or a deadlock:
// the work is redone from the start, so the retry is safe.
const maxAttempts = 4

// write runs fn in one transaction (gorm's Transaction, the same statements on both databases)
// and commits its changes with their audit entries, sealed onto the chain last (appendAudit).
// A transaction that records no change is rolled back, so nothing unaudited can commit. A
// write returns once its commit is on disk (SQLite: synchronous=FULL; PostgreSQL: its default
// synchronous_commit, on).
func (s *Store) write(ctx context.Context, actor domain.Actor, fn func(t *tx) error) error {
	err := s.writeAll(ctx, []writeWork{{actor: actor, fn: fn}})
	if errors.Is(err, errNothingRecorded) {
		return nil
	}
	return classify(err)
}

// writeWork is one write: who makes it and what it does in the transaction.
type writeWork struct {
	actor domain.Actor
	fn    func(t *tx) error
}

// writeAll runs works one after another in one transaction, each as its actor and at its own
// time, and commits them together, retrying the whole transaction when it lost a serialization
// race or a deadlock. A work that records no change rolls everything back with
// errNothingRecorded.
func (s *Store) writeAll(ctx context.Context, works []writeWork) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.DBTimeout)
	defer cancel()
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = s.writeOnce(ctx, works)
		if err == nil || !retryable(err) {
			break
		}
		s.opts.Logger.WarnContext(ctx, "retrying transaction", "attempt", attempt, "err", err)
	}
	return err
}

var errNothingRecorded = errors.New("nothing recorded")

// writeOnce is one attempt of writeAll: one transaction, the audit entries of every work
// appended last.
func (s *Store) writeOnce(ctx context.Context, works []writeWork) error {
	return s.transact(ctx, func(g *gorm.DB) error {
		t := &tx{db: g}
		for _, w := range works {
			t.now, t.actor = s.now(), w.actor
			recorded := len(t.changes)
			if err := w.fn(t); err != nil {
				return err
			}
			if len(t.changes) == recorded {
				return errNothingRecorded
			}
		}
		return s.appendAudit(t)
	})
}

// transact runs fn in one transaction, gorm's Transaction: it commits when fn returns nil and
// rolls back otherwise, also when fn panics. It is the one way the store writes: through write,
// with audit entries, for every change of record, and directly only for the bookkeeping of
// authentication (a session's last use, failed logins by address).
func (s *Store) transact(ctx context.Context, fn func(g *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(fn)
}

// lockByID reads the row with primary key id into dest and locks it until the transaction
// ends (PostgreSQL; SQLite's writers are serialized by the database lock taken at BEGIN
// IMMEDIATE); no such row is ENotFound, naming it as what ("dose bag", "unit").
func (t *tx) lockByID(dest any, id int64, what string) error {
	err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Take(dest, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Errorf(domain.ENotFound, "there is no %s %d", what, id)
	}
	return err
}

// lockBag reads the dose bag with bag id bagID into bag and locks it, as lockByID; found is
// false when no bag has that id.
func (t *tx) lockBag(bagID string, bag *doseBagRow) (found bool, err error) {
	err = t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("bag_id = ?", bagID).Take(bag).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock dose bag %s: %w", bagID, err)
	}
	return true, nil
}

// queryRows runs query (with ? placeholders) in the transaction and hands each row to row, to
// scan into plain variables: for the facts queries of the busiest writes, whose rows are
// wider than any model.
func (t *tx) queryRows(query string, args []any, row func(scan func(dest ...any) error) error) error {
	return queryRows(t.db, query, args, row)
}

// queryRows runs query (with ? placeholders) on db and hands each row to row.
func queryRows(db *gorm.DB, query string, args []any, row func(scan func(dest ...any) error) error) error {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// setStatus moves the row with primary key id of model's table (locked by lockByID) from
// status from to status to, and audits the change as action on entityType, with the reason
// (trimmed) that a person gave for it.
func (t *tx) setStatus(model any, entityType string, id int64, from, to, action, reason string) error {
	if err := t.db.Model(model).Where("id = ?", id).Update("status", to).Error; err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	t.audit(action, entityType, id, map[string]any{"status": from}, map[string]any{"status": to}, strings.TrimSpace(reason))
	return nil
}

func (s *Store) pg() bool { return s.dialect == migrations.Postgres }

// read is the database for queries outside a write transaction.
func (s *Store) read(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// classify turns database failures into domain errors a client can act on, keeping the cause.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%w: %w", domain.Errorf(domain.ENotFound, "no such record"), err)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %w", domain.Errorf(domain.EConflict, "a record with this identifier already exists"), err)
	case unavailable(err):
		// A connection lost during COMMIT leaves the outcome unknown to us, so the message
		// never claims that nothing was saved: it asks the person to check before repeating.
		return fmt.Errorf("%w: %w", domain.Errorf(domain.EUnavailable,
			"the database cannot be reached, so this was not confirmed: if it was a change, check whether it is there (reload the page) before repeating it; try again in a moment"), err)
	}
	return err
}

// isUnique reports whether err is a unique-constraint violation, for callers that turn it into
// a specific message.
// isUnique reports a unique violation, translated by gorm or straight from PostgreSQL.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	return errors.Is(err, gorm.ErrDuplicatedKey) || (errors.As(err, &pg) && pg.Code == "23505")
}

func sqliteBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}
