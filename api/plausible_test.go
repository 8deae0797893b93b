package api_test

import (
	"testing"
	"time"

	"cordtrace/domain"
)

// Values no lab produces are refused over the API, naming the field, and nothing is stored: a
// donation or a lot from the year 1000, a lot expiring in 9999, a unit of 9.2×10^18 cells.
func TestImplausibleValuesAreRefused(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		qc := ts.userWith(admin, "qc.pat", domain.RoleQC)
		now := time.Now().UTC()
		if r := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": "1000-01-01T00:00:00Z"}); r.status != 400 || r.errorOf(t)["field"] != "collected_at" {
			t.Fatalf("donation from the year 1000: %d %s", r.status, r.body)
		}
		don := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": now.Add(-72 * time.Hour)}).eligible(t, ts)
		for _, c := range []struct {
			name, made, expires, field string
		}{
			{"made in the year 1000, expiring in 9999", "1000-01-01T00:00:00Z", "9999-01-01T00:00:00Z", "manufactured_at"},
			{"expiring in 9999", now.Add(-48 * time.Hour).Format(time.RFC3339), "9999-01-01T00:00:00Z", "expires_at"},
			{"made next year", now.AddDate(1, 0, 0).Format(time.RFC3339), now.AddDate(2, 0, 0).Format(time.RFC3339), "manufactured_at"},
		} {
			r := ts.do("POST", "/api/v1/lots", qc, map[string]any{"donation_id": don["id"], "lot_number": "IMPLAUSIBLE",
				"manufactured_at": c.made, "expires_at": c.expires})
			if r.status != 400 || r.errorOf(t)["field"] != c.field {
				t.Errorf("lot %s: %d %s; want 400 naming %s", c.name, r.status, r.body, c.field)
			}
		}
		if lots := ts.do("GET", "/api/v1/lots", qc, nil).json(t)["lots"]; lots != nil && len(lots.([]any)) != 0 {
			t.Fatalf("a refused lot was stored: %v", lots)
		}
		lotPath, _ := releasedLot(t, ts, admin, "pl")
		if r := ts.do("POST", lotPath+"/units", ts.login("pl.qc", "a good password"), map[string]any{"count": 1, "viable_cells": int64(9223372036854775807), "volume_ml": 25}); r.status != 400 || r.errorOf(t)["field"] != "viable_cells" {
			t.Fatalf("a unit of 9,223,372,036,854,775,807 cells: %d %s", r.status, r.body)
		}
	})
}
