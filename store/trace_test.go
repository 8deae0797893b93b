package store_test

import (
	"context"
	"reflect"
	"strconv"
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

// A lot trace carries each bag's patient identity (for the readers who may see it) and the
// ids of the patients it identifies; RecordDisclosure writes one patient.disclose entry per
// patient, entity patient, after {"fields", "via"}, so that an auditor finds them by patient.
func TestLotTraceIdentityAndItsDisclosure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		bs := preparedBags(t, st, 2)
		tr, err := st.LotTrace(ctx, bs[0].lot.ID)
		if err != nil {
			t.Fatal(err)
		}
		ids := tr.IdentifiedPatients()
		if len(tr.Bags) != 2 || len(ids) != 2 || tr.Bags[0].Patient == nil || tr.Bags[0].Patient.MRN != "MRN0001" ||
			tr.Bags[0].Patient.Name != "Li Wei" || tr.Bags[0].Patient.DateOfBirth != "1960-05-01" {
			t.Fatalf("lot trace bags %+v, identified %v", tr.Bags, ids)
		}
		if red := tr.WithoutIdentity(); len(red.IdentifiedPatients()) != 0 || red.Bags[1].SubjectID != "SVP-002" || red.Bags[1].ChainOfIdentity == "" {
			t.Fatalf("redacted trace: %+v", red.Bags)
		}
		qa := bs[0].doc
		qa.Role = domain.RoleQA
		d := domain.Disclosure{Via: domain.ViaAPILotTrace, Fields: domain.IdentityFields, PatientIDs: append(ids, ids[0])}
		if err := st.RecordDisclosure(ctx, qa, d); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordDisclosure(ctx, qa, domain.Disclosure{Via: "", Fields: domain.IdentityFields, PatientIDs: ids}); domain.ErrorCode(err) != domain.EInvalid {
			t.Fatalf("a disclosure without via: %v, want EInvalid", err)
		}
		for i, b := range bs {
			entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "patient", EntityID: strconv.FormatInt(b.patient.ID, 10)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				if e.Action == "patient.disclose" {
					got = append(got, string(e.Role)+" "+e.After)
				}
			}
			want := `qa {"fields":["name","mrn","date_of_birth"],"via":"api.lot_trace"}`
			if len(got) != 1 || got[0] != want {
				t.Errorf("patient %d disclosures: %q, want one %s", i+1, got, want)
			}
		}
		if rep, err := st.VerifyAudit(ctx); err != nil || !rep.OK {
			t.Fatalf("audit chain: %+v %v", rep, err)
		}
	})
}
