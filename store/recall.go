package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
)

type recallTaskRow struct {
	ID          int64 `gorm:"primaryKey"`
	LotID       int64
	UnitID      *int64
	DoseBagID   *int64
	Cause       string
	Status      string
	OpenedAt    time.Time
	ClosedAt    *time.Time
	ClosedBy    *int64
	PrintedName string
	CodeKind    string
	Entry       string
	Reason      string
}

func (recallTaskRow) TableName() string { return "recall_tasks" }

type recallNoticeRow struct {
	ID             int64 `gorm:"primaryKey"`
	LotID          int64
	PatientID      int64
	Cause          string
	Reason         string
	CreatedAt      time.Time
	AcknowledgedBy *int64
	PrintedName    string
	AcknowledgedAt *time.Time
	Note           string
}

func (recallNoticeRow) TableName() string { return "recall_notices" }

func (r recallNoticeRow) toDomain(lotNumber string) domain.RecallNotice {
	n := domain.RecallNotice{ID: r.ID, LotID: r.LotID, LotNumber: lotNumber, PatientID: r.PatientID, Cause: r.Cause, Reason: r.Reason,
		CreatedAt: r.CreatedAt.UTC(), AcknowledgedBy: r.PrintedName, Note: r.Note}
	if r.AcknowledgedAt != nil {
		at := r.AcknowledgedAt.UTC()
		n.AcknowledgedAt = &at
	}
	return n
}

// openRecall opens the tasks and notices a hold or recall of the lot calls for: a task for
// every unit and bag not yet infused that has none open, a notice for every patient infused
// from the lot who has none unacknowledged. Each is audited in the hold's or recall's
// transaction.
func (s *Store) openRecall(t *tx, lotID int64, cause, reason string) error {
	var units []unitRow
	if err := t.db.Where("lot_id = ?", lotID).Order("division").Find(&units).Error; err != nil {
		return err
	}
	var bags []doseBagRow
	if err := t.db.Where("lot_id = ?", lotID).Order("id").Find(&bags).Error; err != nil {
		return err
	}
	var open []recallTaskRow
	if err := t.db.Where("lot_id = ? AND status = ?", lotID, domain.TaskOpen).Find(&open).Error; err != nil {
		return err
	}
	hasUnit, hasBag := map[int64]bool{}, map[int64]bool{}
	for _, o := range open {
		if o.UnitID != nil {
			hasUnit[*o.UnitID] = true
		}
		if o.DoseBagID != nil {
			hasBag[*o.DoseBagID] = true
		}
	}
	create := func(row recallTaskRow, code string) error {
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("open recall task: %w", err)
		}
		t.audit("recall_task.open", "lot", lotID, nil, map[string]any{"task": row.ID, "code": code, "cause": cause}, reason)
		return nil
	}
	for _, u := range units {
		if hasUnit[u.ID] || !domain.UnitNeedsRecallTask(domain.UnitStatus(u.Status)) {
			continue
		}
		id := u.ID
		if err := create(recallTaskRow{LotID: lotID, UnitID: &id, Cause: cause, Status: domain.TaskOpen, OpenedAt: t.now}, u.UnitID); err != nil {
			return err
		}
	}
	for _, b := range bags {
		if hasBag[b.ID] || !domain.BagNeedsRecallTask(domain.DoseBagStatus(b.Status)) {
			continue
		}
		id := b.ID
		if err := create(recallTaskRow{LotID: lotID, DoseBagID: &id, Cause: cause, Status: domain.TaskOpen, OpenedAt: t.now}, b.BagID); err != nil {
			return err
		}
	}
	var infused []int64
	if err := t.db.Model(&infusionRow{}).Joins("JOIN dose_bags ON dose_bags.id = infusions.dose_bag_id").
		Where("dose_bags.lot_id = ?", lotID).Order("infusions.patient_id").Pluck("infusions.patient_id", &infused).Error; err != nil {
		return err
	}
	for _, pid := range infused {
		var n int64
		if err := t.db.Model(&recallNoticeRow{}).Where("lot_id = ? AND patient_id = ? AND acknowledged_at IS NULL", lotID, pid).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		row := recallNoticeRow{LotID: lotID, PatientID: pid, Cause: cause, Reason: strings.TrimSpace(reason), CreatedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("open recall notice: %w", err)
		}
		t.audit("recall_notice.create", "patient", pid, nil, map[string]any{"notice": row.ID, "lot_id": lotID, "cause": cause}, reason)
	}
	return nil
}

// cancelRecall closes a lot's open tasks as cancelled when QA releases the held lot again:
// nothing is left to bring back.
func (s *Store) cancelRecall(t *tx, lotID int64, reason string) error {
	var open []recallTaskRow
	if err := t.db.Where("lot_id = ? AND status = ?", lotID, domain.TaskOpen).Find(&open).Error; err != nil {
		return err
	}
	for _, o := range open {
		if err := t.db.Model(&recallTaskRow{}).Where("id = ?", o.ID).Updates(map[string]any{"status": domain.TaskCancelled, "closed_at": t.now}).Error; err != nil {
			return err
		}
		t.audit("recall_task.cancel", "lot", lotID, map[string]any{"task": o.ID, "status": domain.TaskOpen}, map[string]any{"task": o.ID, "status": domain.TaskCancelled}, reason)
	}
	return nil
}

// recallTasks reads tasks selected by where, with their unit or bag, lot and patient.
func recallTasks(db *gorm.DB, where string, args ...any) ([]domain.RecallTask, error) {
	var rows []recallTaskRow
	if err := db.Where(where, args...).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.RecallTask, 0, len(rows))
	lots := map[int64]string{}
	for _, r := range rows {
		task := domain.RecallTask{ID: r.ID, LotID: r.LotID, Cause: r.Cause, Status: r.Status, OpenedAt: r.OpenedAt.UTC(),
			ClosedBy: r.PrintedName, Reason: r.Reason}
		if r.ClosedAt != nil {
			at := r.ClosedAt.UTC()
			task.ClosedAt = &at
		}
		if _, ok := lots[r.LotID]; !ok {
			var l lotRow
			if err := db.Select("id, lot_number").Take(&l, r.LotID).Error; err != nil {
				return nil, err
			}
			lots[r.LotID] = l.LotNumber
		}
		task.LotNumber = lots[r.LotID]
		if r.UnitID != nil {
			var u unitRow
			if err := db.Take(&u, *r.UnitID).Error; err != nil {
				return nil, err
			}
			d := u.toDomain()
			task.UnitOrBag, task.UnitID, task.Code, task.EyeReadable = "unit", u.ID, u.UnitID, d.EyeReadable+" "+d.Check
			task.ItemStatus, task.Location = u.Status, domain.AtPharmacy
		} else if r.DoseBagID != nil {
			var b doseBagRow
			if err := db.Take(&b, *r.DoseBagID).Error; err != nil {
				return nil, err
			}
			var p patientRow
			if err := db.Select("id, subject_id").Take(&p, b.PatientID).Error; err != nil {
				return nil, err
			}
			uid, _ := domain.ParseUnitID(b.BagID)
			task.UnitOrBag, task.DoseBagID, task.Code, task.EyeReadable = "dose_bag", b.ID, b.BagID, uid.EyeReadable()+" "+string(uid.Check())
			task.ItemStatus, task.Location, task.SubjectID = b.Status, domain.BagLocation(domain.DoseBagStatus(b.Status)), p.SubjectID
		}
		out = append(out, task)
	}
	return out, nil
}

// LotRecallTasks lists a lot's recall tasks, open ones first.
func (s *Store) LotRecallTasks(ctx context.Context, lotID int64) ([]domain.RecallTask, error) {
	db := s.read(ctx)
	if err := db.Take(&lotRow{}, lotID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, domain.Errorf(domain.ENotFound, "there is no lot with id %d", lotID)
	} else if err != nil {
		return nil, classify(err)
	}
	open, err := recallTasks(db, "lot_id = ? AND status = ?", lotID, domain.TaskOpen)
	if err != nil {
		return nil, classify(err)
	}
	closed, err := recallTasks(db, "lot_id = ? AND status <> ?", lotID, domain.TaskOpen)
	if err != nil {
		return nil, classify(err)
	}
	return append(open, closed...), nil
}

// OpenRecallTasks lists every open recall task, oldest first.
func (s *Store) OpenRecallTasks(ctx context.Context) ([]domain.RecallTask, error) {
	out, err := recallTasks(s.read(ctx), "status = ?", domain.TaskOpen)
	return out, classify(err)
}

// closeRecallTask closes the open task of a unit or bag (column names which) with status, by
// actor, audited; found is false when it has none open.
func closeRecallTask(t *tx, actor domain.Actor, column string, id int64, status, codeKind, entry, reason string) (task recallTaskRow, found bool, err error) {
	err = t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Where(column+" = ? AND status = ?", id, domain.TaskOpen).Take(&task).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return task, false, nil
	}
	if err != nil {
		return task, false, err
	}
	uid := actor.UserID
	res := t.db.Model(&recallTaskRow{}).Where("id = ? AND status = ?", task.ID, domain.TaskOpen).Updates(map[string]any{
		"status": status, "closed_at": t.now, "closed_by": uid, "printed_name": actor.FullName, "code_kind": codeKind, "entry": entry,
		"reason": strings.TrimSpace(reason)})
	if res.Error != nil {
		return task, false, res.Error
	}
	if res.RowsAffected != 1 {
		return task, false, domain.Errorf(domain.EConflict, "the recall task was closed by someone else at the same moment; reload")
	}
	t.audit("recall_task."+map[string]string{domain.TaskReturned: "return", domain.TaskDestroyed: "destroy"}[status], "lot", task.LotID,
		map[string]any{"task": task.ID, "status": domain.TaskOpen}, map[string]any{"task": task.ID, "status": status, column: id}, reason)
	return task, true, nil
}

// ReturnScan closes the open recall task of the unit or bag whose ISBT 128 id is code, as
// scanned back at the pharmacy; a bag that was on the ward becomes returned.
func (s *Store) ReturnScan(ctx context.Context, actor domain.Actor, code, codeKind, entry string) (domain.RecallTask, error) {
	if err := domain.ValidateEntry("entry", entry); err != nil {
		return domain.RecallTask{}, err
	}
	var taskID int64
	err := s.write(ctx, actor, func(t *tx) error {
		var bag doseBagRow
		found, err := t.lockBag(code, &bag)
		if err != nil {
			return err
		}
		if found {
			task, open, err := closeRecallTask(t, actor, "dose_bag_id", bag.ID, domain.TaskReturned, codeKind, entry, "scanned back at the pharmacy")
			if err != nil {
				return err
			}
			if !open {
				return domain.Errorf(domain.ENotFound, "bag %s has no open recall task: nothing to return for a recall", code)
			}
			taskID = task.ID
			to := domain.ReturnedBagStatus(domain.DoseBagStatus(bag.Status))
			if string(to) != bag.Status {
				if err := domain.DoseBagTransition(domain.DoseBagStatus(bag.Status), to); err != nil {
					return err
				}
				return t.setStatus(&doseBagRow{}, "dose_bag", bag.ID, bag.Status, string(to), "dose_bag.return", "recall: scanned back at the pharmacy")
			}
			return nil
		}
		var u unitRow
		if err := t.db.Where("unit_id = ?", code).Take(&u).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return domain.Errorf(domain.ENotFound, "no unit or dose bag has the id %s: check the label", code)
		} else if err != nil {
			return err
		}
		task, open, err := closeRecallTask(t, actor, "unit_id", u.ID, domain.TaskReturned, codeKind, entry, "scanned back at the pharmacy")
		if err != nil {
			return err
		}
		if !open {
			return domain.Errorf(domain.ENotFound, "unit %s has no open recall task: nothing to return for a recall", code)
		}
		taskID = task.ID
		return nil
	})
	if err != nil {
		return domain.RecallTask{}, err
	}
	return s.recallTask(ctx, taskID)
}

func (s *Store) recallTask(ctx context.Context, id int64) (domain.RecallTask, error) {
	list, err := recallTasks(s.read(ctx), "id = ?", id)
	if err != nil {
		return domain.RecallTask{}, classify(err)
	}
	if len(list) == 0 {
		return domain.RecallTask{}, domain.Errorf(domain.ENotFound, "there is no recall task %d", id)
	}
	return list[0], nil
}

// DestroyRecallTask records the task's unit or bag destroyed, with the reason: the unit or bag
// becomes discarded and the task destroyed, in one transaction.
func (s *Store) DestroyRecallTask(ctx context.Context, actor domain.Actor, taskID int64, reason string) (domain.RecallTask, error) {
	if err := domain.ValidateReason(reason); err != nil {
		return domain.RecallTask{}, err
	}
	err := s.write(ctx, actor, func(t *tx) error {
		var task recallTaskRow
		if err := t.lockByID(&task, taskID, "recall task"); err != nil {
			return err
		}
		if err := domain.CheckCloseRecallTask(domain.RecallTask{Status: task.Status, EyeReadable: fmt.Sprintf("task %d", task.ID)}); err != nil {
			return err
		}
		if task.UnitID != nil {
			var u unitRow
			if err := t.lockByID(&u, *task.UnitID, "unit"); err != nil {
				return err
			}
			if u.Status != string(domain.UnitDiscarded) {
				if err := domain.UnitTransition(domain.UnitStatus(u.Status), domain.UnitDiscarded); err != nil {
					return err
				}
				if err := t.setStatus(&unitRow{}, "unit", u.ID, u.Status, string(domain.UnitDiscarded), "unit.discard", reason); err != nil {
					return err
				}
			}
			_, _, err := closeRecallTask(t, actor, "unit_id", u.ID, domain.TaskDestroyed, "", "", reason)
			return err
		}
		var b doseBagRow
		if err := t.lockByID(&b, *task.DoseBagID, "dose bag"); err != nil {
			return err
		}
		if b.Status != string(domain.BagDiscarded) {
			if err := domain.DoseBagTransition(domain.DoseBagStatus(b.Status), domain.BagDiscarded); err != nil {
				return err
			}
			if err := t.setStatus(&doseBagRow{}, "dose_bag", b.ID, b.Status, string(domain.BagDiscarded), "dose_bag.discard", reason); err != nil {
				return err
			}
		}
		_, _, err := closeRecallTask(t, actor, "dose_bag_id", b.ID, domain.TaskDestroyed, "", "", reason)
		return err
	})
	if err != nil {
		return domain.RecallTask{}, err
	}
	return s.recallTask(ctx, taskID)
}

// PatientRecallNotices lists a patient's recall notices, unacknowledged first.
func (s *Store) PatientRecallNotices(ctx context.Context, patientID int64) ([]domain.RecallNotice, error) {
	db := s.read(ctx)
	var rows []recallNoticeRow
	if err := db.Where("patient_id = ?", patientID).Order("id").Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	var open, done []domain.RecallNotice
	for _, r := range rows {
		var l lotRow
		if err := db.Select("id, lot_number").Take(&l, r.LotID).Error; err != nil {
			return nil, classify(err)
		}
		if n := r.toDomain(l.LotNumber); n.AcknowledgedAt == nil {
			open = append(open, n)
		} else {
			done = append(done, n)
		}
	}
	return append(append([]domain.RecallNotice{}, open...), done...), nil
}

// AcknowledgeRecallNotice records that a physician read the notice, with an optional note.
func (s *Store) AcknowledgeRecallNotice(ctx context.Context, actor domain.Actor, noticeID int64, note string) (domain.RecallNotice, error) {
	var out domain.RecallNotice
	err := s.write(ctx, actor, func(t *tx) error {
		var row recallNoticeRow
		if err := t.lockByID(&row, noticeID, "recall notice"); err != nil {
			return err
		}
		var l lotRow
		if err := t.db.Select("id, lot_number").Take(&l, row.LotID).Error; err != nil {
			return err
		}
		before := row.toDomain(l.LotNumber)
		if err := domain.CheckAcknowledge(before, note); err != nil {
			return err
		}
		uid, now := actor.UserID, t.now
		row.AcknowledgedBy, row.AcknowledgedAt, row.PrintedName, row.Note = &uid, &now, actor.FullName, strings.TrimSpace(note)
		if err := t.db.Model(&recallNoticeRow{}).Where("id = ?", row.ID).Updates(map[string]any{"acknowledged_by": uid,
			"acknowledged_at": now, "printed_name": row.PrintedName, "note": row.Note}).Error; err != nil {
			return err
		}
		out = row.toDomain(l.LotNumber)
		t.audit("recall_notice.acknowledge", "patient", row.PatientID, before, out, row.Note)
		return nil
	})
	return out, err
}
