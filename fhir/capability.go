package fhir

// CapabilityDate is when the interactions this server offers last changed (the
// CapabilityStatement's date): change it with them.
const CapabilityDate = "2026-12-05"

// OperationPatientEverything is the canonical URL of the official Patient $everything
// operation, which GET /fhir/Patient/{id}/$everything implements (the Patient and their chain).
const OperationPatientEverything = "http://hl7.org/fhir/OperationDefinition/Patient-everything"

// CapabilityStatement is what the server offers (GET /fhir/metadata).
type CapabilityStatement struct {
	ResourceType   string                    `json:"resourceType"`
	URL            string                    `json:"url,omitempty"`
	Name           string                    `json:"name,omitempty"`
	Title          string                    `json:"title,omitempty"`
	Status         string                    `json:"status"`
	Date           string                    `json:"date"`
	Publisher      string                    `json:"publisher,omitempty"`
	Description    string                    `json:"description,omitempty"`
	Kind           string                    `json:"kind"`
	Software       *CapabilitySoftware       `json:"software,omitempty"`
	Implementation *CapabilityImplementation `json:"implementation,omitempty"`
	FHIRVersion    string                    `json:"fhirVersion"`
	Format         []string                  `json:"format"`
	Rest           []CapabilityRest          `json:"rest,omitempty"`
}

// CapabilitySoftware is CapabilityStatement.software.
type CapabilitySoftware struct {
	Name string `json:"name"`
}

// CapabilityImplementation is CapabilityStatement.implementation.
type CapabilityImplementation struct {
	Description string `json:"description"`
	URL         string `json:"url,omitempty"`
}

// CapabilityRest is CapabilityStatement.rest.
type CapabilityRest struct {
	Mode          string               `json:"mode"`
	Documentation string               `json:"documentation,omitempty"`
	Security      *CapabilitySecurity  `json:"security,omitempty"`
	Resource      []CapabilityResource `json:"resource,omitempty"`
}

// CapabilitySecurity is CapabilityStatement.rest.security.
type CapabilitySecurity struct {
	CORS        bool   `json:"cors"`
	Description string `json:"description,omitempty"`
}

// CapabilityResource is CapabilityStatement.rest.resource.
type CapabilityResource struct {
	Type          string                `json:"type"`
	Documentation string                `json:"documentation,omitempty"`
	Interaction   []CapabilityCode      `json:"interaction,omitempty"`
	Versioning    string                `json:"versioning,omitempty"`
	ReadHistory   bool                  `json:"readHistory"`
	UpdateCreate  bool                  `json:"updateCreate"`
	SearchParam   []CapabilitySearch    `json:"searchParam,omitempty"`
	Operation     []CapabilityOperation `json:"operation,omitempty"`
}

// CapabilityCode is an interaction of CapabilityStatement.rest.resource.
type CapabilityCode struct {
	Code string `json:"code"`
}

// CapabilitySearch is CapabilityStatement.rest.resource.searchParam.
type CapabilitySearch struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

// CapabilityOperation is CapabilityStatement.rest.resource.operation.
type CapabilityOperation struct {
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Documentation string `json:"documentation,omitempty"`
}

func readOnly(typ, doc string) CapabilityResource {
	return CapabilityResource{Type: typ, Documentation: doc, Interaction: []CapabilityCode{{Code: "read"}}, Versioning: "no-version"}
}

// Capabilities is the CapabilityStatement of this server at base (the FHIR base URL): an
// instance, read-only, JSON only. The api tests hold it to the routes actually served.
func Capabilities(base string) CapabilityStatement {
	patient := readOnly("Patient", "A trial subject: MRN, trial subject id, chain of identity, name, birth date.")
	patient.Operation = []CapabilityOperation{{Name: "everything", Definition: OperationPatientEverything,
		Documentation: "GET Patient/{id}/$everything: a searchset Bundle of the patient, their dose bags and the units these were thawed from, dispatches, infusions and adverse events. No parameters."}}
	bundle := CapabilityResource{Type: "Bundle", Documentation: "A lot's collection Bundle: its units and dose bags, their dispatches and infusions, the patients who received them, the lot's adverse events.",
		Interaction: []CapabilityCode{{Code: "search-type"}}, Versioning: "no-version",
		SearchParam: []CapabilitySearch{{Name: "lot", Type: "string", Documentation: "The lot number, exactly (required). The answer is the lot's collection Bundle, not a searchset."}}}
	subject := readOnly("ResearchSubject", "A patient's participation in the trial (id: the patient's id): the arm as assigned and actual comparison group, progress on and off study.")
	subject.Interaction = append(subject.Interaction, CapabilityCode{Code: "search-type"})
	subject.SearchParam = []CapabilitySearch{{Name: "patient", Type: "reference", Documentation: "The patient, as N or Patient/N (required). The searchset includes the Patient and the ResearchStudy."}}
	observation := readOnly("Observation", "One measurement of a follow-up assessment (CRP, IL-6, procalcitonin, viral load, PaO2/FiO2, chest imaging score), UCUM units.")
	observation.Interaction = append(observation.Interaction, CapabilityCode{Code: "search-type"})
	observation.SearchParam = []CapabilitySearch{{Name: "subject", Type: "reference", Documentation: "The patient, as N or Patient/N (required). The searchset includes the Patient."}}
	return CapabilityStatement{
		ResourceType:   "CapabilityStatement",
		URL:            base + "/metadata",
		Name:           "CordtraceFHIRServer",
		Title:          "cordtrace FHIR R5 read API",
		Status:         "active",
		Date:           CapabilityDate,
		Publisher:      "cordtrace",
		Description:    "Read-only FHIR R5 access to the HUC-MSC trial's chain of custody: units and dose bags, dispatches to patients, infusions, adverse events; and to the trial: the study, its subjects, their follow-up assessments.",
		Kind:           "instance",
		Software:       &CapabilitySoftware{Name: "cordtrace"},
		Implementation: &CapabilityImplementation{Description: "cordtrace FHIR R5 read API", URL: base},
		FHIRVersion:    Version,
		Format:         []string{"json"},
		Rest: []CapabilityRest{{
			Mode:          "server",
			Documentation: "Read-only. Every answer that names a patient is recorded in the audit trail as a disclosure before it is sent.",
			Security: &CapabilitySecurity{CORS: false, Description: "A cordtrace session (Authorization: Bearer <token> from POST /api/v1/auth/login, or the session cookie) " +
				"of a user whose roles hold patient_data.disclose (physician, QA). This statement is public."},
			Resource: []CapabilityResource{
				patient,
				readOnly("BiologicallyDerivedProduct", "A cryopreserved unit (id unit-N) or a thawed dose bag (id bag-N)."),
				readOnly("BiologicallyDerivedProductDispense", "A dispatch of a dose bag from the pharmacy to its patient, with the receipt on the ward."),
				readOnly("Procedure", "An infusion of a dose bag."),
				readOnly("AdverseEvent", "An adverse event or serious adverse event of a trial subject."),
				bundle,
				readOnly("ResearchStudy", "The trial (id "+StudyID+"): its arms as comparison groups, the subjects enrolled."),
				subject,
				observation,
			},
		}},
	}
}
