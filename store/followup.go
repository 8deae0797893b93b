package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"cordtrace/domain"
)

type assessmentRow struct {
	ID                int64 `gorm:"primaryKey"`
	PatientID         int64
	Day               int
	TakenAt           time.Time
	CrpMgL            *float64 `gorm:"column:crp_mg_l"`
	Il6PgMl           *float64 `gorm:"column:il6_pg_ml"`
	PctNgMl           *float64 `gorm:"column:pct_ng_ml"`
	ViralLoadCopiesMl *float64 `gorm:"column:viral_load_copies_ml"`
	PfRatioMmhg       *float64 `gorm:"column:pf_ratio_mmhg"`
	ImagingScore      *float64 `gorm:"column:imaging_score"`
	RecordedBy        int64
	RecordedAt        time.Time
}

func (assessmentRow) TableName() string { return "assessments" }

func (r assessmentRow) toDomain() domain.Assessment {
	return domain.Assessment{ID: r.ID, PatientID: r.PatientID, Day: r.Day, TakenAt: r.TakenAt.UTC(), CRP: r.CrpMgL, IL6: r.Il6PgMl,
		PCT: r.PctNgMl, ViralLoad: r.ViralLoadCopiesMl, PFRatio: r.PfRatioMmhg, ImagingScore: r.ImagingScore}
}

type outcomeRow struct {
	ID         int64 `gorm:"primaryKey"`
	PatientID  int64
	Kind       string
	Date       string
	Cause      string
	Reason     string
	RecordedBy int64
	RecordedAt time.Time
}

func (outcomeRow) TableName() string { return "outcomes" }

func (r outcomeRow) toDomain() domain.Outcome {
	return domain.Outcome{ID: r.ID, PatientID: r.PatientID, Kind: domain.OutcomeKind(r.Kind), Date: r.Date, Cause: r.Cause, Reason: r.Reason}
}

// followUpRecords are the assessments and outcomes of some patients, oldest first, by patient.
type followUpRecords struct {
	assessments map[int64][]domain.Assessment
	outcomes    map[int64][]domain.Outcome
}

// readFollowUp reads the follow-up of the patients ids; nil reads everyone's.
func readFollowUp(db *gorm.DB, ids []int64) (followUpRecords, error) {
	out := followUpRecords{assessments: map[int64][]domain.Assessment{}, outcomes: map[int64][]domain.Outcome{}}
	var as []assessmentRow
	var outs []outcomeRow
	qa, qo := db.Order("id"), db.Order("id")
	if ids != nil {
		qa, qo = qa.Where("patient_id IN ?", ids), qo.Where("patient_id IN ?", ids)
	}
	if err := qa.Find(&as).Error; err != nil {
		return out, fmt.Errorf("read assessments: %w", err)
	}
	if err := qo.Find(&outs).Error; err != nil {
		return out, fmt.Errorf("read outcomes: %w", err)
	}
	for _, a := range as {
		out.assessments[a.PatientID] = append(out.assessments[a.PatientID], a.toDomain())
	}
	for _, o := range outs {
		out.outcomes[o.PatientID] = append(out.outcomes[o.PatientID], o.toDomain())
	}
	return out, nil
}

// facts are what the follow-up rules look at for patient p.
func (f followUpRecords) facts(p patientRow, spec domain.ReleaseSpec, site *time.Location, now time.Time) domain.FollowUpFacts {
	var days []int
	for _, a := range f.assessments[p.ID] {
		days = append(days, a.Day)
	}
	return domain.FollowUpFacts{EnrolledAt: p.EnrolledAt, Site: site, Now: now, Days: spec.AssessmentDays(), Recorded: days, Outcomes: f.outcomes[p.ID]}
}

// lockedFollowUp locks the patient and reads their follow-up, the facts the rules need and
// the specification in force.
func (s *Store) lockedFollowUp(t *tx, patientID int64) (patientRow, domain.FollowUpFacts, domain.ReleaseSpec, error) {
	var p patientRow
	if err := t.lockByID(&p, patientID, "patient"); err != nil {
		return p, domain.FollowUpFacts{}, domain.ReleaseSpec{}, err
	}
	recs, err := readFollowUp(t.db, []int64{patientID})
	if err != nil {
		return p, domain.FollowUpFacts{}, domain.ReleaseSpec{}, err
	}
	spec, err := currentSpec(t.db)
	if err != nil {
		return p, domain.FollowUpFacts{}, domain.ReleaseSpec{}, err
	}
	return p, recs.facts(p, spec, s.opts.Site, t.now), spec, nil
}

// recordMissedAssessments records, in the transaction of a record of study day recordDay,
// a deviation for each assessment that record shows was missed (domain.MissedAssessments;
// facts include the record). recordDeviation keeps it to one per patient and day.
func (t *tx) recordMissedAssessments(patientID int64, facts domain.FollowUpFacts, grace, recordDay int, actor domain.Actor) error {
	for _, d := range domain.MissedAssessments(facts, grace, recordDay) {
		due, err := time.Parse(time.DateOnly, d.Date)
		if err != nil {
			return err
		}
		if _, err := t.recordDeviation(domain.MissedAssessmentDeviation(patientID, d.Day, due), actor.UserID); err != nil {
			return err
		}
	}
	return nil
}

// RecordAssessment records an assessment checked by domain.CheckAssessment.
func (s *Store) RecordAssessment(ctx context.Context, actor domain.Actor, a domain.Assessment) (domain.Assessment, error) {
	var out domain.Assessment
	err := s.write(ctx, actor, func(t *tx) error {
		_, facts, spec, err := s.lockedFollowUp(t, a.PatientID)
		if err != nil {
			return err
		}
		if err := domain.CheckAssessment(a, facts); err != nil {
			return err
		}
		row := assessmentRow{PatientID: a.PatientID, Day: a.Day, TakenAt: a.TakenAt.UTC(), CrpMgL: a.CRP, Il6PgMl: a.IL6, PctNgMl: a.PCT,
			ViralLoadCopiesMl: a.ViralLoad, PfRatioMmhg: a.PFRatio, ImagingScore: a.ImagingScore, RecordedBy: actor.UserID, RecordedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "day %d was assessed at the same moment by someone else; reload", a.Day)
			}
			return fmt.Errorf("insert assessment: %w", err)
		}
		out = row.toDomain()
		t.audit("assessment.record", "patient", a.PatientID, nil, out, "")
		facts.Recorded = append(facts.Recorded, a.Day)
		return t.recordMissedAssessments(a.PatientID, facts, spec.AssessmentGrace(), a.Day, actor)
	})
	return out, err
}

// RecordOutcome records a discharge, death, withdrawal or loss checked by domain.CheckOutcome.
func (s *Store) RecordOutcome(ctx context.Context, actor domain.Actor, o domain.Outcome) (domain.Outcome, error) {
	o.Date, o.Cause, o.Reason = strings.TrimSpace(o.Date), strings.TrimSpace(o.Cause), strings.TrimSpace(o.Reason)
	var out domain.Outcome
	err := s.write(ctx, actor, func(t *tx) error {
		p, facts, spec, err := s.lockedFollowUp(t, o.PatientID)
		if err != nil {
			return err
		}
		if err := domain.CheckOutcome(o, facts); err != nil {
			return err
		}
		row := outcomeRow{PatientID: o.PatientID, Kind: string(o.Kind), Date: o.Date, Cause: o.Cause, Reason: o.Reason, RecordedBy: actor.UserID, RecordedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "an outcome of this kind was recorded at the same moment by someone else; reload")
			}
			return fmt.Errorf("insert outcome: %w", err)
		}
		out = row.toDomain()
		t.audit("outcome."+string(o.Kind), "patient", o.PatientID, nil, out, o.Reason)
		day, err := domain.StudyDayOfDate(p.EnrolledAt, o.Date, s.opts.Site)
		if err != nil {
			return err
		}
		facts.Outcomes = append(facts.Outcomes, out)
		return t.recordMissedAssessments(o.PatientID, facts, spec.AssessmentGrace(), day, actor)
	})
	return out, err
}

// FollowUp is one patient's follow-up with what is due.
func (s *Store) FollowUp(ctx context.Context, patientID int64) (domain.FollowUp, error) {
	db := s.read(ctx)
	var p patientRow
	if err := db.Take(&p, patientID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return domain.FollowUp{}, domain.Errorf(domain.ENotFound, "there is no patient with id %d", patientID)
		}
		return domain.FollowUp{}, classify(err)
	}
	recs, err := readFollowUp(db, []int64{patientID})
	if err != nil {
		return domain.FollowUp{}, classify(err)
	}
	spec, err := currentSpec(db)
	if err != nil {
		return domain.FollowUp{}, err
	}
	out := domain.FollowUp{PatientID: p.ID, SubjectID: p.SubjectID, Arm: domain.Arm(p.Arm), Day0: domain.DateOfStudyDay(p.EnrolledAt, 0, s.opts.Site),
		Today:       domain.StudyDay(p.EnrolledAt, s.now(), s.opts.Site),
		Assessments: append([]domain.Assessment{}, recs.assessments[p.ID]...), Outcomes: append([]domain.Outcome{}, recs.outcomes[p.ID]...),
		Due: []domain.AssessmentDue{}}
	for _, d := range domain.DueAssessments(recs.facts(p, spec, s.opts.Site, s.now()), spec.AssessmentGrace()) {
		d.PatientID, d.SubjectID = p.ID, p.SubjectID
		out.Due = append(out.Due, d)
	}
	return out, nil
}

// FollowUpWorklist is every assessment due or overdue, overdue first.
func (s *Store) FollowUpWorklist(ctx context.Context) ([]domain.AssessmentDue, error) {
	db := s.read(ctx)
	var ps []patientRow
	if err := db.Select("id", "subject_id", "enrolled_at").Order("subject_id").Find(&ps).Error; err != nil {
		return nil, classify(fmt.Errorf("worklist: patients: %w", err))
	}
	recs, err := readFollowUp(db, nil)
	if err != nil {
		return nil, classify(err)
	}
	spec, err := currentSpec(db)
	if err != nil {
		return nil, err
	}
	out := []domain.AssessmentDue{}
	now := s.now()
	for _, p := range ps {
		for _, d := range domain.DueAssessments(recs.facts(p, spec, s.opts.Site, now), spec.AssessmentGrace()) {
			d.PatientID, d.SubjectID = p.ID, p.SubjectID
			out = append(out, d)
		}
	}
	domain.SortAssessmentsDue(out)
	return out, nil
}

// Endpoints computes the trial's figures by arm (domain.ComputeEndpoints) from every
// subject's follow-up and adverse events, as of now.
func (s *Store) Endpoints(ctx context.Context) (domain.Endpoints, error) {
	db := s.read(ctx)
	var ps []patientRow
	if err := db.Select("id", "arm", "enrolled_at").Order("id").Find(&ps).Error; err != nil {
		return domain.Endpoints{}, classify(fmt.Errorf("endpoints: patients: %w", err))
	}
	recs, err := readFollowUp(db, nil)
	if err != nil {
		return domain.Endpoints{}, classify(err)
	}
	var aes []struct {
		PatientID int64
		Serious   bool
		N         int
	}
	if err := db.Table("adverse_events").Select("patient_id, serious, COUNT(*) AS n").Group("patient_id, serious").Scan(&aes).Error; err != nil {
		return domain.Endpoints{}, classify(fmt.Errorf("endpoints: adverse events: %w", err))
	}
	spec, err := currentSpec(db)
	if err != nil {
		return domain.Endpoints{}, err
	}
	subjects := make([]domain.EndpointSubject, len(ps))
	index := map[int64]int{}
	for i, p := range ps {
		index[p.ID] = i
		subjects[i] = domain.EndpointSubject{Arm: domain.Arm(p.Arm), EnrolledAt: p.EnrolledAt, Outcomes: recs.outcomes[p.ID], Assessments: recs.assessments[p.ID]}
	}
	for _, a := range aes {
		i, ok := index[a.PatientID]
		if !ok {
			continue
		}
		if a.Serious {
			subjects[i].SAECount += a.N
		} else {
			subjects[i].AECount += a.N
		}
	}
	return domain.ComputeEndpoints(subjects, spec.AssessmentDays(), s.opts.Site, s.now()), nil
}
