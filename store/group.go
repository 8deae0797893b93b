package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"cordtrace/domain"
)

// Group commit (PostgreSQL). A bedside verification or a custody scan is a small transaction
// whose fixed costs (BEGIN, the audit chain's lock and head, COMMIT, the wait for the disk and
// two round trips) were most of PostgreSQL's work for it. The ones that arrive while others
// are being written wait in a queue and are then written together, in one transaction, by
// one of a few group writers: each keeps its own reads, checks, rows and audit entries, and
// all commit together or, if anything goes wrong, each is written again on its own.
//
// Only writes that lock at most one dose bag, read nothing that another such write changes
// except through that bag, and change only that bag and the rows they add may be grouped
// (writeBag), and no two writes of the same bag are in one group: then each member's reads
// see what they would see in a transaction of its own, taken in the group's order.

// groupWriters is how many groups are written at once: while one waits for PostgreSQL, the
// next gathers what arrives meanwhile.
const groupWriters = 2

// maxGroup bounds a group, so that one group's transaction stays short.
const maxGroup = 32

// A group costs PostgreSQL about as much again as a handful of its members (its round trips,
// BEGIN and COMMIT, the wait for the disk and the backends' wake-ups), so while one group is
// being written the writes that arrive meanwhile wait for it to end, and are then written
// together, unless enough of them arrive to make a group of their own worth its cost
// (secondGroupMin) or the oldest has waited secondGroupWait. A write that arrives while no
// group is being written is taken at once. Under the README's verify load (16 clients) this
// took a tenth as many writes alone, made groups of 7.5 rather than 6.5 and cost 7-20 % less
// CPU per verification (loadtest/compare-builds.sh, four runs in both orders).
const (
	secondGroupMin  = 8
	secondGroupWait = 3 * time.Millisecond
)

// errRedoAlone marks a group that did not commit and whose members are each to be written on
// their own: nothing of it is in the database.
var errRedoAlone = errors.New("the group was rolled back")

// groupWrite is one writeBag waiting for its group.
type groupWrite struct {
	ctx   context.Context
	actor domain.Actor
	bagID string // "" when it locks no bag
	reads func() []rowReader
	fn    func(t *tx) error
	err   error
	// panicked is what the write's work panicked with, handed to its request's goroutine
	// (writeBag), which panics with it as a write of its own would have.
	panicked any
	done     chan struct{}
	queued   time.Time // when it joined the queue
}

func (w *groupWrite) finish(err error) {
	w.err = err
	close(w.done)
}

// writeAlone writes w on its own, as writeAfterReads always did.
func (s *Store) writeAlone(w *groupWrite) {
	defer func() {
		if p := recover(); p != nil {
			w.panicked = p
			w.finish(fmt.Errorf("the write panicked: %v", p))
		}
	}()
	w.finish(s.writeAfterReads(w.ctx, w.actor, w.reads, w.fn))
}

// writeGroups is the queue of writes waiting for a group writer.
type writeGroups struct {
	mu      sync.Mutex
	arrived *sync.Cond
	queue   []*groupWrite
	held    bool // by a test, so that writes gather into one group
	closed  bool
	started bool // the writers, by the first write that waits for them
	busy    int  // writers writing a group
	wake    *time.Timer
	writers sync.WaitGroup
	write   func(group []*groupWrite) // Store.writeGroup

	// secondMin and secondWait are secondGroupMin and secondGroupWait, or a test's.
	secondMin  int
	secondWait time.Duration

	groups, together, alone, redone atomic.Uint64 // WriteGroupStats
}

// WriteGroupStats counts how the verifications and custody scans were written since the store
// opened (PostgreSQL; all zero on SQLite, which writes each on its own).
type WriteGroupStats struct {
	Groups   uint64 // transactions that committed two writes or more
	Together uint64 // writes committed in such a transaction
	Alone    uint64 // writes taken on their own, nothing else waiting
	Redone   uint64 // writes written again on their own after their group was rolled back
}

// WriteGroupStats reports how writes were grouped, for /metrics.
func (s *Store) WriteGroupStats() WriteGroupStats {
	if s.groups == nil {
		return WriteGroupStats{}
	}
	g := s.groups
	return WriteGroupStats{Groups: g.groups.Load(), Together: g.together.Load(), Alone: g.alone.Load(), Redone: g.redone.Load()}
}

// prepareGroupWriters gives the store its queue of writes (PostgreSQL). The group writers
// start with the first write, so that one-off commands that make none (audit verify, user
// management) start none.
func (s *Store) prepareGroupWriters() {
	g := &writeGroups{write: s.writeGroup, secondMin: secondGroupMin, secondWait: secondGroupWait}
	g.arrived = sync.NewCond(&g.mu)
	s.groups = g
}

// startWriters starts the group writers; g.mu is held.
func (g *writeGroups) startWriters() {
	g.started = true
	for range groupWriters {
		g.writers.Add(1)
		go func() {
			defer g.writers.Done()
			for {
				group, ok := g.take()
				if !ok {
					return
				}
				g.write(group)
				g.mu.Lock()
				g.busy--
				g.mu.Unlock()
			}
		}()
	}
}

// stop lets the writers write what is queued, then waits for them to end.
func (g *writeGroups) stop() {
	g.mu.Lock()
	g.closed, g.held = true, false
	g.arrived.Broadcast()
	g.mu.Unlock()
	g.writers.Wait()
	g.mu.Lock()
	if g.wake != nil {
		g.wake.Stop()
	}
	g.mu.Unlock()
}

func (g *writeGroups) add(w *groupWrite) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	if !g.started {
		g.startWriters()
	}
	w.queued = time.Now()
	g.queue = append(g.queue, w)
	g.arrived.Signal()
	return true
}

// remove takes w out of the queue, unless a writer has taken it already.
func (g *writeGroups) remove(w *groupWrite) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i := slices.Index(g.queue, w)
	if i < 0 {
		return false
	}
	g.queue = slices.Delete(g.queue, i, i+1)
	return true
}

// take waits for writes and takes the next group, when it may start (untilNextGroup): the
// oldest writes, in order of arrival, skipping any of a bag already in the group (it waits
// for the next). ok is false once the store is closed and nothing is left.
func (g *writeGroups) take() (group []*groupWrite, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for !g.closed {
		if len(g.queue) > 0 && !g.held {
			wait := g.untilNextGroup(time.Now())
			if wait <= 0 {
				break
			}
			g.wakeIn(wait)
		}
		g.arrived.Wait()
	}
	if len(g.queue) == 0 {
		return nil, false
	}
	g.busy++
	bags := make(map[string]bool)
	rest := g.queue[:0]
	for _, w := range g.queue {
		if len(group) == maxGroup || (w.bagID != "" && bags[w.bagID]) {
			rest = append(rest, w)
			continue
		}
		group = append(group, w)
		if w.bagID != "" {
			bags[w.bagID] = true
		}
	}
	clear(g.queue[len(rest):])
	g.queue = rest
	if len(rest) > 0 {
		g.arrived.Signal() // for the other writer
	}
	return group, true
}

// untilNextGroup is how long the queued writes are to wait before a writer takes them (see
// secondGroupMin); g.mu is held and the queue is not empty.
func (g *writeGroups) untilNextGroup(now time.Time) time.Duration {
	if g.busy == 0 || len(g.queue) >= g.secondMin {
		return 0
	}
	return g.queue[0].queued.Add(g.secondWait).Sub(now)
}

// wakeIn wakes the waiting writers after d, so that they look at the queue again; g.mu is held.
func (g *writeGroups) wakeIn(d time.Duration) {
	if g.wake != nil {
		g.wake.Reset(d)
		return
	}
	g.wake = time.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.arrived.Broadcast()
	})
}

// writeBag is writeAfterReads for a write that locks at most the dose bag bagID ("" for none)
// and otherwise keeps to the rule above. On PostgreSQL it is written in a group.
func (s *Store) writeBag(ctx context.Context, actor domain.Actor, bagID string, reads func() []rowReader, fn func(t *tx) error) error {
	if s.groups == nil {
		return s.writeAfterReads(ctx, actor, reads, fn)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.DBTimeout)
	defer cancel()
	w := &groupWrite{ctx: ctx, actor: actor, bagID: bagID, reads: reads, fn: fn, done: make(chan struct{})}
	if !s.groups.add(w) {
		return classify(fmt.Errorf("wait for a database connection: %w", errors.New("the service is stopping")))
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		if s.groups.remove(w) {
			return classify(fmt.Errorf("wait for a database connection: %w", context.Cause(ctx)))
		}
		// Its group is being written: the outcome is known only at its end (bounded by
		// DBTimeout), and a write that may have committed is never reported as not done.
		<-w.done
	}
	if w.panicked != nil {
		panic(w.panicked)
	}
	return w.err
}

// writeGroup writes the group: alone when it is one write, else together, and each on its
// own if together failed without committing.
func (s *Store) writeGroup(group []*groupWrite) {
	live := group[:0]
	for _, w := range group {
		if w.ctx.Err() != nil { // waited past its deadline, or its request is gone
			w.finish(classify(fmt.Errorf("wait for a database connection: %w", context.Cause(w.ctx))))
			continue
		}
		live = append(live, w)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		s.groups.alone.Add(1)
		s.writeAlone(live[0])
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.DBTimeout)
	defer cancel()
	err := func() (err error) {
		// A member's work or reads that panic roll the group back; writeAlone then meets the
		// panic again, in that member's own write.
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: a write panicked: %v", errRedoAlone, p)
			}
		}()
		return s.writeTogether(ctx, live)
	}()
	if errors.Is(err, errRedoAlone) {
		s.opts.Logger.Warn("a group of writes was rolled back; writing each on its own", "writes", len(live), "err", err)
		s.groups.redone.Add(uint64(len(live)))
		for _, w := range live {
			s.groups.writers.Add(1) // so that Close waits for it too
			go func() {
				defer s.groups.writers.Done()
				s.writeAlone(w)
			}()
		}
		return
	}
	if err == nil {
		s.groups.groups.Add(1)
		s.groups.together.Add(uint64(len(live)))
	}
	for _, w := range live {
		w.finish(classify(err))
	}
}

// writeTogether writes the group in one transaction, as writeOncePostgres writes one write:
// BEGIN with every member's reads, made together (readsTogether; lockBagsTogether locks the
// bags in the order of their ids, so that groups written at once cannot deadlock), each
// member's work in the order of their bag ids, then their statements, one audit_append
// of every member's entries, the COMMIT and the wait for the disk. A failure before the
// COMMIT, a member's work failing included, is errRedoAlone.
func (s *Store) writeTogether(ctx context.Context, group []*groupWrite) error {
	done, err := s.turn(ctx)
	if err != nil {
		return err
	}
	defer done()
	slices.SortStableFunc(group, func(a, b *groupWrite) int { return strings.Compare(a.bagID, b.bagID) })
	conn, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return err // no connection to be had: each on its own would only wait for it again
	}
	defer conn.Close()
	var reads []rowReader
	for _, w := range group {
		if w.reads != nil {
			reads = append(reads, w.reads()...)
		}
	}
	reads = readsTogether(reads)
	authChanged := false
	undone, err := s.transactOn(ctx, conn, reads, func(g *gorm.DB) ([]endStatement, string, error) {
		var atEnd []endStatement
		var entries []auditAppendEntry
		for _, w := range group {
			t := &tx{db: g, now: s.now(), pipeline: true}
			if err := w.fn(t); err != nil {
				return nil, "", err
			}
			if len(t.changes) == 0 {
				// Alone, a write that records nothing is rolled back, so nothing unaudited can
				// commit; here its statements would commit with the others'.
				return nil, "", errors.New("a write recorded nothing")
			}
			authChanged = authChanged || changesAuth(t.changes)
			var err error
			if entries, err = addAuditAppendEntries(entries, t, w.actor); err != nil {
				return nil, "", err
			}
			atEnd = append(atEnd, t.atEnd...)
		}
		js, err := encodeAuditAppend(entries)
		return mergeRows(atEnd), js, err
	})
	if authChanged {
		s.sessions.drop() // also when the outcome is unknown, as in writeAfterReads
	}
	if undone {
		return fmt.Errorf("%w: %w", errRedoAlone, err)
	}
	return err
}
