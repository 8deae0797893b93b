package domain

import (
	"strings"
	"testing"
	"time"
)

// Every branch of LotUsability: removing one makes its row fail.
func TestLotUsability(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	later, earlier := now.AddDate(0, 6, 0), now.Add(-time.Hour)
	const patient = 7
	cases := []struct {
		name    string
		status  LotStatus
		expires time.Time
		excFor  int64
		usable  bool
		blocked bool
		reason  string
	}{
		{"released", LotReleased, later, 0, true, false, "lot L-1 is released by QA"},
		{"released but expired", LotReleased, earlier, 0, false, true, "lot L-1 expired on 2026-11-25"},
		{"exceptional for this patient", LotQuarantine, later, patient, true, false, "released by exception for this patient only"},
		{"exceptional for another patient", LotQuarantine, later, 8, false, false, "in quarantine and not released for this patient"},
		{"quarantine", LotQuarantine, later, 0, false, false, "in quarantine"},
		{"exceptional but expired", LotQuarantine, earlier, patient, false, true, "expired on"},
		{"in process, even with exceptional signatures", LotInProcess, later, patient, false, false, "still in manufacture"},
		{"on hold", LotOnHold, later, patient, false, true, "lot L-1 is on hold"},
		{"recalled", LotRecalled, later, 0, false, true, "is recalled"},
		{"rejected", LotRejected, later, 0, false, true, "is rejected"},
		{"expired status", LotExpired, later, 0, false, true, "is expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := LotUsability(LotFacts{LotNumber: "L-1", Status: string(tc.status), ExpiresAt: tc.expires, ExceptionalForPatientID: tc.excFor}, patient, now)
			if u.Usable != tc.usable || u.Blocked != tc.blocked || !strings.Contains(u.Reason, tc.reason) {
				t.Fatalf("got %+v, want usable %v blocked %v reason %q", u, tc.usable, tc.blocked, tc.reason)
			}
			if LotStatusBlocks(tc.status) && !u.Blocked {
				t.Fatal("a blocking status is not blocked")
			}
		})
	}
	// No patient named (the pages): an exceptional release is usable by no one else.
	if u := LotUsability(LotFacts{LotNumber: "L-1", Status: "quarantine", ExpiresAt: later}, 0, now); u.Usable {
		t.Fatal("quarantine usable without a patient")
	}
}

func TestCanStartInfusion(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	good := func() InfusionStartFacts {
		return InfusionStartFacts{Now: now, VerificationID: 3, Pass: true, Complete: true, VerifiedAt: now.Add(-5 * time.Minute),
			MaxAge: 30 * time.Minute, Lot: LotFacts{LotNumber: "L-1", Status: "released", ExpiresAt: now.AddDate(1, 0, 0)},
			PatientID: 7, BagExpires: now.Add(time.Hour), BagStatus: BagVerified}
	}
	if err := CanStartInfusion(good()); err != nil {
		t.Fatalf("good start refused: %v", err)
	}
	cases := []struct {
		name string
		edit func(*InfusionStartFacts)
		code string
		msg  string
	}{
		{"failed verification", func(f *InfusionStartFacts) { f.Pass, f.Failed = false, "DOSE" }, ERuleViolated, "did not pass (DOSE)"},
		{"verification without a bag", func(f *InfusionStartFacts) { f.Complete = false }, ERuleViolated, "did not pass"},
		{"verification too old", func(f *InfusionStartFacts) { f.VerifiedAt = now.Add(-30 * time.Minute) }, ERuleViolated, "30 minutes old"},
		{"lot recalled since", func(f *InfusionStartFacts) { f.Lot.Status = "recalled" }, ERuleViolated, "Lot L-1 is recalled"},
		{"lot expired since", func(f *InfusionStartFacts) { f.Lot.ExpiresAt = now }, ERuleViolated, "expired on"},
		{"exceptional for another patient", func(f *InfusionStartFacts) { f.Lot.Status, f.Lot.ExceptionalForPatientID = "quarantine", 8 }, ERuleViolated, "not released for this patient"},
		{"bag expired", func(f *InfusionStartFacts) { f.BagExpires = now }, ERuleViolated, "the bag expired"},
		{"bag returned", func(f *InfusionStartFacts) { f.BagStatus = BagReturned }, EConflict, "returned"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := good()
			tc.edit(&f)
			err := CanStartInfusion(f)
			if ErrorCode(err) != tc.code || !strings.Contains(ErrorMessage(err), tc.msg) {
				t.Fatalf("got %v (%s), want %s with %q", err, ErrorCode(err), tc.code, tc.msg)
			}
		})
	}
}
