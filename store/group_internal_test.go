package store

import (
	"sync"
	"testing"
	"time"
)

// queueForTest is a queue of writes whose writers are not started, with busy groups being
// written and one write queued for each of ages (how long ago it joined the queue); a second
// group needs secondGroupMin writes, or the oldest to have waited wait.
func queueForTest(busy int, wait time.Duration, ages ...time.Duration) *writeGroups {
	g := &writeGroups{started: true, busy: busy, secondMin: secondGroupMin, secondWait: wait}
	g.arrived = sync.NewCond(&g.mu)
	now := time.Now()
	for _, age := range ages {
		g.queue = append(g.queue, &groupWrite{queued: now.Add(-age), done: make(chan struct{})})
	}
	return g
}

// takeSoon is g.take, failing the test if no group is taken within a generous bound (a take
// that waits for something that never comes).
func takeSoon(t *testing.T, g *writeGroups) []*groupWrite {
	t.Helper()
	taken := make(chan []*groupWrite, 1)
	go func() {
		group, _ := g.take()
		taken <- group
	}()
	select {
	case group := <-taken:
		return group
	case <-time.After(10 * time.Second):
		t.Fatal("no group was taken")
		return nil
	}
}

// A write is taken at once while no group is being written; while one is, the queued writes
// are taken when there are enough of them for a group, or when the oldest has waited long
// enough.
func TestNextGroupStartsWhenItIsWorthIt(t *testing.T) {
	const long = time.Hour
	enough := make([]time.Duration, secondGroupMin+1)
	tests := []struct {
		name string
		busy int
		ages []time.Duration
		want int
	}{
		{"no group being written, one write", 0, []time.Duration{0}, 1},
		{"no group being written, three writes", 0, []time.Duration{0, 0, 0}, 3},
		{"a group being written, enough writes for another", 1, enough, len(enough)},
		{"a group being written, the oldest write waited long enough", 1, []time.Duration{2 * long, 0, 0}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := queueForTest(tt.busy, long, tt.ages...)
			if got := len(takeSoon(t, g)); got != tt.want {
				t.Fatalf("took %d writes, want %d", got, tt.want)
			}
			if g.busy != tt.busy+1 {
				t.Fatalf("%d groups being written, want %d", g.busy, tt.busy+1)
			}
		})
	}
}

// While a group is being written, three writes wait for more: the group taken once enough
// more arrive for a group of secondGroupMin has them all.
func TestNextGroupWaitsForEnoughWrites(t *testing.T) {
	g := queueForTest(1, time.Hour, 0, 0, 0)
	taken := make(chan []*groupWrite, 1)
	go func() {
		group, _ := g.take()
		taken <- group
	}()
	waiting := func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.wake != nil // set by the writer as it waits
	}
	giveUp := time.After(10 * time.Second)
	for !waiting() {
		select {
		case group := <-taken:
			t.Fatalf("took %d writes at once, want it to wait", len(group))
		case <-giveUp:
			t.Fatal("the writer neither took the writes nor waited for more")
		case <-time.After(time.Millisecond):
		}
	}
	for range secondGroupMin - 3 {
		if !g.add(&groupWrite{done: make(chan struct{})}) {
			t.Fatal("the queue refused a write")
		}
	}
	select {
	case group := <-taken:
		if len(group) != secondGroupMin {
			t.Fatalf("took %d writes, want %d", len(group), secondGroupMin)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no group was taken")
	}
}

// While a group is being written, writes too few for a group of their own are taken once the
// oldest has waited secondWait, without another write arriving to wake the writer.
func TestNextGroupStartsAfterTheWait(t *testing.T) {
	g := queueForTest(1, 20*time.Millisecond, 0, 0)
	if got := len(takeSoon(t, g)); got != 2 {
		t.Fatalf("took %d writes, want 2", got)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wake == nil {
		t.Fatal("no timer woke the writer")
	}
}
