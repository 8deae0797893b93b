// Package api is cordtrace's JSON API (SPEC §12): thin Echo handlers that decode a request,
// call a domain service and encode the answer. Errors are mapped to statuses in errors.go only.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"cordtrace/domain"
	"cordtrace/labels"
)

// Services are what the API calls; the store implements them all.
type Services struct {
	Auth     domain.AuthService
	Users    domain.UserService
	Audit    domain.AuditService
	Lab      domain.LabService
	Donors   domain.DonorService
	Recall   domain.RecallService
	Patients domain.PatientService
	Labels   domain.LabelService
	Pharmacy domain.PharmacyService
	Custody  domain.CustodyService
	Bedside  domain.BedsideService
	Safety   domain.SafetyService
	Trace    domain.TraceService
	// Records feeds the FHIR API and the trial export, and records their disclosures.
	Records domain.RecordService
	// Trial keeps the trial's own records: randomization, follow-up, endpoints.
	Trial domain.TrialService
	// Ping reports whether the database answers, for /readyz.
	Ping func(ctx context.Context) error
}

// Backend is one store that provides every service the API calls, as the database store does.
type Backend interface {
	domain.AuthService
	domain.UserService
	domain.AuditService
	domain.LabService
	domain.DonorService
	domain.RecallService
	domain.PatientService
	domain.LabelService
	domain.PharmacyService
	domain.CustodyService
	domain.BedsideService
	domain.SafetyService
	domain.TraceService
	domain.RecordService
	domain.TrialService
	Ping(ctx context.Context) error
}

// ServicesOf takes every service from one backend, so that none is left nil.
func ServicesOf(b Backend) Services {
	return Services{Auth: b, Users: b, Audit: b, Lab: b, Donors: b, Recall: b, Patients: b, Labels: b, Pharmacy: b,
		Custody: b, Bedside: b, Safety: b, Trace: b, Records: b, Trial: b, Ping: b.Ping}
}

// Config tunes the server.
type Config struct {
	Logger *slog.Logger
	// BodyLimit caps request bodies, e.g. "1M"; larger ones are refused with 413.
	BodyLimit string
	// SecureCookies marks the session cookie Secure, for deployments behind TLS.
	SecureCookies bool
	SessionIdle   time.Duration
	// SessionLifetime is the longest a session lasts however busy (the store ends it; the login
	// answer says it). 0 means domain.DefaultSessionLifetime.
	SessionLifetime time.Duration
	// DBTimeout bounds a request's wait for the database: past it the request fails with 503
	// instead of hanging while the database is unreachable. 0 means 10 s.
	DBTimeout time.Duration
	// Site is the site's time zone, for printed times.
	Site *time.Location
	// MetricsToken, when set, opens /metrics on the service's own address to requests that
	// bear it (Authorization: Bearer). Unset, /metrics is not served there: MetricsHandler
	// serves it on an address of its own (CORDTRACE_METRICS_ADDR). Either way nobody reads the
	// service's figures without being let in.
	MetricsToken string
	// MRNSystem is the FHIR Identifier.system of patients' MRNs (the hospital's naming system);
	// "" means fhir.SystemMRN (urn:cordtrace:mrn).
	MRNSystem string
}

// Route is one API route and the permission it needs ("" for a public route).
type Route struct {
	Method     string
	Path       string
	Permission domain.Permission
}

// Server holds the handlers' dependencies.
type Server struct {
	echo    *echo.Echo
	svc     Services
	cfg     Config
	log     *slog.Logger
	routes  []Route
	metrics *metrics
	// ring holds the label public keys read so far (see trustedKeys).
	ring labels.KeyRing
}

// APIPrefix is where the JSON API lives.
const APIPrefix = "/api/v1"

// New builds the server with every route registered.
func New(svc Services, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = "1M"
	}
	if cfg.Site == nil {
		cfg.Site = time.UTC
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = domain.DefaultSessionIdle
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = domain.DefaultSessionLifetime
	}
	if cfg.DBTimeout == 0 {
		cfg.DBTimeout = domain.DefaultDBTimeout
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{echo: e, svc: svc, cfg: cfg, log: cfg.Logger, metrics: newMetrics()}
	e.HTTPErrorHandler = s.handleError
	e.Use(
		dropUnsafeRequestID,
		middleware.RequestID(),
		s.logRequests,
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisableErrorHandler: true}),
		refuseMalformedPath,
		securityHeaders,
		refuseCrossSite,
		middleware.BodyLimit(cfg.BodyLimit),
		refuseNULInQuery,
		s.deadline,
	)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metricsOnServiceAddress)
	e.GET("/openapi.yaml", s.openAPI)

	s.handle(http.MethodPost, "/auth/login", "", s.login)
	s.handle(http.MethodPost, "/auth/logout", domain.PermAnyUser, s.logout)
	s.handle(http.MethodPost, "/auth/witness", domain.PermBedside, s.issueWitnessToken)
	s.handle(http.MethodGet, "/me", domain.PermAnyUser, s.me)
	s.handle(http.MethodPost, "/me/password", domain.PermAnyUser, s.changePassword)
	s.handle(http.MethodPost, "/users", domain.PermManageUsers, s.createUser)
	s.handle(http.MethodGet, "/users", domain.PermManageUsers, s.listUsers)
	s.handle(http.MethodPost, "/users/:id/disable", domain.PermManageUsers, withReason(func(ctx context.Context, a domain.Actor, id int64, reason string) (userJSON, error) {
		return s.disableUser(ctx, a, id, reason)
	}))
	s.handle(http.MethodPost, "/users/:id/enable", domain.PermManageUsers, s.enableUser)
	s.handle(http.MethodPut, "/users/:id/roles", domain.PermManageUsers, s.setRoles)
	s.handle(http.MethodPost, "/users/:id/sessions/end", domain.PermManageUsers, s.endUserSessions)
	s.handle(http.MethodGet, "/audit", domain.PermReadAudit, s.listAudit)
	s.handle(http.MethodGet, "/audit/verify", domain.PermReadAudit, s.verifyAudit)

	s.handle(http.MethodPost, "/donations", domain.PermRecordLab, s.createDonation)
	s.handle(http.MethodGet, "/donations/:id", domain.PermAnyUser, s.getDonation)
	s.handle(http.MethodPost, "/donations/:id/tests", domain.PermRecordLab, s.recordDonorTest)
	s.handle(http.MethodPost, "/donations/:id/screening", domain.PermRecordLab, s.recordScreening)
	s.handle(http.MethodPost, "/donations/:id/eligibility", domain.PermDetermineEligibility, s.determineEligibility)
	s.handle(http.MethodPost, "/lots", domain.PermRecordLab, s.createLot)
	s.handle(http.MethodGet, "/lots", domain.PermAnyUser, s.listLots)
	s.handle(http.MethodGet, "/lots/:id", domain.PermAnyUser, s.getLot)
	s.handle(http.MethodPost, "/lots/:id/quarantine", domain.PermRecordLab, s.quarantineLot)
	s.handle(http.MethodPost, "/lots/:id/qc-results", domain.PermRecordLab, s.addQCResult)
	s.handle(http.MethodPost, "/qc/bv2-preview", domain.PermRecordLab, s.previewBV2)
	s.handle(http.MethodGet, "/lots/:id/evaluation", domain.PermAnyUser, s.evaluation)
	s.handle(http.MethodPost, "/lots/:id/release", domain.PermSignLot, s.signLot(domain.SignRelease))
	s.handle(http.MethodPost, "/lots/:id/reject", domain.PermSignLot, s.signLot(domain.SignReject))
	s.handle(http.MethodPost, "/lots/:id/hold", domain.PermSignLot, s.signLot(domain.SignHold))
	s.handle(http.MethodPost, "/lots/:id/recall", domain.PermSignLot, s.signLot(domain.SignRecall))
	s.handle(http.MethodPost, "/lots/:id/investigations/:inv/close", domain.PermSignLot, s.closeInvestigation)
	s.handle(http.MethodPost, "/lots/:id/units", domain.PermRecordLab, s.createUnits)
	// withReason gets closures, not method values such as s.svc.Lab.DiscardUnit: a method
	// value of a nil service would panic here, and the route list is read without services.
	s.handle(http.MethodPost, "/units/:id/discard", domain.PermDiscardUnit, withReason(func(ctx context.Context, a domain.Actor, id int64, reason string) (domain.Unit, error) {
		return s.svc.Lab.DiscardUnit(ctx, a, id, reason)
	}))
	s.handle(http.MethodGet, "/lots/:id/coa.pdf", domain.PermAnyUser, s.coa)
	s.handle(http.MethodGet, "/spec", domain.PermAnyUser, s.currentSpec)
	s.handle(http.MethodGet, "/spec-versions", domain.PermAnyUser, s.listSpecVersions)
	s.handle(http.MethodPost, "/lots/:id/exceptional-release", domain.PermExceptional, s.exceptionalRelease)
	s.handle(http.MethodGet, "/lots/:id/recall-tasks", domain.PermRecallRead, s.lotRecallTasks)
	s.handle(http.MethodGet, "/recall-tasks", domain.PermRecallRead, s.openRecallTasks)
	s.handle(http.MethodPost, "/scans/return", domain.PermRecallReturn, s.returnScan)
	s.handle(http.MethodPost, "/recall-tasks/:id/destroy", domain.PermRecallDestroy, s.destroyRecallTask())
	s.handle(http.MethodGet, "/patients/:id/recall-notices", domain.PermListPatients, s.patientRecallNotices)
	s.handle(http.MethodPost, "/recall-notices/:id/acknowledge", domain.PermRecallAcknowledge, s.acknowledgeRecallNotice)

	s.handle(http.MethodGet, "/label-keys", "", s.labelKeys)
	s.handle(http.MethodPost, "/labels/verify", domain.PermAnyUser, s.verifyLabel)
	s.handle(http.MethodGet, "/units/:id/label.png", domain.PermPrintUnitLabel, s.unitLabel("png"))
	s.handle(http.MethodGet, "/units/:id/label.pdf", domain.PermPrintUnitLabel, s.unitLabel("pdf"))
	s.handle(http.MethodGet, "/units/:id/label.zpl", domain.PermPrintUnitLabel, s.unitLabel("zpl"))
	s.handle(http.MethodGet, "/lots/:id/labels.pdf", domain.PermPrintUnitLabel, s.lotLabelSheet)

	s.handle(http.MethodPost, "/patients", domain.PermManagePatients, s.enrol)
	s.handle(http.MethodGet, "/patients", domain.PermListPatients, s.listPatients)
	s.handle(http.MethodGet, "/patients/:id", domain.PermListPatients, s.getPatient) // name and MRN: patient-identifying
	s.handle(http.MethodPost, "/patients/:id/weights", domain.PermRecordWeight, s.recordWeight)
	s.handle(http.MethodPost, "/patients/:id/dose-orders", domain.PermManagePatients, s.orderDose)
	s.handle(http.MethodGet, "/dose-orders", domain.PermAnyUser, s.listDoseOrders)
	s.handle(http.MethodGet, "/units", domain.PermAnyUser, s.listUnits)
	s.handle(http.MethodPost, "/dose-orders/:id/dose-bags", domain.PermPrepareDose, s.prepareDoseBag)
	s.handle(http.MethodPost, "/dose-orders/:id/confirm", domain.PermManagePatients, s.confirmDoseOrder())
	s.handle(http.MethodGet, "/dose-bags/:id", domain.PermAnyUser, s.getDoseBag)
	s.handle(http.MethodGet, "/dose-bags/:id/label.png", domain.PermPrintBagLabel, s.doseBagLabel("png"))
	s.handle(http.MethodGet, "/dose-bags/:id/label.pdf", domain.PermPrintBagLabel, s.doseBagLabel("pdf"))
	s.handle(http.MethodGet, "/dose-bags/:id/label.zpl", domain.PermPrintBagLabel, s.doseBagLabel("zpl"))
	s.handle(http.MethodPost, "/dose-bags/:id/check", domain.PermPrepareDose, s.checkDoseBag)
	s.handle(http.MethodPost, "/dose-bags/:id/reprint", domain.PermPrepareDose, withReason(s.reprintDoseBag))
	s.handle(http.MethodPost, "/dose-orders/:id/cancel", domain.PermManagePatients, withReason(func(ctx context.Context, a domain.Actor, id int64, reason string) (domain.DoseOrder, error) {
		return s.svc.Pharmacy.CancelDoseOrder(ctx, a, id, reason)
	}))
	s.handle(http.MethodPost, "/dose-bags/:id/return", domain.PermReturnBag, s.takeBackDoseBag(domain.BagReturned))
	s.handle(http.MethodPost, "/dose-bags/:id/discard", domain.PermPrepareDose, s.takeBackDoseBag(domain.BagDiscarded))
	s.handle(http.MethodPost, "/scans/dispatch", domain.PermDispatch, s.scan(domain.ScanDispatch))
	s.handle(http.MethodPost, "/scans/receive", domain.PermReceive, s.scan(domain.ScanReceive))
	s.handle(http.MethodPost, "/bedside/verify", domain.PermBedside, s.bedsideVerify)
	s.handle(http.MethodPost, "/infusions", domain.PermBedside, s.startInfusion)
	s.handle(http.MethodGet, "/infusions", domain.PermBedside, s.infusionsInProgress)
	s.handle(http.MethodPost, "/infusions/:id/end", domain.PermBedside, s.endInfusion)
	s.handle(http.MethodPost, "/adverse-events", domain.PermAdverseEvent, s.reportAdverseEvent)
	s.handle(http.MethodGet, "/adverse-events/:id", domain.PermReadAdverseEvent, s.getAdverseEvent)
	s.handle(http.MethodPost, "/adverse-events/:id/follow-ups", domain.PermAdverseEvent, s.followUpAdverseEvent)
	s.handle(http.MethodPost, "/adverse-events/:id/reported", domain.PermSafetyReporting, s.reportSent)
	s.handle(http.MethodGet, "/safety/reports", domain.PermSafetyReporting, s.safetyReports)
	s.handle(http.MethodGet, "/deviations", domain.PermDeviations, s.listDeviations)
	s.handle(http.MethodPost, "/deviations", domain.PermDeviations, s.recordDeviation)
	s.handle(http.MethodPost, "/deviations/:id/corrective-action", domain.PermDeviations, s.setCorrectiveAction)
	s.handle(http.MethodPost, "/deviations/:id/sign", domain.PermSignDeviation, s.signDeviation())
	s.handle(http.MethodGet, "/lots/:id/trace", domain.PermAnyUser, s.lotTrace)
	s.handle(http.MethodGet, "/patients/:id/trace", domain.PermAnyUser, s.patientTrace)
	s.handle(http.MethodPost, "/dose-bags/:id/excursion-disposition", domain.PermDisposeExcursion, s.disposeExcursion)
	s.handle(http.MethodPost, "/spec-versions", domain.PermManageSpec, s.createSpecVersion)
	s.handle(http.MethodPost, "/spec-versions/:version/sign", domain.PermCosignSpec, s.signSpecVersion())
	s.handle(http.MethodGet, "/exports/trial.csv", domain.PermDisclosePatientData, s.trialExport("csv"))
	s.handle(http.MethodGet, "/exports/trial.json", domain.PermDisclosePatientData, s.trialExport("json"))
	s.handle(http.MethodPost, "/trial/allocations", domain.PermLoadAllocations, s.loadAllocations)
	s.handle(http.MethodGet, "/trial", domain.PermTrialRead, s.trialSummary)
	s.handle(http.MethodGet, "/trial/endpoints", domain.PermTrialRead, s.endpoints("json"))
	s.handle(http.MethodGet, "/trial/endpoints.csv", domain.PermTrialRead, s.endpoints("csv"))
	s.handle(http.MethodPost, "/patients/:id/assessments", domain.PermFollowUp, s.recordAssessment)
	s.handle(http.MethodPost, "/patients/:id/outcomes", domain.PermManagePatients, s.recordOutcome)
	s.handle(http.MethodGet, "/patients/:id/follow-up", domain.PermListPatients, s.followUp)
	s.handle(http.MethodGet, "/follow-up/worklist", domain.PermListPatients, s.followUpWorklist)
	s.registerFHIR()
	s.registerFHIRTrial()
	return s
}

// Handler is the HTTP handler of the whole service.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo exposes the router so that other packages (the web pages) can add their routes.
func (s *Server) Echo() *echo.Echo { return s.echo }

// Routes lists every API route with its permission.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// handle registers an API route. A route with a permission is open only to a logged-in user
// whose roles hold it.
func (s *Server) handle(method, path string, perm domain.Permission, h echo.HandlerFunc) {
	s.handleAt(APIPrefix, method, path, perm, h)
}

// handleAt registers a route under another prefix than /api/v1 (the FHIR API), with the same
// authentication and permission check.
func (s *Server) handleAt(prefix, method, path string, perm domain.Permission, h echo.HandlerFunc) {
	s.handleAuth(prefix, method, path, perm, s.authenticate, h)
}

func (s *Server) handleAuth(prefix, method, path string, perm domain.Permission, auth echo.MiddlewareFunc, h echo.HandlerFunc) {
	s.routes = append(s.routes, Route{Method: method, Path: prefix + path, Permission: perm})
	var mw []echo.MiddlewareFunc
	if perm != "" {
		mw = append(mw, auth, s.require(perm))
	}
	s.echo.Add(method, prefix+path, h, mw...)
}
