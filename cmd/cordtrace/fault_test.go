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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

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
		if err := st.SQLDB().QueryRow(`SELECT id FROM users WHERE username = '` + username + `'`).Scan(&id); err != nil {
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
	if _, err := st.CheckDoseBag(ctx, actor("pharmacist", domain.RolePharmacist), bag.ID, "pharmacist2", demoPassword); err != nil {
		t.Fatalf("second pharmacist's check: %v", err)
	}
	return bag.BagID + bag.Check
}

// proxy is a TCP proxy between serve and PostgreSQL that a test can cut and restore, so that
// the database "goes away" for one process without touching the shared server.
type proxy struct {
	t    *testing.T
	addr string
	// network and target are PostgreSQL's own address: "tcp" and host:port, or "unix" and the
	// socket's path when the URL names a socket directory (?host=/var/run/postgresql).
	network, target string
	mu              sync.Mutex
	ln              net.Listener
	conns           map[net.Conn]bool
}

func startProxy(t *testing.T, dbURL string) *proxy {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	network, target := "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") {
		network, target = "unix", fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, addr: ln.Addr().String(), network: network, target: target, conns: map[net.Conn]bool{}}
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
			up, err := net.Dial(p.network, p.target)
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

// viaProxy returns the database URL with its host replaced by the proxy's address, whether it
// named a host or a socket directory.
func viaProxy(t *testing.T, dbURL, addr string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	q := u.Query()
	q.Del("host")
	q.Del("port")
	u.RawQuery = q.Encode()
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
	storetest.PostgresOnly(t)
	vars := backendEnv(t, storetest.Postgres)
	code := demoSite(t, vars)
	px := startProxy(t, vars["DATABASE_URL"])
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
		return callWith(t, client, base, nurse, "POST", "/bedside/verify", map[string]any{"wristband": "10000001", "code": code, "entry_reason": map[string]string{"code": "label_damaged"}})
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
				{"verify", nurse, "/bedside/verify", "POST", map[string]any{"wristband": "10000001", "code": code, "entry_reason": map[string]string{"code": "label_damaged"}}},
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

// A serve process killed with SIGKILL in the middle of a stream of scans and verifications
// loses nothing it acknowledged: every answered write is in the database with its audit entry,
// no row lacks one, the chain verifies, and a new process starts on the same database.
func TestKilledProcessLosesNoAcknowledgedWrite(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			vars := backendEnv(t, b)
			code := demoSite(t, vars)
			base, cmd := startProcessCmd(t, vars)
			nurse := login(t, base, "nurse", demoPassword)
			pharm := login(t, base, "pharmacist", demoPassword)
			client := &http.Client{Timeout: 15 * time.Second}

			var mu sync.Mutex
			var verified []int64 // ids of verifications answered 200
			var scanned []string // locations of scans answered as recorded
			acked := make(chan struct{}, 1000)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						if i%2 == 0 {
							st, out, err := tryCall(client, base, nurse, "POST", "/bedside/verify", map[string]any{"wristband": "10000001", "code": code, "entry_reason": map[string]string{"code": "label_damaged"}})
							if err != nil {
								return // the process is gone
							}
							if st == 200 {
								mu.Lock()
								verified = append(verified, int64(out["id"].(float64)))
								mu.Unlock()
								acked <- struct{}{}
							}
							continue
						}
						loc := fmt.Sprintf("K-%d-%d", g, i)
						st, _, err := tryCall(client, base, pharm, "POST", "/scans/dispatch", map[string]any{"code": code, "to": loc, "temperature_c": 5})
						if err != nil {
							return
						}
						// 201: dispatched; 409: refused as already dispatched, and kept as a scan.
						if st == 201 || st == 409 {
							mu.Lock()
							scanned = append(scanned, loc)
							mu.Unlock()
							acked <- struct{}{}
						}
					}
				}()
			}
			for range 40 {
				<-acked
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			cmd.Wait()

			db, _, err := store.OpenDB(store.Options{DatabaseURL: vars["DATABASE_URL"], DataDir: vars["CORDTRACE_DATA_DIR"]})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, id := range verified {
				if countRows(t, db, fmt.Sprintf(`SELECT count(*) FROM verifications WHERE id = %d`, id)) != 1 ||
					countRows(t, db, fmt.Sprintf(`SELECT count(*) FROM audit_entries WHERE action = 'bedside.verify' AND entity_id = '%d'`, id)) != 1 {
					t.Errorf("acknowledged verification %d is not in the database with its audit entry", id)
				}
			}
			for _, loc := range scanned {
				if countRows(t, db, fmt.Sprintf(`SELECT count(*) FROM custody_scans WHERE location = '%s'`, loc)) != 1 {
					t.Errorf("acknowledged scan %s is not in the database", loc)
				}
			}
			if v, a := countRows(t, db, `SELECT count(*) FROM verifications`), countRows(t, db, `SELECT count(*) FROM audit_entries WHERE action = 'bedside.verify'`); v != a {
				t.Errorf("%d verifications, %d bedside.verify audit entries", v, a)
			}
			if s, a := countRows(t, db, `SELECT count(*) FROM custody_scans`), countRows(t, db, `SELECT count(*) FROM audit_entries WHERE action = 'custody.scan'`); s != a {
				t.Errorf("%d custody scans, %d custody.scan audit entries", s, a)
			}
			t.Logf("%d verifications and %d scans acknowledged before the kill", len(verified), len(scanned))
			auditEntries(t, vars)
			// The database is usable by a new process straight away.
			login(t, startProcess(t, vars), "nurse", demoPassword)
		})
	}
}

// tryCall is callWith that reports a failed connection instead of failing the test.
func tryCall(client *http.Client, base, token, method, path string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+"/api/v1"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return 0, nil, err // cut off mid-answer: not acknowledged
	}
	return res.StatusCode, out, nil
}

// Two serve processes, concurrent donations without a DIN on both: every DIN allocated is
// distinct, and the audit chain holds exactly one entry per acknowledged donation.
func TestTwoProcessesAllocateDistinctDINs(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			vars := backendEnv(t, b)
			demoSite(t, vars)
			bases := []string{startProcess(t, vars), startProcess(t, vars)}
			qc := login(t, bases[0], "qc.lab", demoPassword)
			db, _, err := store.OpenDB(store.Options{DatabaseURL: vars["DATABASE_URL"], DataDir: vars["CORDTRACE_DATA_DIR"]})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			auditBefore := countRows(t, db, `SELECT count(*) FROM audit_entries`)
			donationsBefore := countRows(t, db, `SELECT count(*) FROM donations`)

			const clients, each = 12, 5
			var mu sync.Mutex
			dins := map[string]int{}
			created := 0
			gate := make(chan struct{})
			var wg sync.WaitGroup
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					for range each {
						st, out, err := tryCall(http.DefaultClient, bases[c%2], qc, "POST", "/donations",
							map[string]any{"collected_at": time.Now().UTC().Add(-time.Hour)})
						if err != nil || st != 201 {
							t.Errorf("donation on process %d: %d %v %v", c%2, st, out, err)
							continue
						}
						mu.Lock()
						dins[out["din"].(string)]++
						created++
						mu.Unlock()
					}
				}()
			}
			close(gate)
			wg.Wait()
			for din, n := range dins {
				if n > 1 {
					t.Errorf("DIN %s allocated %d times", din, n)
				}
			}
			if got := countRows(t, db, `SELECT count(*) FROM donations`) - donationsBefore; got != created {
				t.Errorf("%d donations stored, %d acknowledged", got, created)
			}
			if got := countRows(t, db, `SELECT count(*) FROM audit_entries`) - auditBefore; got != created {
				t.Errorf("%d audit entries written for %d acknowledged donations", got, created)
			}
			if created != clients*each {
				t.Errorf("%d of %d donations acknowledged", created, clients*each)
			}
			auditEntries(t, vars)
		})
	}
}
