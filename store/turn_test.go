package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"cordtrace/domain"
)

// turn lets as many operations at a time as the pool has connections, and one that cannot
// get a turn before its deadline fails as the database being unavailable (503), not as a
// hang or a server error.
func TestTurnBoundsConcurrentOperations(t *testing.T) {
	s := &Store{turns: make(chan struct{}, 2)}
	ctx := context.Background()
	first, err := s.turn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.turn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := s.turn(short); domain.ErrorCode(err) != domain.EUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third operation with both turns taken: %v; want %s wrapping the deadline", err, domain.EUnavailable)
	}
	first()
	third, err := s.turn(ctx)
	if err != nil {
		t.Fatalf("after one turn was given back: %v", err)
	}
	second()
	third()
	if n := len(s.turns); n != 0 {
		t.Errorf("%d turns still taken after all were given back", n)
	}
}

// SQLite has no pool to share: turn never waits. (The deadline turns a turn that would wait
// forever into a failure of this test instead of a hang.)
func TestTurnWithoutPool(t *testing.T) {
	s := &Store{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 {
		done, err := s.turn(ctx)
		if err != nil {
			t.Fatalf("turn without a pool: %v; want no wait", err)
		}
		done()
	}
}
