package store_test

import (
	"context"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// A typed bedside entry and the infusion of an exceptionally released lot record their
// deviations themselves, once each; a physician signs one off after its corrective action.
func TestAutomaticDeviations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBag(t, st)
		b.scan(t, domain.ScanDispatch, 5)
		b.scan(t, domain.ScanReceive, 5)
		db := st.Gorm()
		if err := db.Exec(`UPDATE lots SET status = 'quarantine' WHERE id = ?`, b.lot.ID).Error; err != nil {
			t.Fatal(err)
		}
		for _, sg := range []struct {
			action domain.SignatureAction
			by     domain.Actor
		}{{domain.SignExceptionalQA, b.pharm}, {domain.SignExceptionalPhysician, b.doc}} {
			if err := db.Exec(`INSERT INTO signatures (lot_id, action, user_id, printed_name, role, meaning, patient_id, signed_at)
				VALUES (?, ?, ?, 'Test', 'qa', 'test', ?, ?)`, b.lot.ID, string(sg.action), sg.by.UserID, b.patient.ID, time.Now().UTC()).Error; err != nil {
				t.Fatal(err)
			}
		}
		v := b.verify(t, "MRN0001", domain.CustodyScan{}) // the bag's id typed, with an entry reason
		if !v.Pass {
			t.Fatalf("verification: %+v", v)
		}
		inf, err := st.StartInfusion(ctx, b.nurse, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		list, err := st.Deviations(ctx, domain.DeviationFilter{Open: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("deviations %+v; want the typed entry and the exceptional infusion", list)
		}
		infusion, typed := list[0], list[1]
		if infusion.Trigger != domain.TriggerExceptionalInfusion || infusion.EntityID != inf.ID || infusion.SubjectID != "SVP-001" ||
			infusion.Category != domain.DeviationProduct || infusion.RecordedBy != b.nurse.UserID {
			t.Fatalf("infusion deviation %+v", infusion)
		}
		if typed.Trigger != domain.TriggerTypedBedsideEntry || typed.EntityID != v.ID || typed.PatientID != b.patient.ID {
			t.Fatalf("typed-entry deviation %+v", typed)
		}

		// Sign-off needs the corrective action first, and a physician's own password.
		if _, err := st.SignDeviation(ctx, b.doc, infusion.ID, "correct horse battery", "reviewed"); domain.ErrorCode(err) != domain.ERuleViolated {
			t.Fatalf("sign-off without a corrective action: %v", err)
		}
		if _, err := st.SetCorrectiveAction(ctx, b.doc, infusion.ID, "sponsor informed; lot investigated"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SignDeviation(ctx, b.doc, infusion.ID, "wrong password", "reviewed"); domain.ErrorCode(err) != domain.EUnauthenticated {
			t.Fatalf("sign-off with a wrong password: %v", err)
		}
		signed, err := st.SignDeviation(ctx, b.doc, infusion.ID, "correct horse battery", "reviewed with the sponsor")
		if err != nil {
			t.Fatal(err)
		}
		if signed.SignedAt == nil || signed.PrintedName != b.doc.FullName || signed.Meaning == "" {
			t.Fatalf("signed deviation %+v", signed)
		}
		if _, err := st.SetCorrectiveAction(ctx, b.doc, infusion.ID, "changed"); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("corrective action after sign-off: %v", err)
		}
		if open, _ := st.Deviations(ctx, domain.DeviationFilter{Open: true}); len(open) != 1 {
			t.Fatalf("open deviations after sign-off: %d", len(open))
		}
		mustVerify(t, st)
	})
}

// A missed assessment is recorded once per patient and time point, however often it is seen.
func TestMissedAssessmentDeviationOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBag(t, st)
		due := time.Now().AddDate(0, 0, -1)
		for range 2 {
			if err := st.RecordAutomaticDeviation(ctx, b.nurse, domain.MissedAssessmentDeviation(b.patient.ID, 7, due)); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.RecordAutomaticDeviation(ctx, b.nurse, domain.MissedAssessmentDeviation(b.patient.ID, 14, due)); err != nil {
			t.Fatal(err)
		}
		list, err := st.Deviations(ctx, domain.DeviationFilter{})
		if err != nil || len(list) != 2 || list[0].Category != domain.DeviationAssessmentSchedule {
			t.Fatalf("deviations %+v %v; want one for day 7 and one for day 14", list, err)
		}
	})
}

// The deviation is written in the transaction of the verification that is one: when it cannot
// be written, the verification is not recorded either.
func TestAutomaticDeviationSharesTheTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		b := preparedBag(t, st)
		b.scan(t, domain.ScanDispatch, 5)
		b.scan(t, domain.ScanReceive, 5)
		db := st.Gorm()
		refuse := []string{`CREATE TRIGGER refuse_deviations BEFORE INSERT ON protocol_deviations
			BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`}
		if st.Dialect() == "postgres" {
			refuse = []string{`CREATE FUNCTION refuse_deviation() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END; $$`,
				`CREATE TRIGGER refuse_deviations BEFORE INSERT ON protocol_deviations FOR EACH ROW EXECUTE FUNCTION refuse_deviation()`}
		}
		for _, q := range refuse {
			if err := db.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.Verify(context.Background(), b.nurse, b.bedsideRequest("MRN0001", domain.CustodyScan{})); err == nil {
			t.Fatal("the verification was recorded without its deviation")
		}
		var n int64
		if err := db.Table("verifications").Count(&n).Error; err != nil || n != 0 {
			t.Fatalf("verifications recorded: %d (%v); want none", n, err)
		}
	})
}

// The versions of an adverse event's report cannot be changed or deleted, even by SQL.
func TestAdverseEventVersionsAreAppendOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		b := preparedBag(t, st)
		if _, err := st.ReportAdverseEvent(context.Background(), b.doc, domain.AdverseEvent{PatientID: b.patient.ID, Severity: "mild",
			Description: "rash", OnsetAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		db := st.Gorm()
		if err := db.Exec(`UPDATE adverse_event_versions SET description = 'nothing'`).Error; err == nil {
			t.Fatal("a version was changed")
		}
		if err := db.Exec(`DELETE FROM adverse_event_versions`).Error; err == nil {
			t.Fatal("a version was deleted")
		}
	})
}
