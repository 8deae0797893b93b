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
	SessionIdle  time.Duration
	// DBTimeout bounds a connection attempt and one write transaction (retries included), so
	// that an unreachable database fails requests instead of hanging them.
	DBTimeout time.Duration
	// MaxConns bounds this process's connections to PostgreSQL. Past a few per core, more
	// connections only add backends competing for the CPU, and a backend descheduled while it
	// holds the audit chain's lock stalls every write: requests wait for a connection here
	// instead, which costs nothing. Default: DefaultMaxConns.
	MaxConns int
	// KeepSessions keeps the sessions checked in memory (sessionCache), with a connection of
	// its own listening for their changes: for a service that authenticates every request. On
	// PostgreSQL only; a one-off command has no use for it.
	KeepSessions bool
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
	specs   sync.Map      // version → domain.ReleaseSpec, see specForVersion
	turns   chan struct{} // PostgreSQL: one slot per pooled connection, see turn
	groups  *writeGroups  // PostgreSQL: see writeBag

	sessions      sessionCache
	stopListening context.CancelFunc // ends listenForAuthChanges, if it runs
	listenerDone  chan struct{}
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
	st := &Store{db: db, sqlDB: sqlDB, dialect: dialect, opts: opts}
	if dialect == migrations.Postgres {
		st.turns = make(chan struct{}, opts.MaxConns)
		st.prepareGroupWriters()
		if opts.KeepSessions && opts.DatabaseURL != "" { // without the URL there is no way to listen
			cfg, err := connConfig(opts)
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithCancel(context.Background())
			st.stopListening, st.listenerDone = cancel, make(chan struct{})
			go func() {
				defer close(st.listenerDone)
				st.listenForAuthChanges(ctx, cfg)
			}()
		}
	}
	return st, nil
}

// turn waits for one of the pool's connections to be free, first come first served, and
// returns the function that gives the turn back. database/sql hands a freed connection to a
// random waiter, so under load some requests wait many times longer than others; the session
// check and every write (on PostgreSQL, as many at a time as the pool has connections) take
// their turn here instead, in order of arrival. A wait past ctx's deadline fails as the
// database being unavailable.
func (s *Store) turn(ctx context.Context) (func(), error) {
	if s.turns == nil {
		return func() {}, nil
	}
	select {
	case s.turns <- struct{}{}:
		return func() { <-s.turns }, nil
	case <-ctx.Done():
		return nil, classify(fmt.Errorf("wait for a database connection: %w", context.Cause(ctx)))
	}
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

// Close writes what is waiting for a group, stops listening for session changes and closes
// the database.
func (s *Store) Close() error {
	if s.groups != nil {
		s.groups.stop()
	}
	if s.stopListening != nil {
		s.stopListening()
		<-s.listenerDone
	}
	return s.sqlDB.Close()
}

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
	changes []change
	// pipeline (PostgreSQL): statements queued by execAtEnd go with the COMMIT, and raw
	// queries use $n placeholders.
	pipeline bool
	atEnd    []endStatement
}

type endStatement struct {
	sql  string // with $1, $2… placeholders
	args []any
	many *manyRows // see mergeRows
}

// execAtEnd runs a statement whose result the transaction does not look at, such as an UPDATE
// of a row it has locked. On PostgreSQL it is sent with the audit append and the COMMIT, in
// the same round trip and before them (writeOncePostgres), so that it costs no round trip of
// its own; if it fails, nothing commits. Elsewhere it runs at once.
func (t *tx) execAtEnd(q sqlQuery, args ...any) error {
	if !t.pipeline {
		return t.db.Exec(q.sqlite, args...).Error
	}
	t.atEnd = append(t.atEnd, endStatement{sql: q.postgres, args: args, many: q.many})
	return nil
}

type change struct {
	action, entityType, entityID string
	before, after                any
	reason                       string
}

// audit records a change made in this transaction. before is nil on create, after is nil on
// delete; both are stored as JSON.
func (t *tx) audit(action, entityType string, entityID any, before, after any, reason string) {
	t.changes = append(t.changes, change{
		action: action, entityType: entityType, entityID: fmt.Sprint(entityID),
		before: before, after: after, reason: reason,
	})
}

// maxAttempts bounds retries of a transaction that lost a serialization race or a deadlock:
// the work is redone from the start, so the retry is safe.
const maxAttempts = 4

// write runs fn in a transaction and commits its changes and their audit entries together.
func (s *Store) write(ctx context.Context, actor domain.Actor, fn func(t *tx) error) error {
	return s.writeAfterReads(ctx, actor, nil, fn)
}

// writeAfterReads is write for the hottest paths: reads (called again on each attempt, so
// that it can reset what its readers fill) are the transaction's first statements, and fn
// runs after them. On PostgreSQL they travel with the BEGIN in one round trip and run in
// order, so a read after a locking read sees everything committed before the lock was
// granted.
func (s *Store) writeAfterReads(ctx context.Context, actor domain.Actor, reads func() []rowReader, fn func(t *tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.DBTimeout)
	defer cancel()
	done, err := s.turn(ctx)
	if err != nil {
		return err
	}
	defer done()
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		var first []rowReader
		if reads != nil {
			first = reads()
		}
		authChanged := false
		err = s.writeOnce(ctx, actor, first, func(t *tx) error {
			err := fn(t)
			authChanged = changesAuth(t.changes)
			return err
		})
		if authChanged {
			// Also when the outcome is unknown (a failed COMMIT may have committed); the other
			// processes learn of it from PostgreSQL (sessionCache).
			s.sessions.drop()
		}
		if err == nil || !retryable(err) {
			break
		}
		s.opts.Logger.WarnContext(ctx, "retrying transaction", "attempt", attempt, "err", err)
	}
	return classify(err)
}

var errNothingRecorded = errors.New("nothing recorded")

// writeOnce runs first, then fn, in one transaction with its audit entries. On SQLite it is
// gorm's Transaction; the database commits with synchronous=FULL. On PostgreSQL see
// writeOncePostgres.
func (s *Store) writeOnce(ctx context.Context, actor domain.Actor, first []rowReader, fn func(t *tx) error) error {
	if s.pg() {
		return s.writeOncePostgres(ctx, actor, first, fn)
	}
	err := s.db.WithContext(ctx).Transaction(func(g *gorm.DB) error {
		t := &tx{db: g, now: s.now()}
		for _, r := range first {
			if err := t.readRows(r); err != nil {
				return err
			}
		}
		if err := fn(t); err != nil {
			return err
		}
		if len(t.changes) == 0 {
			return errNothingRecorded
		}
		return s.appendAudit(t, actor)
	})
	if errors.Is(err, errNothingRecorded) {
		return nil
	}
	return err
}

// durableSQL commits a tiny transaction that writes WAL (an empty logical message, which
// nothing stores) with the connection's synchronous_commit, on: PostgreSQL returns once the
// WAL is on disk up to that commit, which comes after every earlier commit on the server, and
// concurrent callers share one flush.
const durableSQL = "SELECT pg_logical_emit_message(true, 'cordtrace.durable', '')"

// writeOncePostgres is writeOnce on PostgreSQL. It ends with one pipelined round trip of three
// statements:
//
//   - audit_append (migration 00012) takes the audit chain's lock, seals and inserts the
//     entries, and makes this transaction commit without waiting for the disk;
//   - COMMIT, which releases the lock;
//   - durableSQL, in a transaction of its own, which waits for the disk.
//
// Appends are serialized by the lock, so its holder must not wait for anything: not for a
// round trip back to this process between the append and the COMMIT (on a busy machine the
// service may wait for a CPU first), and not for the disk, which would let only one write per
// flush through; waiting after it lets concurrent writes share flushes. No write is
// acknowledged before it is on disk, and since WAL is replayed in order, a crash cannot keep a
// write and lose one it followed: the chain stays whole. The pipeline stops at the first
// error, so a failed append skips the COMMIT.
func (s *Store) writeOncePostgres(ctx context.Context, actor domain.Actor, first []rowReader, fn func(t *tx) error) error {
	conn, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = s.transactOn(ctx, conn, first, func(g *gorm.DB) ([]endStatement, string, error) {
		t := &tx{db: g, now: s.now(), pipeline: true}
		if err := fn(t); err != nil {
			return nil, "", err
		}
		if len(t.changes) == 0 {
			return nil, "", nil // nothing to record, so nothing may commit: rolled back
		}
		entries, err := auditAppendJSON(t, actor)
		return t.atEnd, entries, err
	})
	return err
}

// transactOn runs one write transaction on conn. database/sql's Tx does not expose its
// connection for a pipeline, so the transaction is run by hand on the pinned connection:
// BEGIN with the reads in one round trip, work (gorm on that connection), then commitPostgres
// of the statements and audit entries (auditAppendJSON) that work returns; no entries means
// nothing to commit, and the transaction is rolled back. On any failure ROLLBACK, and a
// connection whose state cannot be restored is closed rather than returned to the pool.
// undone tells that nothing of the transaction can be in the database: it failed before the
// COMMIT went out, or PostgreSQL refused a statement (errRolledBack).
func (s *Store) transactOn(ctx context.Context, conn *sql.Conn, reads []rowReader,
	work func(g *gorm.DB) (atEnd []endStatement, entries string, err error)) (undone bool, err error) {
	open := true // from here on, whatever went out may have begun the transaction
	defer func() {
		if open {
			rollback(ctx, conn)
		}
	}()
	if err := beginWithReads(ctx, conn, reads); err != nil {
		return true, err
	}
	g := s.db.Session(&gorm.Session{Context: ctx, NewDB: true})
	g.Statement.ConnPool = conn
	atEnd, entries, err := work(g)
	if err != nil || entries == "" {
		return true, err
	}
	committed, err := commitPostgres(ctx, conn, atEnd, entries)
	open = !committed
	return errors.Is(err, errRolledBack), err
}

// errRolledBack marks a failure of commitPostgres after which PostgreSQL is known to have
// rolled the transaction back: it refused a statement before the COMMIT (which then only rolls
// back), so nothing of the transaction is in the database and its work may be redone.
var errRolledBack = errors.New("the transaction was rolled back")

// commitPostgres sends the statements queued by execAtEnd, audit_append of entries
// (auditAppendJSON), the COMMIT and durableSQL in one round trip (see writeOncePostgres).
// committed tells whether the COMMIT went through; an error then is the wait for the disk.
func commitPostgres(ctx context.Context, conn *sql.Conn, atEnd []endStatement, entries string) (committed bool, err error) {
	err = conn.Raw(func(driverConn any) error {
		b := &pgx.Batch{}
		for _, st := range atEnd {
			b.Queue(st.sql, st.args...)
		}
		b.Queue("SELECT audit_append($1, $2, $3, $4::jsonb)", int64(auditLockID), domain.GenesisHash, domain.AuditVersion(), entries)
		b.Queue("COMMIT")
		b.Queue(durableSQL)
		br := driverConn.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		defer br.Close()
		for _, st := range atEnd {
			if _, err := br.Exec(); err != nil {
				return refused(fmt.Errorf("%s: %w", st.sql, err))
			}
		}
		if _, err := br.Exec(); err != nil {
			return refused(fmt.Errorf("append audit entries: %w", err))
		}
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if tag.String() != "COMMIT" { // an aborted transaction "commits" as ROLLBACK
			return fmt.Errorf("commit: %w (%s)", errRolledBack, tag)
		}
		committed = true
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("wait for the commit to reach the disk: %w", err)
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("wait for the commit to reach the disk: %w", err)
		}
		return nil
	})
	return committed, err
}

// refused marks err with errRolledBack when PostgreSQL refused the statement (and so aborted
// the transaction) rather than the connection failing, which leaves the outcome unknown.
func refused(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && !unavailable(err) {
		return fmt.Errorf("%w: %w", errRolledBack, err)
	}
	return err
}

// rollback ends the transaction on conn, or closes conn when that fails, so that no connection
// goes back to the pool inside a transaction (pgx also discards one that does, when it is
// next taken from the pool).
func rollback(ctx context.Context, conn *sql.Conn) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(rctx, "ROLLBACK"); err != nil {
		_ = conn.Raw(func(driverConn any) error { return driverConn.(*stdlib.Conn).Close() })
	}
}

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
