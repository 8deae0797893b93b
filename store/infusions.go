package store

import (
	"context"
	"fmt"
	"time"

	"cordtrace/domain"
)

// InfusionsInProgress lists the infusions started and not yet ended, oldest first.
func (s *Store) InfusionsInProgress(ctx context.Context) ([]domain.InfusionInProgress, error) {
	var rows []struct {
		ID, VerificationID, DoseBagID, PatientID int64
		StartedAt                                time.Time
		BagID, SubjectID, Ward                   string
		BagVolume                                float64
	}
	err := s.read(ctx).Table("infusions i").
		Select("i.id, i.verification_id, i.dose_bag_id, i.patient_id, i.started_at, b.bag_id, p.subject_id, b.volume_ml AS bag_volume, v.ward").
		Joins("JOIN dose_bags b ON b.id = i.dose_bag_id").
		Joins("JOIN patients p ON p.id = i.patient_id").
		Joins("JOIN verifications v ON v.id = i.verification_id").
		Where("i.ended_at IS NULL").Order("i.started_at, i.id").Scan(&rows).Error
	if err != nil {
		return nil, classify(fmt.Errorf("read infusions in progress: %w", err))
	}
	out := make([]domain.InfusionInProgress, len(rows))
	for i, r := range rows {
		out[i] = domain.InfusionInProgress{
			Infusion: domain.Infusion{ID: r.ID, VerificationID: r.VerificationID, DoseBagID: r.DoseBagID, PatientID: r.PatientID, StartedAt: r.StartedAt.UTC()},
			BagID:    r.BagID, SubjectID: r.SubjectID, BagVolume: r.BagVolume, Ward: r.Ward}
	}
	return out, nil
}
