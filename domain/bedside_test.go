package domain

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// goodFacts is a bedside scan where everything is right: 70 kg subject enrolled yesterday
// (site time), bag with exactly the target dose, received and witnessed.
func goodFacts() BedsideFacts {
	enrolled := time.Date(2026, 11, 24, 15, 0, 0, 0, shanghai)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, shanghai)
	p := &Patient{ID: 7, SubjectID: "SVP-007", MRN: "MRN0007", Name: "Li Wei", DateOfBirth: "1961-03-02", WeightKg: 70, Arm: ArmHUCMSC, EnrolledAt: enrolled}
	return BedsideFacts{
		Now: now, Site: shanghai,
		Label: LabelFacts{CodeKind: CodeQR, ScannedSerial: 1, CurrentSerial: 1,
			Key: PrintKey{KeyID: "kA", Known: true, SignedPrint: true, SignedAt: enrolled}},
		WristbandMRN: "MRN0007",
		Patient:      p,
		Bag: &BagFacts{BagID: "B-1", PatientID: 7, LabelMRN: "MRN0007", ExpiresAt: now.Add(2 * time.Hour),
			ViableCells: 70_000_000, Dispatched: true, Received: true},
		Lot:         &LotFacts{LotNumber: "L-1", Status: "released", ExpiresAt: now.AddDate(1, 0, 0)},
		Protocol:    ProtocolRule{CellsPerKg: 1e6, DoseTolerancePct: 10, InfusionDayOffset: 1, WindowDays: 0},
		Order:       &OrderFacts{TargetViableCells: 70_000_000, SpecVersion: 1, OrderReviewFacts: OrderReviewFacts{OrderWeightKg: 70, TolerancePct: 10, LaterWeightID: 0}},
		NurseUserID: 1,
		Witness:     WitnessFacts{Authenticated: true, UserID: 2, Name: "Nurse Two", Roles: []Role{RoleNurse}},
	}
}

func TestBedsideAllPass(t *testing.T) {
	v := VerifyBedside(goodFacts())
	if !v.Pass || len(v.Failed()) != 0 {
		t.Fatalf("verdict = %+v", v)
	}
	var codes []string
	for _, c := range v.Checks {
		codes = append(codes, c.Code)
		if c.Message == "" {
			t.Errorf("%s has no message", c.Code)
		}
	}
	if !slices.Equal(codes, BedsideChecks) {
		t.Fatalf("checks %v, want every check in order %v", codes, BedsideChecks)
	}
}

// For each check, one change that fails that check and no other: the verdict names exactly it.
func TestBedsideEachCheckFailsAlone(t *testing.T) {
	cases := []struct {
		code  string
		name  string
		edit  func(*BedsideFacts)
		inMsg string
	}{
		{CheckLabelAuthentic, "forged label", func(f *BedsideFacts) { f.Label.Refusal = "signature does not match" }, "signature does not match"},
		{CheckLabelAuthentic, "superseded print", func(f *BedsideFacts) { f.Label.CurrentSerial = 2 }, "print 2 replaced it"},
		{CheckLabelAuthentic, "typed without a reason", func(f *BedsideFacts) { f.Label.CodeKind = CodeManual }, "not proven"},
		{CheckPatientMatch, "label for another MRN", func(f *BedsideFacts) { f.Bag.LabelMRN = "MRN0008" }, "WRONG PATIENT"},
		{CheckPatientMatch, "bag prepared for another patient", func(f *BedsideFacts) { f.Bag.PatientID = 8 }, "WRONG PATIENT"},
		{CheckArm, "routine arm", func(f *BedsideFacts) { f.Patient.Arm = ArmRoutine }, "routine"},
		{CheckLotReleased, "lot on hold", func(f *BedsideFacts) { f.Lot.Status = "on_hold" }, "on hold"},
		{CheckLotReleased, "lot recalled", func(f *BedsideFacts) { f.Lot.Status = "recalled" }, "recalled"},
		{CheckLotReleased, "lot in quarantine", func(f *BedsideFacts) { f.Lot.Status = "quarantine" }, "not released"},
		{CheckLotReleased, "exceptional release for someone else", func(f *BedsideFacts) {
			f.Lot.Status, f.Lot.ExceptionalForPatientID = "quarantine", 99
		}, "not released"},
		{CheckNotExpired, "bag expired", func(f *BedsideFacts) { f.Bag.ExpiresAt = f.Now }, "bag expired"},

		{CheckDose, "11 % over", func(f *BedsideFacts) { f.Bag.ViableCells = 77_700_000 }, "+11.0 %"},
		{CheckDose, "a later weight awaits review", func(f *BedsideFacts) {
			f.Patient.WeightKg, f.Order.LaterWeightID, f.Order.LaterWeightKg = 80, 9, 80
		}, "A later weight awaits the physician's review: 80.0 kg was recorded after the dose was ordered for 70.0 kg"},
		{CheckDose, "judged against the order, not the latest weight", func(f *BedsideFacts) {
			f.Patient.WeightKg, f.Bag.ViableCells = 90, 90_000_000
			f.Order.LaterWeightID, f.Order.LaterWeightKg, f.Order.ConfirmedWeightID = 9, 90, 9
		}, "WRONG DOSE: the bag holds 9.00×10^7 viable cells; the order's target for 70.0 kg is 7.00×10^7"},
		{CheckDose, "the order's tolerance, not the current spec's", func(f *BedsideFacts) {
			f.Protocol.DoseTolerancePct, f.Order.TolerancePct, f.Bag.ViableCells = 20, 5, 74_200_000
		}, "allowed ±5 %"},
		{CheckDose, "no order", func(f *BedsideFacts) { f.Order = nil }, "its order"},
		{CheckWindow, "day 0", func(f *BedsideFacts) {
			f.Now = time.Date(2026, 11, 24, 23, 59, 0, 0, shanghai)
			f.Bag.ExpiresAt = f.Now.Add(time.Hour)
		}, "2026-11-25"},
		{CheckWindow, "day 2", func(f *BedsideFacts) {
			f.Now = time.Date(2026, 11, 26, 0, 0, 0, 0, shanghai)
			f.Bag.ExpiresAt = f.Now.Add(time.Hour)
		}, "not the protocol infusion day"},
		{CheckNotInfused, "patient already infused", func(f *BedsideFacts) { f.PatientInfused = true }, "already received"},
		{CheckNotInfused, "bag already infused", func(f *BedsideFacts) { f.Bag.Infused = true }, "already been infused"},
		{CheckCustody, "never dispatched", func(f *BedsideFacts) { f.Bag.Dispatched = false }, "pharmacy"},
		{CheckCustody, "not received", func(f *BedsideFacts) { f.Bag.Received = false }, "receipt"},
		{CheckCustody, "open excursion", func(f *BedsideFacts) { f.Bag.OpenExcursion = true }, "2–8 °C"},
		{CheckCustody, "returned to the pharmacy", func(f *BedsideFacts) { f.Bag.TakenBack = BagReturned }, "was returned"},
		{CheckCustody, "discarded", func(f *BedsideFacts) { f.Bag.TakenBack = BagDiscarded }, "was discarded"},
		{CheckWitness, "no witness", func(f *BedsideFacts) { f.Witness = WitnessFacts{Problem: "wrong password"} }, "wrong password"},
		{CheckWitness, "self-witness", func(f *BedsideFacts) { f.Witness.UserID = f.NurseUserID }, "different person"},
		{CheckWitness, "pharmacist witness", func(f *BedsideFacts) { f.Witness.Roles = []Role{RolePharmacist} }, "cannot witness"},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.code+"/"+tc.name, func(t *testing.T) {
			f := goodFacts()
			tc.edit(&f)
			v := VerifyBedside(f)
			if v.Pass {
				t.Fatal("verdict passed")
			}
			if failed := v.Failed(); !slices.Equal(failed, []string{tc.code}) {
				t.Fatalf("failed checks %v, want only %s", failed, tc.code)
			}
			for _, c := range v.Checks {
				if c.Code == tc.code && !strings.Contains(c.Message, tc.inMsg) {
					t.Fatalf("message %q does not say %q", c.Message, tc.inMsg)
				}
			}
		})
		covered[tc.code] = true
	}
	for _, code := range BedsideChecks {
		if !covered[code] {
			t.Errorf("no case fails %s alone", code)
		}
	}
}

// An expired lot is unusable (LOT_RELEASED) and expired (NOT_EXPIRED): both say so.
func TestBedsideExpiredLot(t *testing.T) {
	f := goodFacts()
	f.Lot.ExpiresAt = f.Now.Add(-time.Minute)
	v := VerifyBedside(f)
	if failed := v.Failed(); !slices.Equal(failed, []string{CheckLotReleased, CheckNotExpired}) {
		t.Fatalf("failed %v", failed)
	}
	if !strings.Contains(v.Checks[4].Message, "Lot L-1 expired") || !strings.Contains(v.Checks[3].Message, "expired on") {
		t.Fatalf("messages %q / %q", v.Checks[3].Message, v.Checks[4].Message)
	}
}

// A PASS names the person: name and date of birth beside the MRN and subject id; a STOP names
// the failed checks.
func TestVerdictMessage(t *testing.T) {
	p := &PatientIdent{Name: "Li Wei", DateOfBirth: "1961-03-02", MRN: "MRN0007", SubjectID: "SVP-007"}
	msg := VerdictMessage(true, nil, p)
	for _, want := range []string{"PASS", "Li Wei", "1961-03-02", "MRN0007", "SVP-007"} {
		if !strings.Contains(msg, want) {
			t.Errorf("PASS %q does not say %s", msg, want)
		}
	}
	if msg := VerdictMessage(false, []string{CheckDose}, p); !strings.Contains(msg, "STOP") || !strings.Contains(msg, CheckDose) || strings.Contains(msg, "Li Wei") {
		t.Errorf("STOP %q", msg)
	}
}

func TestBedsideExceptionalReleaseForThisPatient(t *testing.T) {
	f := goodFacts()
	f.Lot.Status, f.Lot.ExceptionalForPatientID = "quarantine", f.Patient.ID
	if v := VerifyBedside(f); !v.Pass {
		t.Fatalf("exceptional release for this patient refused: %v", v.Failed())
	}
	f.Lot.Status = "on_hold" // a hold overrides the exception
	if v := VerifyBedside(f); v.Pass {
		t.Fatal("lot on hold passed under an exceptional release")
	}
}

func TestBedsideUnknownBagOrPatientFailsSafe(t *testing.T) {
	f := goodFacts()
	f.Bag, f.Lot, f.Label.Refusal = nil, nil, "no dose bag has that id"
	v := VerifyBedside(f)
	if v.Pass || len(v.Failed()) < 5 {
		t.Fatalf("unknown bag: %v", v.Failed())
	}
	f = goodFacts()
	f.Patient, f.WristbandMRN = nil, "NOBODY1"
	v = VerifyBedside(f)
	for _, code := range []string{CheckPatientMatch, CheckArm, CheckDose, CheckWindow, CheckNotInfused} {
		if !slices.Contains(v.Failed(), code) {
			t.Errorf("unknown patient: %s passed", code)
		}
	}
}

func TestDoseTolerance(t *testing.T) {
	const target = 70_000_000
	cases := []struct {
		cells int64
		ok    bool
	}{
		{target, true},
		{77_000_000, true},  // +10 %: at the bound
		{76_999_999, true},  // just inside
		{77_000_001, false}, // just outside
		{63_000_000, true},  // -10 %
		{63_000_001, true},
		{62_999_999, false},
		{0, false},
	}
	for _, tc := range cases {
		if got := DoseWithinTolerance(tc.cells, target, 10); got != tc.ok {
			t.Errorf("%d cells vs %d: within=%v, want %v (deviation %.6f %%)", tc.cells, target, got, tc.ok, DoseDeviationPct(tc.cells, target))
		}
	}
	if got := TargetDose(72.35, 1e6); got != 72_350_000 {
		t.Errorf("TargetDose(72.35 kg) = %d", got)
	}
	if got := VolumeToDraw(70_000_000, 100_000_000, 50); got != 35 {
		t.Errorf("VolumeToDraw = %v, want 35 mL", got)
	}
	if got := VolumeToDraw(200, 100, 50); got != 50 {
		t.Errorf("VolumeToDraw above bag = %v, want the whole bag", got)
	}
}

// The infusion day is a calendar day in the site's zone, not 24 hours after enrolment.
func TestInfusionWindowUsesSiteCalendar(t *testing.T) {
	enrolled := time.Date(2026, 11, 24, 23, 30, 0, 0, shanghai) // 15:30 UTC
	cases := []struct {
		now  time.Time
		want bool
	}{
		{time.Date(2026, 11, 24, 23, 59, 0, 0, shanghai), false},
		{time.Date(2026, 11, 25, 0, 0, 0, 0, shanghai), true},
		{time.Date(2026, 11, 25, 23, 59, 59, 0, shanghai), true},
		{time.Date(2026, 11, 26, 0, 0, 0, 0, shanghai), false},
		{time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC), true}, // 00:00 the 25th in Shanghai
	}
	for _, tc := range cases {
		if got := InWindow(tc.now, enrolled, shanghai, 1, 0); got != tc.want {
			t.Errorf("now %v: in window = %v, want %v", tc.now, got, tc.want)
		}
	}
	if !InWindow(time.Date(2026, 11, 26, 12, 0, 0, 0, shanghai), enrolled, shanghai, 1, 1) {
		t.Error("window ±1 day excludes day 2")
	}
}

func TestPatientValidate(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	good := Patient{SubjectID: "SVP-001", MRN: "12345678", Name: "A B", DateOfBirth: "1960-05-01", WeightKg: 70, Arm: ArmHUCMSC, EnrolledAt: now}
	cases := []struct {
		name  string
		edit  func(*Patient)
		field string
	}{
		{"valid", func(*Patient) {}, ""},
		{"subject id format", func(p *Patient) { p.SubjectID = "svp1" }, "subject_id"},
		{"mrn with space", func(p *Patient) { p.MRN = "123 456" }, "mrn"},
		{"no name", func(p *Patient) { p.Name = " " }, "name"},
		{"dob format", func(p *Patient) { p.DateOfBirth = "01/05/1960" }, "date_of_birth"},
		{"dob future", func(p *Patient) { p.DateOfBirth = "2027-01-01" }, "date_of_birth"},
		{"weight at min", func(p *Patient) { p.WeightKg = MinWeightKg }, ""},
		{"weight below min", func(p *Patient) { p.WeightKg = 1.99 }, "weight_kg"},
		{"weight at max", func(p *Patient) { p.WeightKg = MaxWeightKg }, ""},
		{"weight in grams", func(p *Patient) { p.WeightKg = 70000 }, "weight_kg"},
		{"arm", func(p *Patient) { p.Arm = "placebo" }, "arm"},
		{"enrolled in future", func(p *Patient) { p.EnrolledAt = now.Add(time.Hour) }, "enrolled_at"},
	}
	for _, tc := range cases {
		p := good
		tc.edit(&p)
		err := p.Validate(now)
		if (tc.field == "" && err != nil) || (tc.field != "" && ErrorField(err) != tc.field) {
			t.Errorf("%s: err = %v, want field %q", tc.name, err, tc.field)
		}
	}
}

func TestValidateEntry(t *testing.T) {
	for _, tc := range []struct {
		entry string
		ok    bool
	}{
		{"", true}, {EntryScanned, true}, {EntryTyped, true}, {EntryCamera, true},
		{"Scanned", false}, {"keyboard", false}, {" typed", false},
	} {
		err := ValidateEntry("code_entry", tc.entry)
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.entry, err, tc.ok)
		}
		if err != nil && ErrorField(err) != "code_entry" {
			t.Errorf("%q: field %q, want code_entry", tc.entry, ErrorField(err))
		}
	}
}

func TestCellsText(t *testing.T) {
	for n, want := range map[int64]string{
		70_000_000: "7.00×10^7", 72_500_000: "7.25×10^7", 1_200_000_000: "1.20×10^9", 7: "7.00×10^0",
		99_999_999: "1.00×10^8", 99_949_999: "9.99×10^7", 0: "0",
	} {
		if got := CellsText(n); got != want {
			t.Errorf("CellsText(%d) = %q, want %q", n, got, want)
		}
	}
}

// Sending the bag back is offered only from a STOP about the bag itself; a STOP the bedside
// puts right (a witness's typo, a label to rescan, a receipt not scanned, an order awaiting the
// physician) keeps the bag, and a PASS offers nothing.
func TestBagMayGoBack(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *BedsideFacts)
		offer  bool
	}{
		{"a PASS", func(f *BedsideFacts) {}, false},
		{"lot on hold", func(f *BedsideFacts) { f.Lot.Status = "on_hold" }, true},
		{"lot recalled", func(f *BedsideFacts) { f.Lot.Status = "recalled" }, true},
		{"lot past its expiry", func(f *BedsideFacts) { f.Lot.ExpiresAt = f.Now.Add(-time.Hour) }, true},
		{"bag past its 4 hours", func(f *BedsideFacts) { f.Bag.ExpiresAt = f.Now.Add(-time.Minute) }, true},
		{"temperature excursion", func(f *BedsideFacts) { f.Bag.OpenExcursion = true }, true},
		{"wrong dose", func(f *BedsideFacts) { f.Bag.ViableCells = 90_000_000 }, true},
		{"bag for another patient (or the wrong wristband)", func(f *BedsideFacts) { f.Bag.PatientID = 8; f.Bag.LabelMRN = "MRN0008" }, true},
		{"witness typo", func(f *BedsideFacts) { f.Witness = WitnessFacts{Problem: "wrong password"} }, false},
		{"old print scanned", func(f *BedsideFacts) { f.Label.ScannedSerial = 1; f.Label.CurrentSerial = 2 }, false},
		{"not received on the ward yet", func(f *BedsideFacts) { f.Bag.Received = false }, false},
		{"a later weight awaits the physician", func(f *BedsideFacts) { f.Order.LaterWeightID, f.Order.LaterWeightKg = 9, 90 }, false},
		{"already returned", func(f *BedsideFacts) { f.Bag.TakenBack = BagReturned; f.Lot.Status = "recalled" }, false},
		{"already infused", func(f *BedsideFacts) { f.Bag.Infused = true; f.Bag.OpenExcursion = true }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := goodFacts()
			tc.change(&f)
			if v := VerifyBedside(f); v.ReturnOffered != tc.offer {
				t.Fatalf("return offered %v, want %v (failed %v)", v.ReturnOffered, tc.offer, v.Failed())
			}
		})
	}
}
