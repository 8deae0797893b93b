package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// The patient page reads PatientCare, which is PatientTrace's bags (with their custody) and
// adverse events without the lots and donations; a patient with none has empty lists.
func TestPatientCareIsThePatientsPartOfTheTrace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		bs := preparedBags(t, st, 2)
		b := bs[0]
		b.scan(t, domain.ScanDispatch, 5)
		b.scan(t, domain.ScanReceive, 5)
		if _, err := st.ReportAdverseEvent(ctx, b.doc, domain.AdverseEvent{PatientID: b.patient.ID, Severity: domain.Severities[0],
			Description: "transient fever", OnsetAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		trace, err := st.PatientTrace(ctx, b.patient.ID)
		if err != nil {
			t.Fatal(err)
		}
		care, err := st.PatientCare(ctx, b.patient.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(care.Bags) != 1 || len(care.Bags[0].Custody) != 2 || len(care.AdverseEvents) != 1 {
			t.Fatalf("care: %d bags (custody %+v), %d adverse events; want one bag with two scans and one event", len(care.Bags), care.Bags, len(care.AdverseEvents))
		}
		if !reflect.DeepEqual(care.Bags, trace.Bags) || !reflect.DeepEqual(care.AdverseEvents, trace.AdverseEvents) {
			t.Fatalf("care differs from the trace:\n%+v\n%+v", care, trace)
		}
		// The second patient's bag was never scanned and nothing befell them.
		other, err := st.PatientCare(ctx, bs[1].patient.ID)
		if err != nil || len(other.Bags) != 1 || len(other.Bags[0].Custody) != 0 || other.AdverseEvents == nil || len(other.AdverseEvents) != 0 {
			t.Fatalf("care of a patient with an unscanned bag and no event: %+v, %v", other, err)
		}
	})
}
