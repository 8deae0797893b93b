package web_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// The trace pages show a patient's name, MRN and date of birth only to those who may see them
// (SPEC §10): QC, admin and a pharmacist reading a trace see the subject id and chain of
// identity; a physician, a nurse and QA see the patient, and each page they are shown is a
// patient.disclose entry of that patient, by them, via the page.
func TestTracePagesShowPatientIdentityOnlyToThoseWhoMay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		users := map[domain.Role]domain.User{}
		for _, role := range domain.AllRoles {
			u, err := st.CreateUser(ctx, domain.Actor{FullName: "setup"}, domain.NewUser{Username: "only." + string(role), FullName: "Only " + string(role),
				Password: password, Roles: []domain.Role{role}})
			if err != nil {
				t.Fatal(err)
			}
			users[role] = u
		}
		as := func(role domain.Role) domain.Actor { return users[role].ActingAs(role, "") }
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		d, err := st.CreateDonation(ctx, as(domain.RoleQC), domain.NewDonation{CollectedAt: now.Add(-72 * time.Hour)})
		must(err)
		storetest.DetermineEligible(t, st, d.ID)
		lot, err := st.CreateLot(ctx, as(domain.RoleQC), domain.NewLot{DonationID: d.ID, LotNumber: "PRIV-1", ManufacturedAt: now.Add(-48 * time.Hour), ExpiresAt: now.AddDate(1, 0, 0)})
		must(err)
		_, err = st.Quarantine(ctx, as(domain.RoleQC), lot.ID)
		must(err)
		for _, r := range []domain.QCResult{
			{Test: domain.TestViability, Value: f64(92)}, {Test: domain.TestViableCellCount, Value: f64(1.2e9)},
			{Test: domain.TestSterility, Result: "negative"}, {Test: domain.TestMycoplasma, Result: "not_detected"},
			{Test: domain.TestEndotoxin, Value: f64(0.1)},
			{Test: domain.TestPhenotype, Markers: map[string]float64{"CD73": 99, "CD90": 98, "CD105": 97, "CD34": 0.5, "CD45": 0.4, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.1}},
			{Test: domain.TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{100, 105, 95}, LPS: []float64{1000, 1050, 950}, Treated: []float64{500, 520, 480}},
		} {
			_, err := st.AddQCResult(ctx, as(domain.RoleQC), lot.ID, r)
			must(err)
		}
		_, err = st.Sign(ctx, as(domain.RoleQA), lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: password})
		must(err)
		units, err := st.CreateUnits(ctx, as(domain.RoleQC), lot.ID, domain.NewUnits{Count: 2, ViableCells: 35_000_000, VolumeML: 25})
		must(err)
		p, err := st.Enrol(ctx, as(domain.RolePhysician), domain.Patient{SubjectID: "SVP-001", MRN: "MRNSECRET1", Name: "Secret Name",
			DateOfBirth: "1961-02-03", WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: now.AddDate(0, 0, -1)})
		must(err)
		order, err := st.OrderDose(ctx, as(domain.RolePhysician), p.ID)
		must(err)
		_, err = st.PrepareDoseBag(ctx, as(domain.RolePharmacist), order.ID, domain.NewDoseBag{UnitIDs: []int64{units[0].ID, units[1].ID},
			ThawedAt: now.Add(-5 * time.Minute), PostThawViabilityPct: 88, ViableCells: 70_000_000, VolumeML: 50})
		must(err)

		srv := pagesServer(t, st)
		pages := map[string]string{
			"/trace/lots/" + strconv.FormatInt(lot.ID, 10):   domain.ViaPageLotTrace,
			"/trace/patients/" + strconv.FormatInt(p.ID, 10): domain.ViaPagePatientTrace,
		}
		var want []string
		for _, role := range domain.AllRoles {
			client := logIn(t, srv.URL, "only."+string(role))
			_, may := domain.MaySeePatientIdentity([]domain.Role{role}, false)
			for _, path := range []string{"/trace/lots/" + strconv.FormatInt(lot.ID, 10), "/trace/patients/" + strconv.FormatInt(p.ID, 10)} {
				status, body := getPage(t, client, srv.URL+path)
				if status != 200 || !strings.Contains(body, "SVP-001") || !strings.Contains(body, p.ChainID[2:]) {
					t.Fatalf("%s %s: %d; want the page with the subject id and chain of identity", role, path, status)
				}
				shows := strings.Contains(body, "Secret Name") || strings.Contains(body, "MRNSECRET1") || strings.Contains(body, "1961-02-03")
				if shows != may {
					t.Errorf("%s %s: patient's name, MRN or date of birth shown %v, want %v", role, path, shows, may)
				}
				if may {
					want = append(want, string(role)+" "+pages[path])
				}
			}
		}
		entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "patient", EntityID: strconv.FormatInt(p.ID, 10)})
		must(err)
		var got []string
		for _, e := range entries {
			if e.Action != "patient.disclose" {
				continue
			}
			var d struct {
				Fields []string
				Via    string
			}
			must(json.Unmarshal([]byte(e.After), &d))
			if !strings.HasSuffix(d.Via, "_trace") {
				continue // the physician lands on the patients list after login
			}
			if strings.Join(d.Fields, ",") != "name,mrn,date_of_birth,subject_id,clinical" {
				t.Errorf("disclosure %s: fields %v", e.After, d.Fields)
			}
			got = append(got, string(e.Role)+" "+d.Via)
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("disclosures recorded by the trace pages: %q, want %q", got, want)
		}
	})
}
