package migrations

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/glebarez/go-sqlite" // the "sqlite" driver the service uses
)

// Donations recorded with their eligibility already set keep it, and gain a determination
// marked unsigned, attributed to whoever entered the donation; pending ones stay pending.
func TestEligibilityCarriedOverAsUnsignedDeterminations(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "old.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := provider(db, SQLite, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 34); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users (id, username, full_name, password_hash, created_at) VALUES (7, 'qc.ann', 'Ann Lab', 'x', '2026-01-01 00:00:00')`,
		`INSERT INTO donations (din, collected_at, eligibility, created_by, created_at) VALUES ('A999926000001', '2026-01-02 00:00:00', 'eligible', 7, '2026-01-02 08:00:00')`,
		`INSERT INTO donations (din, collected_at, eligibility, created_by, created_at) VALUES ('A999926000002', '2026-01-02 00:00:00', 'ineligible', 7, '2026-01-02 09:00:00')`,
		`INSERT INTO donations (din, collected_at, eligibility, created_by, created_at) VALUES ('A999926000003', '2026-01-02 00:00:00', 'pending', 7, '2026-01-02 10:00:00')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT d.din, d.eligibility, e.determination, e.signed, e.user_id, e.printed_name, e.reason
		FROM donations d LEFT JOIN eligibility_determinations e ON e.donation_id = d.id ORDER BY d.din`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		din, eligibility string
		determination    sql.NullString
		signed           sql.NullBool
		userID           sql.NullInt64
		name, reason     sql.NullString
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.din, &r.eligibility, &r.determination, &r.signed, &r.userID, &r.name, &r.reason); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("rows %+v", got)
	}
	for i, want := range []struct {
		eligibility, determination string
	}{{"eligible", "eligible"}, {"ineligible", "ineligible"}, {"pending", ""}} {
		r := got[i]
		if r.eligibility != want.eligibility || r.determination.String != want.determination {
			t.Errorf("%s: eligibility %s, determination %q; want %s, %q", r.din, r.eligibility, r.determination.String, want.eligibility, want.determination)
		}
		if want.determination != "" && (!r.signed.Valid || r.signed.Bool || r.userID.Int64 != 7 || r.name.String != "Ann Lab" || r.reason.String == "") {
			t.Errorf("%s: carried-over determination %+v; want unsigned, by Ann Lab, with a reason", r.din, r)
		}
	}
}
