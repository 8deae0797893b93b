package domain

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Randomization (SPEC §13): a concealed allocation list, loaded once and e-signed by QA, from
// which enrolment takes the next unused allocation. Nobody chooses an arm or sees the next one.

// Arms are the trial's arms, in the order pages and exports list them.
var Arms = []Arm{ArmHUCMSC, ArmRoutine}

// Allocation is one line of an allocation list: sequence number → arm, with an optional
// stratum. Line is where it stood in the list as loaded (CSV line, or 1-based row number), for
// messages only.
type Allocation struct {
	Sequence int    `json:"sequence"`
	Arm      Arm    `json:"arm"`
	Stratum  string `json:"stratum,omitempty"`
	Line     int    `json:"-"`
}

// MaxAllocations bounds one list: a trial of this size loads in one request.
const MaxAllocations = 10000

// maxStratum bounds a stratum label ("site A / age ≥ 65").
const maxStratum = 40

// ParseAllocationCSV reads an allocation list as CSV: one allocation a line as
// sequence,arm[,stratum], with an optional header line that starts with "sequence". Blank
// lines are skipped. An unreadable line is refused with its number.
func ParseAllocationCSV(text string) ([]Allocation, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var out []Allocation
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, FieldError("csv", "line %d: not readable as CSV: %v", line, errors.Unwrap(err))
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(out) == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "sequence") {
			continue
		}
		if len(rec) < 2 || len(rec) > 3 {
			return nil, FieldError("csv", "line %d: expected sequence,arm or sequence,arm,stratum; found %d fields", line, len(rec))
		}
		n, err := strconv.Atoi(strings.TrimSpace(rec[0]))
		if err != nil {
			return nil, FieldError("csv", "line %d: sequence %q is not a whole number", line, rec[0])
		}
		a := Allocation{Sequence: n, Arm: Arm(strings.TrimSpace(rec[1])), Line: line}
		if len(rec) == 3 {
			a.Stratum = strings.TrimSpace(rec[2])
		}
		out = append(out, a)
	}
	return out, nil
}

// ValidateAllocations checks a list before it is loaded: not empty, at most MaxAllocations,
// sequence numbers positive and unique, every arm known, strata short. The first fault is
// refused with its line and the reason. Rows without a line number (a JSON body) are
// numbered from 1.
func ValidateAllocations(rows []Allocation) error {
	if len(rows) == 0 {
		return FieldError("rows", "the allocation list is empty: give one line per allocation, sequence,arm[,stratum]")
	}
	if len(rows) > MaxAllocations {
		return FieldError("rows", "the allocation list has %d lines; at most %d load at once", len(rows), MaxAllocations)
	}
	first := map[int]int{}
	for i, a := range rows {
		line := a.Line
		if line == 0 {
			line = i + 1
		}
		switch {
		case a.Sequence < 1:
			return FieldError("rows", "line %d: sequence %d must be a whole number from 1", line, a.Sequence)
		case a.Arm != ArmHUCMSC && a.Arm != ArmRoutine:
			return FieldError("rows", "line %d: arm %q is not an arm of the trial (huc_msc or routine)", line, a.Arm)
		case len(a.Stratum) > maxStratum:
			return FieldError("rows", "line %d: stratum is longer than %d characters", line, maxStratum)
		}
		if prev, dup := first[a.Sequence]; dup {
			return FieldError("rows", "line %d: sequence %d appears twice (first on line %d)", line, a.Sequence, prev)
		}
		first[a.Sequence] = line
	}
	return nil
}

// AllocationSHA256 is the hash recorded for a list: SHA-256 of its canonical CSV (a
// "sequence,arm,stratum" header, then one line per allocation in the order given, "\n" line
// ends), so that the same list has the same hash however it was sent.
func AllocationSHA256(rows []Allocation) string {
	h := sha256.New()
	io.WriteString(h, "sequence,arm,stratum\n")
	for _, a := range rows {
		fmt.Fprintf(h, "%d,%s,%s\n", a.Sequence, a.Arm, a.Stratum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CheckSecondList refuses a new list while the last one still has unused allocations: the
// trial has one list in use at a time, and a second would let someone choose between them.
func CheckSecondList(unused int) error {
	if unused > 0 {
		return Errorf(EConflict, "an allocation list is already in use (%d allocations unused); a second list cannot be loaded until it is used up", unused)
	}
	return nil
}

// CheckEnrolmentArm decides the arm's part of an enrolment. With an allocation list in use
// the list decides, so an arm in the request is refused; without one the arm must be given.
func CheckEnrolmentArm(listInUse bool, requested Arm) error {
	if listInUse {
		if requested != "" {
			return &Error{Code: ERuleViolated, Field: "arm", Message: "the arm is allocated from the trial's allocation list: leave arm out of the enrolment"}
		}
		return nil
	}
	return ValidateArm(requested)
}

// AllocationListInfo is a loaded list as the trial page shows it: never its allocations.
type AllocationListInfo struct {
	ID       int64     `json:"id"`
	SHA256   string    `json:"sha256"`
	Count    int       `json:"count"`
	Used     int       `json:"used"`
	SignedBy string    `json:"signed_by"` // printed name
	Meaning  string    `json:"meaning"`
	SignedAt time.Time `json:"signed_at"`
}

// ArmCount is how many subjects an arm has.
type ArmCount struct {
	Arm        Arm `json:"arm"`
	Enrolled   int `json:"enrolled"`
	Randomized int `json:"randomized"` // of them, allocated from a list
}

// TrialSummary is the trial page: the allocation lists loaded (oldest first) and the subjects
// by arm.
type TrialSummary struct {
	Lists []AllocationListInfo `json:"allocation_lists"`
	Arms  []ArmCount           `json:"arms"`
	// InUse is whether enrolment takes its arm from a list now.
	InUse bool `json:"allocation_in_use"`
}

// TrialService keeps the trial's own records (SPEC §13).
type TrialService interface {
	// LoadAllocations validates a list (ValidateAllocations), checks the QA signer's password
	// and records the list with its SHA-256. Bad list: EInvalid naming the line; a list still
	// in use: EConflict; wrong password: EUnauthenticated.
	LoadAllocations(ctx context.Context, actor Actor, password string, rows []Allocation) (AllocationListInfo, error)
	// TrialSummary is the lists and the counts by arm.
	TrialSummary(ctx context.Context) (TrialSummary, error)
	FollowUpService
	EndpointService
}
