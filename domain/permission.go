package domain

import "fmt"

// Permission names something a request may do. Every route declares one; the table below is
// the only place that says which roles hold it, so that an audit of access control reads one
// table and the security tests compare every route against it.
type Permission string

const (
	PermAnyUser     Permission = "any_user" // read-only views open to every logged-in user
	PermManageUsers Permission = "users.manage"
	PermReadAudit   Permission = "audit.read"
	PermRecordLab   Permission = "lab.record" // donations, lots, units, QC results
	PermSignLot     Permission = "lots.sign"  // release, reject, hold, recall
	// PermDetermineEligibility signs the donor eligibility determination (21 CFR 1271.50).
	PermDetermineEligibility Permission = "donors.determine"
	// Active recall: reading a lot's recall tasks, scanning a unit or bag back, recording one
	// destroyed, and a physician's acknowledgement of a notice about an infused patient.
	PermRecallRead        Permission = "recall.read"
	PermRecallReturn      Permission = "recall.return"
	PermRecallDestroy     Permission = "recall.destroy"
	PermRecallAcknowledge Permission = "recall.acknowledge"
	PermManageSpec        Permission = "spec.manage"
	PermCosignSpec        Permission = "spec.cosign" // a physician's signature that makes a proposed version current
	PermDisposeExcursion  Permission = "excursions.dispose"
	PermManagePatients    Permission = "patients.manage" // enrol, dose orders
	PermRecordWeight      Permission = "patients.weigh"
	PermListPatients      Permission = "patients.list" // enrolled patients with names and MRNs: patient-identifying
	PermExceptional       Permission = "lots.exceptional_release"
	PermPrepareDose       Permission = "dose_bags.prepare" // allocate, prepare, print, reprint
	PermDispatch          Permission = "scans.dispatch"
	PermPrintBagLabel     Permission = "dose_bags.label"  // print a dose bag's label
	PermPrintUnitLabel    Permission = "units.label"      // print unit labels, one or a lot's sheet
	PermReturnBag         Permission = "dose_bags.return" // send back a bag that must not be given
	PermDiscardUnit       Permission = "units.discard"
	PermReceive           Permission = "scans.receive"
	PermBedside           Permission = "bedside.verify"        // verify, witness, infuse
	PermAdverseEvent      Permission = "adverse_events.record" // report, follow up
	PermReadAdverseEvent  Permission = "adverse_events.read"   // an event with its versions and reports
	PermSafetyReporting   Permission = "safety.report"         // the safety worklist, sent to sponsor
	PermDeviations        Permission = "deviations.record"     // list and record deviations, corrective actions
	PermSignDeviation     Permission = "deviations.sign"       // the physician's sign-off
	// PermDisclosePatientData reads patient-identifying records for outside systems (the FHIR
	// API, the trial export); every such read is recorded in the audit trail.
	PermDisclosePatientData Permission = "patient_data.disclose"
	// Dashboards (aggregates only, no patient data): the lab's lots and QC trends; the stock
	// and bags on their way, for those who use them; bedside scan compliance per ward, for
	// those who answer for it.
	PermDashboardLab        Permission = "dashboards.lab"
	PermDashboardStock      Permission = "dashboards.stock"
	PermDashboardCompliance Permission = "dashboards.compliance"
	// The trial (SPEC §13): QA loads and signs the allocation list; the trial page and its
	// endpoints are aggregates by arm that name no patient.
	PermLoadAllocations Permission = "trial.allocations.load"
	PermTrialRead       Permission = "trial.read"
	PermFollowUp        Permission = "follow_up.record" // assessments
)

// permissionRoles is the permission table of SPEC §9. The first role listed that a user holds
// is the role recorded in the audit trail for that action.
var permissionRoles = map[Permission][]Role{
	PermAnyUser:     AllRoles,
	PermManageUsers: {RoleAdmin},
	PermReadAudit:   {RoleQA, RoleAdmin},
	PermRecordLab:   {RoleQC},
	PermSignLot:     {RoleQA},
	// The determination is a release decision on the donor: made by QA, the unit
	// independent of the lab that records the tests and the screening.
	PermDetermineEligibility: {RoleQA},
	// Recalled units and bags come back to the pharmacy, which scans them in; QA, who recalls,
	// and the pharmacy may record one destroyed. The physicians answer for infused patients.
	PermRecallRead:        {RoleQA, RolePharmacist},
	PermRecallReturn:      {RolePharmacist},
	PermRecallDestroy:     {RolePharmacist, RoleQA},
	PermRecallAcknowledge: {RolePhysician},
	PermManageSpec:        {RoleQA},
	PermCosignSpec:        {RolePhysician},
	PermDisposeExcursion:  {RoleQA},
	PermManagePatients:    {RolePhysician},
	PermRecordWeight:      {RolePhysician, RoleNurse},
	PermExceptional:       {RolePhysician, RoleQA},
	PermPrepareDose:       {RolePharmacist},
	PermDispatch:          {RolePharmacist},
	// A dose bag's label names its patient and goes on the container the pharmacy checked:
	// pharmacists print it. Unit labels are printed where units are made and thawed.
	PermPrintBagLabel:  {RolePharmacist},
	PermPrintUnitLabel: {RoleQC, RolePharmacist},
	// The ward sends back a bag it will not give; the pharmacy takes back one it has not sent.
	PermReturnBag: {RoleNurse, RolePharmacist},
	// Units are made in the lab and thawed in the pharmacy: either may find one unusable.
	PermDiscardUnit:  {RoleQC, RolePharmacist},
	PermReceive:      {RoleNurse},
	PermBedside:      {RoleNurse, RolePhysician},
	PermAdverseEvent: {RolePhysician, RoleNurse},
	// Those who report events read them back; QA follows them to the lot and the sponsor.
	PermReadAdverseEvent: {RolePhysician, RoleNurse, RoleQA},
	// Expedited reporting to the sponsor is the investigator's duty, with QA's help.
	PermSafetyReporting: {RolePhysician, RoleQA},
	// Deviations are seen where care is given and by QA; the investigator signs them off.
	PermDeviations:    {RolePhysician, RoleNurse, RoleQA},
	PermSignDeviation: {RolePhysician},
	// The list of patients, with their names and MRNs, is for those SPEC §9 gives patient care:
	// physicians enrol, weigh and order; nurses weigh and report adverse events. The pharmacy
	// works from orders (subject ids), QA follows products through the trace and the audited
	// disclosures, the lab never needs a patient, and admins see no clinical data.
	PermListPatients: {RolePhysician, RoleNurse},
	// Investigators (physicians) own the trial data; QA follows products to patients in
	// recalls and deviations. Admins manage accounts only and see no clinical data.
	PermDisclosePatientData: {RolePhysician, RoleQA},

	PermDashboardLab:        {RoleQC, RoleQA, RoleAdmin},
	PermDashboardStock:      {RolePharmacist, RoleNurse, RoleQA},
	PermDashboardCompliance: {RoleQA, RolePhysician, RoleAdmin},
	PermLoadAllocations:     {RoleQA},
	PermTrialRead:           {RolePhysician, RoleQA},
	// Assessments are taken on the ward; outcomes (discharge, death, withdrawal) are the
	// physician's, under PermManagePatients.
	PermFollowUp: {RolePhysician, RoleNurse},
}

// RolesFor returns the roles that hold p; nil for an unknown permission, which nobody holds.
func RolesFor(p Permission) []Role { return permissionRoles[p] }

// Permissions lists every permission in the table.
func Permissions() []Permission {
	out := make([]Permission, 0, len(permissionRoles))
	for p := range permissionRoles {
		out = append(out, p)
	}
	return out
}

// Authorize returns the role under which u may do p, or an EForbidden error that says which
// roles would be needed.
func Authorize(u User, p Permission) (Role, error) {
	roles, ok := permissionRoles[p]
	if !ok {
		return "", fmt.Errorf("authorize: unknown permission %q", p)
	}
	for _, r := range roles {
		if u.HasRole(r) {
			return r, nil
		}
	}
	return "", Errorf(EForbidden, "this needs the role %s; you are logged in as %s (%s). Ask an admin if you need it",
		joinRoles(roles), u.Username, joinRoles(u.Roles))
}

// Actor is who is doing a write, as the audit trail records it.
type Actor struct {
	UserID    int64 // 0 for the system itself (bootstrap, migrations)
	Username  string
	FullName  string
	Role      Role
	RequestID string
}

// ActingAs is u acting under role in the request requestID, as audit entries name them.
func (u User) ActingAs(role Role, requestID string) Actor {
	return Actor{UserID: u.ID, Username: u.Username, FullName: u.FullName, Role: role, RequestID: requestID}
}

// SystemActor is the actor for writes the service makes on its own, such as creating the
// first admin.
func SystemActor(requestID string) Actor {
	return Actor{Username: "system", FullName: "cordtrace (system)", Role: "system", RequestID: requestID}
}
