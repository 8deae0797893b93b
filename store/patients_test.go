package store_test

import (
	"context"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// The physician's list: patients by subject id with their current weight, latest dose order,
// its bag and whether they were infused; a search by the start of a subject id; a search
// that could act as a LIKE wildcard is refused.
func TestListPatients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		vid := verifiedBag(t, st) // SVP-001, ordered, bag verified at the bedside
		doc, err := st.CreateUser(ctx, admin, newUser("dr.list", domain.RolePhysician))
		if err != nil {
			t.Fatal(err)
		}
		nurse, err := st.CreateUser(ctx, admin, newUser("rn.list", domain.RoleNurse))
		if err != nil {
			t.Fatal(err)
		}
		dr := actorFor(doc, domain.RolePhysician)
		if _, err := st.StartInfusion(ctx, actorFor(nurse, domain.RoleNurse), vid); err != nil {
			t.Fatal(err)
		}
		enrol := func(subject, mrn string, arm domain.Arm) domain.Patient {
			t.Helper()
			p, err := st.Enrol(ctx, dr, domain.Patient{SubjectID: subject, MRN: mrn, Name: "Patient " + subject, DateOfBirth: "1970-01-02",
				WeightKg: 60, Arm: arm, EnrolledAt: time.Now().UTC().Add(-time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		enrol("SVP-011", "MRN0011", domain.ArmHUCMSC)
		routine := enrol("SVP-002", "MRN0002", domain.ArmRoutine)
		ordered := enrol("SVP-010", "MRN0010", domain.ArmHUCMSC)
		if _, err := st.RecordWeight(ctx, actorFor(nurse, domain.RoleNurse), ordered.ID, 64.5, ""); err != nil {
			t.Fatal(err)
		}
		order, err := st.OrderDose(ctx, dr, ordered.ID)
		if err != nil {
			t.Fatal(err)
		}

		all, err := st.ListPatients(ctx, domain.PatientFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for _, p := range all {
			subjects = append(subjects, p.SubjectID)
		}
		if len(all) != 4 || subjects[0] != "SVP-001" || subjects[1] != "SVP-002" || subjects[2] != "SVP-010" || subjects[3] != "SVP-011" {
			t.Fatalf("patients listed: %v, want the four by subject id", subjects)
		}
		infused, rout, ord, none := all[0], all[1], all[2], all[3]
		if !infused.Infused || infused.Order == nil || infused.Order.Status != "filled" || infused.BagStatus != domain.BagInfused || infused.WeightKg != 70 {
			t.Errorf("infused patient: %+v (order %+v)", infused, infused.Order)
		}
		if rout.ID != routine.ID || rout.Arm != domain.ArmRoutine || rout.Order != nil || rout.Infused || rout.Name != "Patient SVP-002" || rout.MRN != "MRN0002" {
			t.Errorf("routine patient: %+v", rout)
		}
		if ord.Order == nil || ord.Order.ID != order.ID || ord.Order.Status != "open" || ord.BagStatus != "" || ord.WeightKg != 64.5 || ord.Infused {
			t.Errorf("patient with an open order: %+v (order %+v), want the latest weight 64.5 and the open order", ord, ord.Order)
		}
		if none.Order != nil || none.Infused || none.BagStatus != "" {
			t.Errorf("patient without an order: %+v", none)
		}

		found, err := st.ListPatients(ctx, domain.PatientFilter{Subject: " svp-01"})
		if err != nil || len(found) != 2 || found[0].SubjectID != "SVP-010" || found[1].SubjectID != "SVP-011" {
			t.Fatalf("search svp-01: %+v %v", found, err)
		}
		if few, err := st.ListPatients(ctx, domain.PatientFilter{Limit: 1}); err != nil || len(few) != 1 {
			t.Fatalf("limit 1: %d %v", len(few), err)
		}
		for _, bad := range []string{"SVP%", "_", "SVP-0' OR 1=1"} {
			if _, err := st.ListPatients(ctx, domain.PatientFilter{Subject: bad}); domain.ErrorCode(err) != domain.EInvalid {
				t.Errorf("search %q: %v, want invalid", bad, err)
			}
		}
	})
}

// A patient's page: every weight with who recorded it, every dose order, the target an order
// placed now would get, and the infusion window counted in the site's time zone (a store that
// used UTC would name the wrong day).
func TestPatientDetail(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			clk := newClock() // 2026-11-25 08:00 UTC
			st := storetest.Open(t, b, store.Options{Site: shanghai, Now: clk.Now})
			ctx := context.Background()
			doc, err := st.CreateUser(ctx, admin, newUser("dr.det", domain.RolePhysician))
			if err != nil {
				t.Fatal(err)
			}
			nurse, err := st.CreateUser(ctx, admin, newUser("rn.det", domain.RoleNurse))
			if err != nil {
				t.Fatal(err)
			}
			dr := actorFor(doc, domain.RolePhysician)
			// Enrolled 2026-11-25 20:00 UTC, which is already the 26th in Shanghai: infusion on the 27th.
			enrolled := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
			clk.Advance(13 * time.Hour) // 21:00 UTC, after the enrolment
			p, err := st.Enrol(ctx, dr, domain.Patient{SubjectID: "SVP-020", MRN: "MRN0020", Name: "Zhao Lei", DateOfBirth: "1965-03-04",
				WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: enrolled})
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Hour)
			if _, err := st.RecordWeight(ctx, actorFor(nurse, domain.RoleNurse), p.ID, 72.5, ""); err != nil {
				t.Fatal(err)
			}
			d, err := st.PatientDetail(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d.WindowFirst != "2026-11-27" || d.WindowLast != "2026-11-27" || d.SiteTimeZone != "Asia/Shanghai" {
				t.Errorf("window %s to %s (%s), want 2026-11-27 in Asia/Shanghai", d.WindowFirst, d.WindowLast, d.SiteTimeZone)
			}
			if d.InWindowNow { // 2026-11-25 22:00 UTC is the 26th in Shanghai
				t.Error("in the window a day early")
			}
			if len(d.Weights) != 2 || d.Weights[0].WeightKg != 70 || d.Weights[0].RecordedBy != "Full dr.det" || d.Weights[1].WeightKg != 72.5 || d.Weights[1].RecordedBy != "Full rn.det" {
				t.Errorf("weights: %+v", d.Weights)
			}
			if d.WeightKg != 72.5 || d.TargetNow != 72_500_000 || d.CellsPerKg != 1e6 || d.TolerancePct != 10 || d.SpecVersion != 1 {
				t.Errorf("detail: weight %v, target %d, %v/kg ± %v %% (v%d)", d.WeightKg, d.TargetNow, d.CellsPerKg, d.TolerancePct, d.SpecVersion)
			}
			if ok, why := d.CanOrder(); !ok || len(d.Orders) != 0 {
				t.Errorf("before ordering: can order %v (%s), %d orders", ok, why, len(d.Orders))
			}
			order, err := st.OrderDose(ctx, dr, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(4 * time.Hour) // 2026-11-26 02:00 UTC: the infusion day in UTC, still the 26th in Shanghai
			if d, err = st.PatientDetail(ctx, p.ID); err != nil {
				t.Fatal(err)
			}
			if d.InWindowNow {
				t.Error("in the window on the UTC infusion day, which is not the site's")
			}
			clk.Advance(15 * time.Hour) // 2026-11-26 17:00 UTC: the 27th, 01:00 in Shanghai
			if d, err = st.PatientDetail(ctx, p.ID); err != nil {
				t.Fatal(err)
			}
			if !d.InWindowNow {
				t.Error("not in the window on the infusion day, site time")
			}
			if len(d.Orders) != 1 || d.Orders[0].ID != order.ID || d.Orders[0].TargetViableCells != 72_500_000 || d.Order == nil || d.Order.ID != order.ID {
				t.Errorf("orders: %+v latest %+v", d.Orders, d.Order)
			}
			if ok, why := d.CanOrder(); ok || why == "" {
				t.Error("with an open order, the page would offer a second")
			}
			if _, err := st.PatientDetail(ctx, p.ID+100); domain.ErrorCode(err) != domain.ENotFound {
				t.Errorf("unknown patient: %v", err)
			}
		})
	}
}
