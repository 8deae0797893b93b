package domain

import (
	"slices"
	"testing"
)

// Who is shown a patient's name, MRN and date of birth (SPEC §10): those who care for patients or
// need them; a pharmacist only for the bag in hand; qc and admin never.
func TestMaySeePatientIdentity(t *testing.T) {
	for _, c := range []struct {
		roles     []Role
		bagInHand bool
		want      bool
		role      Role
	}{
		{[]Role{RolePhysician}, false, true, RolePhysician},
		{[]Role{RoleNurse}, false, true, RoleNurse},
		{[]Role{RoleQA}, false, true, RoleQA},
		{[]Role{RoleQC}, false, false, ""},
		{[]Role{RoleAdmin}, false, false, ""},
		{[]Role{RoleQC}, true, false, ""},
		{[]Role{RoleAdmin}, true, false, ""},
		{[]Role{RolePharmacist}, false, false, ""},
		{[]Role{RolePharmacist}, true, true, RolePharmacist},
		{[]Role{RoleAdmin, RoleQC}, false, false, ""},
		{[]Role{RoleQC, RoleQA}, false, true, RoleQA},
		{[]Role{RolePharmacist, RoleNurse}, true, true, RoleNurse},
		{nil, false, false, ""},
	} {
		role, ok := MaySeePatientIdentity(c.roles, c.bagInHand)
		if ok != c.want || role != c.role {
			t.Errorf("roles %v, bag in hand %v: %q %v, want %q %v", c.roles, c.bagInHand, role, ok, c.role, c.want)
		}
	}
}

func TestWithoutIdentityKeepsSubjectAndChain(t *testing.T) {
	p := Patient{ID: 7, SubjectID: "SVP-001", MRN: "MRN0001", Name: "Li Wei", DateOfBirth: "1960-05-01", ChainID: "COI-1"}
	id := p.Identity()
	lt := LotTrace{Bags: []BagTrace{{SubjectID: p.SubjectID, ChainOfIdentity: p.ChainID, Patient: &id}, {SubjectID: p.SubjectID, Patient: &id}}}
	if got := lt.IdentifiedPatients(); !slices.Equal(got, []int64{7}) {
		t.Errorf("identified patients %v, want [7] once", got)
	}
	r := lt.WithoutIdentity()
	if r.Bags[0].Patient != nil || r.Bags[0].SubjectID != "SVP-001" || r.Bags[0].ChainOfIdentity != "COI-1" || len(r.IdentifiedPatients()) != 0 {
		t.Errorf("lot trace without identity: %+v", r.Bags[0])
	}
	if lt.Bags[0].Patient == nil {
		t.Error("WithoutIdentity changed the trace it was given")
	}
	pt := PatientTrace{Patient: p, Bags: lt.Bags}.WithoutIdentity()
	if pt.Patient.Name != "" || pt.Patient.MRN != "" || pt.Patient.DateOfBirth != "" || pt.Patient.SubjectID != "SVP-001" ||
		pt.Patient.ChainID != "COI-1" || pt.Bags[1].Patient != nil {
		t.Errorf("patient trace without identity: %+v", pt)
	}
}

func TestDisclosureValidate(t *testing.T) {
	for _, c := range []struct {
		d  Disclosure
		ok bool
	}{
		{Disclosure{Via: ViaAPILotTrace, Fields: IdentityFields, PatientIDs: []int64{1}}, true},
		{Disclosure{Via: ViaTrialExport, Fields: []string{FieldSubjectID, FieldClinical}}, true},
		{Disclosure{Fields: IdentityFields}, false},
		{Disclosure{Via: ViaAPILotTrace}, false},
		{Disclosure{Via: ViaAPILotTrace, Fields: []string{"address"}}, false},
	} {
		if err := c.d.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: %v, want ok %v", c.d, err, c.ok)
		}
	}
}

func TestAuditEntriesThatShowPatientIdentity(t *testing.T) {
	for _, c := range []struct {
		e       AuditEntry
		shows   bool
		patient int64
	}{
		{AuditEntry{Action: "patient.enrol", EntityType: "patient", EntityID: "3", After: `{"name":"Li Wei","mrn":"MRN0001"}`}, true, 3},
		{AuditEntry{Action: "bedside.verify", EntityType: "verification", EntityID: "9", After: `{"patient_id":4,"checks":[{"message":"MRN0001"}]}`}, true, 4},
		{AuditEntry{Action: "bedside.verify", EntityType: "verification", EntityID: "10", After: `{"checks":[{"message":"no patient has MRN0009"}]}`}, true, 0},
		{AuditEntry{Action: "patient.weigh", EntityType: "patient", EntityID: "3", After: `{"weight_kg":70}`}, false, 0},
		{AuditEntry{Action: "patient.disclose", EntityType: "patient", EntityID: "3", After: `{"fields":["name"],"via":"api.lot_trace"}`}, false, 0},
		{AuditEntry{Action: "lot.create", EntityType: "lot", EntityID: "1", After: `{"lot_number":"L1"}`}, false, 0},
	} {
		if got := c.e.ShowsPatientIdentity(); got != c.shows {
			t.Errorf("%s: shows identity %v, want %v", c.e.Action, got, c.shows)
		}
		id, ok := c.e.IdentifiedPatient()
		if id != c.patient || ok != (c.patient != 0) {
			t.Errorf("%s %s: patient %d %v, want %d", c.e.Action, c.e.EntityID, id, ok, c.patient)
		}
		w := c.e.WithoutPatientIdentity()
		if c.shows && (w.After != "" || w.Before != "" || w.Withheld == "") || !c.shows && w != c.e {
			t.Errorf("%s without identity: %+v", c.e.Action, w)
		}
	}
}
