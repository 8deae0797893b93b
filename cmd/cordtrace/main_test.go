package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestConfig(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"defaults", nil, nil, "", func(t *testing.T, c Config) {
			if c.Addr != ":8080" || c.DataDir != "./data" || c.DatabaseURL != "" || c.SessionIdle != 15*time.Minute || c.Site != time.Local || c.DBTimeout != 10*time.Second {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{"flags override env", map[string]string{"CORDTRACE_ADDR": ":1"}, []string{"-addr", ":2"}, "", func(t *testing.T, c Config) {
			if c.Addr != ":2" {
				t.Errorf("addr = %s", c.Addr)
			}
		}},
		{"site zone", map[string]string{"CORDTRACE_SITE_TZ": "Asia/Shanghai"}, nil, "", func(t *testing.T, c Config) {
			if c.Site.String() != "Asia/Shanghai" {
				t.Errorf("site = %v", c.Site)
			}
		}},
		{"postgresql scheme", map[string]string{"DATABASE_URL": "postgresql://x@y/z", "CORDTRACE_SITE_TZ": "UTC"}, nil, "", nil},
		{"postgresql without a site zone", map[string]string{"DATABASE_URL": "postgres://x@y/z"}, nil, "CORDTRACE_SITE_TZ is required with PostgreSQL", nil},
		{"embedded: the machine's zone", map[string]string{"CORDTRACE_SITE_TZ": ""}, nil, "", func(t *testing.T, c Config) {
			_, _, source := c.SiteZone(time.Now())
			if c.Site != time.Local || !strings.Contains(source, "machine") {
				t.Errorf("site = %v from %q", c.Site, source)
			}
		}},
		{"mysql url", map[string]string{"DATABASE_URL": "mysql://x"}, nil, "DATABASE_URL must be a postgres:// URL", nil},
		{"bad zone", map[string]string{"CORDTRACE_SITE_TZ": "Mars/Olympus"}, nil, "CORDTRACE_SITE_TZ", nil},
		{"facility with O", map[string]string{"CORDTRACE_FACILITY_ID": "O1234"}, nil, "CORDTRACE_FACILITY_ID", nil},
		{"short admin password", map[string]string{"CORDTRACE_ADMIN_PASSWORD": "short"}, nil, "CORDTRACE_ADMIN_PASSWORD", nil},
		{"idle not a duration", map[string]string{"CORDTRACE_SESSION_IDLE": "15"}, nil, "CORDTRACE_SESSION_IDLE", nil},
		{"idle too long", map[string]string{"CORDTRACE_SESSION_IDLE": "24h"}, nil, "CORDTRACE_SESSION_IDLE", nil},
		{"session lifetime by default", nil, nil, "", func(t *testing.T, c Config) {
			if c.SessionLifetime != 12*time.Hour {
				t.Errorf("session lifetime = %v, want 12h", c.SessionLifetime)
			}
		}},
		{"session lifetime", map[string]string{"CORDTRACE_SESSION_LIFETIME": "8h"}, nil, "", func(t *testing.T, c Config) {
			if c.SessionLifetime != 8*time.Hour {
				t.Errorf("session lifetime = %v", c.SessionLifetime)
			}
		}},
		{"lifetime not a duration", map[string]string{"CORDTRACE_SESSION_LIFETIME": "12"}, nil, "CORDTRACE_SESSION_LIFETIME", nil},
		{"lifetime shorter than idle", map[string]string{"CORDTRACE_SESSION_IDLE": "1h", "CORDTRACE_SESSION_LIFETIME": "30m"}, nil, "CORDTRACE_SESSION_LIFETIME", nil},
		{"lifetime too long", map[string]string{"CORDTRACE_SESSION_LIFETIME": "200h"}, nil, "CORDTRACE_SESSION_LIFETIME", nil},
		{"db timeout", map[string]string{"CORDTRACE_DB_TIMEOUT": "2s"}, nil, "", func(t *testing.T, c Config) {
			if c.DBTimeout != 2*time.Second {
				t.Errorf("db timeout = %v", c.DBTimeout)
			}
		}},
		{"db timeout not a duration", map[string]string{"CORDTRACE_DB_TIMEOUT": "10"}, nil, "CORDTRACE_DB_TIMEOUT", nil},
		{"db timeout too short", map[string]string{"CORDTRACE_DB_TIMEOUT": "1ms"}, nil, "CORDTRACE_DB_TIMEOUT", nil},
		{"db conns", map[string]string{"CORDTRACE_DB_CONNS": "8"}, nil, "", func(t *testing.T, c Config) {
			if c.DBConns != 8 {
				t.Errorf("db conns = %d", c.DBConns)
			}
		}},
		{"db conns unset", nil, nil, "", func(t *testing.T, c Config) {
			if c.DBConns != 0 { // 0: the store's default
				t.Errorf("db conns = %d", c.DBConns)
			}
		}},
		{"db conns zero", map[string]string{"CORDTRACE_DB_CONNS": "0"}, nil, "CORDTRACE_DB_CONNS", nil},
		{"db conns not a number", map[string]string{"CORDTRACE_DB_CONNS": "many"}, nil, "CORDTRACE_DB_CONNS", nil},
		{"log format", map[string]string{"CORDTRACE_LOG_FORMAT": "xml"}, nil, "CORDTRACE_LOG_FORMAT", nil},
		{"log level", map[string]string{"CORDTRACE_LOG_LEVEL": "loud"}, nil, "CORDTRACE_LOG_LEVEL", nil},
		{"product code", map[string]string{"CORDTRACE_PRODUCT_CODE": "s12345"}, nil, "CORDTRACE_PRODUCT_CODE", nil},
		{"product code of a tissue", map[string]string{"CORDTRACE_PRODUCT_CODE": "T1295"}, nil, "CORDTRACE_PRODUCT_CODE", nil},
		{"clinical-trial product code", map[string]string{"CORDTRACE_PRODUCT_CODE": "YA123"}, nil, "", func(t *testing.T, c Config) {
			if c.ProductCode != "YA123" {
				t.Errorf("product code = %q", c.ProductCode)
			}
		}},
		{"clinical-trial product code with 4 digits", map[string]string{"CORDTRACE_PRODUCT_CODE": "YA1234"}, nil, "CORDTRACE_PRODUCT_CODE", nil},
		{"collection type default", nil, nil, "", func(t *testing.T, c Config) {
			if c.CollectionType != 'V' {
				t.Errorf("collection type = %q, want V (volunteer allogeneic)", c.CollectionType)
			}
		}},
		{"collection type of Table 7", map[string]string{"CORDTRACE_COLLECTION_TYPE": "E"}, nil, "", func(t *testing.T, c Config) {
			if c.CollectionType != 'E' {
				t.Errorf("collection type = %q", c.CollectionType)
			}
		}},
		{"collection type lower case of Table 7", map[string]string{"CORDTRACE_COLLECTION_TYPE": "r"}, nil, "", func(t *testing.T, c Config) {
			if c.CollectionType != 'r' {
				t.Errorf("collection type = %q, want r (paid research), distinct from R", c.CollectionType)
			}
		}},
		{"collection type not in Table 7", map[string]string{"CORDTRACE_COLLECTION_TYPE": "Z"}, nil, "CORDTRACE_COLLECTION_TYPE", nil},
		{"collection type lower case not in Table 7", map[string]string{"CORDTRACE_COLLECTION_TYPE": "v"}, nil, "CORDTRACE_COLLECTION_TYPE", nil},
		{"collection type two characters", map[string]string{"CORDTRACE_COLLECTION_TYPE": "VV"}, nil, "CORDTRACE_COLLECTION_TYPE", nil},
		{"MRN system default", nil, nil, "", func(t *testing.T, c Config) {
			if c.MRNSystem != "urn:cordtrace:mrn" {
				t.Errorf("MRN system = %q", c.MRNSystem)
			}
		}},
		{"MRN system", map[string]string{"CORDTRACE_MRN_SYSTEM": "urn:oid:2.16.840.1.113883.19.5"}, nil, "", func(t *testing.T, c Config) {
			if c.MRNSystem != "urn:oid:2.16.840.1.113883.19.5" {
				t.Errorf("MRN system = %q", c.MRNSystem)
			}
		}},
		{"MRN system URL", map[string]string{"CORDTRACE_MRN_SYSTEM": "https://hospital.example/fhir/mrn"}, nil, "", nil},
		{"MRN system not a URI", map[string]string{"CORDTRACE_MRN_SYSTEM": "hospital MRN"}, nil, "CORDTRACE_MRN_SYSTEM", nil},
		{"MRN system without a scheme", map[string]string{"CORDTRACE_MRN_SYSTEM": "hospital.example/mrn"}, nil, "CORDTRACE_MRN_SYSTEM", nil},
		{"MRN system scheme only", map[string]string{"CORDTRACE_MRN_SYSTEM": "urn:"}, nil, "CORDTRACE_MRN_SYSTEM", nil},
		{"secure cookies", map[string]string{"CORDTRACE_SECURE_COOKIES": "true"}, nil, "", func(t *testing.T, c Config) {
			if !c.SecureCookies {
				t.Error("CORDTRACE_SECURE_COOKIES=true did not set SecureCookies")
			}
		}},
		{"secure cookies by default off", nil, nil, "", func(t *testing.T, c Config) {
			if c.SecureCookies {
				t.Error("SecureCookies set without CORDTRACE_SECURE_COOKIES")
			}
		}},
		{"secure cookies not a bool", map[string]string{"CORDTRACE_SECURE_COOKIES": "sometimes"}, nil, "CORDTRACE_SECURE_COOKIES", nil},
		{"metrics token too short", map[string]string{"CORDTRACE_METRICS_TOKEN": "short"}, nil, "CORDTRACE_METRICS_TOKEN", nil},
		{"metrics token", map[string]string{"CORDTRACE_METRICS_TOKEN": "a long enough metrics token"}, nil, "", func(t *testing.T, c Config) {
			if c.MetricsToken != "a long enough metrics token" {
				t.Errorf("metrics token %q", c.MetricsToken)
			}
		}},
		{"metrics address not host:port", map[string]string{"CORDTRACE_METRICS_ADDR": "9090"}, nil, "CORDTRACE_METRICS_ADDR", nil},
		{"metrics address", map[string]string{"CORDTRACE_METRICS_ADDR": "127.0.0.1:9090"}, nil, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c, err := loadConfig(envOf(tc.env), fs, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// syncBuffer collects a process's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

// waitListening waits for the "listening" log line and returns the base URL.
func waitListening(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenLine.FindStringSubmatch(logs.String()); m != nil {
			return "http://" + m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("service did not start:\n%s", logs.String())
	return ""
}

func backendEnv(t *testing.T, backend string) map[string]string {
	opts := storetest.Options(t, backend, store.Options{})
	return map[string]string{
		"DATABASE_URL": opts.DatabaseURL, "CORDTRACE_DATA_DIR": opts.DataDir,
		"CORDTRACE_ADMIN_PASSWORD": "admin password 1", "CORDTRACE_SITE_TZ": "UTC",
	}
}

func login(t *testing.T, base, username, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Token string }
	json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != 200 || out.Token == "" {
		t.Fatalf("login %s: status %d", username, res.StatusCode)
	}
	return out.Token
}

func TestServeStartsAndStops(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			vars := backendEnv(t, b)
			vars["CORDTRACE_ADDR"] = "127.0.0.1:0"
			ctx, cancel := context.WithCancel(context.Background())
			logs := &syncBuffer{}
			done := make(chan int, 1)
			go func() { done <- run(ctx, []string{"serve"}, envOf(vars), nil, io.Discard, logs) }()
			base := waitListening(t, logs)

			res, err := http.Get(base + "/readyz")
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("readyz: %v %v", res, err)
			}
			res.Body.Close()
			login(t, base, "admin", "admin password 1")

			cancel()
			select {
			case code := <-done:
				if code != exitOK {
					t.Fatalf("serve exited %d:\n%s", code, logs.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop on cancel")
			}
			if !strings.Contains(logs.String(), "created the first administrator") || !strings.Contains(logs.String(), "msg=stopped") {
				t.Fatalf("log lacks bootstrap or shutdown:\n%s", logs.String())
			}
		})
	}
}

func TestGeneratedAdminPasswordIsPrintedOnce(t *testing.T) {
	vars := backendEnv(t, storetest.SQLite)
	delete(vars, "CORDTRACE_ADMIN_PASSWORD")
	vars["CORDTRACE_ADDR"] = "127.0.0.1:0"
	for i, wantPrinted := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		logs := &syncBuffer{}
		done := make(chan int, 1)
		go func() { done <- run(ctx, []string{"serve"}, envOf(vars), nil, io.Discard, logs) }()
		base := waitListening(t, logs)
		m := regexp.MustCompile(`password=(\S+)`).FindStringSubmatch(logs.String())
		if (m != nil) != wantPrinted {
			t.Fatalf("start %d: password printed = %v:\n%s", i+1, m != nil, logs.String())
		}
		if m != nil {
			login(t, base, "admin", m[1])
		}
		cancel()
		<-done
	}
}

func runCmd(t *testing.T, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, envOf(vars), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMigrateUserAndAuditCommands(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			vars := backendEnv(t, b)
			code, out, errOut := runCmd(t, vars, "", "migrate", "status")
			if code != exitOK || !strings.Contains(out, "00001_foundation.sql") || !strings.Contains(out, "applied") {
				t.Fatalf("migrate status: %d %q %q", code, out, errOut)
			}
			if code, out, _ := runCmd(t, vars, "", "migrate", "up"); code != exitOK || !strings.Contains(out, "up to date") {
				t.Fatalf("migrate up on a migrated database: %d %q", code, out)
			}

			code, out, errOut = runCmd(t, vars, "a long password\n", "user", "add", "-username", "qa.dee", "-full-name", "Dee QA", "-roles", "qa,qc")
			if code != exitOK || !strings.Contains(out, "created user qa.dee") {
				t.Fatalf("user add: %d %q %q", code, out, errOut)
			}
			if code, _, errOut := runCmd(t, vars, "a long password\n", "user", "add", "-username", "qa.dee", "-full-name", "D", "-roles", "qa"); code != exitUsage || !strings.Contains(errOut, "taken") {
				t.Fatalf("duplicate user add: %d %q", code, errOut)
			}
			if code, _, errOut := runCmd(t, vars, "a long password\n", "user", "add", "-username", "x.y", "-full-name", "D", "-roles", "cook"); code != exitUsage || !strings.Contains(errOut, "roles") {
				t.Fatalf("bad role: %d %q", code, errOut)
			}

			if code, out, _ := runCmd(t, vars, "", "audit", "verify"); code != exitOK || !strings.Contains(out, "OK: 1 entries verified") {
				t.Fatalf("audit verify: %d %q", code, out)
			}
			accountCommands(t, vars)
			for i := 0; i < 2; i++ {
				if code, out, errOut := runCmd(t, vars, "", "label-key", "rotate"); code != exitOK || !strings.Contains(out, "new label signing key") {
					t.Fatalf("rotate: %d %q %q", code, out, errOut)
				}
			}
			st, err := store.Open(context.Background(), store.Options{DatabaseURL: vars["DATABASE_URL"], DataDir: vars["CORDTRACE_DATA_DIR"]})
			if err != nil {
				t.Fatal(err)
			}
			keys, _ := st.LabelKeys(context.Background())
			st.Close()
			if len(keys) != 2 || keys[0].RetiredAt != nil || keys[1].RetiredAt == nil || keys[1].PrivatePEM != "" {
				t.Fatalf("after two rotations: %+v, want the newest active and the first retired, its private key destroyed", keys)
			}
			if code, _, errOut := runCmd(t, vars, "", "label-key", "revoke", keys[1].KID); code != exitUsage || !strings.Contains(errOut, "reason") {
				t.Fatalf("revoke without a reason: %d %q", code, errOut)
			}
			if code, out, errOut := runCmd(t, vars, "", "label-key", "revoke", keys[1].KID, "-reason", "backup tape lost"); code != exitOK ||
				!strings.Contains(out, "label key "+keys[1].KID+" revoked") || !strings.Contains(out, "0 labels to reprint") {
				t.Fatalf("revoke: %d %q %q", code, out, errOut)
			}
			if code, out, _ := runCmd(t, vars, "", "label-key", "list"); code != exitOK || !strings.Contains(out, "revoked") || !strings.Contains(out, "backup tape lost") ||
				!strings.Contains(out, keys[0].KID) || !strings.Contains(out, "active") {
				t.Fatalf("list: %d %q", code, out)
			}
			tamper(t, vars, b)
			code, out, _ = runCmd(t, vars, "", "audit", "verify")
			if code != exitFailed || !strings.Contains(out, "BROKEN at entry 1") {
				t.Fatalf("audit verify after tampering: %d %q", code, out)
			}
		})
	}
}

// accountCommands disables qa.dee on the command line (their session ends at once), enables
// them again and ends their sessions; mistakes are usage errors that name what is wrong.
func accountCommands(t *testing.T, vars map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DatabaseURL: vars["DATABASE_URL"], DataDir: vars["CORDTRACE_DATA_DIR"], PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	login := func() string {
		t.Helper()
		sess, err := st.Login(ctx, domain.Credentials{Username: "qa.dee", Password: "a long password"})
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		return sess.Token
	}
	ended := func(token, because string) {
		t.Helper()
		if _, err := st.Authenticate(ctx, token); domain.ErrorCode(err) != domain.EUnauthenticated || !strings.Contains(domain.ErrorMessage(err), because) {
			t.Fatalf("the session after the command: %v, want ended saying %q", err, because)
		}
	}
	token := login()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "disable", "-username", "qa.dee"}, "reason"},
		{[]string{"user", "disable", "-reason", "left"}, "-username"},
		{[]string{"user", "enable", "-username", "nobody.here"}, "no user"},
		{[]string{"user", "enable", "-username", "qa.dee"}, "neither disabled nor locked"},
	} {
		if code, _, errOut := runCmd(t, vars, "", tc.args...); code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %q, want a usage error saying %q", tc.args, code, errOut, tc.want)
		}
	}
	if code, out, errOut := runCmd(t, vars, "", "user", "disable", "-username", "qa.dee", "-reason", "left the trial"); code != exitOK || !strings.Contains(out, "disabled qa.dee") {
		t.Fatalf("user disable: %d %q %q", code, out, errOut)
	}
	ended(token, "an admin disabled your account")
	if _, err := st.Login(ctx, domain.Credentials{Username: "qa.dee", Password: "a long password"}); domain.ErrorCode(err) != domain.EAccountDisabled {
		t.Fatalf("login while disabled: %v", err)
	}
	if code, out, errOut := runCmd(t, vars, "", "user", "enable", "-username", "qa.dee"); code != exitOK || !strings.Contains(out, "enabled qa.dee") {
		t.Fatalf("user enable: %d %q %q", code, out, errOut)
	}
	token = login()
	if code, out, errOut := runCmd(t, vars, "", "user", "end-sessions", "-username", "qa.dee"); code != exitOK || !strings.Contains(out, "ended 1 session(s) of qa.dee") {
		t.Fatalf("user end-sessions: %d %q %q", code, out, errOut)
	}
	ended(token, "an admin ended your sessions")
	token = login()
	if code, _, errOut := runCmd(t, vars, "", "user", "roles", "-username", "qa.dee", "-roles", "cook"); code != exitUsage || !strings.Contains(errOut, "not a role") {
		t.Fatalf("user roles with an unknown role: %d %q", code, errOut)
	}
	if code, out, errOut := runCmd(t, vars, "", "user", "roles", "-username", "qa.dee", "-roles", "qa"); code != exitOK || !strings.Contains(out, "qa.dee now holds [qa]") {
		t.Fatalf("user roles: %d %q %q", code, out, errOut)
	}
	ended(token, "your roles were changed")
}

// tamper alters the first audit entry the way someone with database access could: with the
// append-only trigger out of the way.
func tamper(t *testing.T, vars map[string]string, backend string) {
	t.Helper()
	db, _, err := store.OpenDB(store.Options{DatabaseURL: vars["DATABASE_URL"], DataDir: vars["CORDTRACE_DATA_DIR"]})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		`ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update_delete`,
		`UPDATE audit_entries SET user_name = 'Somebody Else' WHERE seq = 1`,
		`ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_no_update_delete`,
	}
	if backend == storetest.SQLite {
		stmts = []string{`DROP TRIGGER audit_entries_no_update`, `UPDATE audit_entries SET user_name = 'Somebody Else' WHERE seq = 1`}
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"migrate", "sideways"}, {"user"}, {"audit"}} {
		if code, _, _ := runCmd(t, nil, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errOut := runCmd(t, map[string]string{"DATABASE_URL": "mysql://x"}, "", "serve"); code != exitUsage || !strings.Contains(errOut, "DATABASE_URL") {
		t.Errorf("bad config: %d %q", code, errOut)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cordtrace once per test run, for tests that need real separate processes.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cordtrace-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "cordtrace")
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// startProcess runs `cordtrace serve` as its own process and returns its base URL.
func startProcess(t *testing.T, vars map[string]string) string {
	t.Helper()
	base, _ := startProcessCmd(t, vars)
	return base
}

// startProcessCmd is startProcess, also returning the process for tests that kill it.
func startProcessCmd(t *testing.T, vars map[string]string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "-addr", "127.0.0.1:0")
	cmd.Env = os.Environ()
	// A test machine may be busy enough that concurrent logins (bcrypt) queue for the CPU past
	// the 10 s production bound; these tests are about other things, so they wait longer. The
	// fault tests set their own, short bound.
	if _, ok := vars["CORDTRACE_DB_TIMEOUT"]; !ok {
		cmd.Env = append(cmd.Env, "CORDTRACE_DB_TIMEOUT=60s")
	}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	return waitListening(t, logs), cmd
}

// Two serve processes on one database, each taking concurrent writes, leave one chain that
// verifies and holds every acknowledged write.
func TestTwoProcessesKeepOneAuditChain(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			vars := backendEnv(t, b)
			bases := []string{startProcess(t, vars), startProcess(t, vars)}
			baseline := auditEntries(t, vars) // what start-up wrote: the first admin, the label key
			const clients, each = 8, 4        // each create hashes a password at production cost
			var wg sync.WaitGroup
			var mu sync.Mutex
			created := 0
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func(c int) {
					defer wg.Done()
					base := bases[c%2]
					token := login(t, base, "admin", "admin password 1")
					for i := 0; i < each; i++ {
						body, _ := json.Marshal(map[string]any{
							"username": fmt.Sprintf("c%d.u%d", c, i), "full_name": "Load User",
							"password": "a long password", "roles": []string{"nurse"},
						})
						req, _ := http.NewRequest("POST", base+"/api/v1/users", bytes.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+token)
						req.Header.Set("Content-Type", "application/json")
						res, err := http.DefaultClient.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						res.Body.Close()
						if res.StatusCode != http.StatusCreated {
							t.Errorf("create user on %s: %d", base, res.StatusCode)
							continue
						}
						mu.Lock()
						created++
						mu.Unlock()
					}
				}(c)
			}
			wg.Wait()

			// One login per client and every acknowledged create, on top of start-up's entries.
			if got, want := auditEntries(t, vars), baseline+clients+created; got != want {
				t.Fatalf("audit chain has %d entries, want %d", got, want)
			}
		})
	}
}

var verifiedLine = regexp.MustCompile(`audit chain OK: (\d+) entries verified`)

// auditEntries runs `cordtrace audit verify`, fails the test on a broken chain, and returns
// the number of entries.
func auditEntries(t *testing.T, vars map[string]string) int {
	t.Helper()
	code, out, errOut := runCmd(t, vars, "", "audit", "verify")
	m := verifiedLine.FindStringSubmatch(out)
	if code != exitOK || m == nil {
		t.Fatalf("audit verify: %d %q %q", code, out, errOut)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestServeDemo(t *testing.T) {
	vars := backendEnv(t, storetest.SQLite)
	vars["CORDTRACE_ADDR"] = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs, out := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "-demo"}, envOf(vars), nil, out, logs) }()
	base := waitListening(t, logs)
	if !strings.Contains(out.String(), "demo site loaded") || !strings.Contains(out.String(), demoPassword) {
		t.Fatalf("demo output: %q", out.String())
	}
	token := login(t, base, "nurse", demoPassword)
	status, lots := call(t, base, token, "GET", "/lots?status=released", nil)
	if status != 200 || len(lots["lots"].([]any)) != 1 {
		t.Fatalf("demo lots: %d %v", status, lots)
	}
	cancel()
	<-done
}

// CORDTRACE_MRN_SYSTEM reaches the FHIR API of a running serve: the Patient's MRN carries it.
func TestServeUsesTheMRNSystem(t *testing.T) {
	const system = "https://hospital.example/fhir/mrn"
	vars := backendEnv(t, storetest.SQLite)
	vars["CORDTRACE_MRN_SYSTEM"] = system
	base := startProcess(t, vars)
	admin := login(t, base, "admin", "admin password 1")
	mustCall(t, 201, base, admin, "POST", "/users", map[string]any{"username": "dr.mrn", "full_name": "Dr MRN", "password": "a long password", "roles": []string{"physician"}})
	doc := login(t, base, "dr.mrn", "a long password")
	p := mustCall(t, 201, base, doc, "POST", "/patients", map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "Li Wei",
		"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": time.Now().UTC().Add(-time.Hour)})
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/fhir/Patient/%d", base, int64(p["id"].(float64))), nil)
	req.Header.Set("Authorization", "Bearer "+doc)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var pat struct {
		Identifier []struct{ System, Value string }
	}
	if err := json.NewDecoder(res.Body).Decode(&pat); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /fhir/Patient: %d %v", res.StatusCode, err)
	}
	if len(pat.Identifier) == 0 || pat.Identifier[0].System != system || pat.Identifier[0].Value != "MRN0001" {
		t.Errorf("MRN identifier %+v, want system %s", pat.Identifier, system)
	}
}

// On PostgreSQL the site's time zone decides every infusion day, so serve does not guess it;
// the embedded database takes the machine's zone and says so at start.
func TestServeSiteTimeZone(t *testing.T) {
	t.Run("postgres without CORDTRACE_SITE_TZ", func(t *testing.T) {
		vars := map[string]string{"DATABASE_URL": "postgres://cordtrace@127.0.0.1:1/none", "CORDTRACE_ADDR": "127.0.0.1:0"}
		var stderr syncBuffer
		code := run(context.Background(), []string{"serve"}, envOf(vars), nil, io.Discard, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "CORDTRACE_SITE_TZ is required with PostgreSQL") {
			t.Fatalf("exit %d:\n%s", code, stderr.String())
		}
	})
	t.Run("embedded takes the machine's zone", func(t *testing.T) {
		vars := backendEnv(t, storetest.SQLite)
		delete(vars, "CORDTRACE_SITE_TZ")
		vars["CORDTRACE_ADDR"] = "127.0.0.1:0"
		ctx, cancel := context.WithCancel(context.Background())
		logs := &syncBuffer{}
		done := make(chan int, 1)
		go func() { done <- run(ctx, []string{"serve"}, envOf(vars), nil, io.Discard, logs) }()
		waitListening(t, logs)
		cancel()
		<-done
		if !strings.Contains(logs.String(), `msg="site time zone" site_tz=`+time.Local.String()) || !strings.Contains(logs.String(), "machine's zone") {
			t.Fatalf("the start log does not name the machine's zone:\n%s", logs.String())
		}
	})
}

// With CORDTRACE_METRICS_ADDR the metrics are served on an address of their own, and the
// service's address does not answer them.
func TestServeMetricsOnTheirOwnAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := backendEnv(t, storetest.SQLite)
	vars["CORDTRACE_METRICS_ADDR"] = addr
	base := startProcess(t, vars)
	if res, err := http.Get(base + "/readyz"); err == nil { // a request, for the metrics to count
		res.Body.Close()
	}
	var res *http.Response
	for range 50 { // the metrics listener starts just after the service's
		if res, err = http.Get("http://" + addr + "/metrics"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), "cordtrace_http_requests_total") {
		t.Fatalf("metrics on %s: %d %.300s", addr, res.StatusCode, b)
	}
	if res, err := http.Get(base + "/metrics"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("metrics on the service's address: %v %v, want 404", res, err)
	}
}
