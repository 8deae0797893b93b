package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
)

type allocationListRow struct {
	ID          int64 `gorm:"primaryKey"`
	Position    int
	SHA256      string `gorm:"column:sha256"`
	RowCount    int
	SignedBy    int64
	PrintedName string
	Meaning     string
	SignedAt    time.Time
}

func (allocationListRow) TableName() string { return "allocation_lists" }

type allocationRow struct {
	ID          int64 `gorm:"primaryKey"`
	ListID      int64
	Sequence    int
	Arm         string
	Stratum     string
	PatientID   *int64
	AllocatedAt *time.Time
}

func (allocationRow) TableName() string { return "allocations" }

// unusedAllocations counts the allocations of list not yet given to a patient.
func unusedAllocations(db *gorm.DB, listID int64) (int, error) {
	var n int64
	err := db.Model(&allocationRow{}).Where("list_id = ? AND patient_id IS NULL", listID).Count(&n).Error
	return int(n), err
}

// LoadAllocations records an allocation list signed by QA (password re-entered), with its
// SHA-256; the allocations themselves are audited by count and hash only, so that the trail
// does not reveal the sequence either.
func (s *Store) LoadAllocations(ctx context.Context, actor domain.Actor, password string, rows []domain.Allocation) (domain.AllocationListInfo, error) {
	if err := domain.ValidateAllocations(rows); err != nil {
		return domain.AllocationListInfo{}, err
	}
	if err := s.reauthenticate(ctx, actor, password); err != nil {
		return domain.AllocationListInfo{}, err
	}
	sum := domain.AllocationSHA256(rows)
	var out domain.AllocationListInfo
	err := s.write(ctx, actor, func(t *tx) error {
		var last allocationListRow
		position := 1
		if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Order("position DESC").Take(&last).Error; err == nil {
			unused, err := unusedAllocations(t.db, last.ID)
			if err != nil {
				return err
			}
			if err := domain.CheckSecondList(unused); err != nil {
				return err
			}
			position = last.Position + 1
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		list := allocationListRow{Position: position, SHA256: sum, RowCount: len(rows), SignedBy: actor.UserID, PrintedName: actor.FullName,
			Meaning: fmt.Sprintf("Allocation list of %d allocations approved for concealed randomization (SHA-256 %s)", len(rows), sum), SignedAt: t.now}
		if err := t.db.Create(&list).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "another allocation list was loaded at the same moment; reload the trial page")
			}
			return fmt.Errorf("insert allocation list: %w", err)
		}
		batch := make([]allocationRow, len(rows))
		for i, a := range rows {
			batch[i] = allocationRow{ListID: list.ID, Sequence: a.Sequence, Arm: string(a.Arm), Stratum: a.Stratum}
		}
		if err := t.db.CreateInBatches(batch, 500).Error; err != nil {
			if isUnique(err) {
				return domain.FieldError("rows", "a sequence number of this list is already used by an earlier list: number the new list on from the last")
			}
			return fmt.Errorf("insert allocations: %w", err)
		}
		out = list.toDomain(0)
		t.audit("allocation_list.load", "allocation_list", list.ID, nil, out, "")
		return nil
	})
	return out, err
}

func (r allocationListRow) toDomain(used int) domain.AllocationListInfo {
	return domain.AllocationListInfo{ID: r.ID, SHA256: r.SHA256, Count: r.RowCount, Used: used, SignedBy: r.PrintedName, Meaning: r.Meaning, SignedAt: r.SignedAt.UTC()}
}

// nextAllocation is the next unused allocation of the list in use. The list's row is locked
// first, so enrolments take allocations one at a time and in sequence order.
func (t *tx) nextAllocation() (a allocationRow, err error) {
	var list allocationListRow
	if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Order("position DESC").Take(&list).Error; err != nil {
		return a, fmt.Errorf("lock allocation list: %w", err)
	}
	if err := t.db.Where("list_id = ? AND patient_id IS NULL", list.ID).Order("sequence").Take(&a).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return a, domain.Errorf(domain.EConflict, "every allocation of the trial's list is used: QA loads the next list before anyone else is enrolled")
	} else if err != nil {
		return a, fmt.Errorf("next allocation: %w", err)
	}
	return a, nil
}

// takeAllocation gives allocation a to patientID. The update is conditional, a second guard
// beside the list's lock: an allocation already given is never given again.
func (t *tx) takeAllocation(a allocationRow, patientID int64) error {
	res := t.db.Model(&allocationRow{}).Where("id = ? AND patient_id IS NULL", a.ID).Updates(map[string]any{"patient_id": patientID, "allocated_at": t.now})
	if res.Error != nil {
		return fmt.Errorf("take allocation: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return domain.Errorf(domain.EConflict, "the allocation was taken by another enrolment at the same moment; enrol again")
	}
	return nil
}

// allocationInUse reports whether enrolment takes its arm from a list now: a list is loaded.
func allocationInUse(db *gorm.DB) (bool, error) {
	var n int64
	if err := db.Model(&allocationListRow{}).Count(&n).Error; err != nil {
		return false, err
	}
	return n > 0, nil
}

// TrialSummary lists the allocation lists and counts subjects by arm.
func (s *Store) TrialSummary(ctx context.Context) (domain.TrialSummary, error) {
	db := s.read(ctx)
	out := domain.TrialSummary{Lists: []domain.AllocationListInfo{}}
	var lists []allocationListRow
	if err := db.Order("position").Find(&lists).Error; err != nil {
		return out, classify(fmt.Errorf("allocation lists: %w", err))
	}
	for _, l := range lists {
		unused, err := unusedAllocations(db, l.ID)
		if err != nil {
			return out, classify(err)
		}
		out.Lists = append(out.Lists, l.toDomain(l.RowCount-unused))
	}
	out.InUse = len(lists) > 0
	var counts []struct {
		Arm        string
		Enrolled   int
		Randomized int
	}
	if err := db.Table("patients p").Select("p.arm, COUNT(*) AS enrolled, COUNT(a.id) AS randomized").
		Joins("LEFT JOIN allocations a ON a.patient_id = p.id").Group("p.arm").Scan(&counts).Error; err != nil {
		return out, classify(fmt.Errorf("subjects by arm: %w", err))
	}
	byArm := map[string]domain.ArmCount{}
	for _, c := range counts {
		byArm[c.Arm] = domain.ArmCount{Arm: domain.Arm(c.Arm), Enrolled: c.Enrolled, Randomized: c.Randomized}
	}
	for _, arm := range domain.Arms {
		c := byArm[string(arm)]
		c.Arm = arm
		out.Arms = append(out.Arms, c)
	}
	return out, nil
}
