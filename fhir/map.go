package fhir

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"cordtrace/domain"
)

// Naming and code systems. The ISBT 128 ones are ICCBBA's URIs (https://www.isbt128.org/uri/,
// the mapping URI that the R5 BiologicallyDerivedProduct definition names); the urn:cordtrace:
// ones are this site's own and are listed in the README.
const (
	SystemISBTUnit        = "https://www.isbt128.org/uri/MPHOUniqueIdentifier"
	SystemISBTDIN         = "https://www.isbt128.org/uri/DonationIdentificationNumber"
	SystemISBTProductCode = "https://www.isbt128.org/uri/ProductDescriptionCode"

	SystemSubjectID       = "urn:cordtrace:trial-subject-id"
	SystemMRN             = "urn:cordtrace:mrn"
	SystemChainOfIdentity = "urn:cordtrace:chain-of-identity"
	SystemUser            = "urn:cordtrace:user"
	SystemLocation        = "urn:cordtrace:location"
	SystemProperty        = "urn:cordtrace:product-property"

	systemProductCategory = "http://hl7.org/fhir/product-category"
	systemProductStatus   = "http://hl7.org/fhir/biologicallyderived-product-status"
	systemMatchStatus     = "http://hl7.org/fhir/CodeSystem/biologicallyderivedproductdispense-match-status"
	systemOrigin          = "http://hl7.org/fhir/CodeSystem/biologicallyderivedproductdispense-origin-relationship"
	systemPerformerFunc   = "http://hl7.org/fhir/CodeSystem/biologicallyderivedproductdispense-performer-function"
	systemSeriousness     = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
	systemIdentifierType  = "http://terminology.hl7.org/CodeSystem/v2-0203"
	systemUCUM            = "http://unitsofmeasure.org"
)

// UnitStorageMaxC is the highest storage temperature, in °C, that BiologicallyDerivedProduct.
// storageTempRequirements states for a cryopreserved unit (no lower limit is stated).
//
// It is an ASSUMPTION, not a recorded fact: cordtrace records neither the storage temperature of
// units nor a storage limit in its release specification (domain.ReleaseSpec has only the
// transport range of thawed dose bags). −150 °C is the usual limit for cryopreserved MSC in the
// vapour phase of liquid nitrogen, below the glass transition of DMSO-based media. If the site's
// storage SOP or the product's IMPD states another limit, change it here; once the specification
// carries a storage limit, map that instead and drop this constant.
const UnitStorageMaxC = -150

// Options are the site's choices that the mapping needs.
type Options struct {
	// MRNSystem is the Identifier.system of patients' medical record numbers: the hospital's own
	// naming system (an OID as urn:oid:… or a URL) so that other systems recognise the MRN.
	// Empty means SystemMRN.
	MRNSystem string
}

func (o Options) mrnSystem() string {
	if o.MRNSystem == "" {
		return SystemMRN
	}
	return o.MRNSystem
}

// Resource ids. Units and dose bags share the BiologicallyDerivedProduct type, so their ids
// carry a prefix; the others are the record's id.
func UnitResourceID(id int64) string { return "unit-" + strconv.FormatInt(id, 10) }
func BagResourceID(id int64) string  { return "bag-" + strconv.FormatInt(id, 10) }

// ParseProductID reads a BiologicallyDerivedProduct id: which kind, and the record id.
func ParseProductID(s string) (kind string, id int64, err error) {
	kind, num, ok := strings.Cut(s, "-")
	if ok && (kind == "unit" || kind == "bag") {
		if id, err := strconv.ParseInt(num, 10, 64); err == nil && id > 0 {
			return kind, id, nil
		}
	}
	return "", 0, domain.Errorf(domain.ENotFound, "%q is not a product id here: use unit-N for a unit or bag-N for a dose bag", s)
}

func ref(typ, id string) Reference { return Reference{Reference: typ + "/" + id} }

func withDisplay(r Reference, display string) Reference {
	r.Display = display
	return r
}

// bagRef is the reference to dose bag id as a BiologicallyDerivedProduct.
func bagRef(id int64) Reference { return ref("BiologicallyDerivedProduct", BagResourceID(id)) }

// millilitres and cells are UCUM quantities.
func millilitres(v float64) *Quantity {
	return &Quantity{Value: v, Unit: "mL", System: systemUCUM, Code: "mL"}
}
func cells(n int64) *Quantity {
	return &Quantity{Value: float64(n), Unit: "cells", System: systemUCUM, Code: "{cells}"}
}

func patientRef(id int64) Reference { return ref("Patient", strconv.FormatInt(id, 10)) }

func personRef(p domain.Person) Reference {
	return Reference{Type: "Practitioner", Identifier: &Identifier{System: SystemUser, Value: p.Username}, Display: p.FullName}
}

func instant(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func celsius(v float64) *Quantity {
	return &Quantity{Value: v, Unit: "°C", System: systemUCUM, Code: "Cel"}
}

func property(code, display string) CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: SystemProperty, Code: code, Display: display}}}
}

func productStatus(available bool) *Coding {
	if available {
		return &Coding{System: systemProductStatus, Code: "available", Display: "Available"}
	}
	return &Coding{System: systemProductStatus, Code: "unavailable", Display: "Unavailable"}
}

// MapPatient maps a trial subject. The name and MRN are there: a Patient is identifying data.
func MapPatient(p domain.Patient, o Options) Patient {
	ids := []Identifier{
		{Use: "usual", Type: &CodeableConcept{Coding: []Coding{{System: systemIdentifierType, Code: "MR", Display: "Medical record number"}}},
			System: o.mrnSystem(), Value: p.MRN},
		{Use: "secondary", System: SystemSubjectID, Value: p.SubjectID},
	}
	if p.ChainID != "" {
		ids = append(ids, Identifier{Use: "secondary", System: SystemChainOfIdentity, Value: p.ChainID})
	}
	return Patient{ResourceType: "Patient", ID: strconv.FormatInt(p.ID, 10), Identifier: ids, Active: true,
		Name: []HumanName{{Text: p.Name}}, BirthDate: p.DateOfBirth}
}

func productCode(code string, text string) *CodeableConcept {
	pc, err := domain.ParseUnitID(code)
	if err != nil {
		return &CodeableConcept{Text: text}
	}
	return &CodeableConcept{Coding: []Coding{{System: SystemISBTProductCode, Code: pc.Product.Description}}, Text: text}
}

// division is the unit's ISBT 128 division: the product code's, or with 99 ("see Product
// Divisions") the Product Divisions code (data structure 032) that holds it.
func division(code string) string {
	if u, err := domain.ParseUnitID(code); err == nil {
		if u.Divisions != "" {
			return u.Divisions
		}
		return u.Product.Division
	}
	return ""
}

// MapUnit maps a cryopreserved unit of a lot.
func MapUnit(u domain.Unit, lot domain.Lot, don domain.Donation) BiologicallyDerivedProduct {
	return BiologicallyDerivedProduct{
		ResourceType:            "BiologicallyDerivedProduct",
		ID:                      UnitResourceID(u.ID),
		ProductCategory:         &Coding{System: systemProductCategory, Code: "cells", Display: "Cells"},
		ProductCode:             productCode(u.UnitID, "HUC-MSC, cryopreserved unit"),
		Identifier:              []Identifier{{System: SystemISBTUnit, Value: u.UnitID}},
		BiologicalSourceEvent:   &Identifier{System: SystemISBTDIN, Value: lot.DIN},
		Division:                division(u.UnitID),
		ProductStatus:           productStatus(u.Status == domain.UnitAvailable && lot.Status == domain.LotReleased),
		ExpirationDate:          instant(lot.ExpiresAt),
		Collection:              &ProductCollection{CollectedDateTime: instant(don.CollectedAt)},
		StorageTempRequirements: &Range{High: celsius(UnitStorageMaxC)},
		Property: []Property{
			{Type: property("status", "cordtrace unit status"), ValueString: string(u.Status)},
			{Type: property("lot-number", "Lot number"), ValueString: lot.LotNumber},
			{Type: property("lot-status", "Lot status"), ValueString: string(lot.Status)},
			{Type: property("viable-cells", "Viable cells"), ValueQuantity: cells(u.ViableCells)},
			{Type: property("volume", "Volume"), ValueQuantity: millilitres(u.VolumeML)},
		},
	}
}

// bagUsable is whether a dose bag can still go to its patient.
func bagUsable(b domain.DoseBag, lot domain.Lot) bool {
	switch b.Status {
	case domain.BagPrepared, domain.BagDispatched, domain.BagReceived, domain.BagVerified:
		return lot.Status == domain.LotReleased
	}
	return false
}

// MapBag maps a patient's thawed dose bag; its parents are the units thawed into it.
func MapBag(b domain.DoseBag, lot domain.Lot, don domain.Donation, spec domain.ReleaseSpec) BiologicallyDerivedProduct {
	parents := make([]Reference, len(b.UnitIDs))
	for i, u := range b.UnitIDs {
		parents[i] = ref("BiologicallyDerivedProduct", UnitResourceID(u))
	}
	return BiologicallyDerivedProduct{
		ResourceType:            "BiologicallyDerivedProduct",
		ID:                      BagResourceID(b.ID),
		ProductCategory:         &Coding{System: systemProductCategory, Code: "cells", Display: "Cells"},
		ProductCode:             productCode(b.BagID, "HUC-MSC, thawed patient dose bag"),
		Parent:                  parents,
		Identifier:              []Identifier{{System: SystemISBTUnit, Value: b.BagID}},
		BiologicalSourceEvent:   &Identifier{System: SystemISBTDIN, Value: lot.DIN},
		Division:                division(b.BagID),
		ProductStatus:           productStatus(bagUsable(b, lot)),
		ExpirationDate:          instant(b.ExpiresAt),
		Collection:              &ProductCollection{CollectedDateTime: instant(don.CollectedAt)},
		StorageTempRequirements: &Range{Low: celsius(spec.TransportMinC), High: celsius(spec.TransportMaxC)},
		Property: []Property{
			{Type: property("status", "cordtrace dose bag status"), ValueString: string(b.Status)},
			{Type: property("lot-number", "Lot number"), ValueString: lot.LotNumber},
			{Type: property("viable-cells", "Viable cells"), ValueQuantity: cells(b.ViableCells)},
			{Type: property("volume", "Volume"), ValueQuantity: millilitres(b.VolumeML)},
			{Type: property("post-thaw-viability", "Post-thaw viability"), ValueQuantity: &Quantity{Value: b.PostThawViabilityPct, Unit: "%", System: systemUCUM, Code: "%"}},
			{Type: property("thawed-at", "Thawed at"), ValueString: instant(b.ThawedAt)},
		},
	}
}

func temperature(c *float64) string {
	if c == nil {
		return "not recorded"
	}
	return strconv.FormatFloat(*c, 'f', -1, 64) + " °C"
}

// MapDispatch maps a dispatch of a bag to its patient, with the receipt on the ward if any.
func MapDispatch(d domain.DispatchRecord, b domain.DoseBag) BiologicallyDerivedProductDispense {
	status := "issued"
	if b.Status == domain.BagReturned {
		status = "returned"
	}
	performers := []DispensePerformer{{
		Function: &CodeableConcept{Coding: []Coding{{System: systemPerformerFunc, Code: "transport", Display: "Transport"}}},
		Actor:    personRef(d.DispatchedBy),
	}}
	notes := []Annotation{{Text: fmt.Sprintf("Dispatched by the pharmacy to %s at %s (scanned as %s).",
		d.Dispatch.Location, temperature(d.Dispatch.TemperatureC), d.Dispatch.CodeKind)}}
	if d.Receipt != nil && d.ReceivedBy != nil {
		performers = append(performers, DispensePerformer{
			Function: &CodeableConcept{Coding: []Coding{{System: systemPerformerFunc, Code: "receipt", Display: "Receipt"}}},
			Actor:    personRef(*d.ReceivedBy),
		})
		notes = append(notes, Annotation{Text: fmt.Sprintf("Received on the ward at %s, %s (scanned as %s).",
			instant(d.Receipt.ScannedAt), temperature(d.Receipt.TemperatureC), d.Receipt.CodeKind)})
	}
	if d.Dispatch.Excursion || (d.Receipt != nil && d.Receipt.Excursion) {
		notes = append(notes, Annotation{Text: "Temperature excursion: outside the transport range; use needs QA disposition."})
	}
	return BiologicallyDerivedProductDispense{
		ResourceType:           "BiologicallyDerivedProductDispense",
		ID:                     strconv.FormatInt(d.Dispatch.ID, 10),
		Status:                 status,
		OriginRelationshipType: &CodeableConcept{Coding: []Coding{{System: systemOrigin, Code: "allogeneic", Display: "Allogeneic"}}},
		Product:                withDisplay(bagRef(b.ID), b.EyeReadable),
		Patient:                patientRef(b.PatientID),
		MatchStatus:            &CodeableConcept{Coding: []Coding{{System: systemMatchStatus, Code: "selected", Display: "Selected"}}},
		Performer:              performers,
		Quantity:               millilitres(b.VolumeML),
		PreparedDate:           instant(b.PreparedAt),
		WhenHandedOver:         instant(d.Dispatch.ScannedAt),
		Destination:            &Reference{Type: "Location", Identifier: &Identifier{System: SystemLocation, Value: d.Dispatch.Location}, Display: d.Dispatch.Location},
		Note:                   notes,
		UsageInstruction:       "Do not irradiate. Do not use a leukocyte-reduction filter. Verify patient and bag at the bedside before infusion.",
	}
}

// MapInfusion maps an infusion, with the dose bag it used.
func MapInfusion(i domain.InfusionRecord) Procedure {
	p := Procedure{
		ResourceType:     "Procedure",
		ID:               strconv.FormatInt(i.ID, 10),
		Status:           "in-progress",
		Code:             &CodeableConcept{Text: "Intravenous infusion of HUC-MSC (human umbilical cord mesenchymal stem cells)"},
		Subject:          patientRef(i.PatientID),
		OccurrencePeriod: &Period{Start: instant(i.StartedAt)},
		Performer:        []ProcedurePerformer{{Actor: personRef(i.StartedBy)}},
		Used:             []CodeableReference{{Reference: ptr(bagRef(i.DoseBagID))}},
	}
	if i.EndedAt != nil {
		p.Status = "completed"
		p.OccurrencePeriod.End = instant(*i.EndedAt)
	}
	if i.VolumeML != nil {
		p.Note = append(p.Note, Annotation{Text: "Volume infused: " + strconv.FormatFloat(*i.VolumeML, 'f', -1, 64) + " mL"})
	}
	if r := strings.TrimSpace(i.Reactions); r != "" {
		p.Note = append(p.Note, Annotation{Text: "Reactions: " + r})
	}
	return p
}

// MapAdverseEvent maps an AE or SAE; the infused bag and the infusion are its suspects.
func MapAdverseEvent(a domain.AdverseEventRecord, infusions []domain.InfusionRecord) AdverseEvent {
	seriousness := Coding{System: systemSeriousness, Code: "non-serious", Display: "Non-serious"}
	if a.Serious {
		seriousness = Coding{System: systemSeriousness, Code: "serious", Display: "Serious"}
	}
	ae := AdverseEvent{
		ResourceType:       "AdverseEvent",
		ID:                 strconv.FormatInt(a.ID, 10),
		Status:             "completed",
		Actuality:          "actual",
		Code:               &CodeableConcept{Text: a.Description},
		Subject:            patientRef(a.PatientID),
		OccurrenceDateTime: instant(a.OnsetAt),
		RecordedDate:       instant(a.ReportedAt),
		Seriousness:        &CodeableConcept{Coding: []Coding{seriousness}},
		Recorder:           ptr(personRef(a.ReportedBy)),
		Note:               []Annotation{{Text: "Severity: " + strings.ReplaceAll(a.Severity, "_", "-")}},
	}
	for _, i := range infusions {
		if i.ID == a.InfusionID {
			ae.SuspectEntity = []SuspectEntity{
				{InstanceReference: ptr(bagRef(i.DoseBagID))},
				{InstanceReference: ptr(ref("Procedure", strconv.FormatInt(i.ID, 10)))},
			}
		}
	}
	return ae
}

func ptr[T any](v T) *T { return &v }

// Outcome is an OperationOutcome for an error, with a FHIR issue type for the domain code.
func Outcome(domainCode, message string) OperationOutcome {
	code := "exception"
	switch domainCode {
	case domain.EInvalid:
		code = "invalid"
	case domain.EUnauthenticated, domain.EAccountLocked:
		code = "login"
	case domain.EForbidden:
		code = "forbidden"
	case domain.ENotFound:
		code = "not-found"
	case domain.EConflict:
		code = "conflict"
	case domain.ERuleViolated:
		code = "business-rule"
	case domain.ETooLarge:
		code = "too-costly"
	case domain.EUnavailable:
		code = "transient"
	}
	return OperationOutcome{ResourceType: "OperationOutcome", Issue: []OperationOutcomeIssue{{Severity: "error", Code: code, Diagnostics: message}}}
}
