package api_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// A 40-subject trial run through the API on a site eight hours ahead of UTC: the allocation
// list alternates the arms (odd sequence numbers huc_msc), subjects SVP-001…SVP-040 are
// enrolled in order at 02:00 site time (18:00 UTC the day before: day 0 is the site's date),
// then outcomes, assessments and adverse events are recorded; the clock stands at day 100.
// Every expected figure is worked out by hand in the comments.
func TestEndpointsOfA40SubjectTrial(t *testing.T) {
	site := time.FixedZone("UTC+8", 8*3600)
	enrolled := time.Date(2026, 1, 5, 2, 0, 0, 0, site) // 2026-01-04T18:00Z
	now := time.Date(2026, 4, 15, 10, 0, 0, 0, site)    // day 100
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ts := newTestServerWith(t, backend, store.Options{Site: site, Now: func() time.Time { return now }})
			adm := ts.login("admin", adminPassword)
			qa := ts.userWith(adm, "qa.golden", domain.RoleQA)
			doc := ts.userWith(adm, "dr.golden", domain.RolePhysician)
			must := func(r response, what string) response {
				t.Helper()
				if r.status != http.StatusCreated && r.status != http.StatusOK {
					t.Fatalf("%s: %d %s", what, r.status, r.body)
				}
				return r
			}
			var list strings.Builder
			list.WriteString("sequence,arm\n")
			for i := 1; i <= 40; i++ {
				fmt.Fprintf(&list, "%d,%s\n", i, domain.Arms[(i+1)%2])
			}
			must(ts.do(http.MethodPost, "/api/v1/trial/allocations", qa, map[string]any{"password": "a good password", "csv": list.String()}), "list")
			ids := map[string]int64{}
			// h(k) is the k-th huc_msc subject, SVP-(2k−1); r(k) the k-th routine one, SVP-(2k).
			for i := 1; i <= 40; i++ {
				sid := fmt.Sprintf("SVP-%03d", i)
				r := must(ts.do(http.MethodPost, "/api/v1/patients", doc, map[string]any{"subject_id": sid, "mrn": fmt.Sprintf("MRN%04d", i), "name": "Subject " + sid,
					"date_of_birth": "1960-01-01", "weight_kg": 70, "enrolled_at": enrolled}), "enrol "+sid)
				if want := string(domain.Arms[(i+1)%2]); r.json(t)["arm"] != want {
					t.Fatalf("%s allocated %v, want %s", sid, r.json(t)["arm"], want)
				}
				ids[sid] = int64(r.json(t)["id"].(float64))
			}
			h := func(k int) int64 { return ids[fmt.Sprintf("SVP-%03d", 2*k-1)] }
			r := func(k int) int64 { return ids[fmt.Sprintf("SVP-%03d", 2*k)] }
			date := func(day int) string { return enrolled.AddDate(0, 0, day).Format(time.DateOnly) }
			outcome := func(id int64, kind string, day int) {
				t.Helper()
				body := map[string]any{"kind": kind, "date": date(day)}
				switch kind {
				case "death":
					body["cause"] = "respiratory failure"
				case "withdrawal", "lost":
					body["reason"] = "recorded in the source notes"
				}
				must(ts.do(http.MethodPost, fmt.Sprintf("/api/v1/patients/%d/outcomes", id), doc, body), kind)
			}
			// huc_msc: h1 dies in hospital on day 5, h3 on day 20; h2 is discharged on day 12
			// and dies on day 60; h4 is discharged on day 9 and withdraws on day 30; h5 is
			// discharged on day 11 and lost on day 45; h6…h20 are discharged on the days below
			// and followed to day 90.
			outcome(h(1), "death", 5)
			outcome(h(3), "death", 20)
			outcome(h(2), "discharge", 12)
			outcome(h(2), "death", 60)
			outcome(h(4), "discharge", 9)
			outcome(h(4), "withdrawal", 30)
			outcome(h(5), "discharge", 11)
			outcome(h(5), "lost", 45)
			for k, d := range []int{6, 7, 8, 8, 10, 10, 12, 14, 14, 15, 16, 18, 20, 25, 30} {
				outcome(h(6+k), "discharge", d)
			}
			// routine: r1 dies in hospital on day 2, r2 and r3 on day 8, r4 on day 15; r5 is
			// discharged on day 20 and dies on day 70; r6 is discharged on day 7 and withdraws
			// on day 50; r7 is lost on day 10, in hospital; r8 is still in hospital; r9…r20
			// are discharged on the days below.
			outcome(r(1), "death", 2)
			outcome(r(2), "death", 8)
			outcome(r(3), "death", 8)
			outcome(r(4), "death", 15)
			outcome(r(5), "discharge", 20)
			outcome(r(5), "death", 70)
			outcome(r(6), "discharge", 7)
			outcome(r(6), "withdrawal", 50)
			outcome(r(7), "lost", 10)
			for k, d := range []int{9, 10, 11, 12, 13, 14, 16, 18, 21, 24, 28, 35} {
				outcome(r(9+k), "discharge", d)
			}
			assess := func(id int64, day int, field string, v float64) {
				t.Helper()
				must(ts.do(http.MethodPost, fmt.Sprintf("/api/v1/patients/%d/assessments", id), doc,
					map[string]any{"day": day, "taken_at": enrolled.AddDate(0, 0, day).Add(time.Hour), field: v}), "assessment")
			}
			for k, v := range []float64{120, 80, 100, 60, 140} {
				assess(h(6+k), 0, "crp_mg_l", v)
			}
			for k, v := range []float64{40, 30, 50, 20} {
				assess(h(6+k), 7, "crp_mg_l", v)
			}
			for k, v := range []float64{90, 110, 70} {
				assess(r(9+k), 0, "crp_mg_l", v)
			}
			assess(h(11), 0, "pf_ratio_mmhg", 150)
			assess(h(12), 0, "pf_ratio_mmhg", 250)
			ae := func(id int64, serious bool, severity string) {
				must(ts.do(http.MethodPost, "/api/v1/adverse-events", doc, map[string]any{"patient_id": id, "serious": serious, "severity": severity,
					"description": "event", "onset_at": enrolled.Add(30 * time.Hour)}), "adverse event")
			}
			ae(h(1), true, "fatal")
			ae(h(7), false, "mild")
			ae(h(7), false, "moderate")
			ae(r(2), true, "severe")
			ae(r(9), false, "mild")

			res := must(ts.do(http.MethodGet, "/api/v1/trial/endpoints", qa, nil), "endpoints")
			var got domain.Endpoints
			if err := json.Unmarshal(res.body, &got); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(res.body), "SVP-") {
				t.Error("the endpoints name a subject")
			}
			hu, ro := got.Arms[0], got.Arms[1]
			near := func(a *float64, b float64) bool { return a != nil && math.Abs(*a-b) < 1e-9 }
			// huc_msc: 3 deaths (h1, h3, h2) of 20 = 0.15.
			if hu.Arm != domain.ArmHUCMSC || hu.Randomized != 20 || hu.Deaths90d != 3 || !near(hu.Mortality90d, 0.15) {
				t.Errorf("huc_msc mortality: %d/%d %v", hu.Deaths90d, hu.Randomized, *hu.Mortality90d)
			}
			// KM: day 5, 20 at risk, 1 death: 19/20 = 0.95; day 20, 19 at risk: 0.95 × 18/19 =
			// 0.9; day 30 and 45 censored (18, 17 at risk); day 60, 16 at risk: 0.9 × 15/16 =
			// 0.84375; day 90, the 15 others censored.
			wantKM := func(km []domain.KMPoint, want string) {
				t.Helper()
				var s []string
				for _, p := range km {
					s = append(s, fmt.Sprintf("%d:%d/%d/%d:%.6f", p.Day, p.AtRisk, p.Events, p.Censored, p.Survival))
				}
				if strings.Join(s, " ") != want {
					t.Errorf("KM %s, want %s", strings.Join(s, " "), want)
				}
			}
			wantKM(hu.KM, "0:20/0/0:1.000000 5:20/1/0:0.950000 20:19/1/0:0.900000 30:18/0/1:0.900000 45:17/0/1:0.900000 60:16/1/0:0.843750 90:15/0/15:0.843750")
			// LOS of the 18 discharged alive, sorted: 6 7 8 8 9 10 10 11 12 12 14 14 15 16 18 20
			// 25 30; sum 245, mean 245/18 = 13.6111…; median (12+12)/2 = 12; Q1 at position
			// 17 × 0.25 = 4.25: 9 + 0.25 × (10 − 9) = 9.25; Q3 at 12.75: 15 + 0.75 = 15.75.
			if hu.Discharged != 18 || hu.DeathsInHospital != 2 || hu.InHospital != 0 || !near(hu.LOSMean, 245.0/18) || !near(hu.LOSMedian, 12) || !near(hu.LOSQ1, 9.25) || !near(hu.LOSQ3, 15.75) {
				t.Errorf("huc_msc stay: %d %d %d %v %v %v %v", hu.Discharged, hu.DeathsInHospital, hu.InHospital, *hu.LOSMean, *hu.LOSMedian, *hu.LOSQ1, *hu.LOSQ3)
			}
			if hu.AECount != 2 || hu.SAECount != 1 {
				t.Errorf("huc_msc AEs %d, SAEs %d", hu.AECount, hu.SAECount)
			}
			// CRP day 0: 60 80 100 120 140 → 100; day 7: 20 30 40 50 → 35. P/F day 0: 150, 250 → 200.
			if fmt.Sprint(hu.Trajectories[0].Points) != "[{0 5 100} {7 4 35}]" || fmt.Sprint(hu.Trajectories[4].Points) != "[{0 2 200}]" {
				t.Errorf("huc_msc medians: %v %v", hu.Trajectories[0].Points, hu.Trajectories[4].Points)
			}
			// routine: 5 deaths (r1–r5) of 20 = 0.25.
			if ro.Randomized != 20 || ro.Deaths90d != 5 || !near(ro.Mortality90d, 0.25) {
				t.Errorf("routine mortality: %d/%d", ro.Deaths90d, ro.Randomized)
			}
			// KM: day 2, 20 at risk: 0.95; day 8, 19 at risk, 2 deaths: 0.95 × 17/19 = 0.85; day
			// 10 censored (r7); day 15, 16 at risk: 0.85 × 15/16 = 0.796875; day 50 censored
			// (r6); day 70, 14 at risk: 0.796875 × 13/14 = 0.739955…; day 90, 13 censored.
			wantKM(ro.KM, "0:20/0/0:1.000000 2:20/1/0:0.950000 8:19/2/0:0.850000 10:17/0/1:0.850000 15:16/1/0:0.796875 50:15/0/1:0.796875 70:14/1/0:0.739955 90:13/0/13:0.739955")
			// LOS of the 14 discharged alive, sorted: 7 9 10 11 12 13 14 16 18 20 21 24 28 35;
			// sum 238, mean 17; median (14+16)/2 = 15; Q1 at 3.25: 11.25; Q3 at 9.75: 20.75.
			// Deaths in hospital: r1–r4; not discharged: r7 (lost) and r8.
			if ro.Discharged != 14 || ro.DeathsInHospital != 4 || ro.InHospital != 2 || !near(ro.LOSMean, 17) || !near(ro.LOSMedian, 15) || !near(ro.LOSQ1, 11.25) || !near(ro.LOSQ3, 20.75) {
				t.Errorf("routine stay: %d %d %d %v %v %v %v", ro.Discharged, ro.DeathsInHospital, ro.InHospital, *ro.LOSMean, *ro.LOSMedian, *ro.LOSQ1, *ro.LOSQ3)
			}
			if ro.AECount != 1 || ro.SAECount != 1 || fmt.Sprint(ro.Trajectories[0].Points) != "[{0 3 90}]" {
				t.Errorf("routine AEs %d SAEs %d CRP %v", ro.AECount, ro.SAECount, ro.Trajectories[0].Points)
			}

			// The CSV carries the same figures, one a row.
			c := must(ts.do(http.MethodGet, "/api/v1/trial/endpoints.csv", doc, nil), "endpoints.csv")
			recs, err := csv.NewReader(strings.NewReader(string(c.body))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			csvOf := map[string]string{}
			for _, rec := range recs[1:] {
				csvOf[rec[0]+" "+rec[1]+" "+rec[2]] = rec[3]
			}
			for key, want := range map[string]string{
				"huc_msc mortality_90d ": "0.15", "routine mortality_90d ": "0.25", "huc_msc los_median_days ": "12", "routine los_q3_days ": "20.75",
				"routine km_survival 15": "0.796875", "huc_msc km_at_risk 60": "16", "huc_msc median_crp_mg_l 7": "35", "routine sae_count ": "1",
				"huc_msc deaths_in_hospital ": "2", "routine in_hospital ": "2",
			} {
				if csvOf[key] != want {
					t.Errorf("CSV %s = %q, want %s", key, csvOf[key], want)
				}
			}
			if strings.Join(recs[0], ",") != "arm,figure,day,value" {
				t.Errorf("CSV header %v", recs[0])
			}

			// The trial export's randomization and follow-up columns, after the others: h2
			// (SVP-003, sequence 3) discharged on day 12 and dead on day 60; h6 (SVP-011)
			// assessed on days 0 and 7 and discharged on day 6; r7 (SVP-014) lost on day 10.
			x := must(ts.do(http.MethodGet, "/api/v1/exports/trial.csv", doc, nil), "trial export")
			rows, err := csv.NewReader(strings.NewReader(string(x.body))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rows[0][16:], ","); got != "allocation_sequence,discharge_date,death_date,death_cause,withdrawal_date,lost_date,follow_up_end_reason,length_of_stay_days,assessment_days" {
				t.Errorf("export columns 17–25: %s", got)
			}
			bySubject := map[string][]string{}
			for _, row := range rows[1:] {
				bySubject[row[0]] = row[16:]
			}
			for sid, want := range map[string]string{
				"SVP-003": "3|2026-01-17|2026-03-06|respiratory failure||||12|",
				"SVP-011": "11|2026-01-11||||||6|0 7",
				"SVP-014": "14|||||2026-01-15|recorded in the source notes||",
			} {
				if got := strings.Join(bySubject[sid], "|"); got != want {
					t.Errorf("export %s: %s, want %s", sid, got, want)
				}
			}
		})
	}
}
