package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// On PostgreSQL, verifications and custody scans that wait together are written in one
// transaction (group commit, store.writeBag). These tests hold the group writers, queue writes
// one by one in a known order, then let them go.

// queueInOrder starts each write in turn once the one before it is queued, and returns the
// function that waits for them all (failing the test after a minute).
func queueInOrder(t *testing.T, queued func() int, writes ...func()) (wait func()) {
	t.Helper()
	var wg sync.WaitGroup
	base := queued()
	for i, w := range writes {
		wg.Add(1)
		go func() { defer wg.Done(); w() }()
		deadline := time.Now().Add(10 * time.Second)
		for queued() < base+i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("write %d was not queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return func() {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("the writes did not return within a minute")
		}
	}
}

// rowWithID names the row of table with primary key id, for sameTransaction.
func rowWithID(table string, id int64) string {
	return table + " WHERE id = " + strconv.FormatInt(id, 10)
}

// sameTransaction tells whether the rows were written by one transaction.
func sameTransaction(t *testing.T, st *store.Store, rows ...string) bool {
	t.Helper()
	var xmins []string
	for _, r := range rows {
		var x string
		if err := st.SQLDB().QueryRow(`SELECT xmin::text FROM ` + r).Scan(&x); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		xmins = append(xmins, x)
	}
	for _, x := range xmins {
		if x != xmins[0] {
			return false
		}
	}
	return true
}

// userWrite is a grouped write (store.BagWriteForTest) that inserts the user name, audited or
// not; its work panics when name is "".
func userWrite(st *store.Store, name string, audited bool, err *error) func() {
	return func() {
		*err = st.BagWriteForTest(context.Background(), admin, "", func(db *gorm.DB, audit func(string, string, string)) error {
			if name == "" {
				panic("the test's panic")
			}
			if audited {
				audit("test.write", "test", name)
			}
			return db.Exec(`INSERT INTO users (username, full_name, password_hash, created_at) VALUES (?, 'U', 'x', now())`, name).Error
		})
	}
}

// A group keeps each write's own outcome, and two writes of one bag are never in one group:
// of two receipts of a bag, one waits for the other to commit and is refused, and a
// verification of the bag waits in turn and sees the receipt.
func TestWritesWaitingTogetherCommitTogether(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	b := preparedBag(t, st)
	b.scan(t, domain.ScanDispatch, 5)
	ctx := context.Background()
	receipt := b.custodyScan(domain.ScanReceive, 5)
	ofNoKnownBag := func(bagID string) domain.BedsideRequest {
		return b.bedsideRequest("MRN0001", domain.CustodyScan{Code: bagID + "A", CodeKind: domain.CodeManual, BagID: bagID})
	}
	var first, second domain.CustodyEvent
	var firstErr, secondErr, unknownErr, noBagErr, bagErr error
	var unknown, noBag, ofBag domain.Verification

	queued, release := st.HoldGroupsForTest()
	wait := queueInOrder(t, queued,
		func() { first, firstErr = st.RecordScan(ctx, b.nurse, receipt) },
		func() { second, secondErr = st.RecordScan(ctx, b.nurse, receipt) },
		func() { unknown, unknownErr = st.Verify(ctx, b.nurse, ofNoKnownBag("W00000000000000000001")) },
		func() { noBag, noBagErr = st.Verify(ctx, b.nurse, ofNoKnownBag("")) },
		func() { ofBag, bagErr = st.Verify(ctx, b.nurse, b.bedsideRequest("MRN0001", domain.CustodyScan{})) },
	)
	release()
	wait()

	for name, err := range map[string]error{"verification of an unknown bag": unknownErr,
		"verification without a bag": noBagErr, "verification of the bag": bagErr} {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// The groups are written at once, so either receipt may lock the bag first.
	accepted, refused := first, second
	acceptedErr, refusedErr := firstErr, secondErr
	if !first.Accepted {
		accepted, refused, acceptedErr, refusedErr = second, first, secondErr, firstErr
	}
	if acceptedErr != nil || !accepted.Accepted || accepted.BagStatus != domain.BagReceived {
		t.Fatalf("receipts: %+v, %v and %+v, %v; want one accepted", first, firstErr, second, secondErr)
	}
	if domain.ErrorCode(refusedErr) != domain.EConflict || refused.Accepted || refused.ID == 0 {
		t.Fatalf("the other receipt of the same bag: %+v, %v; want it kept and refused as a conflict", refused, refusedErr)
	}
	if unknown.Pass || noBag.Pass || unknown.ID == 0 || noBag.ID == 0 {
		t.Fatalf("verifications naming no known bag: %+v, %+v; want both kept and failed", unknown, noBag)
	}
	if !ofBag.Pass {
		t.Fatalf("verification of the received bag: %+v; want a pass", ofBag)
	}
	if !sameTransaction(t, st, rowWithID("custody_scans", first.ID), rowWithID("verifications", unknown.ID), rowWithID("verifications", noBag.ID)) {
		t.Fatal("the first receipt and the two verifications naming no known bag were not written in one transaction")
	}
	if sameTransaction(t, st, rowWithID("custody_scans", first.ID), rowWithID("custody_scans", second.ID)) {
		t.Fatal("two scans of one bag were written in one transaction")
	}
	if got := st.WriteGroupStats(); got.Groups < 1 || got.Together < 3 || got.Redone != 0 {
		t.Fatalf("write group counts: %+v; want at least one group of three, nothing redone", got)
	}
	bag, err := st.DoseBag(ctx, b.bag.ID)
	if err != nil || bag.Status != domain.BagVerified {
		t.Fatalf("bag after the writes: %+v, %v; want verified", bag, err)
	}
	mustVerify(t, st)
}

// A group that PostgreSQL refuses is rolled back whole and written again write by write: the
// write it refused fails alone, leaving nothing behind, and the others are stored.
func TestRefusedGroupIsWrittenWriteByWrite(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	b := preparedBag(t, st)
	ctx := context.Background()
	// Refused by the database only, when the INSERT goes out with the COMMIT.
	if _, err := st.SQLDB().Exec(`CREATE FUNCTION refuse_wristband() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.wristband = 'MRN-REFUSED' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_wristband BEFORE INSERT ON verifications FOR EACH ROW EXECUTE FUNCTION refuse_wristband()`); err != nil {
		t.Fatal(err)
	}
	verify := func(wristband string, v *domain.Verification, err *error) func() {
		return func() {
			*v, *err = st.Verify(ctx, b.nurse, domain.BedsideRequest{Wristband: wristband,
				Scan: domain.CustodyScan{Code: "x", CodeKind: domain.CodeManual}, EntryReason: damaged})
		}
	}
	var before, refused, after domain.Verification
	var beforeErr, refusedErr, afterErr error
	queued, release := st.HoldGroupsForTest()
	wait := queueInOrder(t, queued,
		verify("MRN0001", &before, &beforeErr),
		verify("MRN-REFUSED", &refused, &refusedErr),
		verify("MRN0002", &after, &afterErr))
	release()
	wait()

	if beforeErr != nil || afterErr != nil || before.ID == 0 || after.ID == 0 {
		t.Fatalf("the writes the database accepted: %+v, %v and %+v, %v; want both stored", before, beforeErr, after, afterErr)
	}
	if refusedErr == nil || !strings.Contains(refusedErr.Error(), "refused by the test") {
		t.Fatalf("the refused write: %+v, %v; want the database's refusal", refused, refusedErr)
	}
	if got := st.WriteGroupStats(); got.Redone != 3 || got.Together != 0 {
		t.Fatalf("write group counts: %+v; want 3 redone and none committed together", got)
	}
	var kept, audited int
	if err := st.SQLDB().QueryRow(`SELECT (SELECT COUNT(*) FROM verifications), (SELECT COUNT(*) FROM audit_entries WHERE action = 'bedside.verify')`).Scan(&kept, &audited); err != nil {
		t.Fatal(err)
	}
	if kept != 2 || audited != 2 {
		t.Fatalf("%d verifications and %d audit entries of them; want 2 and 2", kept, audited)
	}
	mustVerify(t, st)
}

// Closing the store writes what waits for a group: nothing acknowledged-to-be is dropped.
func TestCloseWritesWhatWaits(t *testing.T) {
	storetest.PostgresOnly(t)
	stores := sharedStores(t, storetest.Postgres, 2)
	b := preparedBag(t, stores[0])
	ctx := context.Background()
	errs := make([]error, 3)
	var writes []func()
	for i := range errs {
		writes = append(writes, func() {
			_, errs[i] = stores[0].Verify(ctx, b.nurse, domain.BedsideRequest{Wristband: "MRN0001",
				Scan: domain.CustodyScan{Code: "x", CodeKind: domain.CodeManual}, EntryReason: damaged})
		})
	}
	queued, _ := stores[0].HoldGroupsForTest()
	wait := queueInOrder(t, queued, writes...)
	if err := stores[0].Close(); err != nil {
		t.Fatal(err)
	}
	wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	var kept int
	if err := stores[1].SQLDB().QueryRow(`SELECT COUNT(*) FROM verifications`).Scan(&kept); err != nil || kept != 3 {
		t.Fatalf("%d verifications stored, %v; want 3", kept, err)
	}
}

// A write whose work panics in a group costs the others nothing, and the panic reaches its own
// caller (where the API's recovery turns it into a 500), not the group writer, which would take
// the whole service down.
func TestPanicInAGroupReachesItsOwnCaller(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	write := func(name string, err *error, panicked *any) func() {
		return func() {
			defer func() { *panicked = recover() }()
			userWrite(st, name, true, err)()
		}
	}
	errs := make([]error, 3)
	panics := make([]any, 3)
	queued, release := st.HoldGroupsForTest()
	wait := queueInOrder(t, queued, write("before", &errs[0], &panics[0]), write("", &errs[1], &panics[1]), write("after", &errs[2], &panics[2]))
	release()
	wait()
	if errs[0] != nil || errs[2] != nil || panics[0] != nil || panics[2] != nil {
		t.Fatalf("the other writes: %v, %v (panics %v, %v); want both stored", errs[0], errs[2], panics[0], panics[2])
	}
	if panics[1] != "the test's panic" {
		t.Fatalf("the panicking write's caller got %v, %v; want its panic", panics[1], errs[1])
	}
	var n int
	if err := st.SQLDB().QueryRow(`SELECT COUNT(*) FROM users WHERE username IN ('before', 'after')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d of the 2 other writes stored, %v", n, err)
	}
	if got := st.WriteGroupStats(); got.Redone != 3 {
		t.Fatalf("write group counts: %+v; want the group of 3 redone", got)
	}
	mustVerify(t, st)
}

// A write still waiting for its group when its deadline passes gives up, as the database being
// unavailable, and is never written after.
func TestQueuedWriteGivesUpAtItsDeadline(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	b := preparedBag(t, st)
	var err error
	queued, release := st.HoldGroupsForTest()
	wait := queueInOrder(t, queued, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err = st.Verify(ctx, b.nurse, domain.BedsideRequest{Wristband: "MRN0001", Scan: domain.CustodyScan{Code: "x", CodeKind: domain.CodeManual}, EntryReason: damaged})
	})
	wait()
	if domain.ErrorCode(err) != domain.EUnavailable {
		t.Fatalf("the write past its deadline: %v; want the database unavailable", err)
	}
	if n := queued(); n != 0 {
		t.Fatalf("%d writes still queued after giving up", n)
	}
	release()
	if _, err := st.Verify(context.Background(), b.nurse, domain.BedsideRequest{Wristband: "MRN0002", Scan: domain.CustodyScan{Code: "x", CodeKind: domain.CodeManual}, EntryReason: damaged}); err != nil {
		t.Fatal(err)
	}
	var kept int
	if err := st.SQLDB().QueryRow(`SELECT COUNT(*) FROM verifications WHERE wristband = 'MRN0001'`).Scan(&kept); err != nil || kept != 0 {
		t.Fatalf("%d verifications of the write that gave up were stored, %v", kept, err)
	}
}

// Nothing unaudited commits in a group either: a write that records no audit entry is rolled
// back, as it is alone, and not committed with the others.
func TestUnauditedWriteDoesNotCommitWithItsGroup(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	errs := make([]error, 3)
	queued, release := st.HoldGroupsForTest()
	wait := queueInOrder(t, queued, userWrite(st, "before", true, &errs[0]), userWrite(st, "unaudited", false, &errs[1]), userWrite(st, "after", true, &errs[2]))
	release()
	wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	var names []string
	rows, err := st.SQLDB().Query(`SELECT username FROM users WHERE username IN ('before', 'unaudited', 'after') ORDER BY username`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if strings.Join(names, ",") != "after,before" {
		t.Fatalf("users stored: %v; want the two audited writes only", names)
	}
}

// A group reads each write's bag and facts, and writes each write's rows, with one statement
// for all its writes (readsTogether, mergeRows): each write still gets its own bag, patient,
// custody and outcome, and each bag its own new status.
func TestAGroupReadsAndWritesEachWritesOwnRows(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	bs := preparedBags(t, st, 6)
	for _, b := range bs[:2] {
		b.scan(t, domain.ScanDispatch, 5)
	}
	for _, b := range bs[4:] {
		b.scan(t, domain.ScanDispatch, 5)
		b.scan(t, domain.ScanReceive, 5)
	}
	ctx := context.Background()
	verify := func(wristband string, b bedside) (domain.Verification, error) {
		return st.Verify(ctx, b.nurse, b.bedsideRequest(wristband, domain.CustodyScan{}))
	}
	events := make([]domain.CustodyEvent, 4)
	scanErrs := make([]error, 4)
	var right, wrong domain.Verification
	var rightErr, wrongErr error

	queued, release := st.HoldGroupsForTest()
	wait := queueInOrder(t, queued,
		func() {
			events[0], scanErrs[0] = st.RecordScan(ctx, bs[0].nurse, bs[0].custodyScan(domain.ScanReceive, 5))
		},
		func() {
			events[1], scanErrs[1] = st.RecordScan(ctx, bs[1].nurse, bs[1].custodyScan(domain.ScanReceive, 12))
		},
		func() {
			events[2], scanErrs[2] = st.RecordScan(ctx, bs[2].nurse, bs[2].custodyScan(domain.ScanReceive, 5))
		},
		func() {
			events[3], scanErrs[3] = st.RecordScan(ctx, bs[3].pharm, bs[3].custodyScan(domain.ScanDispatch, 5))
		},
		func() { right, rightErr = verify("MRN0005", bs[4]) },
		func() { wrong, wrongErr = verify("MRN0005", bs[5]) },
	)
	release()
	wait()

	if rightErr != nil || wrongErr != nil {
		t.Fatalf("verifications: %v, %v", rightErr, wrongErr)
	}
	wantScans := []struct {
		accepted, excursion bool
		status              domain.DoseBagStatus
		code                string
	}{
		{true, false, domain.BagReceived, ""},
		{true, true, domain.BagReceived, ""},
		{false, false, domain.BagPrepared, domain.EConflict}, // never dispatched
		{true, false, domain.BagDispatched, ""},
	}
	for i, w := range wantScans {
		ev := events[i]
		if ev.ID == 0 || ev.Accepted != w.accepted || ev.Excursion != w.excursion || domain.ErrorCode(scanErrs[i]) != w.code {
			t.Errorf("scan of bag %d: %+v, %v; want accepted %v, excursion %v, error %q", i, ev, scanErrs[i], w.accepted, w.excursion, w.code)
		}
		bag, err := st.DoseBag(ctx, bs[i].bag.ID)
		if err != nil || bag.Status != w.status {
			t.Errorf("bag %d after its scan: %s, %v; want %s", i, bag.Status, err, w.status)
		}
	}
	if !right.Pass || right.PatientID != bs[4].patient.ID || right.DoseBagID != bs[4].bag.ID {
		t.Errorf("verification of patient 5's bag: %+v; want a pass naming patient %d and bag %d", right, bs[4].patient.ID, bs[4].bag.ID)
	}
	var failed []string
	for _, c := range wrong.Checks {
		if !c.Pass {
			failed = append(failed, c.Code)
		}
	}
	if wrong.Pass || !slices.Equal(failed, []string{domain.CheckPatientMatch}) || wrong.DoseBagID != bs[5].bag.ID {
		t.Errorf("verification of patient 6's bag at patient 5's bedside: %+v; want only the patient check failed", wrong)
	}
	for i, want := range map[int]domain.DoseBagStatus{4: domain.BagVerified, 5: domain.BagReceived} {
		if bag, err := st.DoseBag(ctx, bs[i].bag.ID); err != nil || bag.Status != want {
			t.Errorf("bag %d after its verification: %s, %v; want %s", i, bag.Status, err, want)
		}
	}
	// What was stored, row by row, and not only what the writes returned.
	for i, ev := range events {
		var got struct {
			Kind                string
			DoseBagID           int64
			Accepted, Excursion bool
		}
		if err := st.Gorm().Raw(`SELECT kind, dose_bag_id, accepted, excursion FROM custody_scans WHERE id = ?`, ev.ID).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		if got.Kind != ev.Kind || got.DoseBagID != bs[i].bag.ID || got.Accepted != wantScans[i].accepted || got.Excursion != wantScans[i].excursion {
			t.Errorf("stored scan of bag %d: %+v; want %s of bag %d, accepted %v, excursion %v", i, got, ev.Kind, bs[i].bag.ID,
				wantScans[i].accepted, wantScans[i].excursion)
		}
	}
	for i, v := range map[int]domain.Verification{4: right, 5: wrong} {
		var got struct {
			DoseBagID, PatientID int64
			Pass                 bool
		}
		if err := st.Gorm().Raw(`SELECT dose_bag_id, patient_id, pass FROM verifications WHERE id = ?`, v.ID).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		if got.DoseBagID != bs[i].bag.ID || got.PatientID != bs[4].patient.ID || got.Pass != (i == 4) {
			t.Errorf("stored verification of bag %d: %+v; want bag %d at patient %d's bedside, pass %v", i, got, bs[i].bag.ID, bs[4].patient.ID, i == 4)
		}
	}
	rows := []string{rowWithID("verifications", right.ID), rowWithID("verifications", wrong.ID)}
	for _, ev := range events {
		rows = append(rows, rowWithID("custody_scans", ev.ID))
	}
	if !sameTransaction(t, st, rows...) {
		t.Fatal("the six writes of six bags were not written in one transaction")
	}
	if got := st.WriteGroupStats(); got.Redone != 0 {
		t.Fatalf("write group counts: %+v; want nothing redone alone", got)
	}
	mustVerify(t, st)
}

// The group writers start with the first write that waits for them: a store that makes none,
// as one-off commands do, runs none.
func TestGroupWritersStartWithTheFirstGroupedWrite(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	if _, err := st.CreateUser(context.Background(), admin, newUser("rn.first", domain.RoleNurse)); err != nil {
		t.Fatal(err)
	}
	if st.GroupWritersStartedForTest() {
		t.Fatal("the group writers started before any grouped write")
	}
	var err error
	userWrite(st, "first.grouped", true, &err)()
	if err != nil {
		t.Fatal(err)
	}
	if !st.GroupWritersStartedForTest() {
		t.Fatal("a grouped write was written, but the group writers did not start")
	}
}

// A group locks its bags in one statement. It must lock them in the order of their bag ids
// whatever order the members came in and whatever plan PostgreSQL picks (two groups locking
// the same bags in different orders could deadlock), and run that statement's generic plan:
// planning it for each group's own arrays costs more than the reads.
func TestGroupLocksBagsInOrderWithAGenericPlan(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	bs := preparedBags(t, st, 4)
	// Dispatching the first two stores their rows again after the others, so that reading the
	// table in its stored order does not give the bag ids' order.
	for _, b := range bs[:2] {
		b.scan(t, domain.ScanDispatch, 5)
	}
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.bag.BagID)
	}
	sorted := slices.Sorted(slices.Values(ids))
	members := slices.Clone(ids)
	slices.Reverse(members)
	const runs = 7 // PostgreSQL plans the first five runs for their own values when left to itself
	for _, seqScan := range []bool{false, true} {
		order, custom, generic, err := st.LockBagsTogetherForTest(context.Background(), members, runs, seqScan)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(order, sorted) {
			t.Errorf("read the table in stored order: %v; bags locked in the order %v, want the order of their ids %v", seqScan, order, sorted)
		}
		if custom != 0 || generic != runs {
			t.Errorf("read the table in stored order: %v; %d runs planned for their own arrays and %d on the generic plan, want 0 and %d",
				seqScan, custom, generic, runs)
		}
	}
}

// A group's facts queries look up each member in turn: each member's own query stays a
// subquery run for each row of the members' arrays (its OFFSET 0), instead of being merged
// into one join that PostgreSQL may plan as a hash join over whole tables.
func TestGroupFactsQueriesLookUpEachMember(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	bs := preparedBags(t, st, 2)
	var mrns, ids []string
	for _, b := range bs {
		mrns, ids = append(mrns, b.patient.MRN), append(ids, b.bag.BagID)
	}
	plans, err := st.GroupFactsPlansForTest(context.Background(), mrns, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 {
		t.Fatalf("plans of %d facts queries, want the bedside facts' and the scan facts'", len(plans))
	}
	for name, plan := range plans {
		var root []struct {
			Plan planNode `json:"Plan"`
		}
		if err := json.Unmarshal([]byte(plan), &root); err != nil || len(root) != 1 {
			t.Fatalf("%s: unreadable plan (%v): %s", name, err, plan)
		}
		if !root[0].Plan.runsPerMember("q", root[0].Plan.aliases()) {
			t.Errorf("%s: the member's query is not run whole for each member:\n%s", name, plan)
		}
	}
}

// planNode is a node of PostgreSQL's EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType string     `json:"Node Type"`
	Alias    string     `json:"Alias"`
	Plans    []planNode `json:"Plans"`
}

// aliases are the relations and functions the node and those under it scan.
func (n planNode) aliases() map[string]bool {
	out := map[string]bool{}
	if n.Alias != "" {
		out[n.Alias] = true
	}
	for _, c := range n.Plans {
		for a := range c.aliases() {
			out[a] = true
		}
	}
	return out
}

// runsPerMember tells whether the plan has a nested loop whose outer side scans only the
// members' arrays (alias members) and whose inner side scans every other relation of all.
func (n planNode) runsPerMember(members string, all map[string]bool) bool {
	if n.NodeType == "Nested Loop" && len(n.Plans) == 2 && n.Plans[0].NodeType == "Function Scan" && n.Plans[0].Alias == members {
		inner := n.Plans[1].aliases()
		whole := true
		for a := range all {
			if a != members && !inner[a] {
				whole = false
			}
		}
		if whole {
			return true
		}
	}
	for _, c := range n.Plans {
		if c.runsPerMember(members, all) {
			return true
		}
	}
	return false
}

// damaged is the entry reason of the tests' typed bag ids.
var damaged = &domain.EntryReason{Code: domain.ReasonLabelDamaged}
