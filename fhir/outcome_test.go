package fhir

import (
	"testing"

	"cordtrace/domain"
)

// Each domain error code maps to the FHIR issue type a client acts on; anything else is an
// exception.
func TestOutcomeIssueTypes(t *testing.T) {
	for code, want := range map[string]string{
		domain.EInvalid: "invalid", domain.EUnauthenticated: "login", domain.EAccountLocked: "login",
		domain.EForbidden: "forbidden", domain.ENotFound: "not-found", domain.EConflict: "conflict",
		domain.ERuleViolated: "business-rule", domain.ETooLarge: "too-costly", domain.EUnavailable: "transient",
		"internal": "exception",
	} {
		o := Outcome(code, "message")
		if o.ResourceType != "OperationOutcome" || len(o.Issue) != 1 || o.Issue[0].Code != want || o.Issue[0].Diagnostics != "message" || o.Issue[0].Severity != "error" {
			t.Errorf("%s: %+v, want one error issue of type %s", code, o, want)
		}
	}
}
