package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// Configuration comes from the environment, which is outside input: whatever it holds,
// loadConfig never panics, accepts only values within their documented ranges, and what it
// accepts loads again, written back as variables, to the same configuration.
func FuzzLoadConfig(f *testing.F) {
	f.Add(":8080", "", "UTC", "A9999", "S1234", "15m", "10s", "text", "info", "")
	f.Add("127.0.0.1:0", "postgresql://u@h/db?sslmode=disable", "Asia/Shanghai", "G1234", "S0001", "1m", "100ms", "json", "DEBUG", "urn:oid:1.2.3")
	f.Add("", "mysql://x", "Mars/Olympus", "O1234", "s12345", "15", "0", "xml", "loud", "no scheme")
	f.Add(":1", "postgres://x", "../../etc/passwd", "A999", "S1234", "12h0m1s", "5m", "text", "info+2", "https://")
	f.Fuzz(func(t *testing.T, addr, dbURL, tz, facility, product, idle, dbTimeout, logFormat, level, mrnSystem string) {
		vars := map[string]string{
			"CORDTRACE_ADDR": addr, "DATABASE_URL": dbURL, "CORDTRACE_SITE_TZ": tz, "CORDTRACE_FACILITY_ID": facility,
			"CORDTRACE_PRODUCT_CODE": product, "CORDTRACE_SESSION_IDLE": idle, "CORDTRACE_DB_TIMEOUT": dbTimeout,
			"CORDTRACE_LOG_FORMAT": logFormat, "CORDTRACE_LOG_LEVEL": level, "CORDTRACE_MRN_SYSTEM": mrnSystem,
		}
		load := func(vars map[string]string) (Config, error) {
			fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			return loadConfig(envOf(vars), fs, nil)
		}
		c, err := load(vars)
		if err != nil {
			if !strings.Contains(err.Error(), "CORDTRACE_") && !strings.Contains(err.Error(), "DATABASE_URL") {
				t.Fatalf("error %q does not name the variable at fault", err)
			}
			return
		}
		switch {
		case c.Site == nil, c.Addr == "",
			c.SessionIdle < time.Minute || c.SessionIdle > 12*time.Hour,
			c.DBTimeout < 100*time.Millisecond || c.DBTimeout > 5*time.Minute,
			c.LogFormat != "text" && c.LogFormat != "json",
			c.MRNSystem == "" || strings.ContainsAny(c.MRNSystem, " \t\r\n") || !strings.Contains(c.MRNSystem, ":"),
			c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://"):
			t.Fatalf("accepted out of range: %+v", c)
		}
		again, err := load(map[string]string{
			"CORDTRACE_ADDR": c.Addr, "DATABASE_URL": c.DatabaseURL, "CORDTRACE_SITE_TZ": c.SiteTZ, "CORDTRACE_FACILITY_ID": c.FacilityID,
			"CORDTRACE_PRODUCT_CODE": c.ProductCode, "CORDTRACE_SESSION_IDLE": c.SessionIdle.String(), "CORDTRACE_DB_TIMEOUT": c.DBTimeout.String(),
			"CORDTRACE_LOG_FORMAT": c.LogFormat, "CORDTRACE_LOG_LEVEL": c.LogLevel.String(), "CORDTRACE_MRN_SYSTEM": c.MRNSystem,
		})
		if err != nil || again.Addr != c.Addr || again.DatabaseURL != c.DatabaseURL || again.Site.String() != c.Site.String() ||
			again.SessionIdle != c.SessionIdle || again.DBTimeout != c.DBTimeout || again.LogLevel != c.LogLevel ||
			again.FacilityID != c.FacilityID || again.ProductCode != c.ProductCode || again.LogFormat != c.LogFormat ||
			again.MRNSystem != c.MRNSystem {
			t.Fatalf("%+v does not load again the same: %+v %v", c, again, err)
		}
	})
}
