package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// needPostgres skips a test that only means something on PostgreSQL (CI runs it there).
func needPostgres(t *testing.T) {
	t.Helper()
	if !slices.Contains(storetest.Backends(t), storetest.Postgres) {
		t.Skip("needs PostgreSQL: set " + storetest.EnvDatabaseURL)
	}
}

// demoSite loads the demo site straight into the database (cheap password hashes) and
// prepares SVP-001's dose bag; it returns the bag's typed code (id and check character).
func demoSite(t *testing.T, vars map[string]string) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DatabaseURL: vars["DATABASE_URL"], DataDir: vars["CORDTRACE_DATA_DIR"], PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := loadDemo(ctx, st, io.Discard); err != nil {
		t.Fatal(err)
	}
	actor := func(username string, role domain.Role) domain.Actor {
		var id int64
		if err := st.SQLDB().QueryRow(`SELECT id FROM users WHERE username = $1`, username).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return domain.Actor{UserID: id, Username: username, FullName: username, Role: role, RequestID: "test"}
	}
	var patientID, lotID int64
	if err := st.SQLDB().QueryRow(`SELECT id FROM patients WHERE subject_id = 'SVP-001'`).Scan(&patientID); err != nil {
		t.Fatal(err)
	}
	if err := st.SQLDB().QueryRow(`SELECT id FROM lots WHERE lot_number = 'DEMO-001'`).Scan(&lotID); err != nil {
		t.Fatal(err)
	}
	lot, err := st.LotDetail(ctx, lotID)
	if err != nil {
		t.Fatal(err)
	}
	order, err := st.OrderDose(ctx, actor("doctor", domain.RolePhysician), patientID)
	if err != nil {
		t.Fatal(err)
	}
	bag, err := st.PrepareDoseBag(ctx, actor("pharmacist", domain.RolePharmacist), order.ID, domain.NewDoseBag{
		UnitIDs: []int64{lot.Units[0].ID, lot.Units[1].ID}, ThawedAt: time.Now().Add(-5 * time.Minute),
		PostThawViabilityPct: 88, ViableCells: order.TargetViableCells, VolumeML: 50})
	if err != nil {
		t.Fatal(err)
	}
	return bag.BagID + bag.Check
}

// proxy is a TCP proxy between serve and PostgreSQL that a test can cut and restore, so that
// the database "goes away" for one process without touching the shared server.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				down.Close()
				continue
			}
			p.mu.Lock()
			p.conns[down], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { io.Copy(up, down); up.Close() }()
			go func() { io.Copy(down, up); down.Close() }()
		}
	}()
}

// cut closes the listener and every connection: the database is gone for the process.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// restore listens again on the same address and forwards as before.
func (p *proxy) restore() {
	p.t.Helper()
	p.cut()
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger for a moment
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("proxy cannot listen again on %s: %v", p.addr, err)
}

// viaProxy returns the database URL with its host replaced by the proxy's address.
func viaProxy(t *testing.T, dbURL, addr string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// countRows runs a count query on the real database (not through the proxy).
func countRows(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// The database goes away under a running service: requests fail with 503 and a message that
// says what to do, within the configured timeout (the client's own timeout, well above it,
// turns a hang into a failure); nothing is half-written; when the database comes back the
// same process serves again without a restart.
func TestDatabaseLossGives503AndRecovers(t *testing.T) {
	needPostgres(t)
	vars := backendEnv(t, storetest.Postgres)
	code := demoSite(t, vars)
	dbURL, _ := url.Parse(vars["DATABASE_URL"])
	px := startProxy(t, dbURL.Host)
	procVars := map[string]string{}
	for k, v := range vars {
		procVars[k] = v
	}
	procVars["DATABASE_URL"] = viaProxy(t, vars["DATABASE_URL"], px.addr)
	procVars["CORDTRACE_DB_TIMEOUT"] = "1s"
	base := startProcess(t, procVars)
	nurse := login(t, base, "nurse", demoPassword)
	pharm := login(t, base, "pharmacist", demoPassword)
	db, _, err := store.OpenDB(store.Options{DatabaseURL: vars["DATABASE_URL"]})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	client := &http.Client{Timeout: 15 * time.Second} // a hang, not a slow answer, fails the test
	verify := func() (int, map[string]any) {
		return callWith(t, client, base, nurse, "POST", "/bedside/verify", map[string]any{"wristband": "10000001", "code": code})
	}
	for range 3 {
		if st, out := verify(); st != 200 {
			t.Fatalf("verification with the database up: %d %v", st, out)
		}
	}
	verifications := countRows(t, db, `SELECT count(*) FROM verifications`)
	audit := countRows(t, db, `SELECT count(*) FROM audit_entries`)

	for _, mode := range []string{"cut", "stall"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "cut" {
				px.cut()
			} else {
				px.stall()
			}
			requests := []struct {
				name        string
				token, path string
				method      string
				body        any
			}{
				{"verify", nurse, "/bedside/verify", "POST", map[string]any{"wristband": "10000001", "code": code}},
				{"scan", pharm, "/scans/dispatch", "POST", map[string]any{"code": code, "to": "ICU", "temperature_c": 5}},
				{"read", nurse, "/lots", "GET", nil},
				{"login", "", "/auth/login", "POST", map[string]string{"username": "nurse2", "password": demoPassword}},
			}
			for _, rq := range requests {
				st, out := callWith(t, client, base, rq.token, rq.method, rq.path, rq.body)
				e, _ := out["error"].(map[string]any)
				if st != http.StatusServiceUnavailable || e["code"] != domain.EUnavailable || !strings.Contains(fmt.Sprint(e["message"]), "try again") {
					t.Errorf("%s with the database %s: %d %v, want 503 unavailable saying to try again", rq.name, mode, st, out)
				}
			}
			if res, err := client.Get(base + "/readyz"); err != nil || res.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("readyz with the database %s: %v %v", mode, res, err)
			} else {
				res.Body.Close()
			}
			px.restore()
			// The pool throws away dead connections by itself: within a few requests the same
			// process answers again.
			recovered := false
			for range 20 {
				if st, _ := verify(); st == 200 {
					recovered = true
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !recovered {
				t.Fatalf("the service did not recover after the database came back")
			}
		})
	}

	// Nothing half-written: every verification row has its audit entry and the chain verifies.
	gotV := countRows(t, db, `SELECT count(*) FROM verifications`)
	gotVAudit := countRows(t, db, `SELECT count(*) FROM audit_entries WHERE action = 'bedside.verify'`)
	if gotV != gotVAudit {
		t.Fatalf("%d verifications but %d bedside.verify audit entries", gotV, gotVAudit)
	}
	if gotV < verifications+2 || countRows(t, db, `SELECT count(*) FROM audit_entries`) < audit+2 {
		t.Fatalf("the recovered verifications are missing")
	}
	if n := countRows(t, db, `SELECT count(*) FROM custody_scans`); n != countRows(t, db, `SELECT count(*) FROM audit_entries WHERE action = 'custody.scan'`) {
		t.Fatalf("%d custody scans without matching audit entries", n)
	}
	auditEntries(t, vars)
}

// stall closes the connections and takes new ones without ever answering: the database
// neither answers nor refuses, the case that only the connect and request timeouts end.
func (p *proxy) stall() {
	p.cut()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("stall: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = true // held open, never answered
			p.mu.Unlock()
		}
	}()
}

// callWith is call with a given client, so that a hang fails instead of blocking the test.
func callWith(t *testing.T, client *http.Client, base, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+"/api/v1"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}
