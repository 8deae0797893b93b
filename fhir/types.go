// Package fhir maps cordtrace's records to FHIR R5 JSON resources: BiologicallyDerivedProduct
// for units and dose bags, BiologicallyDerivedProductDispense for dispatches, Procedure for
// infusions, AdverseEvent, Patient, the trial as ResearchStudy, ResearchSubject and Observation
// (follow-up measurements), and Bundles of them. Plain Go: no HTTP, no database.
package fhir

// ContentType is the media type of FHIR JSON.
const ContentType = "application/fhir+json"

// Version is the FHIR version the resources follow.
const Version = "5.0.0"

// The datatypes below carry only the elements cordtrace fills; omitempty keeps absent
// elements out, as FHIR requires (no nulls, no empty objects or arrays).

type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type Identifier struct {
	Use    string           `json:"use,omitempty"`
	Type   *CodeableConcept `json:"type,omitempty"`
	System string           `json:"system,omitempty"`
	Value  string           `json:"value,omitempty"`
}

type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

type CodeableReference struct {
	Concept   *CodeableConcept `json:"concept,omitempty"`
	Reference *Reference       `json:"reference,omitempty"`
}

type Quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	System string  `json:"system,omitempty"`
	Code   string  `json:"code,omitempty"`
}

type Range struct {
	Low  *Quantity `json:"low,omitempty"`
	High *Quantity `json:"high,omitempty"`
}

type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type Annotation struct {
	Text string `json:"text"`
}

type HumanName struct {
	Text string `json:"text,omitempty"`
}

type Meta struct {
	Profile []string `json:"profile,omitempty"`
}

// Patient is FHIR Patient.
type Patient struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id"`
	Identifier   []Identifier `json:"identifier,omitempty"`
	Active       bool         `json:"active"`
	Name         []HumanName  `json:"name,omitempty"`
	BirthDate    string       `json:"birthDate,omitempty"`
}

// ProductCollection is BiologicallyDerivedProduct.collection.
type ProductCollection struct {
	CollectedDateTime string `json:"collectedDateTime,omitempty"`
}

// Property is BiologicallyDerivedProduct.property.
type Property struct {
	Type          CodeableConcept `json:"type"`
	ValueString   string          `json:"valueString,omitempty"`
	ValueQuantity *Quantity       `json:"valueQuantity,omitempty"`
}

// BiologicallyDerivedProduct is a unit or a dose bag.
type BiologicallyDerivedProduct struct {
	ResourceType            string             `json:"resourceType"`
	ID                      string             `json:"id"`
	ProductCategory         *Coding            `json:"productCategory,omitempty"`
	ProductCode             *CodeableConcept   `json:"productCode,omitempty"`
	Parent                  []Reference        `json:"parent,omitempty"`
	Identifier              []Identifier       `json:"identifier,omitempty"`
	BiologicalSourceEvent   *Identifier        `json:"biologicalSourceEvent,omitempty"`
	Division                string             `json:"division,omitempty"`
	ProductStatus           *Coding            `json:"productStatus,omitempty"`
	ExpirationDate          string             `json:"expirationDate,omitempty"`
	Collection              *ProductCollection `json:"collection,omitempty"`
	StorageTempRequirements *Range             `json:"storageTempRequirements,omitempty"`
	Property                []Property         `json:"property,omitempty"`
}

// DispensePerformer is BiologicallyDerivedProductDispense.performer.
type DispensePerformer struct {
	Function *CodeableConcept `json:"function,omitempty"`
	Actor    Reference        `json:"actor"`
}

// BiologicallyDerivedProductDispense is one dispatch of a dose bag to its patient.
type BiologicallyDerivedProductDispense struct {
	ResourceType           string              `json:"resourceType"`
	ID                     string              `json:"id"`
	Status                 string              `json:"status"`
	OriginRelationshipType *CodeableConcept    `json:"originRelationshipType,omitempty"`
	Product                Reference           `json:"product"`
	Patient                Reference           `json:"patient"`
	MatchStatus            *CodeableConcept    `json:"matchStatus,omitempty"`
	Performer              []DispensePerformer `json:"performer,omitempty"`
	Quantity               *Quantity           `json:"quantity,omitempty"`
	PreparedDate           string              `json:"preparedDate,omitempty"`
	WhenHandedOver         string              `json:"whenHandedOver,omitempty"`
	Destination            *Reference          `json:"destination,omitempty"`
	Note                   []Annotation        `json:"note,omitempty"`
	UsageInstruction       string              `json:"usageInstruction,omitempty"`
}

// ProcedurePerformer is Procedure.performer.
type ProcedurePerformer struct {
	Actor Reference `json:"actor"`
}

// Procedure is an infusion.
type Procedure struct {
	ResourceType     string               `json:"resourceType"`
	ID               string               `json:"id"`
	Status           string               `json:"status"`
	Code             *CodeableConcept     `json:"code,omitempty"`
	Subject          Reference            `json:"subject"`
	OccurrencePeriod *Period              `json:"occurrencePeriod,omitempty"`
	Performer        []ProcedurePerformer `json:"performer,omitempty"`
	Note             []Annotation         `json:"note,omitempty"`
	Used             []CodeableReference  `json:"used,omitempty"`
}

// SuspectEntity is AdverseEvent.suspectEntity.
type SuspectEntity struct {
	InstanceReference *Reference `json:"instanceReference,omitempty"`
}

// AdverseEvent is an AE or SAE.
type AdverseEvent struct {
	ResourceType       string           `json:"resourceType"`
	ID                 string           `json:"id"`
	Status             string           `json:"status"`
	Actuality          string           `json:"actuality"`
	Code               *CodeableConcept `json:"code,omitempty"`
	Subject            Reference        `json:"subject"`
	OccurrenceDateTime string           `json:"occurrenceDateTime,omitempty"`
	RecordedDate       string           `json:"recordedDate,omitempty"`
	Seriousness        *CodeableConcept `json:"seriousness,omitempty"`
	Recorder           *Reference       `json:"recorder,omitempty"`
	SuspectEntity      []SuspectEntity  `json:"suspectEntity,omitempty"`
	Note               []Annotation     `json:"note,omitempty"`
}

// OperationOutcomeIssue is OperationOutcome.issue.
type OperationOutcomeIssue struct {
	Severity    string `json:"severity"`
	Code        string `json:"code"`
	Diagnostics string `json:"diagnostics,omitempty"`
}

// OperationOutcome is how a FHIR server reports an error.
type OperationOutcome struct {
	ResourceType string                  `json:"resourceType"`
	Issue        []OperationOutcomeIssue `json:"issue"`
}

// BundleLink is Bundle.link.
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleSearch is Bundle.entry.search.
type BundleSearch struct {
	Mode string `json:"mode"`
}

// BundleEntry is Bundle.entry.
type BundleEntry struct {
	FullURL  string        `json:"fullUrl"`
	Resource any           `json:"resource"`
	Search   *BundleSearch `json:"search,omitempty"`
}

// Bundle is a collection or searchset of resources.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Meta         *Meta         `json:"meta,omitempty"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp,omitempty"`
	Total        *int          `json:"total,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}
