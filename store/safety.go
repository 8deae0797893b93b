package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"cordtrace/domain"
)

type adverseEventRow struct {
	ID          int64 `gorm:"primaryKey"`
	PatientID   int64
	InfusionID  *int64
	LotID       *int64
	Serious     bool
	Severity    string
	Description string
	OnsetAt     time.Time
	ReportedBy  int64
	ReportedAt  time.Time
	// Version is the latest version of the event's report, whose summary the row holds.
	Version int
}

func (adverseEventRow) TableName() string { return "adverse_events" }

func (r adverseEventRow) toDomain() domain.AdverseEvent {
	a := domain.AdverseEvent{ID: r.ID, PatientID: r.PatientID, Serious: r.Serious, Severity: r.Severity,
		Description: r.Description, OnsetAt: r.OnsetAt.UTC(), ReportedAt: r.ReportedAt.UTC(), Version: r.Version}
	if r.InfusionID != nil {
		a.InfusionID = *r.InfusionID
	}
	if r.LotID != nil {
		a.LotID = *r.LotID
	}
	return a
}

// aeVersionRow is one version of an event's report; the database refuses to change one.
type aeVersionRow struct {
	ID                             int64 `gorm:"primaryKey"`
	AdverseEventID                 int64
	Version                        int
	Term                           *string
	Description                    string
	OnsetAt                        time.Time
	Grade                          int
	CriterionDeath                 bool
	CriterionLifeThreatening       bool
	CriterionHospitalisation       bool
	CriterionPersistentDisability  bool
	CriterionCongenitalAnomaly     bool
	CriterionImportantMedicalEvent bool
	Relatedness                    *string
	Expected                       *bool
	SpecVersion                    *int
	Outcome                        *string
	ActionTaken                    *string
	AwareAt                        time.Time
	ReportedBy                     int64
	ReportedAt                     time.Time
}

func (aeVersionRow) TableName() string { return "adverse_event_versions" }

// criteria pairs each seriousness criterion with its column in r.
func (r *aeVersionRow) criteria() []struct {
	name string
	col  *bool
} {
	return []struct {
		name string
		col  *bool
	}{
		{domain.CriterionDeath, &r.CriterionDeath}, {domain.CriterionLifeThreatening, &r.CriterionLifeThreatening},
		{domain.CriterionHospitalisation, &r.CriterionHospitalisation}, {domain.CriterionPersistentDisability, &r.CriterionPersistentDisability},
		{domain.CriterionCongenitalAnomaly, &r.CriterionCongenitalAnomaly}, {domain.CriterionImportantMedicalEvent, &r.CriterionImportantMedicalEvent},
	}
}

func aeVersionRowFrom(eventID int64, v domain.AEReport) aeVersionRow {
	r := aeVersionRow{AdverseEventID: eventID, Version: v.Version, Description: v.Description, OnsetAt: v.OnsetAt.UTC(),
		Grade: v.Grade, AwareAt: v.AwareAt.UTC(), ReportedBy: v.ReportedBy, ReportedAt: v.ReportedAt.UTC(), Expected: v.Expected}
	for _, c := range r.criteria() {
		*c.col = slices.Contains(v.SeriousCriteria, c.name)
	}
	if v.Term != "" {
		term, rel, out, act, spec := v.Term, v.Relatedness, v.Outcome, v.ActionTaken, v.SpecVersion
		r.Term, r.Relatedness, r.Outcome, r.ActionTaken, r.SpecVersion = &term, &rel, &out, &act, &spec
	}
	return r
}

func (r aeVersionRow) toDomain() domain.AEReport {
	v := domain.AEReport{Version: r.Version, Description: r.Description, OnsetAt: r.OnsetAt.UTC(), Grade: r.Grade,
		SeriousCriteria: []string{}, Expected: r.Expected, AwareAt: r.AwareAt.UTC(), ReportedBy: r.ReportedBy, ReportedAt: r.ReportedAt.UTC()}
	for _, c := range r.criteria() {
		if *c.col {
			v.SeriousCriteria = append(v.SeriousCriteria, c.name)
		}
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	v.Term, v.Relatedness, v.Outcome, v.ActionTaken = str(r.Term), str(r.Relatedness), str(r.Outcome), str(r.ActionTaken)
	if r.SpecVersion != nil {
		v.SpecVersion = *r.SpecVersion
	}
	return v
}

// safetyReportRow is one reporting obligation of an event (domain.SafetyReport).
type safetyReportRow struct {
	ID             int64 `gorm:"primaryKey"`
	AdverseEventID int64
	Kind           string
	DueAt          time.Time
	OpenedVersion  int
	SentAt         *time.Time
	SentBy         *int64
	SentVersion    *int
}

func (safetyReportRow) TableName() string { return "safety_reports" }

func (r safetyReportRow) toDomain(now time.Time) domain.SafetyReport {
	out := domain.SafetyReport{ID: r.ID, AdverseEventID: r.AdverseEventID, Kind: r.Kind, DueAt: r.DueAt.UTC(), OpenedVersion: r.OpenedVersion}
	if r.SentAt != nil {
		at := r.SentAt.UTC()
		out.SentAt = &at
	}
	if r.SentBy != nil {
		out.SentBy = *r.SentBy
	}
	if r.SentVersion != nil {
		out.SentVersion = *r.SentVersion
	}
	out.Judge(now)
	return out
}

// ReportAdverseEvent stores an event given with the first reporting form.
func (s *Store) ReportAdverseEvent(ctx context.Context, actor domain.Actor, a domain.AdverseEvent) (domain.AdverseEvent, error) {
	return s.RecordAdverseEvent(ctx, actor, a.Input())
}

// RecordAdverseEvent stores an AE or SAE as version 1 of its report, linked to the patient's
// infusion and its lot, and opens the reports its clocks call for.
func (s *Store) RecordAdverseEvent(ctx context.Context, actor domain.Actor, in domain.AEInput) (domain.AdverseEvent, error) {
	var out domain.AdverseEvent
	err := s.write(ctx, actor, func(t *tx) error {
		spec, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		v, err := domain.BuildReport(in, spec, t.now, false)
		if err != nil {
			return err
		}
		if _, err := patientByID(t.db, in.PatientID); err != nil {
			return domain.FieldError("patient_id", "there is no patient with id %d", in.PatientID)
		}
		v.Version, v.ReportedBy, v.ReportedAt = 1, actor.UserID, t.now
		row := adverseEventRow{PatientID: in.PatientID, ReportedBy: actor.UserID, ReportedAt: t.now}
		var inf infusionRow
		if err := t.db.Where("patient_id = ?", in.PatientID).Take(&inf).Error; err == nil {
			var bag doseBagRow
			if err := t.db.Take(&bag, inf.DoseBagID).Error; err != nil {
				return err
			}
			row.InfusionID, row.LotID = &inf.ID, &bag.LotID
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		summarizeVersion(&row, v)
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("store adverse event: %w", err)
		}
		out, err = t.addReportVersion(row, v, nil)
		if err != nil {
			return err
		}
		t.audit("adverse_event.report", "adverse_event", row.ID, nil, out, "")
		return nil
	})
	return out, err
}

// summarizeVersion copies a version's summary into the event's row.
func summarizeVersion(row *adverseEventRow, v domain.AEReport) {
	row.Serious, row.Severity, row.Description, row.OnsetAt, row.Version = v.Serious(), domain.SeverityOfGrade(v.Grade), v.Description, v.OnsetAt, v.Version
}

// addReportVersion stores version v of the event row (already summarizing it) and opens the
// reports its clocks call for that the event does not have; it returns the event as v
// describes it, with the due time of its open reports.
func (t *tx) addReportVersion(row adverseEventRow, v domain.AEReport, reports []safetyReportRow) (domain.AdverseEvent, error) {
	vr := aeVersionRowFrom(row.ID, v)
	if err := t.db.Create(&vr).Error; err != nil {
		if isUnique(err) {
			return domain.AdverseEvent{}, domain.Errorf(domain.EConflict, "another follow-up of adverse event %d was recorded at the same moment; reload and record yours again", row.ID)
		}
		return domain.AdverseEvent{}, fmt.Errorf("store adverse event version: %w", err)
	}
	opened := make([]string, len(reports))
	for i, r := range reports {
		opened[i] = r.Kind
	}
	for _, c := range domain.ClocksToOpen(opened, domain.ReportingClocks(v)) {
		r := safetyReportRow{AdverseEventID: row.ID, Kind: c.Kind, DueAt: c.DueAt.UTC(), OpenedVersion: v.Version}
		if err := t.db.Create(&r).Error; err != nil {
			return domain.AdverseEvent{}, fmt.Errorf("open safety report: %w", err)
		}
		reports = append(reports, r)
		t.audit("safety_report.open", "adverse_event", row.ID, nil, r.toDomain(t.now), "")
	}
	out := row.toDomain().WithReport(v)
	out.ReportDueAt = earliestOpenDue(reports)
	return out, nil
}

func earliestOpenDue(reports []safetyReportRow) *time.Time {
	var due *time.Time
	for _, r := range reports {
		if r.SentAt == nil && (due == nil || r.DueAt.Before(*due)) {
			at := r.DueAt.UTC()
			due = &at
		}
	}
	return due
}

// FollowUpAdverseEvent adds the next version of an event's report.
func (s *Store) FollowUpAdverseEvent(ctx context.Context, actor domain.Actor, id int64, in domain.AEInput) (domain.AdverseEvent, error) {
	var out domain.AdverseEvent
	err := s.write(ctx, actor, func(t *tx) error {
		var row adverseEventRow
		if err := t.lockByID(&row, id, "adverse event"); err != nil {
			return err
		}
		spec, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		in.PatientID = row.PatientID
		v, err := domain.BuildReport(in, spec, t.now, true)
		if err != nil {
			return err
		}
		var reports []safetyReportRow
		if err := t.db.Where("adverse_event_id = ?", row.ID).Order("id").Find(&reports).Error; err != nil {
			return err
		}
		before := row.toDomain()
		v.Version, v.ReportedBy, v.ReportedAt = row.Version+1, actor.UserID, t.now
		summarizeVersion(&row, v)
		if err := t.db.Model(&adverseEventRow{}).Where("id = ?", row.ID).Updates(map[string]any{
			"serious": row.Serious, "severity": row.Severity, "description": row.Description, "onset_at": row.OnsetAt, "version": row.Version,
		}).Error; err != nil {
			return fmt.Errorf("follow up adverse event: %w", err)
		}
		if out, err = t.addReportVersion(row, v, reports); err != nil {
			return err
		}
		t.audit("adverse_event.follow_up", "adverse_event", row.ID, before, out, "")
		return nil
	})
	return out, err
}

// ReportSentToSponsor closes the event's open reports.
func (s *Store) ReportSentToSponsor(ctx context.Context, actor domain.Actor, id int64, sentAt time.Time) (domain.AdverseEventDetail, error) {
	err := s.write(ctx, actor, func(t *tx) error {
		var row adverseEventRow
		if err := t.lockByID(&row, id, "adverse event"); err != nil {
			return err
		}
		var first aeVersionRow
		if err := t.db.Where("adverse_event_id = ?", row.ID).Order("aware_at").Take(&first).Error; err != nil {
			return err
		}
		if err := domain.CheckSentToSponsor(sentAt, first.AwareAt, t.now); err != nil {
			return err
		}
		var open []safetyReportRow
		if err := t.db.Where("adverse_event_id = ? AND sent_at IS NULL", row.ID).Order("id").Find(&open).Error; err != nil {
			return err
		}
		if len(open) == 0 {
			return domain.Errorf(domain.EConflict, "adverse event %d has no report waiting to be sent to the sponsor", row.ID)
		}
		at, by, version := sentAt.UTC(), actor.UserID, row.Version
		for _, r := range open {
			before := r.toDomain(t.now)
			r.SentAt, r.SentBy, r.SentVersion = &at, &by, &version
			if err := t.db.Model(&safetyReportRow{}).Where("id = ?", r.ID).Updates(map[string]any{
				"sent_at": at, "sent_by": by, "sent_version": version}).Error; err != nil {
				return fmt.Errorf("record report sent: %w", err)
			}
			t.audit("safety_report.sent", "adverse_event", row.ID, before, r.toDomain(t.now), "")
		}
		return nil
	})
	if err != nil {
		return domain.AdverseEventDetail{}, err
	}
	return s.AdverseEventDetail(ctx, id)
}

// AdverseEventDetail reads an event with its versions and reports.
func (s *Store) AdverseEventDetail(ctx context.Context, id int64) (domain.AdverseEventDetail, error) {
	db := s.read(ctx)
	var row adverseEventRow
	if err := db.Take(&row, id).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.AdverseEventDetail{}, domain.Errorf(domain.ENotFound, "there is no adverse event %d", id)
	} else if err != nil {
		return domain.AdverseEventDetail{}, classify(err)
	}
	var versions []aeVersionRow
	if err := db.Where("adverse_event_id = ?", id).Order("version").Find(&versions).Error; err != nil {
		return domain.AdverseEventDetail{}, classify(err)
	}
	var reports []safetyReportRow
	if err := db.Where("adverse_event_id = ?", id).Order("id").Find(&reports).Error; err != nil {
		return domain.AdverseEventDetail{}, classify(err)
	}
	p, err := patientByID(db, row.PatientID)
	if err != nil {
		return domain.AdverseEventDetail{}, classify(err)
	}
	names, err := userNames(db)
	if err != nil {
		return domain.AdverseEventDetail{}, classify(err)
	}
	now := s.now()
	d := domain.AdverseEventDetail{SubjectID: p.SubjectID, Versions: make([]domain.AEReport, len(versions)), Reports: make([]domain.SafetyReport, len(reports))}
	for i, v := range versions {
		d.Versions[i] = v.toDomain()
		d.Versions[i].ReportedByName = names[v.ReportedBy]
	}
	for i, r := range reports {
		d.Reports[i] = r.toDomain(now)
		d.Reports[i].SentByName = names[d.Reports[i].SentBy]
	}
	d.AdverseEvent = row.toDomain()
	if len(d.Versions) > 0 {
		d.AdverseEvent = d.AdverseEvent.WithReport(d.Versions[len(d.Versions)-1])
	}
	d.ReportDueAt = earliestOpenDue(reports)
	return d, nil
}

// userNames maps user ids to full names, for the printed names of reports.
func userNames(db *gorm.DB) (map[int64]string, error) {
	var users []userRow
	if err := db.Select("id, full_name").Find(&users).Error; err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(users))
	for _, u := range users {
		out[u.ID] = u.FullName
	}
	return out, nil
}

// SafetyWorklist lists every open report with its event, overdue first.
func (s *Store) SafetyWorklist(ctx context.Context) ([]domain.SafetyWorkItem, error) {
	db := s.read(ctx)
	var rows []safetyReportRow
	if err := db.Where("sent_at IS NULL").Order("due_at, id").Find(&rows).Error; err != nil {
		return nil, classify(fmt.Errorf("read the safety worklist: %w", err))
	}
	if len(rows) == 0 {
		return []domain.SafetyWorkItem{}, nil
	}
	var ids []int64
	for _, r := range rows {
		if !slices.Contains(ids, r.AdverseEventID) {
			ids = append(ids, r.AdverseEventID)
		}
	}
	var events []adverseEventRow
	if err := db.Where("id IN ?", ids).Find(&events).Error; err != nil {
		return nil, classify(fmt.Errorf("read the safety worklist: %w", err))
	}
	event := map[int64]adverseEventRow{}
	var pids []int64
	for _, e := range events {
		event[e.ID] = e
		pids = append(pids, e.PatientID)
	}
	var patients []patientRow
	if err := db.Select("id, subject_id").Where("id IN ?", pids).Find(&patients).Error; err != nil {
		return nil, classify(fmt.Errorf("read the safety worklist: %w", err))
	}
	subject := map[int64]string{}
	for _, p := range patients {
		subject[p.ID] = p.SubjectID
	}
	var versions []aeVersionRow
	if err := db.Where("adverse_event_id IN ?", ids).Find(&versions).Error; err != nil {
		return nil, classify(fmt.Errorf("read the safety worklist: %w", err))
	}
	latest := map[int64]domain.AEReport{}
	for _, v := range versions {
		if v.Version == event[v.AdverseEventID].Version {
			latest[v.AdverseEventID] = v.toDomain()
		}
	}
	now := s.now()
	out := make([]domain.SafetyWorkItem, len(rows))
	for i, r := range rows {
		v := latest[r.AdverseEventID]
		e := event[r.AdverseEventID]
		out[i] = domain.SafetyWorkItem{SafetyReport: r.toDomain(now), PatientID: e.PatientID, SubjectID: subject[e.PatientID],
			Term: v.Term, Description: v.Description, Grade: v.Grade, SeriousCriteria: v.SeriousCriteria, SUSAR: v.SUSAR(),
			Version: e.Version, AwareAt: v.AwareAt}
	}
	domain.SortSafetyWorklist(out)
	return out, nil
}

// lotAdverseEvents lists the events linked to a lot.
func lotAdverseEvents(db *gorm.DB, lotID int64) ([]domain.AdverseEvent, error) {
	var rows []adverseEventRow
	if err := db.Where("lot_id = ?", lotID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.AdverseEvent, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// DisposeExcursion records QA's decision on a bag's open temperature excursion.
func (s *Store) DisposeExcursion(ctx context.Context, actor domain.Actor, bagID int64, decision, reason string) (domain.DoseBag, error) {
	if decision != domain.DispositionUse && decision != domain.DispositionDiscard {
		return domain.DoseBag{}, domain.FieldError("decision", "decide use or discard")
	}
	if strings.TrimSpace(reason) == "" {
		return domain.DoseBag{}, domain.FieldError("reason", "give the reason for the decision (stability data, duration, reading)")
	}
	err := s.write(ctx, actor, func(t *tx) error {
		var bag doseBagRow
		if err := t.lockByID(&bag, bagID, "dose bag"); err != nil {
			return err
		}
		open, err := openExcursion(t.db, bag.ID)
		if err != nil {
			return err
		}
		if !open {
			return domain.Errorf(domain.EConflict, "bag %s has no open temperature excursion to decide on", bag.BagID)
		}
		row := excursionDispositionRow{DoseBagID: bag.ID, Decision: decision, Reason: strings.TrimSpace(reason), DecidedBy: actor.UserID, DecidedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			return err
		}
		t.audit("excursion.dispose", "dose_bag", bag.ID, nil, map[string]any{"decision": decision}, row.Reason)
		if decision == domain.DispositionDiscard {
			if err := domain.DoseBagTransition(domain.DoseBagStatus(bag.Status), domain.BagDiscarded); err != nil {
				return err
			}
			if err := t.db.Model(&doseBagRow{}).Where("id = ?", bag.ID).Update("status", string(domain.BagDiscarded)).Error; err != nil {
				return err
			}
			t.audit("dose_bag.discard", "dose_bag", bag.ID, map[string]any{"status": bag.Status}, map[string]any{"status": domain.BagDiscarded}, row.Reason)
		}
		return nil
	})
	if err != nil {
		return domain.DoseBag{}, err
	}
	return s.DoseBag(ctx, bagID)
}
