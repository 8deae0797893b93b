package loadtest

import (
	"context"
	"cordtrace/domain"
	"cordtrace/labels"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"sync"
	"sync/atomic"
	"time"
)

// unitsPerLot is how many units one lot is divided into (the API allows 1 to 99 per call).
const unitsPerLot = 99

// Cells and weights chosen so that one unit makes a whole dose: 40 kg × 10⁶ cells/kg.
const (
	patientKg   = 40
	unitCells   = 40_000_000
	unitVolumeL = 25
)

// bag is a seeded dose bag with the request bodies that scan and verify it.
type bag struct {
	id           int64
	mrn, code    string
	verifyBody   []byte
	dispatchBody []byte
	receiveBody  []byte
}

// site is what seeding made: the people and the bags of the run.
type site struct {
	tag                        string
	nurse, witness, pharmacist string // session tokens
	// witnessUser is the witness's username: the witness enters it with their password at each
	// verification (a login token is never a witness).
	witnessUser                string
	checker                    string // the second pharmacist's username: they check each bag
	verifyBags                 []*bag // dispatched and received: ready for the bedside
	scanBags                   []*bag // prepared: ready to be dispatched, then received
	seedTime                   time.Duration
	seedRequests               int64
	qc, qa, doctor, adminToken string
	password                   string
	unitIDs                    []int64
	nextUnit                   atomic.Int64
	requests                   atomic.Int64
}

// runTag is three random capital letters naming this run's users, lots and patients, so that
// runs against one database do not collide.
func runTag() string {
	b := make([]byte, 3)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(26))
		b[i] = byte('A' + n.Int64())
	}
	return string(b)
}

// seed creates, through the API only, the users, released lots, patients and dose bags the run
// needs: verifyBags bags dispatched and received for the bedside, scanBags prepared for custody
// scans. Progress goes to progress once a second.
func seed(ctx context.Context, c *client, cfg Config, verifyBags, scanBags int, progress io.Writer) (*site, error) {
	start := time.Now()
	s := &site{tag: runTag()}
	s.password = "load test password " + s.tag
	if err := c.call(ctx, 200, "POST", "/api/v1/auth/login", "", map[string]string{"username": cfg.AdminUser, "password": cfg.AdminPassword}, &struct {
		Token *string `json:"token"`
	}{&s.adminToken}); err != nil {
		return nil, fmt.Errorf("log in as %s (give -admin-user and -admin-password, or CORDTRACE_LOADTEST_ADMIN_PASSWORD): %w", cfg.AdminUser, err)
	}
	lower := func(v string) string {
		b := []byte(v)
		for i := range b {
			b[i] += 'a' - 'A'
		}
		return string(b)
	}
	for _, u := range []struct {
		name, role string
		token      *string
	}{
		{"qc", "qc", &s.qc}, {"qa", "qa", &s.qa}, {"doctor", "physician", &s.doctor},
		{"pharmacist", "pharmacist", &s.pharmacist}, {"nurse", "nurse", &s.nurse}, {"witness", "nurse", &s.witness},
		{"checker", "pharmacist", new(string)},
	} {
		username := "lt" + lower(s.tag) + "." + u.name
		if u.name == "witness" {
			s.witnessUser = username
		}
		if err := c.call(ctx, 201, "POST", "/api/v1/users", s.adminToken, map[string]any{
			"username": username, "full_name": "Load test " + u.name + " " + s.tag, "password": s.password, "roles": []string{u.role},
		}, nil); err != nil {
			return nil, fmt.Errorf("create user %s: %w", username, err)
		}
		var out struct {
			Token string `json:"token"`
		}
		if err := c.call(ctx, 200, "POST", "/api/v1/auth/login", "", map[string]string{"username": username, "password": s.password}, &out); err != nil {
			return nil, err
		}
		*u.token = out.Token
		if u.name == "checker" {
			s.checker = username
		}
	}

	total := verifyBags + scanBags
	lots := (total + unitsPerLot - 1) / unitsPerLot
	var lotsDone, bagsDone atomic.Int64
	defer everySecond(func(time.Time) {
		fmt.Fprintf(progress, "seeding: %d/%d lots released, %d/%d dose bags prepared (%s)\n",
			lotsDone.Load(), lots, bagsDone.Load(), total, time.Since(start).Round(time.Second))
	})()

	unitLists := make([][]int64, lots)
	if err := parallel(ctx, cfg.Concurrency, lots, func(ctx context.Context, i int) error {
		n := min(unitsPerLot, total-i*unitsPerLot)
		ids, err := s.releasedLot(ctx, c, i, n)
		unitLists[i] = ids
		lotsDone.Add(1)
		return err
	}); err != nil {
		return nil, err
	}
	// Round robin over the lots, so that bags prepared at the same time come from different
	// lots and do not queue on one lot's row lock.
	for j := range unitsPerLot {
		for _, l := range unitLists {
			if j < len(l) {
				s.unitIDs = append(s.unitIDs, l[j])
			}
		}
	}

	all := make([]*bag, total)
	if err := parallel(ctx, cfg.Concurrency, total, func(ctx context.Context, i int) error {
		b, err := s.preparedBag(ctx, c, i, i < verifyBags)
		all[i] = b
		bagsDone.Add(1)
		return err
	}); err != nil {
		return nil, err
	}
	s.verifyBags, s.scanBags = all[:verifyBags], all[verifyBags:]
	s.seedTime = time.Since(start)
	s.seedRequests = s.requests.Load()
	return s, nil
}

// do is client.call, counted.
func (s *site) do(ctx context.Context, c *client, want int, method, path, token string, body, out any) error {
	s.requests.Add(1)
	return c.call(ctx, want, method, path, token, body, out)
}

// releasedLot makes a lot that meets every release criterion, has QA release it with their
// signature, and divides it into n units.
func (s *site) releasedLot(ctx context.Context, c *client, i, n int) ([]int64, error) {
	now := time.Now().UTC()
	var don, lot struct {
		ID int64 `json:"id"`
	}
	if err := s.do(ctx, c, 201, "POST", "/api/v1/donations", s.qc, map[string]any{"collected_at": now.Add(-72 * time.Hour)}, &don); err != nil {
		return nil, err
	}
	donPath := fmt.Sprintf("/api/v1/donations/%d", don.ID)
	for _, test := range domain.DonorTests {
		if err := s.do(ctx, c, 201, "POST", donPath+"/tests", s.qc, map[string]any{"test": test, "result": domain.NonReactive, "tested_at": now.Add(-72 * time.Hour)}, nil); err != nil {
			return nil, err
		}
	}
	if err := s.do(ctx, c, 201, "POST", donPath+"/screening", s.qc, map[string]any{"questionnaire_complete": true, "outcome": domain.ScreeningAcceptable, "screened_at": now.Add(-72 * time.Hour)}, nil); err != nil {
		return nil, err
	}
	if err := s.do(ctx, c, 200, "POST", donPath+"/eligibility", s.qa, map[string]any{"password": s.password, "determination": domain.Eligible}, nil); err != nil {
		return nil, err
	}
	if err := s.do(ctx, c, 201, "POST", "/api/v1/lots", s.qc, map[string]any{"donation_id": don.ID, "lot_number": fmt.Sprintf("LT-%s-%05d", s.tag, i+1),
		"manufactured_at": now.Add(-48 * time.Hour), "expires_at": now.AddDate(1, 0, 0)}, &lot); err != nil {
		return nil, err
	}
	path := fmt.Sprintf("/api/v1/lots/%d", lot.ID)
	if err := s.do(ctx, c, 200, "POST", path+"/quarantine", s.qc, nil, nil); err != nil {
		return nil, err
	}
	for _, body := range []map[string]any{
		{"test": "viability", "value": 91.5}, {"test": "viable_cell_count", "value": 1.2e9},
		{"test": "sterility", "result": "negative"}, {"test": "mycoplasma", "result": "not_detected"},
		{"test": "endotoxin", "value": 0.12},
		{"test": "phenotype", "markers": map[string]float64{"CD73": 99, "CD90": 99, "CD105": 99, "CD34": 0.4, "CD45": 0.6, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.5}},
		{"test": "bv2_potency", "analyte": "TNF-alpha", "baseline": []float64{100, 105, 95}, "lps": []float64{1000, 1050, 950}, "treated": []float64{500, 520, 480}},
	} {
		if err := s.do(ctx, c, 201, "POST", path+"/qc-results", s.qc, body, nil); err != nil {
			return nil, err
		}
	}
	if err := s.do(ctx, c, 200, "POST", path+"/release", s.qa, map[string]string{"password": s.password}, nil); err != nil {
		return nil, err
	}
	var units []struct {
		ID int64 `json:"id"`
	}
	if err := s.do(ctx, c, 201, "POST", path+"/units", s.qc, map[string]any{"count": n, "viable_cells": unitCells, "volume_ml": unitVolumeL}, &units); err != nil {
		return nil, err
	}
	ids := make([]int64, len(units))
	for i, u := range units {
		ids[i] = u.ID
	}
	return ids, nil
}

// subjectID is patient i's study subject id: the run tag, a block letter pair and 4 digits.
func (s *site) subjectID(i int) string {
	block := i / 10000
	return fmt.Sprintf("%s%c%c-%04d", s.tag, 'A'+block/26%26, 'A'+block%26, i%10000)
}

// preparedBag enrols a patient, orders their dose, thaws one unit into their bag, has a second
// pharmacist check it and reads the bag's QR code from its label. A bag for the bedside is then dispatched and received.
func (s *site) preparedBag(ctx context.Context, c *client, i int, forBedside bool) (*bag, error) {
	now := time.Now().UTC()
	b := &bag{mrn: fmt.Sprintf("LT%s%08d", s.tag, i)}
	var p, o struct {
		ID int64 `json:"id"`
	}
	if err := s.do(ctx, c, 201, "POST", "/api/v1/patients", s.doctor, map[string]any{"subject_id": s.subjectID(i), "mrn": b.mrn,
		"name": "Load Test " + s.tag, "date_of_birth": "1960-05-01", "weight_kg": patientKg, "arm": "huc_msc",
		"enrolled_at": now.Add(-24 * time.Hour)}, &p); err != nil {
		return nil, err
	}
	if err := s.do(ctx, c, 201, "POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", p.ID), s.doctor, nil, &o); err != nil {
		return nil, err
	}
	var made struct {
		ID int64 `json:"id"`
	}
	unit := s.unitIDs[s.nextUnit.Add(1)-1]
	if err := s.do(ctx, c, 201, "POST", fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", o.ID), s.pharmacist, map[string]any{
		"unit_ids": []int64{unit}, "thawed_at": now, "post_thaw_viability_pct": 85, "viable_cells": unitCells, "volume_ml": unitVolumeL,
	}, &made); err != nil {
		return nil, err
	}
	b.id = made.ID
	// A second pharmacist checks the preparation before its label prints (SPEC §6).
	if err := s.do(ctx, c, 200, "POST", fmt.Sprintf("/api/v1/dose-bags/%d/check", b.id), s.pharmacist,
		map[string]string{"username": s.checker, "password": s.password}, nil); err != nil {
		return nil, err
	}
	// Bedside bags are read as a hand scanner reads the printed label: from the PNG's pixels.
	// The many bags of the scan pool are read from the ZPL the printer gets, which names the
	// same text the printed symbol encodes, because rendering and decoding thousands of PNGs
	// would take longer than the run.
	var err error
	s.requests.Add(1)
	if forBedside {
		var png []byte
		if png, err = c.get(ctx, fmt.Sprintf("/api/v1/dose-bags/%d/label.png", b.id), s.pharmacist); err == nil {
			b.code, err = labels.ReadQR(png)
		}
	} else {
		var zpl []byte
		if zpl, err = c.get(ctx, fmt.Sprintf("/api/v1/dose-bags/%d/label.zpl", b.id), s.pharmacist); err == nil {
			b.code, err = labels.ReadZPLQR(zpl)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bag %d label: %w", b.id, err)
	}
	b.verifyBody, _ = json.Marshal(map[string]any{"wristband": b.mrn, "code": b.code, "witness": map[string]string{"username": s.witnessUser, "password": s.password}, "ward": "ICU-LT"})
	b.dispatchBody, _ = json.Marshal(map[string]any{"code": b.code, "to": "ICU-LT", "temperature_c": 5})
	b.receiveBody, _ = json.Marshal(map[string]any{"code": b.code, "location": "ICU-LT", "temperature_c": 4.5})
	if forBedside {
		if err := s.do(ctx, c, 201, "POST", "/api/v1/scans/dispatch", s.pharmacist, json.RawMessage(b.dispatchBody), nil); err != nil {
			return nil, err
		}
		if err := s.do(ctx, c, 201, "POST", "/api/v1/scans/receive", s.nurse, json.RawMessage(b.receiveBody), nil); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// parallel runs fn for 0..n-1 on workers goroutines and returns the first error.
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return ctx.Err()
}
