package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// The physician's pages: the list of enrolled patients and one patient's page. Both show
// names and MRNs, which identify a patient, so both need domain.PermListPatients (physicians
// and nurses, SPEC §9); everyone else is told so and sees no patient. The actions (enrol,
// weigh, order, report an adverse event) go through the JSON API with its own permissions.

type patientsData struct {
	Patients []domain.PatientSummary
	Query    string
	Arms     []domain.Arm
	// AllocationInUse: the arm comes from the allocation list, so the form asks for none.
	AllocationInUse bool
}

func (h *Handler) patients(c echo.Context, u domain.User) error {
	view := View{Title: "Patients", User: &u}
	if _, err := domain.Authorize(u, domain.PermListPatients); err != nil {
		view.Flash = domain.ErrorMessage(err)
		view.Data = patientsData{}
		return h.pages.Render(c.Response(), http.StatusForbidden, "patients", view)
	}
	q := c.QueryParam("subject")
	ps, err := h.svc.Patients.ListPatients(c.Request().Context(), domain.PatientFilter{Subject: q})
	if err == nil {
		err = h.disclose(c, u, domain.ViaPagePatients, listFields, domain.PatientIDs(ps))
	}
	if err != nil {
		ps, view.Flash = nil, domain.ErrorMessage(err)
	}
	trial, err := h.svc.Trial.TrialSummary(c.Request().Context())
	if err != nil {
		return err
	}
	view.Data = patientsData{Patients: ps, Query: q, Arms: domain.Arms, AllocationInUse: trial.InUse}
	return h.pages.Render(c.Response(), http.StatusOK, "patients", view)
}

// patientData is a patient's page: the detail (weights, orders, window, target now), the
// bags and adverse events from the patient's trace, and whether a dose may be ordered.
type patientData struct {
	domain.PatientDetail
	Bags          []domain.BagTrace
	AdverseEvents []domain.AdverseEvent
	CanOrder      bool
	CannotOrder   string // why not, in words
	TargetLow     int64  // the target less the tolerance
	TargetHigh    int64  // the target plus the tolerance
	PerKg         int64  // the protocol's cells per kg
	Severities    []string
	AEOptions     aeOptions
	// WeightReasonPct: a weight further than this from the last one needs a reason.
	WeightReasonPct int
	// Notices of held or recalled lots the patient was infused from, unacknowledged first.
	Notices []domain.RecallNotice
}

func (h *Handler) patient(c echo.Context, u domain.User) error {
	if _, err := domain.Authorize(u, domain.PermListPatients); err != nil {
		return h.pages.Render(c.Response(), http.StatusForbidden, "patients", View{Title: "Patients", User: &u, Flash: domain.ErrorMessage(err), Data: patientsData{}})
	}
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return h.patientsMessage(c, u, "There is no such patient. Pick one from the list.")
	}
	d, err := h.svc.Patients.PatientDetail(ctx, id)
	if domain.ErrorCode(err) == domain.ENotFound {
		return h.patientsMessage(c, u, domain.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	care, err := h.svc.Trace.PatientCare(ctx, id)
	if err != nil {
		return err
	}
	if err := h.disclose(c, u, domain.ViaPagePatient, recordFields, []int64{d.ID}); err != nil {
		return err
	}
	data := patientData{PatientDetail: d, Bags: care.Bags, AdverseEvents: care.AdverseEvents, Severities: domain.Severities,
		WeightReasonPct: domain.WeightChangeReasonPct, AEOptions: newAEOptions()}
	if data.Notices, err = h.svc.Recall.PatientRecallNotices(ctx, id); err != nil {
		return err
	}
	data.CanOrder, data.CannotOrder = d.CanOrder()
	tol := d.TolerancePct / 100
	data.PerKg = int64(d.CellsPerKg)
	data.TargetLow, data.TargetHigh = int64(float64(d.TargetNow)*(1-tol)), int64(float64(d.TargetNow)*(1+tol))
	return h.pages.Render(c.Response(), http.StatusOK, "patient", View{Title: "Patient " + d.SubjectID, User: &u, Data: data})
}

func (h *Handler) patientsMessage(c echo.Context, u domain.User, msg string) error {
	ps, err := h.svc.Patients.ListPatients(c.Request().Context(), domain.PatientFilter{})
	if err != nil || h.disclose(c, u, domain.ViaPagePatients, listFields, domain.PatientIDs(ps)) != nil {
		ps = nil // the message alone, rather than names whose showing is not recorded
	}
	return h.pages.Render(c.Response(), http.StatusNotFound, "patients", View{Title: "Patients", User: &u, Flash: msg,
		Data: patientsData{Patients: ps, Arms: []domain.Arm{domain.ArmHUCMSC, domain.ArmRoutine}}})
}

// disclose records in the audit trail that u is shown these fields of these patients through
// via (one patient.disclose entry each), as the API does; nothing is shown if that fails.
func (h *Handler) disclose(c echo.Context, u domain.User, via string, fields []string, patientIDs []int64) error {
	role, ok := domain.MaySeePatientIdentity(u.Roles, false)
	if !ok {
		return domain.Errorf(domain.EForbidden, "patients' names, MRNs and dates of birth are shown only to physicians, nurses and QA; you are logged in as %s", u.Username)
	}
	actor := u.ActingAs(role, c.Response().Header().Get(echo.HeaderXRequestID))
	return h.svc.Records.RecordDisclosure(c.Request().Context(), actor,
		domain.Disclosure{Via: via, Fields: fields, PatientIDs: patientIDs})
}

// specVersion is the specification version a dose order was made under: the pages show its
// dose per kg and tolerance for that order, never a later version's.
func (h *Handler) specVersion(ctx context.Context, version int) (domain.ReleaseSpec, error) {
	versions, err := h.svc.Lab.SpecVersions(ctx)
	if err != nil {
		return domain.ReleaseSpec{}, err
	}
	for _, v := range versions {
		if v.Spec.Version == version {
			return v.Spec, nil
		}
	}
	return domain.ReleaseSpec{}, fmt.Errorf("specification v%d is not stored", version)
}

// The fields each page shows: the list names and MRNs with subject ids; a patient's page and
// the traces add the date of birth and the record of care.
var (
	listFields   = []string{domain.FieldName, domain.FieldMRN, domain.FieldSubjectID}
	recordFields = []string{domain.FieldName, domain.FieldMRN, domain.FieldDateOfBirth, domain.FieldSubjectID, domain.FieldClinical}
)
