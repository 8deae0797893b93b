package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
)

// demoPassword is the password of every demo user: the demo site is for trying cordtrace out,
// never for patients.
const demoPassword = "demo password"

var demoUsers = []struct {
	username, name string
	role           domain.Role
}{
	{"qc.lab", "Quinn Chen (QC)", domain.RoleQC},
	{"qa.lab", "Ada Park (QA)", domain.RoleQA},
	{"doctor", "Dr. Lin Wu", domain.RolePhysician},
	{"pharmacist", "Pat Ortiz (pharmacy)", domain.RolePharmacist},
	{"pharmacist2", "Rui Santos (pharmacy, second check)", domain.RolePharmacist},
	{"nurse", "Nia Brown (nurse)", domain.RoleNurse},
	{"nurse2", "Sam Lee (nurse, witness)", domain.RoleNurse},
}

// loadDemo fills an empty site with demo users, a released lot with units and two enrolled
// patients, through the same store calls the API makes, so every rule and audit entry applies.
// A site that already has lots is left alone.
func loadDemo(ctx context.Context, st *store.Store, out io.Writer) error {
	if lots, err := st.ListLots(ctx, domain.LotFilter{Limit: 1}); err != nil || len(lots) > 0 {
		return err
	}
	sys := domain.SystemActor("demo")
	actors := map[string]domain.Actor{}
	for _, u := range demoUsers {
		created, err := st.CreateUser(ctx, sys, domain.NewUser{Username: u.username, FullName: u.name, Password: demoPassword, Roles: []domain.Role{u.role}})
		if err != nil {
			return fmt.Errorf("demo user %s: %w", u.username, err)
		}
		actors[u.username] = created.ActingAs(u.role, "demo")
	}
	now := time.Now().UTC()
	qc := actors["qc.lab"]
	don, err := st.CreateDonation(ctx, qc, domain.NewDonation{CollectedAt: now.AddDate(0, 0, -20)})
	if err != nil {
		return err
	}
	for _, test := range domain.DonorTests {
		if _, err := st.RecordDonorTest(ctx, qc, don.ID, domain.DonorTestResult{Test: test, Result: domain.NonReactive, TestedAt: now.AddDate(0, 0, -20)}); err != nil {
			return fmt.Errorf("demo donor test %s: %w", test, err)
		}
	}
	if _, err := st.RecordScreening(ctx, qc, don.ID, domain.DonorScreening{QuestionnaireComplete: true, Outcome: domain.ScreeningAcceptable, ScreenedAt: now.AddDate(0, 0, -20)}); err != nil {
		return fmt.Errorf("demo donor screening: %w", err)
	}
	if _, err := st.DetermineEligibility(ctx, actors["qa.lab"], don.ID, domain.Eligible, demoPassword, ""); err != nil {
		return fmt.Errorf("demo eligibility determination: %w", err)
	}
	lot, err := st.CreateLot(ctx, qc, domain.NewLot{DonationID: don.ID, LotNumber: "DEMO-001", ManufacturedAt: now.AddDate(0, 0, -14), ExpiresAt: now.AddDate(1, 0, 0)})
	if err != nil {
		return err
	}
	if _, err := st.Quarantine(ctx, qc, lot.ID); err != nil {
		return err
	}
	v := func(f float64) *float64 { return &f }
	for _, r := range []domain.QCResult{
		{Test: domain.TestViability, Value: v(92.4)},
		{Test: domain.TestViableCellCount, Value: v(1.2e9)},
		{Test: domain.TestSterility, Result: "negative"},
		{Test: domain.TestMycoplasma, Result: "not_detected"},
		{Test: domain.TestEndotoxin, Value: v(0.12)},
		{Test: domain.TestPhenotype, Markers: map[string]float64{"CD73": 99.1, "CD90": 98.7, "CD105": 97.2, "CD34": 0.4, "CD45": 0.6, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.5}},
		{Test: domain.TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{102, 98, 100}, LPS: []float64{1010, 990, 1000}, Treated: []float64{540, 510, 525}},
	} {
		if _, err := st.AddQCResult(ctx, qc, lot.ID, r); err != nil {
			return fmt.Errorf("demo QC result %s: %w", r.Test, err)
		}
	}
	if _, err := st.Sign(ctx, actors["qa.lab"], lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: demoPassword}); err != nil {
		return fmt.Errorf("demo release: %w", err)
	}
	if _, err := st.CreateUnits(ctx, qc, lot.ID, domain.NewUnits{Count: 6, ViableCells: 40_000_000, VolumeML: 25}); err != nil {
		return err
	}
	for _, p := range []domain.Patient{
		{SubjectID: "SVP-001", MRN: "10000001", Name: "Demo Patient One", DateOfBirth: "1958-03-14", WeightKg: 68, Arm: domain.ArmHUCMSC, EnrolledAt: now.AddDate(0, 0, -1)},
		{SubjectID: "SVP-002", MRN: "10000002", Name: "Demo Patient Two", DateOfBirth: "1964-11-02", WeightKg: 81, Arm: domain.ArmRoutine, EnrolledAt: now.AddDate(0, 0, -1)},
		{SubjectID: "SVP-003", MRN: "10000003", Name: "Demo Patient Three", DateOfBirth: "1971-06-20", WeightKg: 59.5, Arm: domain.ArmHUCMSC, EnrolledAt: now.AddDate(0, 0, -1)},
	} {
		enrolled, err := st.Enrol(ctx, actors["doctor"], p)
		if err != nil {
			return fmt.Errorf("demo patient %s: %w", p.SubjectID, err)
		}
		// SVP-003's dose is already ordered, so that the pharmacy's worklist has work on it.
		if p.SubjectID == "SVP-003" {
			if _, err := st.OrderDose(ctx, actors["doctor"], enrolled.ID); err != nil {
				return fmt.Errorf("demo dose order: %w", err)
			}
		}
	}
	fmt.Fprintf(out, "demo site loaded: lot DEMO-001 released with 6 units; patients SVP-001 (cell arm, wristband 10000001), SVP-002 (routine arm) and SVP-003 (cell arm, wristband 10000003, dose ordered)\n")
	fmt.Fprintf(out, "log in as qc.lab, qa.lab, doctor, pharmacist, pharmacist2 (the second pharmacist's check), nurse or nurse2, each with the password %q\n", demoPassword)
	return nil
}
