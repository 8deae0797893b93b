package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/labels"
	"cordtrace/migrations"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// newLabelKey makes a label signing key as the service does.
func newLabelKey() (domain.LabelKey, error) {
	kid, pub, priv, err := labels.NewLabelKey(time.Now())
	return domain.LabelKey{KID: kid, PublicKey: pub, PrivatePEM: priv}, err
}

// labelKey returns the active label key's id, creating the key when there is none.
func labelKey(t *testing.T, st *store.Store) string {
	t.Helper()
	k, err := st.EnsureLabelKey(context.Background(), newLabelKey)
	if err != nil {
		t.Fatal(err)
	}
	return k.KID
}

// qrScan is a custody scan of the bag's signed QR of print serial, signed by key kid.
func (b bedside) qrScan(kind string, serial int64, kid string) domain.CustodyScan {
	c := 5.0
	return domain.CustodyScan{Kind: kind, Code: "CT1-test", CodeKind: domain.CodeQR, BagID: b.bag.BagID, PrintSerial: serial,
		MRN: b.patient.MRN, KeyID: kid, Location: "ICU", TemperatureC: &c}
}

// A rotation destroys the retired key's private half in the same transaction, audited; the
// database refuses a retired key that keeps one.
func TestRotationDestroysTheRetiredPrivateKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		old := labelKey(t, st)
		next, err := st.RotateLabelKey(ctx, admin, newLabelKey)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := st.LabelKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || keys[0].KID != next.KID || keys[0].PrivatePEM == "" || keys[1].KID != old || keys[1].RetiredAt == nil || keys[1].PrivatePEM != "" {
			t.Fatalf("keys after rotation: %+v; want the new one with its private key, the old one retired without", keys)
		}
		var stored *string
		if err := st.SQLDB().QueryRowContext(ctx, `SELECT private_key FROM label_keys WHERE kid = $1`, old).Scan(&stored); err != nil || stored != nil {
			t.Fatalf("retired key's private_key column: %v %v; want NULL", stored, err)
		}
		if err := st.Gorm().Exec(`UPDATE label_keys SET private_key = 'x' WHERE kid = ?`, old).Error; err == nil {
			t.Fatal("the database kept a private key for a retired key")
		}
		if err := st.Gorm().Exec(`INSERT INTO label_keys (kid, public_key, private_key, created_at) VALUES ('k-second', 'x', 'y', ?)`, time.Now()).Error; err == nil {
			t.Fatal("the database kept a second active key")
		}
		entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "label_key", EntityID: old})
		if err != nil || len(entries) != 2 || entries[1].Action != "label_key.retire" || !strings.Contains(entries[1].After, `"private_key":"destroyed"`) {
			t.Fatalf("audit of the retired key: %+v %v", entries, err)
		}
		mustVerify(t, st)
	})
}

// Rotations at the same moment leave one active key: the database refuses a second, and the
// rotation that lost answers a conflict.
func TestConcurrentRotationsLeaveOneActiveKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		labelKey(t, st)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = st.RotateLabelKey(ctx, admin, newLabelKey)
			}(i)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && domain.ErrorCode(err) != domain.EConflict {
				t.Fatalf("concurrent rotation: %v", err)
			}
		}
		keys, err := st.LabelKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, k := range keys {
			if k.RetiredAt == nil {
				active++
			} else if k.PrivatePEM != "" {
				t.Fatalf("retired key %s kept its private key", k.KID)
			}
		}
		if active != 1 {
			t.Fatalf("%d active keys after concurrent rotations; want 1", active)
		}
	})
}

// A retired key verifies only the prints it signed before it was retired: a code signed with
// it for a print made after the rotation is refused at custody and at the bedside, and the
// retired key can no longer be recorded as signing a print.
func TestRetiredKeyVerifiesOnlyItsOwnPrints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBag(t, st)
		old := labelKey(t, st)
		if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "png", old); err != nil {
			t.Fatal(err)
		}
		next, err := st.RotateLabelKey(ctx, admin, newLabelKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "png", old); domain.ErrorCode(err) != domain.EConflict || !strings.Contains(err.Error(), "retired") {
			t.Fatalf("a print signed with the retired key: %v; want a conflict", err)
		}
		// Print 1 was signed before the rotation: still genuine.
		if ev, err := st.RecordScan(ctx, b.pharm, b.qrScan(domain.ScanDispatch, 1, old)); err != nil || !ev.Accepted {
			t.Fatalf("dispatch of a print signed before the rotation: %+v %v", ev, err)
		}
		if _, err := st.Reprint(ctx, b.pharm, "dose_bag", b.bag.ID, "torn"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "png", next.KID); err != nil {
			t.Fatal(err)
		}
		// Print 2 was made after the rotation: the retired key never signed it.
		ev, err := st.RecordScan(ctx, b.nurse, b.qrScan(domain.ScanReceive, 2, old))
		if domain.ErrorCode(err) != domain.ERuleViolated || !strings.Contains(err.Error(), "never signed this print") || ev.Accepted {
			t.Fatalf("receipt of print 2 signed with the retired key: %+v %v", ev, err)
		}
		req := b.bedsideRequest("MRN0001", b.qrScan("", 2, old))
		v, err := st.Verify(ctx, b.nurse, req)
		if err != nil || v.Pass || !failedWith(v, "never signed this print") {
			t.Fatalf("bedside with print 2 signed with the retired key: %+v %v", v, err)
		}
		if ev, err := st.RecordScan(ctx, b.nurse, b.qrScan(domain.ScanReceive, 2, next.KID)); err != nil || !ev.Accepted {
			t.Fatalf("receipt of print 2 signed with the current key: %+v %v", ev, err)
		}
		v, err = st.Verify(ctx, b.nurse, b.bedsideRequest("MRN0001", b.qrScan("", 2, next.KID)))
		if err != nil || !v.Pass {
			t.Fatalf("bedside with print 2 signed with the current key: %+v %v", v, err)
		}
		mustVerify(t, st)
	})
}

// An emergency revocation stops every label the key signed, at every scan, until the label is
// reprinted; the key that was signing is replaced at once and its private half destroyed.
func TestRevokedKeyStopsEveryLabelUntilReprinted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		bags := preparedBags(t, st, 2)
		kid := labelKey(t, st)
		for _, b := range bags {
			if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "zpl", kid); err != nil {
				t.Fatal(err)
			}
		}
		b := bags[0]
		if ev, err := st.RecordScan(ctx, b.pharm, b.qrScan(domain.ScanDispatch, 1, kid)); err != nil || !ev.Accepted {
			t.Fatalf("dispatch before the revocation: %+v %v", ev, err)
		}

		if _, err := st.RevokeLabelKey(ctx, admin, kid, "  ", newLabelKey); domain.ErrorField(err) != "reason" {
			t.Fatalf("revocation without a reason: %v; want a field error naming reason", err)
		}
		if _, err := st.RevokeLabelKey(ctx, admin, "k-none", "lost", newLabelKey); domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("revocation of an unknown key: %v", err)
		}
		rev, err := st.RevokeLabelKey(ctx, admin, kid, "key file found on a shared drive", newLabelKey)
		if err != nil {
			t.Fatal(err)
		}
		if rev.NewKey == "" || rev.NewKey == kid || len(rev.Reprint) != 2 || rev.Reprint[0].Code != bags[0].bag.BagID || rev.Reprint[1].Code != bags[1].bag.BagID {
			t.Fatalf("revocation: %+v; want a new key and both bags to reprint", rev)
		}
		if _, err := st.RevokeLabelKey(ctx, admin, kid, "again", newLabelKey); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("second revocation: %v", err)
		}
		keys, _ := st.LabelKeys(ctx)
		if len(keys) != 2 || keys[0].KID != rev.NewKey || keys[0].RetiredAt != nil || keys[1].RevokedAt == nil || keys[1].PrivatePEM != "" {
			t.Fatalf("keys after the revocation: %+v", keys)
		}

		ev, err := st.RecordScan(ctx, b.nurse, b.qrScan(domain.ScanReceive, 1, kid))
		if domain.ErrorCode(err) != domain.ERuleViolated || !strings.Contains(err.Error(), "revoked") || !strings.Contains(err.Error(), "reprinted") || ev.Accepted {
			t.Fatalf("receipt of a label signed by the revoked key: %+v %v", ev, err)
		}
		if ev, err := st.RecordScan(ctx, bags[1].pharm, bags[1].qrScan(domain.ScanDispatch, 1, kid)); domain.ErrorCode(err) != domain.ERuleViolated || ev.Accepted {
			t.Fatalf("dispatch of the other bag signed by the revoked key: %+v %v", ev, err)
		}
		v, err := st.Verify(ctx, b.nurse, b.bedsideRequest("MRN0001", b.qrScan("", 1, kid)))
		if err != nil || v.Pass || !failedWith(v, "was revoked on") {
			t.Fatalf("bedside with a label signed by the revoked key: %+v %v", v, err)
		}

		if _, err := st.Reprint(ctx, b.pharm, "dose_bag", b.bag.ID, "signing key revoked"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "zpl", rev.NewKey); err != nil {
			t.Fatal(err)
		}
		if ev, err := st.RecordScan(ctx, b.nurse, b.qrScan(domain.ScanReceive, 2, rev.NewKey)); err != nil || !ev.Accepted {
			t.Fatalf("receipt of the reprint: %+v %v", ev, err)
		}
		if v := b.verify(t, "MRN0001", b.qrScan("", 2, rev.NewKey)); !v.Pass {
			t.Fatalf("bedside with the reprint: %+v", v)
		}
		entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "label_key", EntityID: kid})
		if err != nil || entries[len(entries)-1].Action != "label_key.revoke" || entries[len(entries)-1].Reason != "key file found on a shared drive" {
			t.Fatalf("audit of the revocation: %+v %v", entries, err)
		}
		mustVerify(t, st)
	})
}

// Migration 00027 on a site with prints and keys: each print is credited to every key not
// retired when it was made, retired private keys are destroyed, and of two keys left active
// the older is retired as of the newer one's creation.
func TestLabelKeyMigrationCreditsEarlierPrints(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			opts := emptyDatabase(t, storetest.Options(t, b, store.Options{}))
			db, dialect, err := store.OpenDB(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := migrations.UpTo(ctx, db, dialect, 25); err != nil {
				t.Fatal(err)
			}
			base := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
			at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
			for _, s := range []struct {
				sql  string
				args []any
			}{
				{`INSERT INTO users (username, full_name, password_hash, created_at) VALUES ('ph.x', 'X', 'h', $1)`, []any{base}},
				{`INSERT INTO label_keys (kid, public_key, private_key, created_at, retired_at) VALUES ('kA', 'pa', 'sa', $1, $2)`, []any{base, at(10)}},
				{`INSERT INTO label_keys (kid, public_key, private_key, created_at) VALUES ('kC', 'pc', 'sc', $1)`, []any{at(5)}},
				{`INSERT INTO label_keys (kid, public_key, private_key, created_at) VALUES ('kB', 'pb', 'sb', $1)`, []any{at(10)}},
				{`INSERT INTO label_prints (entity_type, entity_id, serial, printed_by, printed_at, copies) VALUES ('unit', 1, 1, 1, $1, 1)`, []any{at(1)}},
				{`INSERT INTO label_prints (entity_type, entity_id, serial, printed_by, printed_at, copies) VALUES ('unit', 2, 1, 1, $1, 1)`, []any{at(12)}},
			} {
				if _, err := db.ExecContext(ctx, s.sql, s.args...); err != nil {
					t.Fatalf("%s: %v", s.sql, err)
				}
			}
			if _, err := migrations.Up(ctx, db, dialect, nil); err != nil {
				t.Fatal(err)
			}
			var credited []string
			rows, err := db.QueryContext(ctx, `SELECT lp.entity_id, lpk.kid FROM label_print_keys lpk JOIN label_prints lp ON lp.id = lpk.print_id
				ORDER BY lp.entity_id, lpk.kid`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id int64
				var kid string
				if err := rows.Scan(&id, &kid); err != nil {
					t.Fatal(err)
				}
				credited = append(credited, fmt.Sprintf("%d:%s", id, kid))
			}
			rows.Close()
			if want := []string{"1:kA", "1:kB", "1:kC", "2:kB"}; !slices.Equal(credited, want) {
				t.Fatalf("prints credited to keys %v; want %v", credited, want)
			}
			var withPrivate []string
			rows, err = db.QueryContext(ctx, `SELECT kid FROM label_keys WHERE private_key IS NOT NULL OR retired_at IS NULL ORDER BY kid`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var kid string
				if err := rows.Scan(&kid); err != nil {
					t.Fatal(err)
				}
				withPrivate = append(withPrivate, kid)
			}
			rows.Close()
			if !slices.Equal(withPrivate, []string{"kB"}) {
				t.Fatalf("keys active or keeping a private key after the migration: %v; want only kB", withPrivate)
			}
		})
	}
}
