package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cordtrace/api"
	"cordtrace/domain"
	"cordtrace/fhir/fhirtest"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testClock is a settable store clock, for tests that need recorded times exactly known or
// time to pass (lockouts, idle sessions).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// journey is the bedside journey at fixed times, on one server: a released lot divided into
// units, a patient (and a routine-arm one), dose order, bag, label, dispatch, receipt, a
// passing bedside verification, infusion start and end, an AE and an SAE.
type journey struct {
	ts        *testServer
	clock     *testClock
	admin     string
	patientID int64
	routineID int64
	bagID     int64
	unitIDs   []int64
	lotNumber string
	din       string
}

// day is the infusion day: the patients were enrolled the day before (SPEC §6: day 1).
var day = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

func at(hhmm string) time.Time {
	d, err := time.Parse("15:04", hhmm)
	if err != nil {
		panic(err)
	}
	return day.Add(time.Duration(d.Hour())*time.Hour + time.Duration(d.Minute())*time.Minute)
}

func runJourney(t *testing.T, backend string) *journey {
	t.Helper()
	clock := &testClock{t: at("08:00")}
	ts := newTestServerWith(t, backend, store.Options{Now: clock.Now})
	j := &journey{ts: ts, clock: clock, lotNumber: "HUCMSC-2026-007"}
	must := func(r response, want int, what string) map[string]any {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		if len(r.body) == 0 || r.body[0] != '{' {
			return nil
		}
		return r.json(t)
	}
	// Sessions expire after 15 idle minutes of the fixed clock: each step logs in afresh.
	as := func(hhmm, username string) string {
		clock.set(at(hhmm))
		return ts.login(username, "a good password")
	}
	j.admin = ts.login("admin", adminPassword)
	for _, u := range []struct {
		name string
		role domain.Role
	}{{"qc.ann", domain.RoleQC}, {"qa.bob", domain.RoleQA}, {"dr.cho", domain.RolePhysician}, {"ph.eve", domain.RolePharmacist},
		{"ph.sam", domain.RolePharmacist}, {"nurse.dee", domain.RoleNurse}, {"nurse.fay", domain.RoleNurse}} {
		ts.userWith(j.admin, u.name, u.role)
	}

	qc := as("08:01", "qc.ann")
	don := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": "2026-02-01T09:00:00Z"}).eligible(t, ts)
	j.din = don["din"].(string)
	lot := must(ts.do("POST", "/api/v1/lots", qc, map[string]any{"donation_id": don["id"], "lot_number": j.lotNumber,
		"manufactured_at": "2026-02-05T12:00:00Z", "expires_at": "2027-02-05T12:00:00Z"}), 201, "lot")
	lotPath := fmt.Sprintf("/api/v1/lots/%d", int64(lot["id"].(float64)))
	must(ts.do("POST", lotPath+"/quarantine", qc, nil), 200, "quarantine")
	for _, body := range passingResults() {
		must(ts.do("POST", lotPath+"/qc-results", qc, body), 201, "QC result")
	}
	must(ts.do("POST", lotPath+"/release", as("08:02", "qa.bob"), map[string]string{"password": "a good password"}), 200, "release")
	qc = as("08:03", "qc.ann")
	must(ts.do("POST", lotPath+"/units", qc, map[string]any{"count": 4, "viable_cells": 40000000, "volume_ml": 25}), 201, "units")
	for _, u := range must(ts.do("GET", lotPath, qc, nil), 200, "lot")["units"].([]any) {
		j.unitIDs = append(j.unitIDs, int64(u.(map[string]any)["id"].(float64)))
	}

	doc := as("08:05", "dr.cho")
	p := must(ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "Li Wei",
		"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": "2026-03-09T10:00:00Z"}), 201, "enrol")
	j.patientID = int64(p["id"].(float64))
	r := must(ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-002", "mrn": "MRN0002", "name": "Wang Fang",
		"date_of_birth": "1971-11-20", "weight_kg": 64.5, "arm": "routine", "enrolled_at": "2026-03-09T11:30:00Z"}), 201, "enrol routine")
	j.routineID = int64(r["id"].(float64))
	order := must(ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", j.patientID), as("08:06", "dr.cho"), map[string]any{}), 201, "order")

	pharm := as("08:10", "ph.eve")
	bag := must(ts.do("POST", fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", int64(order["id"].(float64))), pharm, map[string]any{
		"unit_ids": j.unitIDs[:2], "thawed_at": "2026-03-10T08:05:00Z", "post_thaw_viability_pct": 85, "viable_cells": 72000000, "volume_ml": 50}), 201, "bag")
	j.bagID = int64(bag["id"].(float64))
	must(ts.do("POST", fmt.Sprintf("/api/v1/dose-bags/%d/check", j.bagID), as("08:11", "ph.eve"),
		map[string]string{"username": "ph.sam", "password": "a good password"}), 200, "second pharmacist's check")
	pharm = as("08:12", "ph.eve")
	code := scanQR(t, ts.do("GET", fmt.Sprintf("/api/v1/dose-bags/%d/label.png", j.bagID), pharm, nil).body)
	must(ts.do("POST", "/api/v1/scans/dispatch", as("08:15", "ph.eve"), map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5}), 201, "dispatch")
	must(ts.do("POST", "/api/v1/scans/receive", as("08:25", "nurse.dee"), map[string]any{"code": code, "temperature_c": 4.5}), 201, "receive")

	as("08:30", "nurse.fay")
	nurse := ts.login("nurse.dee", "a good password")
	v := must(ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0001", "code": code,
		"witness": map[string]string{"username": "nurse.fay", "password": "a good password"}, "ward": "ICU-3"}), 200, "verify")
	if v["pass"] != true {
		t.Fatalf("bedside verification did not pass: %v", v)
	}
	inf := must(ts.do("POST", "/api/v1/infusions", as("08:31", "nurse.dee"), map[string]any{"verification_id": v["id"]}), 201, "start")
	must(ts.do("POST", fmt.Sprintf("/api/v1/infusions/%d/end", int64(inf["id"].(float64))), as("09:01", "nurse.dee"),
		map[string]any{"volume_ml": 48.5, "reactions": "mild chills at 20 min, resolved"}), 200, "end")
	doc = as("09:30", "dr.cho")
	must(ts.do("POST", "/api/v1/adverse-events", doc, map[string]any{"patient_id": j.patientID, "serious": false, "severity": "mild",
		"description": "chills and low-grade fever, 37.9 °C", "onset_at": "2026-03-10T08:51:00Z"}), 201, "AE")
	must(ts.do("POST", "/api/v1/adverse-events", doc, map[string]any{"patient_id": j.patientID, "serious": true, "severity": "severe",
		"description": "transient hypotension, 82/50 mmHg, fluids given", "onset_at": "2026-03-10T09:10:00Z"}), 201, "SAE")
	must(ts.do("POST", "/api/v1/adverse-events", doc, map[string]any{"patient_id": j.routineID, "serious": false, "severity": "moderate",
		"description": "nausea", "onset_at": "2026-03-10T07:00:00Z"}), 201, "routine-arm AE")
	clock.set(at("10:00"))
	return j
}

// fhirGet fetches a FHIR resource, checks its media type and validates it against the
// official R5 definitions.
func fhirGet(t *testing.T, ts *testServer, path, token string, status int) map[string]any {
	t.Helper()
	r := ts.do("GET", path, token, nil)
	if r.status != status {
		t.Fatalf("GET %s: %d, want %d: %s", path, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("GET %s: Content-Type %q, want application/fhir+json", path, ct)
	}
	if err := fhirtest.Validate(r.body); err != nil {
		t.Errorf("GET %s is not valid FHIR R5:\n%v\n%s", path, err, r.body)
	}
	return r.json(t)
}

func entriesByType(t *testing.T, bundle map[string]any) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, e := range bundle["entry"].([]any) {
		res := e.(map[string]any)["resource"].(map[string]any)
		out[res["resourceType"].(string)] = append(out[res["resourceType"].(string)], res)
	}
	return out
}

// Every FHIR resource of the journey validates against the R5 definitions, carries the
// records it stands for, and every read of patient data is in the audit trail.
func TestFHIRJourney(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			j := runJourney(t, backend)
			ts := j.ts
			doc := ts.login("dr.cho", "a good password")

			ev := fhirGet(t, ts, fmt.Sprintf("/fhir/Patient/%d/$everything", j.patientID), doc, 200)
			if ev["type"] != "searchset" || ev["total"].(float64) != 8 {
				t.Fatalf("$everything: type %v, total %v", ev["type"], ev["total"])
			}
			byType := entriesByType(t, ev)
			count := map[string]int{}
			for k, v := range byType {
				count[k] = len(v)
			}
			want := map[string]int{"Patient": 1, "BiologicallyDerivedProduct": 3, "BiologicallyDerivedProductDispense": 1, "Procedure": 1, "AdverseEvent": 2}
			if fmt.Sprint(count) != fmt.Sprint(want) {
				t.Fatalf("$everything resources %v, want %v", count, want)
			}
			// Each resource on its own validates too.
			for _, e := range ev["entry"].([]any) {
				b, _ := json.Marshal(e.(map[string]any)["resource"])
				if err := fhirtest.Validate(b); err != nil {
					t.Errorf("entry %s: %v", b, err)
				}
				if !strings.HasPrefix(e.(map[string]any)["fullUrl"].(string), ts.url+"/fhir/") {
					t.Errorf("fullUrl %v is not under this server's FHIR base", e.(map[string]any)["fullUrl"])
				}
			}

			bagRes := fhirGet(t, ts, fmt.Sprintf("/fhir/BiologicallyDerivedProduct/bag-%d", j.bagID), doc, 200)
			bagCode := bagRes["identifier"].([]any)[0].(map[string]any)
			if bagCode["system"] != "https://www.isbt128.org/uri/MPHOUniqueIdentifier" || !strings.HasPrefix(bagCode["value"].(string), j.din) {
				t.Errorf("bag identifier %v", bagCode)
			}
			if src := bagRes["biologicalSourceEvent"].(map[string]any); src["value"] != j.din || src["system"] != "https://www.isbt128.org/uri/DonationIdentificationNumber" {
				t.Errorf("bag biologicalSourceEvent %v, want DIN %s", src, j.din)
			}
			parents := fmt.Sprint(bagRes["parent"])
			for _, u := range j.unitIDs[:2] {
				if !strings.Contains(parents, fmt.Sprintf("BiologicallyDerivedProduct/unit-%d", u)) {
					t.Errorf("bag parents %s lack unit %d", parents, u)
				}
			}
			if bagRes["division"] != "Aa" || bagRes["expirationDate"] != "2026-03-10T12:05:00Z" ||
				bagRes["productStatus"].(map[string]any)["code"] != "unavailable" || bagRes["productCode"].(map[string]any)["coding"] == nil {
				t.Errorf("bag: division %v, expiry %v, status %v, code %v", bagRes["division"], bagRes["expirationDate"], bagRes["productStatus"], bagRes["productCode"])
			}
			temp := bagRes["storageTempRequirements"].(map[string]any)
			if temp["low"].(map[string]any)["value"] != 2.0 || temp["high"].(map[string]any)["value"] != 8.0 {
				t.Errorf("bag storage temperature %v, want 2–8 °C", temp)
			}
			unit := fhirGet(t, ts, fmt.Sprintf("/fhir/BiologicallyDerivedProduct/unit-%d", j.unitIDs[3]), doc, 200)
			if unit["productStatus"].(map[string]any)["code"] != "available" || unit["expirationDate"] != "2027-02-05T12:00:00Z" {
				t.Errorf("unused unit: %v", unit)
			}
			if high := unit["storageTempRequirements"].(map[string]any)["high"].(map[string]any); high["value"] != -150.0 {
				t.Errorf("unit storage temperature %v, want at most -150 °C", high)
			}

			disp := byType["BiologicallyDerivedProductDispense"][0]
			if disp["status"] != "issued" || disp["whenHandedOver"] != "2026-03-10T08:15:00Z" ||
				disp["patient"].(map[string]any)["reference"] != fmt.Sprintf("Patient/%d", j.patientID) ||
				disp["product"].(map[string]any)["reference"] != fmt.Sprintf("BiologicallyDerivedProduct/bag-%d", j.bagID) ||
				disp["destination"].(map[string]any)["display"] != "ICU-3" ||
				disp["matchStatus"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"] != "selected" {
				t.Errorf("dispense: %v", disp)
			}
			perf := fmt.Sprint(disp["performer"])
			if !strings.Contains(perf, "ph.eve") || !strings.Contains(perf, "transport") || !strings.Contains(perf, "nurse.dee") || !strings.Contains(perf, "receipt") {
				t.Errorf("dispense performers: %s", perf)
			}
			proc := byType["Procedure"][0]
			if proc["status"] != "completed" || fmt.Sprint(proc["occurrencePeriod"]) != "map[end:2026-03-10T09:01:00Z start:2026-03-10T08:31:00Z]" ||
				!strings.Contains(fmt.Sprint(proc["used"]), fmt.Sprintf("BiologicallyDerivedProduct/bag-%d", j.bagID)) ||
				!strings.Contains(fmt.Sprint(proc["note"]), "48.5 mL") {
				t.Errorf("procedure: %v", proc)
			}
			var serious int
			for _, ae := range byType["AdverseEvent"] {
				if ae["seriousness"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"] == "serious" {
					serious++
					if !strings.Contains(fmt.Sprint(ae["suspectEntity"]), "Procedure/") {
						t.Errorf("SAE after the infusion names no suspect: %v", ae)
					}
				}
			}
			if serious != 1 {
				t.Errorf("serious adverse events: %d, want 1", serious)
			}

			pat := fhirGet(t, ts, fmt.Sprintf("/fhir/Patient/%d", j.patientID), doc, 200)
			if ids := fmt.Sprint(pat["identifier"]); !strings.Contains(ids, "MRN0001") || !strings.Contains(ids, "SVP-001") || pat["birthDate"] != "1960-05-01" {
				t.Errorf("patient: %v", pat)
			}

			lot := fhirGet(t, ts, "/fhir/Bundle?lot="+j.lotNumber, doc, 200)
			lotTypes := entriesByType(t, lot)
			if lot["type"] != "collection" || len(lotTypes["BiologicallyDerivedProduct"]) != 5 || len(lotTypes["Patient"]) != 1 || len(lotTypes["AdverseEvent"]) != 2 {
				t.Errorf("lot bundle: type %v, %d products, %d patients, %d AEs", lot["type"], len(lotTypes["BiologicallyDerivedProduct"]), len(lotTypes["Patient"]), len(lotTypes["AdverseEvent"]))
			}

			// The products (bag and units) read one at a time are the very resources of the lot's
			// Bundle; reading one discloses no patient.
			for _, res := range lotTypes["BiologicallyDerivedProduct"] {
				path := fmt.Sprintf("/fhir/BiologicallyDerivedProduct/%s", res["id"])
				if got := fhirGet(t, ts, path, doc, 200); fmt.Sprint(got) != fmt.Sprint(res) {
					t.Errorf("GET %s differs from its entry in the lot's Bundle:\n%v\n%v", path, got, res)
				}
			}

			// The dispatch, infusion and adverse events read one at a time are the very resources of
			// the patient's Bundle, under the ids of its fullUrls; each read is a disclosure.
			var single []string
			for _, typ := range []string{"BiologicallyDerivedProductDispense", "Procedure", "AdverseEvent"} {
				for _, res := range byType[typ] {
					path := fmt.Sprintf("/fhir/%s/%s", typ, res["id"])
					got := fhirGet(t, ts, path, doc, 200)
					if fmt.Sprint(got) != fmt.Sprint(res) {
						t.Errorf("GET %s differs from its entry in $everything:\n%v\n%v", path, got, res)
					}
					single = append(single, path)
				}
			}
			if len(single) != 4 {
				t.Fatalf("single reads %v, want a dispense, a procedure and two adverse events", single)
			}
			for _, e := range ev["entry"].([]any) {
				e := e.(map[string]any)
				res := e["resource"].(map[string]any)
				if want := fmt.Sprintf("%s/fhir/%s/%s", ts.url, res["resourceType"], res["id"]); e["fullUrl"] != want {
					t.Errorf("fullUrl %v, want %s (the address of the single read)", e["fullUrl"], want)
				}
			}

			// Errors are OperationOutcomes, valid R5 too.
			for _, path := range []string{"/fhir/BiologicallyDerivedProductDispense/999999", "/fhir/Procedure/999999", "/fhir/AdverseEvent/999999"} {
				fhirGet(t, ts, path, doc, 404)
			}
			// A receipt is not a dispense: its scan id answers 404 as a dispense.
			var receiptID int64
			if err := ts.store.SQLDB().QueryRow(`SELECT id FROM custody_scans WHERE kind = 'receive' AND accepted`).Scan(&receiptID); err != nil {
				t.Fatal(err)
			}
			fhirGet(t, ts, fmt.Sprintf("/fhir/BiologicallyDerivedProductDispense/%d", receiptID), doc, 404)
			fhirGet(t, ts, "/fhir/Procedure/"+byType["Procedure"][0]["id"].(string), ts.login("nurse.dee", "a good password"), 403)
			fhirGet(t, ts, "/fhir/AdverseEvent/"+byType["AdverseEvent"][0]["id"].(string), "", 401)
			fhirGet(t, ts, "/fhir/Patient/999999", doc, 404)
			fhirGet(t, ts, "/fhir/BiologicallyDerivedProduct/vial-1", doc, 404)
			fhirGet(t, ts, "/fhir/Bundle?lot=NO-SUCH-LOT", doc, 404)
			fhirGet(t, ts, "/fhir/Bundle", doc, 400)
			fhirGet(t, ts, fmt.Sprintf("/fhir/Patient/%d", j.patientID), ts.login("nurse.dee", "a good password"), 403)
			fhirGet(t, ts, fmt.Sprintf("/fhir/Patient/%d", j.patientID), "", 401)
			fhirGet(t, ts, fmt.Sprintf("/fhir/Patient/%d", j.patientID), ts.login("admin", adminPassword), 403)

			// Each read of patient data is a disclosure in the audit trail, by the reader, naming
			// what showed it and which fields.
			audit := ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=patient&entity_id=%d&limit=1000", j.patientID), ts.login("admin", adminPassword), nil).json(t)
			var via []string
			for _, e := range audit["entries"].([]any) {
				e := e.(map[string]any)
				if e["action"] == "patient.disclose" && !strings.Contains(fmt.Sprint(e["after"]), "bedside.verify") {
					if e["user_name"] != "Full dr.cho" || e["role"] != "physician" {
						t.Errorf("disclosure by %v as %v", e["user_name"], e["role"])
					}
					var d struct {
						Fields []string
						Via    string
					}
					if err := json.Unmarshal([]byte(e["after"].(string)), &d); err != nil {
						t.Fatalf("disclosure after %v: %v", e["after"], err)
					}
					if !slices.Contains(d.Fields, "name") || !slices.Contains(d.Fields, "mrn") || !slices.Contains(d.Fields, "date_of_birth") {
						t.Errorf("disclosure %s: fields %v, want name, mrn and date_of_birth", d.Via, d.Fields)
					}
					via = append(via, d.Via)
				}
			}
			wantVia := []string{"fhir.Patient.$everything", "fhir.Patient", "fhir.Bundle"}
			for _, path := range single {
				wantVia = append(wantVia, "fhir."+strings.Split(strings.TrimPrefix(path, "/fhir/"), "/")[0])
			}
			if !slices.Equal(via, wantVia) {
				t.Fatalf("disclosures of the patient: %q, want %q", via, wantVia)
			}
			if r := ts.do("GET", "/api/v1/audit/verify", ts.login("admin", adminPassword), nil); r.json(t)["ok"] != true {
				t.Fatalf("audit chain: %s", r.body)
			}

			// When the disclosure cannot be recorded, nothing is shown.
			admin := ts.login("admin", adminPassword)
			before := ts.auditCount(admin)
			refuseDisclosures(t, ts)
			for _, path := range single {
				r := ts.do("GET", path, doc, nil)
				if r.status != 500 || r.json(t)["resourceType"] != "OperationOutcome" || strings.Contains(string(r.body), "Patient/") {
					t.Errorf("GET %s with the audit trail refusing disclosures: %d %s, want 500 and nothing shown", path, r.status, r.body)
				}
				if err := fhirtest.Validate(r.body); err != nil {
					t.Errorf("GET %s: %v", path, err)
				}
			}
			if after := ts.auditCount(admin); after != before {
				t.Errorf("audit entries %d → %d, want none written by the refused reads", before, after)
			}
		})
	}
}

// refuseDisclosures makes the database refuse every patient.disclose audit entry, as a failing
// audit write would.
func refuseDisclosures(t *testing.T, ts *testServer) {
	t.Helper()
	stmts := []string{`CREATE TRIGGER test_refuse_disclosure BEFORE INSERT ON audit_entries
		WHEN NEW.action = 'patient.disclose' BEGIN SELECT RAISE(ABORT, 'test: disclosures refused'); END`}
	if ts.store.Dialect() == storetest.Postgres {
		stmts = []string{`CREATE FUNCTION test_refuse_disclosure() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.action = 'patient.disclose' THEN RAISE EXCEPTION 'test: disclosures refused'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER test_refuse_disclosure BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION test_refuse_disclosure()`}
	}
	for _, q := range stmts {
		if _, err := ts.store.SQLDB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// GET /fhir/metadata is public, valid R5, and offers exactly what the router serves under /fhir:
// a read per resource type with a /Type/:id route, the $everything operation, the Bundle search
// by lot, the ResearchSubject and Observation searches by patient.
func TestFHIRCapabilityStatement(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	cs := fhirGet(t, ts, "/fhir/metadata", "", 200)
	if cs["resourceType"] != "CapabilityStatement" || cs["status"] != "active" || cs["kind"] != "instance" ||
		cs["fhirVersion"] != "5.0.0" || fmt.Sprint(cs["format"]) != "[json]" || cs["implementation"] == nil {
		t.Fatalf("capability statement: %v", cs)
	}
	rest := cs["rest"].([]any)
	if len(rest) != 1 || rest[0].(map[string]any)["mode"] != "server" {
		t.Fatalf("rest: %v", rest)
	}
	offered := map[string]bool{}
	for _, r := range rest[0].(map[string]any)["resource"].([]any) {
		r := r.(map[string]any)
		for _, i := range asSlice(r["interaction"]) {
			offered[fmt.Sprint(r["type"], " ", i.(map[string]any)["code"])] = true
		}
		for _, o := range asSlice(r["operation"]) {
			offered[fmt.Sprint(r["type"], " $", o.(map[string]any)["name"])] = true
			if o.(map[string]any)["definition"] != "http://hl7.org/fhir/OperationDefinition/Patient-everything" {
				t.Errorf("operation %v", o)
			}
		}
		for _, p := range asSlice(r["searchParam"]) {
			offered[fmt.Sprint(r["type"], " ?", p.(map[string]any)["name"])] = true
		}
	}
	// The search each type's search route takes.
	searchParam := map[string]string{"ResearchSubject": "patient", "Observation": "subject"}
	served := map[string]bool{}
	for _, rt := range ts.srv.Routes() {
		p, ok := strings.CutPrefix(rt.Path, "/fhir/")
		if !ok || p == "metadata" {
			continue
		}
		if rt.Method != "GET" {
			t.Errorf("%s %s: the statement offers reads only", rt.Method, rt.Path)
		}
		parts := strings.Split(p, "/")
		switch {
		case len(parts) == 2 && parts[1] == ":id":
			served[parts[0]+" read"] = true
		case len(parts) == 3 && strings.HasPrefix(parts[2], "$"):
			served[parts[0]+" "+parts[2]] = true
		case len(parts) == 1 && parts[0] == "Bundle":
			served["Bundle search-type"], served["Bundle ?lot"] = true, true
		case len(parts) == 1 && searchParam[parts[0]] != "":
			served[parts[0]+" search-type"], served[parts[0]+" ?"+searchParam[parts[0]]] = true, true
		default:
			t.Errorf("route %s: teach this test what the statement should say of it", rt.Path)
		}
	}
	if fmt.Sprint(offered) != fmt.Sprint(served) {
		t.Errorf("the statement offers %v, the router serves %v", offered, served)
	}
	// A logged-in user gets it too.
	admin := ts.login("admin", adminPassword)
	fhirGet(t, ts, "/fhir/metadata", admin, 200)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// The trial export of the journey matches the golden files, on every backend; go test
// ./api -run TrialExport -update rewrites them.
func TestTrialExportGolden(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			j := runJourney(t, backend)
			ts := j.ts
			qa := ts.login("qa.bob", "a good password")
			for _, name := range []string{"trial.csv", "trial.json"} {
				r := ts.do("GET", "/api/v1/exports/"+name, qa, nil)
				if r.status != 200 {
					t.Fatalf("%s: %d %s", name, r.status, r.body)
				}
				got := r.body
				if strings.HasSuffix(name, ".json") {
					var buf bytes.Buffer
					if err := json.Indent(&buf, got, "", "  "); err != nil {
						t.Fatal(err)
					}
					got = buf.Bytes()
				}
				golden := filepath.Join("testdata", name)
				if *update {
					if err := os.MkdirAll("testdata", 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s (run with -update if the change is meant):\n%s", name, golden, got)
				}
			}
			if strings.Contains(string(ts.do("GET", "/api/v1/exports/trial.csv", qa, nil).body), "Li Wei") {
				t.Error("the trial export carries a patient name; subjects appear by subject id only")
			}
			admin := ts.login("admin", adminPassword)
			for _, role := range []domain.Role{domain.RoleNurse, domain.RolePharmacist, domain.RoleAdmin} {
				tok := ts.userWith(admin, "x."+string(role), role)
				if r := ts.do("GET", "/api/v1/exports/trial.csv", tok, nil); r.status != 403 {
					t.Errorf("trial export as %s: %d, want 403", role, r.status)
				}
			}
			audit := ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=patient&entity_id=%d&limit=1000", j.routineID), ts.login("admin", adminPassword), nil).json(t)
			n := 0
			for _, e := range audit["entries"].([]any) {
				if e := e.(map[string]any); e["action"] == "patient.disclose" && e["after"] == `{"fields":["subject_id","clinical"],"via":"export.trial"}` && e["user_name"] == "Full qa.bob" {
					n++
				}
			}
			if n != 3 {
				t.Errorf("trial export disclosures of the routine-arm subject: %d, want 3 (csv, json, csv)", n)
			}
		})
	}
}

// The MRN's identifier system is the site's setting (CORDTRACE_MRN_SYSTEM), in the Patient read
// and in the Bundles alike; without one it is urn:cordtrace:mrn.
func TestFHIRMRNSystemIsConfigurable(t *testing.T) {
	const system = "urn:oid:2.16.840.1.113883.19.5"
	for _, tc := range []struct{ configured, want string }{{system, system}, {"", "urn:cordtrace:mrn"}} {
		ts := newTestServerConfig(t, storetest.SQLite, store.Options{}, api.Config{MRNSystem: tc.configured})
		doc := ts.userWith(ts.login("admin", adminPassword), "dr.mrn", domain.RolePhysician)
		p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "Li Wei",
			"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": time.Now().UTC().Add(-time.Hour)})
		if p.status != 201 {
			t.Fatalf("enrol: %d %s", p.status, p.body)
		}
		id := int64(p.json(t)["id"].(float64))
		pat := fhirGet(t, ts, fmt.Sprintf("/fhir/Patient/%d", id), doc, 200)
		ev := fhirGet(t, ts, fmt.Sprintf("/fhir/Patient/%d/$everything", id), doc, 200)
		inBundle := ev["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
		for _, res := range []map[string]any{pat, inBundle} {
			mrn := res["identifier"].([]any)[0].(map[string]any)
			if mrn["system"] != tc.want || mrn["value"] != "MRN0001" {
				t.Errorf("configured %q: MRN identifier %v, want system %s", tc.configured, mrn, tc.want)
			}
		}
	}
}
