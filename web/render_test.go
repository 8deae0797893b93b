package web

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/web/charts"
)

// Every page renders, with the data it is given, once the templates are parsed at start; a
// page added to PageNames without test data here fails.
func TestEveryPageRenders(t *testing.T) {
	pages, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	qa := &domain.User{Username: "qa", FullName: "Q. A.", Roles: []domain.Role{domain.RoleQA, domain.RoleQC}}
	lot := domain.Lot{ID: 1, LotNumber: "L-1", DIN: "A999926000001", Status: domain.LotOnHold, ExpiresAt: now}
	spec := domain.DefaultSpecV1()
	vol := 48.5
	bag := domain.BagTrace{Bag: domain.DoseBag{ID: 3, BagID: "A999926000001S1234VAa", PatientID: 9, ViableCells: 70_000_000, Status: domain.BagInfused},
		SubjectID: "SVP-001", Custody: []domain.CustodyEvent{{Kind: "dispatch", Location: "ICU", Accepted: true, ScannedAt: now}},
		Verifications: []domain.VerificationSummary{{Pass: false, Failed: []string{"PATIENT_MATCH"}, VerifiedAt: now}, {Pass: true, VerifiedAt: now}},
		Infusion:      &domain.Infusion{StartedAt: now, EndedAt: &now, VolumeML: &vol}}
	doc := &domain.User{Username: "dr", FullName: "Dr Cho", Roles: []domain.Role{domain.RolePhysician}}
	patient := domain.Patient{ID: 9, SubjectID: "SVP-001", MRN: "MRN0001", Name: "Li Wei", DateOfBirth: "1960-05-01", WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: now}
	order := domain.DoseOrder{ID: 1, PatientID: 9, WeightKg: 70, TargetViableCells: 70_000_000, SpecVersion: 1, Status: "open", OrderedAt: now}
	task := domain.RecallTask{ID: 1, LotNumber: "L-1", UnitOrBag: "dose_bag", DoseBagID: 3, EyeReadable: "A9999 26 000001 S1234 V Aa K", SubjectID: "SVP-002", Location: domain.AtWard, Cause: domain.RecallCauseRecall, Status: domain.TaskOpen, ItemStatus: "received"}
	views := map[string]View{
		"login": {Title: "Log in", Flash: "the username or password is wrong", Data: loginData{Username: "qa"}},
		"lots":  {Title: "Lots", User: qa, Data: lotsData{Lots: []domain.Lot{lot}, Statuses: domain.LotStatuses, Status: "on_hold", Query: "L-"}},
		"lot": {Title: "Lot L-1", User: qa, Data: lotData{LotDetail: domain.LotDetail{Lot: domain.Lot{ID: 1, LotNumber: "L-1", Status: domain.LotQuarantine},
			Evaluation: domain.Evaluate(spec, nil), Units: []domain.Unit{{ID: 1, ViableCells: 35_000_000}}, Spec: spec}, Markers: []markerField{{Key: "CD73", Label: "CD73"}},
			CanAudit: true, Audit: []domain.AuditEntry{{Seq: 1, Action: "lot.create", At: now}},
			SignActions:    []domain.SignatureAction{domain.SignRelease, domain.SignReject},
			Recall:         []domain.RecallTask{task, {ID: 2, UnitOrBag: "unit", EyeReadable: "U", Status: domain.TaskDestroyed, ClosedAt: &now, ClosedBy: "Ph", Reason: "<i>r</i>"}},
			RecallProgress: domain.RecallProgress{Total: 2, Closed: 1}}},
		"pharmacy":      {Title: "Pharmacy", User: qa, Data: pharmacyData{Orders: []domain.OrderWaiting{{DoseOrder: domain.DoseOrder{ID: 1, TargetViableCells: 70_000_000}, SubjectID: "SVP-001"}}, Recall: []domain.RecallTask{task}}},
		"prepare":       {Title: "Prepare dose SVP-001", User: qa, Data: prepareData{Order: domain.OrderWaiting{SubjectID: "SVP-001"}, Units: []domain.AvailableUnit{{LotNumber: "L-1"}}, Spec: spec}},
		"scan":          {Title: "Dispatch dose bags", User: qa, Data: scanData{Kind: "dispatch", Endpoint: "/api/v1/scans/dispatch", Heading: "Dispatch dose bags", Place: "Destination ward"}},
		"bedside":       {Title: "Bedside", User: qa, Data: bedsideData{Recall: []domain.RecallTask{task}}},
		"trace":         {Title: "Trace", User: qa, Flash: "No lot has that number", Data: []domain.Lot{lot}},
		"lot_trace":     {Title: "Trace lot L-1", User: qa, Data: domain.LotTrace{Lot: lot, Bags: []domain.BagTrace{bag}, AdverseEvents: []domain.AdverseEvent{{Serious: true, Description: "fever"}}}},
		"patient_trace": {Title: "Trace SVP-001", User: qa, Data: domain.PatientTrace{Patient: domain.Patient{SubjectID: "SVP-001"}, Lots: []domain.Lot{lot}, Bags: []domain.BagTrace{bag}}},
		"dashboards":    {Title: "Dashboards", User: qa, Data: dashIndexData{Sections: dashSections}},
		"patients": {Title: "Patients", User: doc, Data: patientsData{Query: "SVP", Arms: []domain.Arm{domain.ArmHUCMSC, domain.ArmRoutine},
			Patients: []domain.PatientSummary{{Patient: patient, Order: &order, BagStatus: domain.BagDispatched}, {Patient: domain.Patient{ID: 10, SubjectID: "SVP-002", Arm: domain.ArmRoutine}}, {Patient: patient, Infused: true}}}},
		"patient": {Title: "Patient SVP-001", User: doc, Data: patientData{PatientDetail: domain.PatientDetail{PatientSummary: domain.PatientSummary{Patient: patient, Order: &order},
			Weights: []domain.WeightRecord{{WeightKg: 70, RecordedBy: "Dr Cho", RecordedAt: now}}, Orders: []domain.DoseOrder{order}, WindowFirst: "2026-11-26", WindowLast: "2026-11-26",
			SiteTimeZone: "UTC", CellsPerKg: 1e6, TolerancePct: 10, SpecVersion: 1, TargetNow: 70_000_000},
			Bags: []domain.BagTrace{bag}, AdverseEvents: []domain.AdverseEvent{{Serious: true, Severity: "severe", Description: "fever", OnsetAt: now}},
			Notices:  []domain.RecallNotice{{ID: 1, LotNumber: "L-1", Cause: domain.RecallCauseRecall, Reason: "<b>r</b>", CreatedAt: now}, {ID: 2, LotNumber: "L-2", Cause: domain.RecallCauseHold, AcknowledgedAt: &now, AcknowledgedBy: "Dr"}},
			CanOrder: true, PerKg: 1_000_000, TargetLow: 63_000_000, TargetHigh: 77_000_000, Severities: domain.Severities}},
		"users": {Title: "Users", User: qa, Data: usersData{Users: []userLine{{User: domain.User{ID: 1, Username: "admin", FullName: "Admin", Roles: []domain.Role{domain.RoleAdmin}}, Me: true},
			{User: domain.User{ID: 2, Username: "rn.dee", FullName: "Dee", Roles: []domain.Role{domain.RoleNurse}, DisabledAt: &now, DisabledReason: "left"}},
			{User: domain.User{ID: 3, Username: "rn.fay", FullName: "Fay", Roles: []domain.Role{domain.RoleNurse}}, LockedUntil: &now}}}},
		"donation": {Title: "Donation", User: qa, Data: donationData{Tests: domain.DonorTests, DonationDetail: domain.DonationDetail{
			Donation:       domain.Donation{ID: 1, EyeReadable: "A9999 26 000001", Check: "8", Eligibility: domain.Ineligible},
			Required:       []domain.RequiredDonorTest{{Test: domain.DonorTestHIV, Label: "HIV-1/2", Result: &domain.DonorTestResult{Result: domain.Reactive, TestedAt: now}}, {Test: domain.DonorTestCMV, Label: "CMV"}},
			Screenings:     []domain.DonorScreening{{QuestionnaireComplete: true, Outcome: domain.ScreeningAcceptable, Notes: "<b>x</b>", ScreenedAt: now}},
			Determinations: []domain.EligibilityDetermination{{PrintedName: "QA Bob", Determination: domain.Ineligible, Reason: "HIV reactive", Meaning: "m", Signed: true, SignedAt: now}},
			LookBack: domain.LookBack{Lots: []domain.Lot{lot}, Units: []domain.Unit{{EyeReadable: "A9999 26 000001 S1234 V A0"}},
				Bags: []domain.LookBackBag{{BagID: "b", SubjectID: "SVP-001", Infused: true}}, Patients: []domain.LookBackPatient{{SubjectID: "SVP-001", Infused: true}}}}}},
		"safety": {Title: "Safety reports", User: doc, Data: safetyData{Overdue: 1, Reports: []domain.SafetyWorkItem{{SafetyReport: domain.SafetyReport{ID: 1,
			AdverseEventID: 2, Kind: domain.ReportSAE, DueAt: now, Overdue: true}, SubjectID: "SVP-001", Term: "Pneumonia", Grade: 3,
			SeriousCriteria: []string{domain.CriterionHospitalisation}, SUSAR: true, Version: 2, AwareAt: now}}}},
		"deviations": {Title: "Protocol deviations", User: doc, Data: deviationsData{Categories: domain.DeviationCategories,
			Patients: []domain.PatientSummary{{Patient: patient}}, Deviations: []domain.Deviation{
				{ID: 1, NewDeviation: domain.NewDeviation{Category: domain.DeviationProduct, Description: "x", CorrectiveAction: "y", Trigger: domain.TriggerExceptionalInfusion}, RecordedAt: now},
				{ID: 2, NewDeviation: domain.NewDeviation{Category: domain.DeviationOther, Description: "z", CorrectiveAction: "w"}, SignedAt: &now, PrintedName: "Dr Cho"}}}},
		"adverse_event": {Title: "Adverse event 2", User: doc, Data: adverseEventData{Open: true, AEOptions: newAEOptions(), AdverseEventDetail: domain.AdverseEventDetail{
			AdverseEvent: domain.AdverseEvent{ID: 2, Serious: true, Term: "Pneumonia", Grade: 3, SeriousCriteria: []string{domain.CriterionHospitalisation}, ReportDueAt: &now},
			SubjectID:    "SVP-001", Versions: []domain.AEReport{{Version: 1, Term: "Pneumonia", Grade: 3, AwareAt: now, ReportedAt: now}},
			Reports: []domain.SafetyReport{{Kind: domain.ReportSAE, DueAt: now, Overdue: true}, {Kind: domain.ReportSUSAR15, DueAt: now, SentAt: &now, Late: true}}}}},
		"trial": {Title: "Trial", User: qa, Data: trialData{TrialSummary: domain.TrialSummary{InUse: true,
			Lists: []domain.AllocationListInfo{{SHA256: strings.Repeat("a", 64), Count: 40, Used: 3, SignedBy: "Q. A.", SignedAt: now}},
			Arms:  []domain.ArmCount{{Arm: domain.ArmHUCMSC, Enrolled: 2, Randomized: 2}, {Arm: domain.ArmRoutine, Enrolled: 1, Randomized: 1}}}}},
		"follow_up_worklist": {Title: "Follow-up", User: doc, Data: worklistData{Due: []domain.AssessmentDue{{PatientID: 9, SubjectID: "SVP-001", Day: 1, Date: "2026-11-26", Overdue: true, DaysLate: 3}}}},
		"follow_up": {Title: "Follow-up SVP-001", User: doc, Data: followUpData{FollowUp: domain.FollowUp{PatientID: 9, SubjectID: "SVP-001", Arm: domain.ArmHUCMSC, Day0: "2026-11-25",
			Outcomes: []domain.Outcome{{Kind: domain.OutcomeDeath, Date: "2026-11-30", Cause: "ARDS"}}, Due: []domain.AssessmentDue{{Day: 1, Date: "2026-11-26", Overdue: true}}},
			Measurements: domain.Measurements, Days: domain.DefaultAssessmentDays, Kinds: []domain.OutcomeKind{domain.OutcomeDeath},
			Rows: []assessmentLine{{Assessment: domain.Assessment{Day: 0, TakenAt: now}, Values: []string{"42", "", "", "", "", ""}}}}},
		"endpoints": {Title: "Trial endpoints", User: doc, Data: endpointPanels(domain.ComputeEndpoints([]domain.EndpointSubject{{Arm: domain.ArmHUCMSC, EnrolledAt: now,
			Outcomes: []domain.Outcome{{Kind: domain.OutcomeDischarge, Date: "2026-12-01"}}, Assessments: []domain.Assessment{{Day: 0, CRP: new(float64)}}}}, domain.DefaultAssessmentDays, time.UTC, now.AddDate(0, 0, 10)))},
		"dashboard": {Title: "Lots and QC trends", User: qa, Data: dashData{Filters: []filter{{Name: "days", Label: "Within", Options: []option{{Value: "90", Label: "90 days", Selected: true}}}},
			Panels: []panel{{ID: "lots", Title: "Lots by status", Note: "note", Charts: []template.HTML{charts.Bars{ID: "lots", Title: "Lots", Labels: []string{"quarantine"}, Values: [][]float64{{2}}}.SVG()},
				Table: table{Head: []string{"Status", "Lots"}, Rows: [][]string{{"quarantine", "2"}}}}, {ID: "empty", Title: "Nothing", Table: table{Head: []string{"A"}}}}}},
	}
	for _, name := range PageNames {
		v, ok := views[name]
		if !ok {
			t.Errorf("no test data for page %s", name)
			continue
		}
		rec := httptest.NewRecorder()
		if err := pages.Render(rec, http.StatusOK, name, v); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		body := rec.Body.String()
		if !strings.Contains(body, "<title>"+v.Title+" · cordtrace</title>") || !strings.Contains(body, `name="viewport"`) {
			t.Errorf("%s: page lacks its title or viewport", name)
		}
		if v.Flash != "" && !strings.Contains(body, v.Flash) {
			t.Errorf("%s: flash message not shown", name)
		}
	}
}

// A blocked lot is flagged wherever it appears: lists, lot page, traces.
func TestBlockedLotsAreFlagged(t *testing.T) {
	pages, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	u := &domain.User{FullName: "N", Roles: []domain.Role{domain.RoleNurse}}
	for _, st := range []domain.LotStatus{domain.LotOnHold, domain.LotRecalled} {
		lot := domain.Lot{ID: 1, LotNumber: "L-9", Status: st}
		for name, data := range map[string]any{
			"lots":          lotsData{Lots: []domain.Lot{lot}},
			"lot":           lotData{LotDetail: domain.LotDetail{Lot: lot}, SignActions: []domain.SignatureAction{domain.SignRelease}},
			"lot_trace":     domain.LotTrace{Lot: lot},
			"patient_trace": domain.PatientTrace{Lots: []domain.Lot{lot}},
		} {
			rec := httptest.NewRecorder()
			if err := pages.Render(rec, http.StatusOK, name, View{Title: "x", User: u, Data: data}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			body := rec.Body.String()
			if !strings.Contains(body, `class="stop`) && !strings.Contains(body, "stop-word") {
				t.Errorf("%s does not flag a lot %s", name, st)
			}
		}
	}
}

func TestSafeNextStaysOnSite(t *testing.T) {
	for in, want := range map[string]string{
		"/lots/3": "/lots/3", "/patients?subject=SVP-0": "/patients?subject=SVP-0",
		"//evil.example": "", "https://evil.example": "", "": "", "/\\evil": "",
		// Browsers drop tabs and line breaks from addresses: each of these is //evil.example.
		"/\t/evil.example": "", "/\n/evil.example": "", "/\r/evil.example": "", "/ /evil.example": "",
		"javascript:alert(1)": "", "/\x00/evil.example": "",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatCells(t *testing.T) {
	for n, want := range map[int64]string{70_000_000: "7.00 × 10^7", 1: "1.00 × 10^0", 0: "0"} {
		if got := formatCells(n); got != want {
			t.Errorf("formatCells(%d) = %q, want %q", n, got, want)
		}
	}
}
