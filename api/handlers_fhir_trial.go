package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
	"cordtrace/fhir"
)

// registerFHIRTrial adds the trial's FHIR reads: the study, its subjects and their follow-up.
func (s *Server) registerFHIRTrial() {
	s.handleAt(FHIRPrefix, http.MethodGet, "/ResearchStudy/:id", domain.PermDisclosePatientData, s.fhirResearchStudy)
	s.handleAt(FHIRPrefix, http.MethodGet, "/ResearchSubject/:id", domain.PermDisclosePatientData, s.fhirResearchSubject)
	s.handleAt(FHIRPrefix, http.MethodGet, "/ResearchSubject", domain.PermDisclosePatientData, s.fhirResearchSubjectSearch)
	s.handleAt(FHIRPrefix, http.MethodGet, "/Observation/:id", domain.PermDisclosePatientData, s.fhirObservation)
	s.handleAt(FHIRPrefix, http.MethodGet, "/Observation", domain.PermDisclosePatientData, s.fhirObservationSearch)
}

func (s *Server) studyResource(c echo.Context) (fhir.ResearchStudy, error) {
	t, err := s.svc.Trial.TrialSummary(c.Request().Context())
	if err != nil {
		return fhir.ResearchStudy{}, err
	}
	return fhir.MapResearchStudy(t), nil
}

// fhirResearchStudy is the trial. It counts subjects by arm and names none: not a disclosure.
func (s *Server) fhirResearchStudy(c echo.Context) error {
	if id := c.Param("id"); id != fhir.StudyID {
		return domain.Errorf(domain.ENotFound, "there is no ResearchStudy %q: this server holds one trial, ResearchStudy/%s", id, fhir.StudyID)
	}
	rs, err := s.studyResource(c)
	if err != nil {
		return err
	}
	return fhirJSON(c, http.StatusOK, rs)
}

// researchSubject reads the participation of patient id; nothing is disclosed yet. The
// patient comes from their records, which carry the allocation they were randomized with.
func (s *Server) researchSubject(c echo.Context, id int64) (domain.Patient, fhir.ResearchSubject, error) {
	ctx := c.Request().Context()
	r, err := s.svc.Records.PatientRecords(ctx, id)
	if err != nil {
		return domain.Patient{}, fhir.ResearchSubject{}, err
	}
	i := slices.IndexFunc(r.Patients, func(p domain.Patient) bool { return p.ID == id })
	if i < 0 {
		return domain.Patient{}, fhir.ResearchSubject{}, domain.Errorf(domain.ENotFound, "there is no patient with id %d", id)
	}
	p := r.Patients[i]
	f, err := s.svc.Trial.FollowUp(ctx, id)
	if err != nil {
		return domain.Patient{}, fhir.ResearchSubject{}, err
	}
	return p, fhir.MapResearchSubject(p, f, s.cfg.Site), nil
}

// fhirResearchSubject is GET /fhir/ResearchSubject/{id}, id the patient's: their arm and
// progress through the trial, a disclosure of the patient.
func (s *Server) fhirResearchSubject(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	_, rs, err := s.researchSubject(c, id)
	if err != nil {
		return err
	}
	if err := s.disclose(c, domain.ViaFHIR("ResearchSubject"), recordFields, []int64{id}); err != nil {
		return err
	}
	return fhirJSON(c, http.StatusOK, rs)
}

func fhirSelf(c echo.Context) string {
	return fhirBase(c) + strings.TrimPrefix(c.Request().URL.RequestURI(), FHIRPrefix)
}

// fhirResearchSubjectSearch is GET /fhir/ResearchSubject?patient=N: the patient's
// ResearchSubject, with the Patient and the ResearchStudy it references.
func (s *Server) fhirResearchSubjectSearch(c echo.Context) error {
	id, err := fhir.ParsePatientParam("patient", c.QueryParam("patient"))
	if err != nil {
		return err
	}
	p, rs, err := s.researchSubject(c, id)
	if err != nil {
		return err
	}
	study, err := s.studyResource(c)
	if err != nil {
		return err
	}
	if err := s.disclose(c, domain.ViaFHIR("ResearchSubject"), recordFields, []int64{id}); err != nil {
		return err
	}
	pid := strconv.FormatInt(id, 10)
	return fhirJSON(c, http.StatusOK, fhir.Searchset(
		[]fhir.Resource{{Type: "ResearchSubject", ID: rs.ID, Body: rs}},
		[]fhir.Resource{{Type: "Patient", ID: pid, Body: fhir.MapPatient(p, s.fhirOptions())}, {Type: "ResearchStudy", ID: study.ID, Body: study}},
		fhirBase(c), fhirSelf(c), time.Now()))
}

// fhirObservation is GET /fhir/Observation/{id}: one measurement of a follow-up assessment,
// a disclosure of its patient.
func (s *Server) fhirObservation(c echo.Context) error {
	ctx := c.Request().Context()
	aid, err := fhir.ParseObservationID(c.Param("id"))
	if err != nil {
		return err
	}
	pid, err := s.svc.Records.RecordPatient(ctx, domain.RecordAssessment, aid)
	if err != nil {
		return err
	}
	f, err := s.svc.Trial.FollowUp(ctx, pid)
	if err != nil {
		return err
	}
	for _, o := range fhir.FollowUpObservations(f) {
		if o.ID == c.Param("id") {
			if err := s.disclose(c, domain.ViaFHIR("Observation"), recordFields, []int64{pid}); err != nil {
				return err
			}
			return fhirJSON(c, http.StatusOK, o)
		}
	}
	return domain.Errorf(domain.ENotFound, "there is no Observation %q; check the id", c.Param("id"))
}

// fhirObservationSearch is GET /fhir/Observation?subject=N: every measurement of the patient's
// follow-up assessments, with the Patient they reference.
func (s *Server) fhirObservationSearch(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := fhir.ParsePatientParam("subject", c.QueryParam("subject"))
	if err != nil {
		return err
	}
	p, err := s.svc.Patients.Patient(ctx, id)
	if err != nil {
		return err
	}
	f, err := s.svc.Trial.FollowUp(ctx, id)
	if err != nil {
		return err
	}
	if err := s.disclose(c, domain.ViaFHIR("Observation"), recordFields, []int64{id}); err != nil {
		return err
	}
	var matches []fhir.Resource
	for _, o := range fhir.FollowUpObservations(f) {
		matches = append(matches, fhir.Resource{Type: "Observation", ID: o.ID, Body: o})
	}
	pid := strconv.FormatInt(id, 10)
	return fhirJSON(c, http.StatusOK, fhir.Searchset(matches,
		[]fhir.Resource{{Type: "Patient", ID: pid, Body: fhir.MapPatient(p, s.fhirOptions())}},
		fhirBase(c), fhirSelf(c), time.Now()))
}
