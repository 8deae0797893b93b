package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // site time zones work on machines without a zoneinfo database
	"unicode"

	"cordtrace/domain"
	"cordtrace/fhir"
)

// Config is the service's configuration: environment variables, overridden by flags.
type Config struct {
	Addr        string         // CORDTRACE_ADDR
	DatabaseURL string         // DATABASE_URL; empty selects the embedded SQLite file
	DataDir     string         // CORDTRACE_DATA_DIR
	SiteTZ      string         // CORDTRACE_SITE_TZ
	Site        *time.Location // SiteTZ, loaded; the machine's zone when SiteTZ is unset (embedded database only)
	FacilityID  string         // CORDTRACE_FACILITY_ID
	ProductCode string         // CORDTRACE_PRODUCT_CODE
	// CollectionType is the type of collection t of the units' product codes
	// (CORDTRACE_COLLECTION_TYPE, ISBT 128 Table 7).
	CollectionType byte
	collectionType string
	AdminPassword  string        // CORDTRACE_ADMIN_PASSWORD
	SessionIdle    time.Duration // CORDTRACE_SESSION_IDLE
	// SessionLifetime is CORDTRACE_SESSION_LIFETIME.
	SessionLifetime time.Duration
	DBTimeout       time.Duration // CORDTRACE_DB_TIMEOUT
	DBConns         int           // CORDTRACE_DB_CONNS
	LogFormat       string        // CORDTRACE_LOG_FORMAT: text or json
	LogLevel        slog.Level    // CORDTRACE_LOG_LEVEL
	MRNSystem       string        // CORDTRACE_MRN_SYSTEM
	SecureCookies   bool          // CORDTRACE_SECURE_COOKIES
	MetricsAddr     string        // CORDTRACE_METRICS_ADDR
	MetricsToken    string        // CORDTRACE_METRICS_TOKEN
	logLevelText    string
	sessionIdle     string
	sessionLife     string
	dbTimeout       string
	dbConns         string
	secureCookies   string
}

// configVars documents every variable with its default; the README's table is this list.
var configVars = []struct{ name, def, help string }{
	{"CORDTRACE_ADDR", ":8080", "address the service listens on"},
	{"DATABASE_URL", "", "postgres:// URL of the PostgreSQL database; unset: embedded SQLite file in CORDTRACE_DATA_DIR"},
	{"CORDTRACE_DATA_DIR", "./data", "directory of the embedded database and the label signing keys"},
	{"CORDTRACE_SITE_TZ", "", "IANA time zone of the site, for infusion days and printed times; required with DATABASE_URL; unset with the embedded database: the machine's zone, logged at start"},
	{"CORDTRACE_FACILITY_ID", "A9999", "ISBT 128 facility identification number for new DINs"},
	{"CORDTRACE_PRODUCT_CODE", "S1234", "ISBT 128 product description code of the site's HUC-MSC units (S and 4 digits, or an ICCBBA clinical-trial code YA–YZ and 3 digits)"},
	{"CORDTRACE_COLLECTION_TYPE", "V", "ISBT 128 type of collection of the units' product codes (ST-001 Table 7): V volunteer allogeneic donation"},
	{"CORDTRACE_ADMIN_PASSWORD", "", "password of the first admin, created when there are no users; unset: random, printed once"},
	{"CORDTRACE_SESSION_IDLE", "15m", "idle time after which a session ends"},
	{"CORDTRACE_SESSION_LIFETIME", "12h", "time after the login at which a session ends however busy (at least the idle time, at most 7 days)"},
	{"CORDTRACE_DB_TIMEOUT", "10s", "longest wait for the database, to connect and for one request's work; past it the request fails with 503"},
	{"CORDTRACE_DB_CONNS", "", "most connections to PostgreSQL this process opens (1 to 500); unset: 2 per CPU and 2 more"},
	{"CORDTRACE_LOG_FORMAT", "text", "log format: text or json"},
	{"CORDTRACE_LOG_LEVEL", "info", "log level: debug, info, warn or error"},
	{"CORDTRACE_SECURE_COOKIES", "false", "true: the session cookie is sent over HTTPS only; false: only when the request came over HTTPS (directly, or X-Forwarded-Proto from a proxy)"},
	{"CORDTRACE_METRICS_ADDR", "", "address of a listener that serves /metrics alone, such as 127.0.0.1:9090 (unset: none)"},
	{"CORDTRACE_METRICS_TOKEN", "", "token that opens /metrics on the service's address (Authorization: Bearer; 16 characters or more); unset: /metrics is not served there"},
	{"CORDTRACE_MRN_SYSTEM", fhir.SystemMRN, "FHIR identifier system of patients' MRNs: the hospital's own (urn:oid:… or a URL)"},
}

// loadConfig reads the environment, then the flags in args, and validates the result.
func loadConfig(getenv func(string) string, fs *flag.FlagSet, args []string) (Config, error) {
	env := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		for _, v := range configVars {
			if v.name == name {
				return v.def
			}
		}
		return ""
	}
	c := Config{
		Addr: env("CORDTRACE_ADDR"), DatabaseURL: env("DATABASE_URL"), DataDir: env("CORDTRACE_DATA_DIR"),
		SiteTZ: env("CORDTRACE_SITE_TZ"), FacilityID: env("CORDTRACE_FACILITY_ID"), ProductCode: env("CORDTRACE_PRODUCT_CODE"),
		collectionType: env("CORDTRACE_COLLECTION_TYPE"),
		AdminPassword:  env("CORDTRACE_ADMIN_PASSWORD"), LogFormat: env("CORDTRACE_LOG_FORMAT"),
		logLevelText: env("CORDTRACE_LOG_LEVEL"), sessionIdle: env("CORDTRACE_SESSION_IDLE"),
		sessionLife: env("CORDTRACE_SESSION_LIFETIME"),
		dbTimeout:   env("CORDTRACE_DB_TIMEOUT"), dbConns: env("CORDTRACE_DB_CONNS"), MRNSystem: env("CORDTRACE_MRN_SYSTEM"),
		secureCookies: env("CORDTRACE_SECURE_COOKIES"),
		MetricsAddr:   env("CORDTRACE_METRICS_ADDR"), MetricsToken: env("CORDTRACE_METRICS_TOKEN"),
	}
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to listen on (CORDTRACE_ADDR)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL URL (DATABASE_URL)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory (CORDTRACE_DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return c, c.validate()
}

// SiteZone describes the site's time zone for the start-up log: its name, its offset now, and
// where it came from (CORDTRACE_SITE_TZ, or the machine when that is unset).
func (c Config) SiteZone(now time.Time) (name, offset, source string) {
	name, source = c.Site.String(), "CORDTRACE_SITE_TZ"
	if c.SiteTZ == "" {
		source = "the machine's zone (CORDTRACE_SITE_TZ unset)"
	}
	abbr, _ := now.In(c.Site).Zone()
	return name, abbr + " " + now.In(c.Site).Format("-07:00"), source
}

// validate checks every setting and says which variable is wrong and how to fix it.
func (c *Config) validate() error {
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return fmt.Errorf("DATABASE_URL must be a postgres:// URL (or unset for the embedded database)")
	}
	if c.Addr == "" {
		return fmt.Errorf("CORDTRACE_ADDR is empty; give an address such as :8080")
	}
	switch {
	case c.SiteTZ == "" && c.DatabaseURL != "":
		return fmt.Errorf("CORDTRACE_SITE_TZ is required with PostgreSQL (DATABASE_URL): infusion days are counted in the site's time zone; set its IANA name, such as Asia/Shanghai")
	case c.SiteTZ == "":
		c.Site = time.Local
	default:
		loc, err := time.LoadLocation(c.SiteTZ)
		if err != nil {
			return fmt.Errorf("CORDTRACE_SITE_TZ %q is not a time zone; use an IANA name such as Asia/Shanghai", c.SiteTZ)
		}
		c.Site = loc
	}
	if err := domain.ValidateFacilityID(c.FacilityID); err != nil {
		return fmt.Errorf("CORDTRACE_FACILITY_ID %q: %s", c.FacilityID, domain.ErrorMessage(err))
	}
	if err := domain.ValidateProductDescription(c.ProductCode); err != nil {
		return fmt.Errorf("CORDTRACE_PRODUCT_CODE %q: %s", c.ProductCode, domain.ErrorMessage(err))
	}
	if len(c.collectionType) != 1 || domain.ValidateCollectionType(c.collectionType[0]) != nil {
		return fmt.Errorf("CORDTRACE_COLLECTION_TYPE %q must be one character of ISBT 128 Table 7 (%s), such as V for a volunteer allogeneic donation", c.collectionType, domain.CollectionTypes)
	}
	c.CollectionType = c.collectionType[0]
	if c.AdminPassword != "" {
		if err := domain.ValidatePassword(c.AdminPassword); err != nil {
			return fmt.Errorf("CORDTRACE_ADMIN_PASSWORD: %s", domain.ErrorMessage(err))
		}
	}
	idle, err := time.ParseDuration(c.sessionIdle)
	if err != nil || idle < time.Minute || idle > 12*time.Hour {
		return fmt.Errorf("CORDTRACE_SESSION_IDLE %q must be a duration between 1m and 12h, such as 15m", c.sessionIdle)
	}
	c.SessionIdle = idle
	life, err := time.ParseDuration(c.sessionLife)
	if err != nil || life < idle || life > 7*24*time.Hour {
		return fmt.Errorf("CORDTRACE_SESSION_LIFETIME %q must be a duration from CORDTRACE_SESSION_IDLE (%s) to 168h, such as 12h", c.sessionLife, idle)
	}
	c.SessionLifetime = life
	dbTimeout, err := time.ParseDuration(c.dbTimeout)
	if err != nil || dbTimeout < 100*time.Millisecond || dbTimeout > 5*time.Minute {
		return fmt.Errorf("CORDTRACE_DB_TIMEOUT %q must be a duration between 100ms and 5m, such as 10s", c.dbTimeout)
	}
	c.DBTimeout = dbTimeout
	if c.dbConns != "" {
		n, err := strconv.Atoi(c.dbConns)
		if err != nil || n < 1 || n > 500 {
			return fmt.Errorf("CORDTRACE_DB_CONNS %q must be a whole number from 1 to 500, such as 8", c.dbConns)
		}
		c.DBConns = n
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("CORDTRACE_LOG_FORMAT %q must be text or json", c.LogFormat)
	}
	if err := c.LogLevel.UnmarshalText([]byte(c.logLevelText)); err != nil {
		return fmt.Errorf("CORDTRACE_LOG_LEVEL %q must be debug, info, warn or error", c.logLevelText)
	}
	secure, err := strconv.ParseBool(c.secureCookies)
	if err != nil {
		return fmt.Errorf("CORDTRACE_SECURE_COOKIES %q must be true or false", c.secureCookies)
	}
	c.SecureCookies = secure
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return fmt.Errorf("CORDTRACE_METRICS_TOKEN is %d characters; give 16 or more, so that it cannot be guessed", len(c.MetricsToken))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("CORDTRACE_METRICS_ADDR %q must be host:port, such as 127.0.0.1:9090", c.MetricsAddr)
		}
	}
	if !absoluteURI(c.MRNSystem) {
		return fmt.Errorf("CORDTRACE_MRN_SYSTEM %q must be an absolute URI naming the hospital's MRN system, such as urn:oid:2.16.840.1.113883.19.5 or https://hospital.example/fhir/mrn", c.MRNSystem)
	}
	return nil
}

// absoluteURI reports whether s can be a FHIR Identifier.system: a URI with a scheme, no
// whitespace, and something after the scheme.
func absoluteURI(s string) bool {
	if s == "" || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Opaque != "" || u.Host != "")
}
