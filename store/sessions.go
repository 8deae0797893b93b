package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"cordtrace/domain"
)

// Every request checks its session, and on PostgreSQL that query was a fifth of the work of a
// bedside verification: a round trip, a transaction and a three-table join for a fact that
// changes only at a login, a logout or an account change. sessionCache keeps the sessions this
// process found valid, and drops them all as soon as PostgreSQL says that any process changed a
// session's end, a user or a role (the auth_changed triggers of migration 00016 notify on
// authChangedChannel when such a change commits), and at once after this process commits one
// (changesAuth). So a logout or a role change still takes effect at once everywhere: a
// request already past its session check when the change commits completes, as before.
//
// Only a store opened with Options.KeepSessions (the service) keeps sessions. Nothing is kept
// while the listener is not connected, or on SQLite (it has no notices, and
// the command line may change accounts from another process), and an entry is trusted for at
// most sessionCacheFor, the longest a change could go unseen if notices stopped arriving
// without the listener's connection failing. A session last used more than touchEvery ago is
// always read again, so that its use is recorded and its idle timeout checked in the database.
type sessionCache struct {
	mu      sync.Mutex
	live    bool   // the listener is connected and listening
	gen     uint64 // moves on every drop, so that a read made before it is not kept after it
	entries map[string]cachedSession
	held    chan struct{} // tests: notices wait until it is closed
}

// cachedSession is a valid session as its check read it.
type cachedSession struct {
	user     domain.User
	lastSeen time.Time
	readAt   time.Time
}

const (
	authChangedChannel = "cordtrace_auth"
	sessionCacheFor    = 5 * time.Second
	// sessionCacheMax bounds the memory: past it the cache starts again empty.
	sessionCacheMax = 10000
)

// lookup answers for the session of hash (and of otherHash, if not empty) from the cache: ok is
// false unless every one asked for is there, fresh, and used less than touchEvery ago.
func (c *sessionCache) lookup(hash, otherHash string, now time.Time) (u domain.User, other domain.SessionCheck, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	usable := func(h string) (cachedSession, bool) {
		e, found := c.entries[h]
		if !found || !c.live || now.Sub(e.readAt) >= sessionCacheFor || now.Before(e.readAt) || now.Sub(e.lastSeen) > touchEvery {
			return cachedSession{}, false
		}
		return e, true
	}
	e, ok := usable(hash)
	if !ok {
		return domain.User{}, domain.SessionCheck{}, false
	}
	if otherHash != "" {
		o, ok := usable(otherHash)
		if !ok {
			return domain.User{}, domain.SessionCheck{}, false
		}
		other = domain.SessionCheck{User: o.user, Decided: true}
	}
	return e.user, other, true
}

// generation is read before a session is read from the database, and given back to keep.
func (c *sessionCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// keep remembers valid sessions read from the database, unless the cache was dropped since
// gen was read: the read may then predate the change that caused the drop.
func (c *sessionCache) keep(gen uint64, now time.Time, sessions map[string]cachedSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	if len(c.entries)+len(sessions) > sessionCacheMax {
		c.entries = nil
	}
	if c.entries == nil {
		c.entries = map[string]cachedSession{}
	}
	for h, e := range sessions {
		e.readAt = now
		c.entries[h] = e
	}
}

// drop forgets every session.
func (c *sessionCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen, c.entries = c.gen+1, nil
}

// setLive drops every session and turns the cache on or off, in one step.
func (c *sessionCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen, c.entries, c.live = c.gen+1, nil, live
}

// waitIfHeld waits while a test holds notices back (see held), or until ctx ends.
func (c *sessionCache) waitIfHeld(ctx context.Context) error {
	c.mu.Lock()
	held := c.held
	c.mu.Unlock()
	if held == nil {
		return nil
	}
	select {
	case <-held:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// changesAuth reports whether a committed transaction may have ended a session or changed a
// user or their roles: every such write in this package audits a "user" or "session" entity.
func changesAuth(changes []change) bool {
	for _, ch := range changes {
		if ch.entityType == "user" || ch.entityType == "session" {
			return true
		}
	}
	return false
}

// listenForAuthChanges keeps a connection listening on authChangedChannel until ctx ends,
// dropping the cache at each notice. While it is not listening the cache is off; it connects
// again after a failure, waiting a little longer each time, up to 5 s.
func (s *Store) listenForAuthChanges(ctx context.Context, cfg *pgx.ConnConfig) {
	wait := 100 * time.Millisecond
	for {
		err := s.listenOnce(ctx, cfg, func() { s.sessions.setLive(true); wait = 100 * time.Millisecond })
		s.sessions.setLive(false)
		if ctx.Err() != nil {
			return
		}
		s.opts.Logger.Warn("session cache off: every request reads its session from the database until the listener reconnects",
			"err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listenOnce connects, listens, calls listening, and drops the cache at each notice until the
// connection fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+authChangedChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Only now: a change committed before LISTEN took effect sent no notice here, and the
	// cache, empty until now, holds nothing read before it.
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for a notice: %w", err)
		}
		if err := s.sessions.waitIfHeld(ctx); err != nil {
			return err
		}
		s.sessions.drop()
	}
}
