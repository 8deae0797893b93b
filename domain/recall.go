package domain

import (
	"context"
	"strings"
	"time"
)

// Recall task statuses: open until the unit or bag is scanned back at the pharmacy (returned)
// or recorded destroyed; cancelled when QA releases the held lot again.
const (
	TaskOpen      = "open"
	TaskReturned  = "returned"
	TaskDestroyed = "destroyed"
	TaskCancelled = "cancelled"
)

// What opened a recall task or notice.
const (
	RecallCauseHold   = "hold"
	RecallCauseRecall = "recall"
)

// Where a recall task's unit or bag is, and so whose worklist shows it.
const (
	AtPharmacy = "pharmacy"
	AtWard     = "ward"
)

// RecallTask is the work of bringing back one unit or dose bag of a held or recalled lot.
type RecallTask struct {
	ID        int64  `json:"id"`
	LotID     int64  `json:"lot_id"`
	LotNumber string `json:"lot_number"`
	// UnitOrBag is "unit" or "dose_bag"; Code is its ISBT 128 id, EyeReadable as printed.
	UnitOrBag   string `json:"unit_or_bag"`
	UnitID      int64  `json:"unit_id,omitempty"`
	DoseBagID   int64  `json:"dose_bag_id,omitempty"`
	Code        string `json:"code"`
	EyeReadable string `json:"eye_readable"`
	// ItemStatus is the unit's or bag's own status now; Location whose worklist shows it.
	ItemStatus string     `json:"item_status"`
	Location   string     `json:"location"`
	SubjectID  string     `json:"subject_id,omitempty"` // a bag's patient
	Cause      string     `json:"cause"`                // hold or recall
	Status     string     `json:"status"`
	OpenedAt   time.Time  `json:"opened_at"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	ClosedBy   string     `json:"closed_by,omitempty"` // printed name
	Reason     string     `json:"reason,omitempty"`
}

// RecallProgress counts a lot's recall tasks: Closed of Total are returned or destroyed
// (cancelled tasks count in neither).
type RecallProgress struct {
	Total  int `json:"total"`
	Closed int `json:"closed"`
}

// Progress counts tasks for the recall page.
func Progress(tasks []RecallTask) RecallProgress {
	var p RecallProgress
	for _, t := range tasks {
		switch t.Status {
		case TaskCancelled:
			continue
		case TaskReturned, TaskDestroyed:
			p.Closed++
		}
		p.Total++
	}
	return p
}

// UnitNeedsRecallTask reports whether a unit of a held or recalled lot must be brought back:
// one still frozen in stock (available or allocated). A consumed unit lives on in its bag; a
// discarded one is gone.
func UnitNeedsRecallTask(s UnitStatus) bool {
	return s == UnitAvailable || s == UnitAllocated
}

// BagNeedsRecallTask reports whether a dose bag must be brought back: every bag not yet
// infused and not discarded, a returned one included (it is still on a shelf).
func BagNeedsRecallTask(s DoseBagStatus) bool {
	switch s {
	case BagPrepared, BagDispatched, BagReceived, BagVerified, BagReturned:
		return true
	}
	return false
}

// BagLocation is whose worklist a bag in status s is on: the ward's once dispatched and
// until sent back, the pharmacy's otherwise.
func BagLocation(s DoseBagStatus) string {
	switch s {
	case BagDispatched, BagReceived, BagVerified:
		return AtWard
	}
	return AtPharmacy
}

// ReturnedBagStatus is the status a bag takes when it is scanned back at the pharmacy for a
// recall: returned, from the ward; a bag that never left (prepared) or was already returned
// keeps its status.
func ReturnedBagStatus(s DoseBagStatus) DoseBagStatus {
	if BagLocation(s) == AtWard {
		return BagReturned
	}
	return s
}

// CheckCloseRecallTask refuses to close a task that is not open, naming what closed it.
func CheckCloseRecallTask(t RecallTask) error {
	if t.Status != TaskOpen {
		return Errorf(EConflict, "the recall task of %s is already %s", t.EyeReadable, t.Status)
	}
	return nil
}

// RecallNotice tells the physicians of a patient already infused from a held or recalled lot;
// it stays on the patient's page until a physician acknowledges it.
type RecallNotice struct {
	ID             int64      `json:"id"`
	LotID          int64      `json:"lot_id"`
	LotNumber      string     `json:"lot_number"`
	PatientID      int64      `json:"patient_id"`
	Cause          string     `json:"cause"`
	Reason         string     `json:"reason"`
	CreatedAt      time.Time  `json:"created_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"` // printed name
	Note           string     `json:"note,omitempty"`
}

// CheckAcknowledge refuses a second acknowledgement and a note that is too long.
func CheckAcknowledge(n RecallNotice, note string) error {
	if n.AcknowledgedAt != nil {
		return Errorf(EConflict, "the notice of lot %s was already acknowledged by %s", n.LotNumber, n.AcknowledgedBy)
	}
	if len([]rune(strings.TrimSpace(note))) > MaxReasonLength {
		return FieldError("note", "the note is at most %d characters", MaxReasonLength)
	}
	return nil
}

// RecallService runs active recalls: the tasks of each held or recalled lot, their closing by
// a return scan or a recorded destruction, and the notices to physicians.
type RecallService interface {
	// LotRecallTasks lists a lot's recall tasks, open ones first; ENotFound for no lot.
	LotRecallTasks(ctx context.Context, lotID int64) ([]RecallTask, error)
	// OpenRecallTasks lists every open task, for the pharmacy's and the ward's worklists.
	OpenRecallTasks(ctx context.Context) ([]RecallTask, error)
	// ReturnScan closes the open task of the unit or bag with ISBT 128 id code as returned;
	// a bag on the ward becomes returned. No open task: ENotFound.
	ReturnScan(ctx context.Context, actor Actor, code, codeKind, entry string) (RecallTask, error)
	// DestroyRecallTask records the unit or bag destroyed, with the reason: it becomes
	// discarded and the task destroyed.
	DestroyRecallTask(ctx context.Context, actor Actor, taskID int64, reason string) (RecallTask, error)
	// PatientRecallNotices lists a patient's notices, unacknowledged first.
	PatientRecallNotices(ctx context.Context, patientID int64) ([]RecallNotice, error)
	AcknowledgeRecallNotice(ctx context.Context, actor Actor, noticeID int64, note string) (RecallNotice, error)
}
