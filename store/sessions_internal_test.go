package store

import (
	"testing"
	"time"

	"cordtrace/domain"
)

// The rules of the in-memory session cache, without a database: what it may answer and what
// it may keep.
func TestSessionCacheRules(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	nurse := domain.User{ID: 1, Username: "nurse"}
	witness := domain.User{ID: 2, Username: "witness"}
	live := func() *sessionCache {
		c := &sessionCache{}
		c.setLive(true)
		c.keep(c.generation(), t0, map[string]cachedSession{"n": {user: nurse, lastSeen: t0}, "w": {user: witness, lastSeen: t0}})
		return c
	}
	cases := []struct {
		name        string
		cache       func() *sessionCache
		hash, other string
		at          time.Time
		want        bool
	}{
		{"kept session, just read", live, "n", "", t0, true},
		{"both sessions kept", live, "n", "w", t0.Add(time.Second), true},
		{"unknown token", live, "x", "", t0, false},
		{"the witness's token unknown", live, "n", "x", t0, false},
		{"read sessionCacheFor ago: read again", live, "n", "", t0.Add(sessionCacheFor), false},
		{"clock went back: read again", live, "n", "", t0.Add(-time.Second), false},
		{"dropped", func() *sessionCache { c := live(); c.drop(); return c }, "n", "", t0, false},
		{"listener lost", func() *sessionCache { c := live(); c.setLive(false); return c }, "n", "", t0, false},
		{"kept while not listening: never", func() *sessionCache {
			c := &sessionCache{}
			c.keep(c.generation(), t0, map[string]cachedSession{"n": {user: nurse, lastSeen: t0}})
			c.live = true
			return c
		}, "n", "", t0, false},
		{"read before a drop: not kept", func() *sessionCache {
			c := &sessionCache{}
			c.setLive(true)
			gen := c.generation()
			c.drop() // a logout committed while the session was being read
			c.keep(gen, t0, map[string]cachedSession{"n": {user: nurse, lastSeen: t0}})
			return c
		}, "n", "", t0, false},
		{"last used more than touchEvery ago: read again to record its use", func() *sessionCache {
			c := &sessionCache{}
			c.setLive(true)
			c.keep(c.generation(), t0, map[string]cachedSession{"n": {user: nurse, lastSeen: t0.Add(-touchEvery - time.Second)}})
			return c
		}, "n", "", t0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, other, ok := tc.cache().lookup(tc.hash, tc.other, tc.at)
			if ok != tc.want {
				t.Fatalf("lookup ok = %v, want %v", ok, tc.want)
			}
			if !ok {
				return
			}
			if u.ID != nurse.ID {
				t.Errorf("user %d, want %d", u.ID, nurse.ID)
			}
			if tc.other != "" && (!other.Decided || other.User.ID != witness.ID || other.Err != nil) {
				t.Errorf("witness check %+v, want decided for user %d", other, witness.ID)
			}
		})
	}
}

func TestSessionCacheStartsAgainPastItsBound(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	c := &sessionCache{}
	c.setLive(true)
	for i := 0; i <= sessionCacheMax; i++ {
		c.keep(c.generation(), t0, map[string]cachedSession{string(rune(i)) + "h": {lastSeen: t0}})
	}
	if n := len(c.entries); n > sessionCacheMax || n == 0 {
		t.Fatalf("%d sessions kept, want 1 to %d", n, sessionCacheMax)
	}
}
