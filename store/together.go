package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cordtrace/domain"
)

// maxTogether bounds how many writes share one transaction.
const maxTogether = 4

// maxRunningTogether bounds the transactions of writeTogether run at once in a process.
const maxRunningTogether = 3

// writeQueue lets writes that arrive while another is being committed share the next
// transaction (writeTogether). Custody scans come in bursts from every scanner of a site, and
// each write pays for a BEGIN, the audit chain's lock, its head and a COMMIT that waits for the
// disk, with every other write queued behind the chain's lock meanwhile; shared, those are paid
// once for all the writes that queued. docs/performance.md has the measurements behind the
// two bounds.
type writeQueue struct {
	mu      sync.Mutex
	running int            // transactions of queued writes being run
	waiting []*queuedWrite // arrived since; the next transaction takes them
}

type queuedWrite struct {
	writeWork
	done chan error          // the write's outcome
	lead chan []*queuedWrite // the writes this one is to run, when its turn comes first
}

// writeTogether is write for a write that may share its transaction with others of its kind:
// those that arrived while the previous transaction ran are run one after another in the next,
// each as its own actor, and committed together. Each write sees the ones before it, as if
// they had committed just before. A write that fails, or records nothing, takes none of the
// others with it: the transaction is rolled back and each is run alone.
//
// A write that finds fewer than maxRunningTogether such transactions running starts one of its
// own at once. Otherwise it waits, and when a transaction ends, the first maxTogether waiting
// writes are run in the next by the first of them: there is no goroutine of its own. A write
// is not given up when its caller's context ends while it waits: it was received, and it is
// recorded. A write that panics fails with an error, so that the writes sharing its
// transaction, and those waiting behind it, are not left waiting.
func (s *Store) writeTogether(ctx context.Context, actor domain.Actor, fn func(t *tx) error) error {
	w := &queuedWrite{writeWork: writeWork{actor: actor, fn: fn}, done: make(chan error, 1), lead: make(chan []*queuedWrite, 1)}
	q := &s.together
	q.mu.Lock()
	if q.running < maxRunningTogether {
		q.running++
		q.mu.Unlock()
		s.runTogether(ctx, []*queuedWrite{w})
		return <-w.done
	}
	q.waiting = append(q.waiting, w)
	q.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case writes := <-w.lead:
		s.runTogether(ctx, writes)
		return <-w.done
	}
}

// runTogether commits writes in one transaction, tells each its outcome, and hands the writes
// that arrived meanwhile to the first of them to run next.
func (s *Store) runTogether(ctx context.Context, writes []*queuedWrite) {
	// The transaction carries other people's writes: the caller leaving must not cancel it.
	ctx = context.WithoutCancel(ctx)
	works := make([]writeWork, len(writes))
	for i, w := range writes {
		works[i] = w.writeWork
	}
	err := recovered(func() error { return s.writeAll(ctx, works) })
	switch {
	case err != nil && len(writes) > 1 && !unavailable(err):
		for _, w := range writes {
			w.done <- recovered(func() error { return s.write(ctx, w.actor, w.fn) })
		}
	case errors.Is(err, errNothingRecorded):
		writes[0].done <- nil
	default:
		for _, w := range writes {
			w.done <- classify(err)
		}
	}

	q := &s.together
	q.mu.Lock()
	next := q.waiting
	if len(next) > maxTogether {
		next = next[:maxTogether]
	}
	if q.waiting = q.waiting[len(next):]; len(q.waiting) == 0 {
		q.waiting = nil
	}
	if len(next) == 0 {
		q.running--
	}
	q.mu.Unlock()
	if len(next) > 0 {
		next[0].lead <- next
	}
}

// recovered runs fn and turns a panic in it into an error.
func recovered(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("a write failed unexpectedly: %v", r)
		}
	}()
	return fn()
}
