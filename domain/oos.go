package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// StatusOOS is the criterion status while an out-of-specification investigation of its test
// is open (SPEC §4): the lot cannot be released and later results do not count.
const StatusOOS = "oos"

// Investigation states and the conclusions QA closes one with.
const (
	InvestigationOpen   = "open"
	InvestigationClosed = "closed"
	ConclusionLabError  = "lab_error"
	ConclusionConfirmed = "confirmed"
)

// Investigation is an out-of-specification (OOS) investigation on one test of a lot, opened
// by a failing result. While open it covers every later result of that test; QA closes it
// with an electronic signature (printed name, time, meaning) and a conclusion.
type Investigation struct {
	ID       int64     `json:"id"`
	LotID    int64     `json:"lot_id"`
	Test     QCTest    `json:"test"`
	ResultID int64     `json:"result_id"`
	Status   string    `json:"status"`
	OpenedAt time.Time `json:"opened_at"`
	// Closing: the conclusion, the reason, and the signature.
	Conclusion string     `json:"conclusion"`
	Reason     string     `json:"reason,omitempty"`
	ClosedBy   int64      `json:"closed_by,omitempty"`
	SignedBy   string     `json:"signed_by,omitempty"` // printed name of the QA signer
	Meaning    string     `json:"meaning,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	// LastResultID is the latest result of the test when the investigation closed: the
	// results it reviewed are those from ResultID to LastResultID.
	LastResultID int64 `json:"last_result_id,omitempty"`
}

// covers reports whether the investigation reviews result r: a result of its test from the
// failing one on, up to its closing.
func (inv Investigation) covers(r QCResult) bool {
	if r.Test != inv.Test || r.ID < inv.ResultID {
		return false
	}
	return inv.Status == InvestigationOpen || r.ID <= inv.LastResultID
}

// InvestigationMeaning is the statement the closing signature makes (21 CFR 11.50); the
// investigation reviewed the results from resultID to lastResultID.
func InvestigationMeaning(conclusion string, resultID, lastResultID int64) string {
	if conclusion == ConclusionLabError {
		if lastResultID > resultID {
			return fmt.Sprintf("OOS investigation closed: laboratory error; results %d to %d invalidated", resultID, lastResultID)
		}
		return fmt.Sprintf("OOS investigation closed: laboratory error; result %d invalidated", resultID)
	}
	return fmt.Sprintf("OOS investigation closed: failure of result %d confirmed", resultID)
}

// TestOOS is what the OOS rules leave standing for one test of a lot.
type TestOOS struct {
	// Open is the open investigation of the test: its criterion is oos.
	Open *Investigation
	// Failing is the latest failing result no investigation covers: it stands, whatever
	// was recorded after it or corrected it.
	Failing *QCResult
	// Confirmed is the latest investigation that confirmed a failure: the failure stands.
	Confirmed *Investigation
	// LabError is the latest investigation closed as a laboratory error; results up to
	// CountsAfter (the results it reviewed, and any before them) no longer count.
	LabError    *Investigation
	CountsAfter int64
}

// OOSState decides, for each test, which failing result stands and which results count under
// the OOS rules of SPEC §4: a failing result is never replaced by a later result or by the
// analyst's correction; only QA's conclusion "lab_error" invalidates it, and then only results
// recorded after the closing count.
func OOSState(spec ReleaseSpec, results []QCResult, invs []Investigation) map[QCTest]TestOOS {
	out := map[QCTest]TestOOS{}
	invs = slices.Clone(invs)
	slices.SortFunc(invs, func(a, b Investigation) int { return int(a.ID - b.ID) })
	for _, inv := range invs {
		st := out[inv.Test]
		inv := inv
		switch {
		case inv.Status == InvestigationOpen:
			st.Open = &inv
		case inv.Conclusion == ConclusionLabError:
			st.LabError = &inv
			st.CountsAfter = max(st.CountsAfter, inv.LastResultID)
		case inv.Conclusion == ConclusionConfirmed:
			st.Confirmed = &inv
		}
		out[inv.Test] = st
	}
	sorted := slices.Clone(results)
	slices.SortFunc(sorted, func(a, b QCResult) int { return int(a.ID - b.ID) })
	for _, r := range sorted {
		st := out[r.Test]
		if r.ID <= st.CountsAfter || !FailsSpec(spec, r) || slices.ContainsFunc(invs, func(inv Investigation) bool { return inv.covers(r) }) {
			continue
		}
		r := r
		st.Failing = &r
		out[r.Test] = st
	}
	return out
}

// OOSToOpen returns the failing results that must each open an investigation: per test, the
// first failing result that no investigation covers, when none of that test is open. A
// failing result recorded while one is open belongs to that one.
func OOSToOpen(spec ReleaseSpec, results []QCResult, invs []Investigation) []QCResult {
	var out []QCResult
	sorted := slices.Clone(results)
	slices.SortFunc(sorted, func(a, b QCResult) int { return int(a.ID - b.ID) })
	state := OOSState(spec, results, invs)
	for _, r := range sorted {
		st := state[r.Test]
		if st.Open != nil || r.ID <= st.CountsAfter || !FailsSpec(spec, r) ||
			slices.ContainsFunc(invs, func(inv Investigation) bool { return inv.covers(r) }) ||
			slices.ContainsFunc(out, func(o QCResult) bool { return o.Test == r.Test }) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// CloseInvestigation is QA's closing of an OOS investigation.
type CloseInvestigation struct {
	Password   string `json:"password"`
	Conclusion string `json:"conclusion"`
	Reason     string `json:"reason"`
}

// Validate checks the fields of a closing.
func (c CloseInvestigation) Validate() error {
	switch {
	case c.Conclusion != ConclusionLabError && c.Conclusion != ConclusionConfirmed:
		return FieldError("conclusion", "the conclusion must be lab_error (the failing result is invalidated) or confirmed (the failure stands)")
	case strings.TrimSpace(c.Reason) == "":
		return FieldError("reason", "say what the investigation found: the reason is part of the signed record")
	}
	return nil
}

// CloseFacts is what the rule for closing an investigation looks at.
type CloseFacts struct {
	Investigation Investigation
	Request       CloseInvestigation
	SignerID      int64
	// FailingEnteredBy is who recorded the failing result.
	FailingEnteredBy int64
}

// CheckCloseInvestigation decides whether QA may close an OOS investigation: it is open, the
// conclusion and reason are given, and the signer did not record the failing result.
func CheckCloseInvestigation(f CloseFacts) error {
	if err := f.Request.Validate(); err != nil {
		return err
	}
	inv := f.Investigation
	if inv.Status != InvestigationOpen {
		return Errorf(EConflict, "OOS investigation %d is already closed (%s, signed by %s)", inv.ID, inv.Conclusion, inv.SignedBy)
	}
	if f.SignerID == f.FailingEnteredBy {
		return Errorf(ERuleViolated, "you recorded the failing result %d, so you cannot close its OOS investigation: another QA person must sign", inv.ResultID)
	}
	return nil
}

// QCEntryFacts is what the rule for accepting a QC result looks at.
type QCEntryFacts struct {
	LotStatus LotStatus
	Result    QCResult
	// Corrected is the result Result.Corrects names, nil when the lot has no such result;
	// CorrectedAlready when a correction of it exists.
	Corrected        *QCResult
	CorrectedAlready bool
}

// CheckQCEntry decides whether a result or a correction may be recorded: the lot is still
// live, and a correction names a result of the same test on this lot that was not corrected
// yet. A correction is recorded as a new version; whether it counts is Evaluate's business
// (a failing result stands until QA closes its OOS investigation).
func CheckQCEntry(f QCEntryFacts) error {
	switch f.LotStatus {
	case LotRejected, LotRecalled, LotExpired:
		return Errorf(EConflict, "lot is %s; QC results can no longer be recorded for it", f.LotStatus)
	}
	r := f.Result
	if r.Corrects == nil {
		return nil
	}
	switch {
	case f.Corrected == nil:
		return FieldError("corrects", "lot %d has no QC result %d to correct", r.LotID, *r.Corrects)
	case f.Corrected.Test != r.Test:
		return FieldError("corrects", "result %d is a %s result; a correction must be of the same test", f.Corrected.ID, f.Corrected.Test)
	case f.CorrectedAlready:
		return Errorf(EConflict, "result %d was already corrected; correct the latest version instead", f.Corrected.ID)
	}
	return nil
}

// HoldFacts is what the rule for holding a lot on a new result looks at.
type HoldFacts struct {
	Spec      ReleaseSpec
	LotStatus LotStatus
	// ExceptionalSigned is true when either half of an exceptional release of the lot was
	// signed for a patient.
	ExceptionalSigned bool
	Result            QCResult
}

// FailureHoldsLot decides whether a new result puts the lot on hold at once (SPEC §5): it
// fails the specification and the lot is released, or in quarantine with an exceptional
// release signed. It returns the reason for the record, "" when the lot is not held.
func FailureHoldsLot(f HoldFacts) string {
	if !FailsSpec(f.Spec, f.Result) {
		return ""
	}
	switch {
	case f.LotStatus == LotReleased:
		return fmt.Sprintf("QC result %d (%s) fails specification v%d after release", f.Result.ID, f.Result.Test, f.Spec.Version)
	case f.LotStatus == LotQuarantine && f.ExceptionalSigned:
		return fmt.Sprintf("QC result %d (%s) fails specification v%d after an exceptional release was signed", f.Result.ID, f.Result.Test, f.Spec.Version)
	}
	return ""
}
