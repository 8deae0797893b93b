package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// Writes that queue for writeTogether's next transaction are committed in it together, each
// as its own actor and seeing the ones before it; when one of them fails or records nothing,
// the others still commit and only it fails; one that panics fails with an error.
func TestWritesTogetherKeepTheirOwnActorsAndOutcomes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		insert := func(db *gorm.DB, name string) error {
			return db.Exec(`INSERT INTO users (username, full_name, password_hash, created_at) VALUES (?, 'T', 'x', ?)`, name, time.Now()).Error
		}
		count := func(db *gorm.DB, names ...string) (n int64) {
			if err := db.Table("users").Where("username IN ?", names).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		actor := func(name string) domain.Actor {
			return domain.Actor{Username: name, FullName: "Writer " + name, Role: domain.RoleAdmin, RequestID: "req-" + name}
		}
		errBoom := errors.New("boom")

		// queued runs the writes while the store's every transaction of writes together is
		// held open, so that all of them wait for the same next transaction; it returns each
		// write's outcome.
		queued := func(phase string, writes map[string]func(db *gorm.DB, audit func(string, string, string)) error) map[string]error {
			release := make(chan struct{})
			var holders, writers sync.WaitGroup
			for i := range store.RunningTogether {
				holders.Add(1)
				go func() {
					defer holders.Done()
					err := st.WriteTogetherForTest(ctx, actor(fmt.Sprintf("%s.holder%d", phase, i)), func(db *gorm.DB, audit func(string, string, string)) error {
						<-release
						audit("test.hold", "thing", phase)
						return nil
					})
					if err != nil {
						t.Errorf("holder: %v", err)
					}
				}()
			}
			// The holders take every place before any write is queued.
			waitFor(t, func() bool { return st.RunningTogetherNow() == store.RunningTogether })
			var mu sync.Mutex
			out := map[string]error{}
			for name, fn := range writes {
				writers.Add(1)
				go func() {
					defer writers.Done()
					err := st.WriteTogetherForTest(ctx, actor(name), fn)
					mu.Lock()
					out[name] = err
					mu.Unlock()
				}()
			}
			waitFor(t, func() bool { return st.WaitingTogether() == len(writes) })
			close(release)
			holders.Wait()
			writers.Wait()
			return out
		}

		// Together: the one run second sees the first, and each entry names its own writer.
		var saw sync.Map
		sees := func(name, other string) func(*gorm.DB, func(string, string, string)) error {
			return func(db *gorm.DB, audit func(string, string, string)) error {
				audit("user.create", "user", name)
				saw.Store(name, count(db, other) == 1)
				return insert(db, name)
			}
		}
		got := queued("ok", map[string]func(*gorm.DB, func(string, string, string)) error{
			"w.first": sees("w.first", "w.second"), "w.second": sees("w.second", "w.first"),
		})
		for name, err := range got {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		first, _ := saw.Load("w.first")
		second, _ := saw.Load("w.second")
		if first == second {
			t.Fatalf("w.first saw w.second: %v, w.second saw w.first: %v; want exactly one, the one run second", first, second)
		}
		for _, name := range []string{"w.first", "w.second"} {
			entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "user", EntityID: name})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].RequestID != "req-"+name || entries[0].UserName != "Writer "+name {
				t.Fatalf("audit of %s: %+v, want one entry by Writer %s", name, entries, name)
			}
		}

		// Apart: one fails and one records nothing; the two others commit all the same.
		got = queued("apart", map[string]func(*gorm.DB, func(string, string, string)) error{
			"a.ok1": func(db *gorm.DB, audit func(string, string, string)) error {
				audit("user.create", "user", "a.ok1")
				return insert(db, "a.ok1")
			},
			"a.fails": func(db *gorm.DB, audit func(string, string, string)) error {
				audit("user.create", "user", "a.fails")
				if err := insert(db, "a.fails"); err != nil {
					return err
				}
				return errBoom
			},
			"a.silent": func(db *gorm.DB, audit func(string, string, string)) error {
				return insert(db, "a.silent")
			},
			"a.ok2": func(db *gorm.DB, audit func(string, string, string)) error {
				audit("user.create", "user", "a.ok2")
				return insert(db, "a.ok2")
			},
		})
		if got["a.ok1"] != nil || got["a.ok2"] != nil || got["a.silent"] != nil || !errors.Is(got["a.fails"], errBoom) {
			t.Fatalf("outcomes %v, want boom for a.fails alone", got)
		}
		got = queued("panic", map[string]func(*gorm.DB, func(string, string, string)) error{
			"p.ok": func(db *gorm.DB, audit func(string, string, string)) error {
				audit("user.create", "user", "p.ok")
				return insert(db, "p.ok")
			},
			"p.panics": func(db *gorm.DB, audit func(string, string, string)) error {
				audit("user.create", "user", "p.panics")
				if err := insert(db, "p.panics"); err != nil {
					return err
				}
				panic("a bug")
			},
		})
		if got["p.ok"] != nil || got["p.panics"] == nil {
			t.Fatalf("outcomes %v, want an error for p.panics alone", got)
		}
		if n := count(st.Gorm(), "p.ok", "p.panics"); n != 1 {
			t.Fatalf("%d rows of p.ok and p.panics, want p.ok's alone", n)
		}
		if n := count(st.Gorm(), "a.ok1", "a.ok2"); n != 2 {
			t.Fatalf("%d of the two good writes committed", n)
		}
		if n := count(st.Gorm(), "a.fails", "a.silent"); n != 0 {
			t.Fatalf("%d rows of the failed and the unaudited write committed", n)
		}
		mustVerify(t, st)
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
