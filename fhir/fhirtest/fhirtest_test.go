package fhirtest

import (
	"strings"
	"testing"
)

// The validator accepts valid R5 and names each kind of fault it is there to catch, so that a
// validator that passes everything cannot hide behind green FHIR tests.
func TestValidateCatchesFaults(t *testing.T) {
	valid := `{"resourceType":"Procedure","id":"1","status":"completed","subject":{"reference":"Patient/1"}}`
	if err := Validate([]byte(valid)); err != nil {
		t.Fatalf("valid Procedure refused: %v", err)
	}
	for _, tc := range []struct{ name, json, want string }{
		{"unknown element", `{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"colour":"red"}`, "JSON Schema"},
		{"code outside a required binding", `{"resourceType":"Procedure","status":"done","subject":{"reference":"Patient/1"}}`, "not in its required value set"},
		{"nested required binding", `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"myself","url":"http://x"}]}`, "Bundle.link.relation = myself"},
		{"missing 1..1 complex element", `{"resourceType":"Procedure","status":"completed"}`, "JSON Schema"},
		{"missing 1..1 primitive", `{"resourceType":"Procedure","subject":{"reference":"Patient/1"}}`, "Procedure.status is required"},
		{"missing choice element", `{"resourceType":"AdverseEvent","status":"completed","actuality":"actual","subject":{"reference":"Patient/1"},"suspectEntity":[{}]}`, "AdverseEvent.suspectEntity.instance[x] is required"},
		{"capability statement of an unknown kind", `{"resourceType":"CapabilityStatement","status":"active","date":"2026-11-25","kind":"server","fhirVersion":"5.0.0","format":["json"]}`, "CapabilityStatement.kind = server is not in its required value set"},
		{"capability statement of another FHIR version", `{"resourceType":"CapabilityStatement","status":"active","date":"2026-11-25","kind":"instance","fhirVersion":"5.0.9","format":["json"]}`, "CapabilityStatement.fhirVersion = 5.0.9"},
		{"observation of an unknown status", `{"resourceType":"Observation","status":"done","code":{"text":"CRP"}}`, "Observation.status = done is not in its required value set"},
		{"research subject without its study", `{"resourceType":"ResearchSubject","status":"active","subject":{"reference":"Patient/1"}}`, "JSON Schema"},
		{"research study arm without a name", `{"resourceType":"ResearchStudy","status":"active","comparisonGroup":[{"linkId":"routine"}]}`, "ResearchStudy.comparisonGroup.name is required"},
		{"bad dateTime", `{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"occurrenceDateTime":"yesterday"}`, "JSON Schema"},
		{"bundle without fullUrl", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"1"}}]}`, "bdl-15"},
		{"searchset without self link", `{"resourceType":"Bundle","type":"searchset","entry":[]}`, "bdl-18"},
		{"total in a collection", `{"resourceType":"Bundle","type":"collection","total":0}`, "bdl-1"},
		{"dangling reference", `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"http://x/fhir/Procedure/1","resource":` + valid + `}]}`, "resolves to no entry"},
		{"entry resource faulty", `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"http://x/fhir/Procedure/1","resource":{"resourceType":"Procedure","id":"1","subject":{"reference":"Patient/1"}}}]}`, "Procedure.status is required"},
	} {
		err := Validate([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
