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

type patientRow struct {
	ID              int64 `gorm:"primaryKey"`
	SubjectID       string
	MRN             string `gorm:"column:mrn"`
	Name            string
	DateOfBirth     string
	Arm             string
	EnrolledAt      time.Time
	ChainOfIdentity string
	CreatedBy       int64
	CreatedAt       time.Time
}

func (patientRow) TableName() string { return "patients" }

type patientWeightRow struct {
	ID         int64 `gorm:"primaryKey"`
	PatientID  int64
	WeightKg   float64
	RecordedBy int64
	RecordedAt time.Time
}

func (patientWeightRow) TableName() string { return "patient_weights" }

func (r patientRow) toDomain(weight float64) domain.Patient {
	return domain.Patient{ID: r.ID, SubjectID: r.SubjectID, MRN: r.MRN, Name: r.Name, DateOfBirth: r.DateOfBirth,
		WeightKg: weight, Arm: domain.Arm(r.Arm), EnrolledAt: r.EnrolledAt.UTC(), ChainID: r.ChainOfIdentity}
}

// Enrol records a trial subject with their first weight.
func (s *Store) Enrol(ctx context.Context, actor domain.Actor, p domain.Patient) (domain.Patient, error) {
	p.Name = strings.TrimSpace(p.Name)
	if err := p.Validate(s.now()); err != nil {
		return domain.Patient{}, err
	}
	var out domain.Patient
	err := s.write(ctx, actor, func(t *tx) error {
		var clash patientRow
		if err := t.db.Where("subject_id = ? OR mrn = ?", p.SubjectID, p.MRN).Take(&clash).Error; err == nil {
			if clash.SubjectID == p.SubjectID {
				return domain.Errorf(domain.EConflict, "subject %s is already enrolled", p.SubjectID)
			}
			return domain.Errorf(domain.EConflict, "a patient with MRN %s is already enrolled (subject %s)", p.MRN, clash.SubjectID)
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		row := patientRow{SubjectID: p.SubjectID, MRN: p.MRN, Name: p.Name, DateOfBirth: p.DateOfBirth, Arm: string(p.Arm),
			EnrolledAt: p.EnrolledAt.UTC(), ChainOfIdentity: "pending:" + p.SubjectID, CreatedBy: actor.UserID, CreatedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "subject %s or MRN %s is already enrolled", p.SubjectID, p.MRN)
			}
			return fmt.Errorf("insert patient: %w", err)
		}
		// The chain-of-identity sequence is the patient's own id: unique without a counter.
		coi := domain.ChainOfIdentity{Facility: s.opts.FacilityID, Year: row.EnrolledAt.In(s.opts.Site).Year() % 100, Sequence: int(row.ID)}
		row.ChainOfIdentity = coi.String()
		if err := t.db.Model(&row).Update("chain_of_identity", row.ChainOfIdentity).Error; err != nil {
			return err
		}
		if err := t.db.Create(&patientWeightRow{PatientID: row.ID, WeightKg: p.WeightKg, RecordedBy: actor.UserID, RecordedAt: t.now}).Error; err != nil {
			return err
		}
		out = row.toDomain(p.WeightKg)
		t.audit("patient.enrol", "patient", row.ID, nil, out, "")
		return nil
	})
	return out, err
}

// Patient returns a patient with their current (latest) weight.
func (s *Store) Patient(ctx context.Context, id int64) (domain.Patient, error) {
	return patientByID(s.read(ctx), id)
}

func patientByID(db *gorm.DB, id int64) (domain.Patient, error) {
	var row patientRow
	if err := db.Take(&row, id).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Patient{}, domain.Errorf(domain.ENotFound, "there is no patient with id %d", id)
	} else if err != nil {
		return domain.Patient{}, classify(err)
	}
	return patientWithWeight(db, row)
}

// patientWithWeight completes a patient row read already with their latest weight.
func patientWithWeight(db *gorm.DB, row patientRow) (domain.Patient, error) {
	var w patientWeightRow
	if err := db.Where("patient_id = ?", row.ID).Order("id DESC").Take(&w).Error; err != nil {
		return domain.Patient{}, classify(fmt.Errorf("read weight: %w", err))
	}
	return row.toDomain(w.WeightKg), nil
}

// PatientBySubject finds a patient by trial subject id, as typed or scanned (case does not matter).
func (s *Store) PatientBySubject(ctx context.Context, subjectID string) (domain.Patient, error) {
	db := s.read(ctx)
	var row patientRow
	err := db.Where("subject_id = ?", strings.ToUpper(strings.TrimSpace(subjectID))).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Patient{}, domain.Errorf(domain.ENotFound, "no patient has subject id %q: check it against the enrolment record", subjectID)
	} else if err != nil {
		return domain.Patient{}, classify(err)
	}
	return patientByID(db, row.ID)
}

// RecordWeight adds a weight; doses are computed from the latest one.
func (s *Store) RecordWeight(ctx context.Context, actor domain.Actor, patientID int64, kg float64) (domain.Patient, error) {
	if err := domain.ValidateWeight(kg); err != nil {
		return domain.Patient{}, err
	}
	var out domain.Patient
	err := s.write(ctx, actor, func(t *tx) error {
		before, err := patientByID(t.db, patientID)
		if err != nil {
			return err
		}
		if err := t.db.Create(&patientWeightRow{PatientID: patientID, WeightKg: kg, RecordedBy: actor.UserID, RecordedAt: t.now}).Error; err != nil {
			return err
		}
		out = before
		out.WeightKg = kg
		t.audit("patient.weigh", "patient", patientID, map[string]any{"weight_kg": before.WeightKg}, map[string]any{"weight_kg": kg}, "")
		return nil
	})
	return out, err
}
