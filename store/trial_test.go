package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// trialTeam is a QA signer and a physician who enrols.
func trialTeam(t *testing.T, st *store.Store) (qa, dr domain.Actor) {
	t.Helper()
	ctx := context.Background()
	q, err := st.CreateUser(ctx, admin, newUser("qa.trial", domain.RoleQA))
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.CreateUser(ctx, admin, newUser("dr.trial", domain.RolePhysician))
	if err != nil {
		t.Fatal(err)
	}
	return actorFor(q, domain.RoleQA), actorFor(d, domain.RolePhysician)
}

func subject(n int, arm domain.Arm) domain.Patient {
	return domain.Patient{SubjectID: fmt.Sprintf("SVP-%03d", n), MRN: fmt.Sprintf("MRN%04d", n), Name: fmt.Sprintf("Patient %d", n),
		DateOfBirth: "1960-05-06", WeightKg: 70, Arm: arm, EnrolledAt: time.Now().UTC().Add(-time.Hour)}
}

// Once a list is loaded, enrolment takes its allocations in sequence order, an arm in the
// request is refused, a second list is refused while the first has allocations left, and the
// list's hash and signature are recorded and audited.
func TestRandomizationFromTheList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		qa, dr := trialTeam(t, st)
		// Before any list, the arm is chosen at enrolment (and required).
		if _, err := st.Enrol(ctx, dr, subject(1, "")); domain.ErrorField(err) != "arm" {
			t.Fatalf("no list, no arm: %v", err)
		}
		if p, err := st.Enrol(ctx, dr, subject(1, domain.ArmRoutine)); err != nil || p.Arm != domain.ArmRoutine || p.AllocationSequence != 0 {
			t.Fatalf("no list: %+v %v", p, err)
		}
		rows, err := domain.ParseAllocationCSV("sequence,arm\n2,routine\n1,huc_msc\n3,huc_msc\n")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.LoadAllocations(ctx, qa, "wrong password", rows); domain.ErrorCode(err) != domain.EUnauthenticated {
			t.Fatalf("wrong password: %v", err)
		}
		list, err := st.LoadAllocations(ctx, qa, "correct horse battery", rows)
		if err != nil {
			t.Fatal(err)
		}
		if list.SHA256 != domain.AllocationSHA256(rows) || list.Count != 3 || list.SignedBy != "Full qa.trial" {
			t.Fatalf("list: %+v", list)
		}
		if _, err := st.LoadAllocations(ctx, qa, "correct horse battery", []domain.Allocation{{Sequence: 9, Arm: domain.ArmRoutine}}); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("second list while the first is in use: %v", err)
		}
		if _, err := st.Enrol(ctx, dr, subject(2, domain.ArmHUCMSC)); domain.ErrorCode(err) != domain.ERuleViolated || domain.ErrorField(err) != "arm" {
			t.Fatalf("arm chosen with a list in use: %v", err)
		}
		var got []string
		for n := 2; n <= 4; n++ {
			p, err := st.Enrol(ctx, dr, subject(n, ""))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d:%s", p.AllocationSequence, p.Arm))
		}
		if fmt.Sprint(got) != "[1:huc_msc 2:routine 3:huc_msc]" {
			t.Fatalf("allocations taken: %v, want sequence order", got)
		}
		if _, err := st.Enrol(ctx, dr, subject(5, "")); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("list used up: %v", err)
		}
		// A used-up list makes way for the next, numbered on from the last.
		if _, err := st.LoadAllocations(ctx, qa, "correct horse battery", []domain.Allocation{{Sequence: 3, Arm: domain.ArmRoutine}}); domain.ErrorField(err) != "rows" {
			t.Fatalf("sequence reused across lists: %v", err)
		}
		if _, err := st.LoadAllocations(ctx, qa, "correct horse battery", []domain.Allocation{{Sequence: 4, Arm: domain.ArmRoutine}}); err != nil {
			t.Fatal(err)
		}
		sum, err := st.TrialSummary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !sum.InUse || len(sum.Lists) != 2 || sum.Lists[0].Used != 3 || sum.Lists[1].Used != 0 {
			t.Fatalf("summary lists: %+v", sum)
		}
		if fmt.Sprint(sum.Arms) != "[{huc_msc 2 2} {routine 2 1}]" {
			t.Fatalf("arms: %+v", sum.Arms)
		}
		entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "allocation_list"})
		if err != nil || len(entries) != 2 || entries[0].Action != "allocation_list.load" {
			t.Fatalf("audit: %+v %v", entries, err)
		}
		// A given allocation is fixed in the database too.
		if err := st.Gorm().Exec("UPDATE allocations SET arm = 'routine' WHERE sequence = 1").Error; err == nil {
			t.Fatal("a given allocation's arm was changed")
		}
		mustVerify(t, st)
	})
}

// Enrolments at once never take the same allocation, and take them all.
func TestConcurrentEnrolmentsTakeDistinctAllocations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		qa, dr := trialTeam(t, st)
		const n = 12
		var rows []domain.Allocation
		for i := 1; i <= n; i++ {
			rows = append(rows, domain.Allocation{Sequence: i, Arm: domain.Arms[i%2]})
		}
		if _, err := st.LoadAllocations(ctx, qa, "correct horse battery", rows); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		seqs := make([]int, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				p, err := st.Enrol(ctx, dr, subject(100+i, ""))
				seqs[i], errs[i] = p.AllocationSequence, err
			}(i)
		}
		wg.Wait()
		seen := map[int]bool{}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("enrolment %d: %v", i, errs[i])
			}
			if seen[seqs[i]] {
				t.Fatalf("allocation %d taken twice: %v", seqs[i], seqs)
			}
			seen[seqs[i]] = true
		}
		if len(seen) != n {
			t.Fatalf("allocations taken: %v", seqs)
		}
	})
}

// Follow-up in the store: assessments and outcomes are checked, audited and listed; the
// worklist shows what is due, overdue first, and nothing for a patient whose follow-up ended;
// the database itself refuses an implausible value.
func TestFollowUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		_, dr := trialTeam(t, st)
		now := time.Now().UTC()
		p1 := subject(1, domain.ArmHUCMSC)
		p1.EnrolledAt = now.AddDate(0, 0, -8)
		a, err := st.Enrol(ctx, dr, p1)
		if err != nil {
			t.Fatal(err)
		}
		p2 := subject(2, domain.ArmRoutine)
		p2.EnrolledAt = now.AddDate(0, 0, -2)
		b, err := st.Enrol(ctx, dr, p2)
		if err != nil {
			t.Fatal(err)
		}
		crp := 42.0
		if _, err := st.RecordAssessment(ctx, dr, domain.Assessment{PatientID: a.ID, Day: 0, TakenAt: p1.EnrolledAt, CRP: &crp}); err != nil {
			t.Fatal(err)
		}
		bad := 1.5
		if _, err := st.RecordAssessment(ctx, dr, domain.Assessment{PatientID: a.ID, Day: 1, TakenAt: p1.EnrolledAt.AddDate(0, 0, 1), PFRatio: &bad}); domain.ErrorField(err) != "pf_ratio_mmhg" {
			t.Fatalf("P/F 1.5: %v", err)
		}
		if _, err := st.RecordAssessment(ctx, dr, domain.Assessment{PatientID: a.ID, Day: 0, TakenAt: p1.EnrolledAt, CRP: &crp}); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("day 0 twice: %v", err)
		}
		w, err := st.FollowUpWorklist(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Patient 1 (day 8): days 1 and 3 overdue, day 7 due; patient 2 (day 2): day 0 overdue, day 1 due.
		var got []string
		for _, d := range w {
			got = append(got, fmt.Sprintf("%s/%d/%v", d.SubjectID, d.Day, d.Overdue))
		}
		if fmt.Sprint(got) != "[SVP-001/1/true SVP-001/3/true SVP-002/0/true SVP-001/7/false SVP-002/1/false]" {
			t.Fatalf("worklist: %v", got)
		}
		if _, err := st.RecordOutcome(ctx, dr, domain.Outcome{PatientID: b.ID, Kind: domain.OutcomeDeath, Date: now.Format(time.DateOnly)}); domain.ErrorField(err) != "cause" {
			t.Fatalf("death without cause: %v", err)
		}
		if _, err := st.RecordOutcome(ctx, dr, domain.Outcome{PatientID: b.ID, Kind: domain.OutcomeWithdrawal, Date: p2.EnrolledAt.Format(time.DateOnly), Reason: "consent withdrawn"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RecordOutcome(ctx, dr, domain.Outcome{PatientID: b.ID, Kind: domain.OutcomeDischarge, Date: now.Format(time.DateOnly)}); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("discharge after withdrawal: %v", err)
		}
		if w, _ = st.FollowUpWorklist(ctx); len(w) != 3 {
			t.Fatalf("worklist after the withdrawal: %+v", w)
		}
		f, err := st.FollowUp(ctx, a.ID)
		if err != nil || len(f.Assessments) != 1 || *f.Assessments[0].CRP != 42 || len(f.Due) != 3 || f.Day0 != p1.EnrolledAt.Format(time.DateOnly) {
			t.Fatalf("follow-up: %+v %v", f, err)
		}
		entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "patient", EntityID: fmt.Sprint(b.ID)})
		if err != nil || entries[len(entries)-1].Action != "outcome.withdrawal" {
			t.Fatalf("audit: %+v %v", entries, err)
		}
		if err := st.Gorm().Exec("INSERT INTO assessments (patient_id, day, taken_at, pf_ratio_mmhg, recorded_by, recorded_at) VALUES (?, 3, ?, 1.5, 1, ?)", a.ID, now, now).Error; err == nil {
			t.Fatal("the database took a P/F ratio of 1.5")
		}
		mustVerify(t, st)
	})
}

// A record of a later day is where cordtrace sees a missed assessment: recording it records a
// deviation (assessment_schedule, by the recorder, in the same transaction) for each earlier
// protocol day past its grace and not assessed, once per patient and day; a day still within
// its grace, or after follow-up ended, is not missed.
func TestMissedAssessmentSeenByALaterRecord(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		_, dr := trialTeam(t, st)
		now := time.Now().UTC()
		p1 := subject(1, domain.ArmHUCMSC)
		p1.EnrolledAt = now.AddDate(0, 0, -8)
		a, err := st.Enrol(ctx, dr, p1)
		if err != nil {
			t.Fatal(err)
		}
		p2 := subject(2, domain.ArmRoutine)
		p2.EnrolledAt = now.AddDate(0, 0, -30)
		b, err := st.Enrol(ctx, dr, p2)
		if err != nil {
			t.Fatal(err)
		}
		crp := 42.0
		assess := func(day int) {
			t.Helper()
			if _, err := st.RecordAssessment(ctx, dr, domain.Assessment{PatientID: a.ID, Day: day, TakenAt: p1.EnrolledAt.AddDate(0, 0, day), CRP: &crp}); err != nil {
				t.Fatal(err)
			}
		}
		missed := func() []string {
			t.Helper()
			list, err := st.Deviations(ctx, domain.DeviationFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, d := range list {
				if d.Category != domain.DeviationAssessmentSchedule || d.Trigger != domain.TriggerMissedAssessment || d.RecordedBy != dr.UserID {
					t.Fatalf("deviation %+v", d)
				}
				out = append(out, fmt.Sprintf("%s/%s", d.SubjectID, d.EntityType))
			}
			return out
		}
		assess(0)
		if got := missed(); len(got) != 0 {
			t.Fatalf("after day 0: %v", got)
		}
		// Day 3 recorded on day 8: day 1 was missed.
		assess(3)
		if got := fmt.Sprint(missed()); got != "[SVP-001/patient.day_1]" {
			t.Fatalf("after day 3: %s", got)
		}
		// A discharge today (day 8) sees day 1 again, once; day 7 is within its day of grace.
		if _, err := st.RecordOutcome(ctx, dr, domain.Outcome{PatientID: a.ID, Kind: domain.OutcomeDischarge, Date: now.Format(time.DateOnly)}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(missed()); got != "[SVP-001/patient.day_1]" {
			t.Fatalf("after the discharge: %s", got)
		}
		// A death on day 2 recorded on day 30: days 0 and 1 were missed, day 3 never due.
		if _, err := st.RecordOutcome(ctx, dr, domain.Outcome{PatientID: b.ID, Kind: domain.OutcomeDeath, Cause: "sepsis",
			Date: p2.EnrolledAt.AddDate(0, 0, 2).Format(time.DateOnly)}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(missed()); got != "[SVP-002/patient.day_1 SVP-002/patient.day_0 SVP-001/patient.day_1]" {
			t.Fatalf("after the death: %s", got)
		}
		entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "protocol_deviation"})
		if err != nil || len(entries) != 3 || entries[0].Action != "deviation.record" {
			t.Fatalf("audit: %d entries %v", len(entries), err)
		}
		mustVerify(t, st)
	})
}
