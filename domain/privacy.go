package domain

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// What a disclosure may name as shown (Disclosure.Fields). The first three identify a patient
// (IdentityFields); the subject id is the trial's pseudonym; clinical is the record of care
// (dose, custody, infusion, adverse events) that a subject id ties to a person.
const (
	FieldName        = "name"
	FieldMRN         = "mrn"
	FieldDateOfBirth = "date_of_birth"
	FieldSubjectID   = "subject_id"
	FieldClinical    = "clinical"
)

// IdentityFields are a patient's identifying data: shown only to those MaySeePatientIdentity
// allows, and every showing is a patient.disclose entry.
var IdentityFields = []string{FieldName, FieldMRN, FieldDateOfBirth}

var disclosureFields = []string{FieldName, FieldMRN, FieldDateOfBirth, FieldSubjectID, FieldClinical}

// What showed patient data (Disclosure.Via): the API or page, and the view. An auditor reads
// who saw a patient (the entry's entity id) and how (via).
const (
	ViaAPILotTrace         = "api.lot_trace"
	ViaAPIPatientTrace     = "api.patient_trace"
	ViaAPIPatients         = "api.patients"
	ViaAPIPatient          = "api.patient"
	ViaPageLotTrace        = "page.lot_trace"
	ViaPagePatientTrace    = "page.patient_trace"
	ViaPagePatients        = "page.patients"
	ViaPagePatient         = "page.patient"
	ViaFHIRPatient         = "fhir.Patient"
	ViaFHIRPatientRecords  = "fhir.Patient.$everything"
	ViaFHIRLotBundle       = "fhir.Bundle"
	ViaTrialExport         = "export.trial"
	ViaBedsideVerification = "bedside.verify"
	ViaDoseBagLabel        = "dose_bag.label"
)

// ViaFHIR is the via of a FHIR read of one resource type, e.g. fhir.Procedure.
func ViaFHIR(resourceType string) string { return "fhir." + resourceType }

// MaySeePatientIdentity decides who is shown patients' names, MRNs and dates of birth (SPEC §10):
// the roles that care for patients or need them. Physicians and nurses (PermListPatients) care
// for them; physicians and QA (PermDisclosePatientData) follow products to patients in recalls
// and deviations; a pharmacist only for the bag in hand (preparing, checking, labelling or
// dispatching one bag, whose label carries them). Everyone else (qc, admin, a pharmacist
// reading a trace) sees the subject id and chain of identity. The role returned is the one the
// disclosure is recorded under.
func MaySeePatientIdentity(roles []Role, bagInHand bool) (Role, bool) {
	for _, p := range []Permission{PermListPatients, PermDisclosePatientData} {
		for _, r := range permissionRoles[p] {
			if slices.Contains(roles, r) {
				return r, true
			}
		}
	}
	if bagInHand && slices.Contains(roles, RolePharmacist) {
		return RolePharmacist, true
	}
	return "", false
}

// Disclosure is a showing of patient data to a user, for the audit trail (who saw whose data,
// when, through what): one patient.disclose entry per patient, entity patient, after
// {"fields": Fields, "via": Via}.
type Disclosure struct {
	// Via names what showed it (the Via* constants, e.g. ViaAPILotTrace).
	Via string
	// Fields are what was shown of each patient (the Field* constants).
	Fields     []string
	PatientIDs []int64
}

// Validate checks that a disclosure says what showed which fields.
func (d Disclosure) Validate() error {
	if strings.TrimSpace(d.Via) == "" || len(d.Fields) == 0 {
		return Errorf(EInvalid, "a disclosure must name what showed the data (via) and which fields")
	}
	for _, f := range d.Fields {
		if !slices.Contains(disclosureFields, f) {
			return Errorf(EInvalid, "a disclosure cannot name the field %q; use %s", f, strings.Join(disclosureFields, ", "))
		}
	}
	return nil
}

// PatientIdentity is who a bag's patient is, as a trace shows it to those who may see it.
type PatientIdentity struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	MRN         string `json:"mrn"`
	DateOfBirth string `json:"date_of_birth"`
}

// Identity is p's identifying data.
func (p Patient) Identity() PatientIdentity {
	return PatientIdentity{ID: p.ID, Name: p.Name, MRN: p.MRN, DateOfBirth: p.DateOfBirth}
}

// WithoutIdentity is p as those who may not see who the patient is are shown it: the subject
// id and chain of identity, without name, MRN or date of birth.
func (p Patient) WithoutIdentity() Patient {
	p.Name, p.MRN, p.DateOfBirth = "", "", ""
	return p
}

// WithoutIdentity is the trace without its patients' names, MRNs and dates of birth.
func (t LotTrace) WithoutIdentity() LotTrace {
	t.Bags = bagsWithoutIdentity(t.Bags)
	return t
}

// WithoutIdentity is the trace without the patient's name, MRN and date of birth.
func (t PatientTrace) WithoutIdentity() PatientTrace {
	t.Patient = t.Patient.WithoutIdentity()
	t.Bags = bagsWithoutIdentity(t.Bags)
	return t
}

func bagsWithoutIdentity(bags []BagTrace) []BagTrace {
	out := slices.Clone(bags)
	for i := range out {
		out[i].Patient = nil
	}
	return out
}

// IdentifiedPatients are the ids of the patients whose identity the trace shows, each once.
func (t LotTrace) IdentifiedPatients() []int64 {
	var ids []int64
	for _, b := range t.Bags {
		if b.Patient != nil && !slices.Contains(ids, b.Patient.ID) {
			ids = append(ids, b.Patient.ID)
		}
	}
	return ids
}

// Audit actions whose values carry a patient's identifying data: the enrolment holds the
// patient as entered (name, MRN, date of birth); a bedside verification's checks quote the
// MRNs of the wristband and the label.
const (
	AuditPatientEnrol      = "patient.enrol"
	AuditBedsideVerify     = "bedside.verify"
	ViaAPIAudit            = "api.audit"
	auditWithheldForReader = "withheld: it carries a patient's name, MRN or date of birth, which your roles may not see"
)

// ShowsPatientIdentity reports whether the entry's values carry a patient's name, MRN or date
// of birth.
func (e AuditEntry) ShowsPatientIdentity() bool {
	return e.Action == AuditPatientEnrol || e.Action == AuditBedsideVerify
}

// WithoutPatientIdentity is e as shown to a reader who may not see patients' identity: the
// entry is listed with who, what and when and its hashes, its before and after values withheld.
func (e AuditEntry) WithoutPatientIdentity() AuditEntry {
	if e.ShowsPatientIdentity() {
		e.Before, e.After, e.Withheld = "", "", auditWithheldForReader
	}
	return e
}

// IdentifiedPatient is the patient whose identity the entry shows: the enrolled patient, or
// the patient whose wristband was verified; false when there is none (a wristband that
// matched nobody).
func (e AuditEntry) IdentifiedPatient() (int64, bool) {
	switch e.Action {
	case AuditPatientEnrol:
		id, err := strconv.ParseInt(e.EntityID, 10, 64)
		return id, err == nil && e.EntityType == "patient"
	case AuditBedsideVerify:
		var v struct {
			PatientID int64 `json:"patient_id"`
		}
		if json.Unmarshal([]byte(e.After), &v) == nil && v.PatientID != 0 {
			return v.PatientID, true
		}
	}
	return 0, false
}
