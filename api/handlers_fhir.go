package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
	"cordtrace/fhir"
)

// FHIRPrefix is where the FHIR R5 read API lives.
const FHIRPrefix = "/fhir"

// registerFHIR adds the FHIR routes. They share the API's authentication and permission
// table; their errors are OperationOutcomes (see handleError).
func (s *Server) registerFHIR() {
	s.handleAt(FHIRPrefix, http.MethodGet, "/Patient/:id", domain.PermDisclosePatientData, s.fhirPatient)
	s.handleAt(FHIRPrefix, http.MethodGet, "/Patient/:id/$everything", domain.PermDisclosePatientData, s.fhirPatientEverything)
	s.handleAt(FHIRPrefix, http.MethodGet, "/BiologicallyDerivedProduct/:id", domain.PermDisclosePatientData, s.fhirProduct)
	s.handleAt(FHIRPrefix, http.MethodGet, "/Bundle", domain.PermDisclosePatientData, s.fhirLotBundle)
	s.handleAt(FHIRPrefix, http.MethodGet, "/BiologicallyDerivedProductDispense/:id", domain.PermDisclosePatientData,
		s.fhirRecord("BiologicallyDerivedProductDispense", domain.RecordDispatch))
	s.handleAt(FHIRPrefix, http.MethodGet, "/Procedure/:id", domain.PermDisclosePatientData, s.fhirRecord("Procedure", domain.RecordInfusion))
	s.handleAt(FHIRPrefix, http.MethodGet, "/AdverseEvent/:id", domain.PermDisclosePatientData, s.fhirRecord("AdverseEvent", domain.RecordAdverseEvent))
	// The CapabilityStatement is public, as FHIR clients expect to read it before they log in
	// (SMART on FHIR requires it); it names resources and interactions, no data.
	s.handleAt(FHIRPrefix, http.MethodGet, "/metadata", "", s.fhirMetadata)
}

// fhirOptions are the site's choices for the FHIR mapping, from the server's Config.
func (s *Server) fhirOptions() fhir.Options { return fhir.Options{MRNSystem: s.cfg.MRNSystem} }

// isFHIR reports whether a request is for the FHIR API, whose errors are OperationOutcomes.
func isFHIR(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == FHIRPrefix || strings.HasPrefix(p, FHIRPrefix+"/")
}

// fhirBase is the FHIR base URL as the client reached it, for Bundle.entry.fullUrl.
func fhirBase(c echo.Context) string { return c.Scheme() + "://" + c.Request().Host + FHIRPrefix }

func fhirJSON(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Blob(status, fhir.ContentType, b)
}

// disclose records in the audit trail that the acting user is shown these fields of these
// patients through via (one patient.disclose entry each); nothing is shown if that fails.
func (s *Server) disclose(c echo.Context, via string, fields []string, patientIDs []int64) error {
	return s.discloseAs(c, currentActor(c), via, fields, patientIDs)
}

func (s *Server) discloseAs(c echo.Context, actor domain.Actor, via string, fields []string, patientIDs []int64) error {
	return s.svc.Records.RecordDisclosure(c.Request().Context(), actor,
		domain.Disclosure{Via: via, Fields: fields, PatientIDs: patientIDs})
}

// The fields each read shows: a Patient resource identifies the patient; the other resources
// and Bundles add the record of care, and name the patient by reference or carry the Patient.
var (
	patientFields = append(slices.Clone(domain.IdentityFields), domain.FieldSubjectID)
	recordFields  = append(slices.Clone(patientFields), domain.FieldClinical)
)

// disclosedPatient reads the patient at :id and records that the acting user is shown them
// through via; nothing is returned if that fails.
func (s *Server) disclosedPatient(c echo.Context, via string) (domain.Patient, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return domain.Patient{}, err
	}
	p, err := s.svc.Patients.Patient(c.Request().Context(), id)
	if err != nil {
		return domain.Patient{}, err
	}
	if err := s.disclose(c, via, patientFields, []int64{p.ID}); err != nil {
		return domain.Patient{}, err
	}
	return p, nil
}

func (s *Server) fhirPatient(c echo.Context) error {
	p, err := s.disclosedPatient(c, domain.ViaFHIRPatient)
	if err != nil {
		return err
	}
	return fhirJSON(c, http.StatusOK, fhir.MapPatient(p, s.fhirOptions()))
}

func (s *Server) fhirPatientEverything(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	r, err := s.svc.Records.PatientRecords(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := s.disclose(c, domain.ViaFHIRPatientRecords, recordFields, r.PatientIDs()); err != nil {
		return err
	}
	self := fhirBase(c) + strings.TrimPrefix(c.Request().URL.RequestURI(), FHIRPrefix)
	return fhirJSON(c, http.StatusOK, fhir.PatientEverything(r, s.fhirOptions(), id, fhirBase(c), self, time.Now()))
}

// fhirProduct reads a unit (unit-N) or a dose bag (bag-N). A product names no patient, so
// reading one discloses nothing.
func (s *Server) fhirProduct(c echo.Context) error {
	ctx := c.Request().Context()
	kind, id, err := fhir.ParseProductID(c.Param("id"))
	if err != nil {
		return err
	}
	// The same mapping as the product's entry in its lot's Bundle, from the product, its lot
	// and donation (and for a bag the current specification), without the lot's records.
	if kind == "unit" {
		u, _, err := s.svc.Labels.UnitForLabel(ctx, id)
		if err != nil {
			return err
		}
		lot, err := s.svc.Lab.LotDetail(ctx, u.LotID)
		if err != nil {
			return err
		}
		return fhirJSON(c, http.StatusOK, fhir.MapUnit(u, lot.Lot, lot.Donation))
	}
	b, err := s.svc.Pharmacy.DoseBag(ctx, id)
	if err != nil {
		return err
	}
	lot, err := s.svc.Lab.LotDetail(ctx, b.LotID)
	if err != nil {
		return err
	}
	spec, err := s.svc.Lab.CurrentSpec(ctx)
	if err != nil {
		return err
	}
	return fhirJSON(c, http.StatusOK, fhir.MapBag(b, lot.Lot, lot.Donation, spec))
}

// fhirRecord reads one dispatch (BiologicallyDerivedProductDispense), infusion (Procedure) or
// adverse event by id: the very resource the patient's $everything Bundle carries under the same
// id. It names its patient, so the read is recorded as a disclosure of that patient first.
func (s *Server) fhirRecord(typ string, kind domain.RecordKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		id, err := idParam(c, "id")
		if err != nil {
			return err
		}
		patientID, err := s.svc.Records.RecordPatient(ctx, kind, id)
		if err != nil {
			return err
		}
		r, err := s.svc.Records.PatientRecords(ctx, patientID)
		if err != nil {
			return err
		}
		res, ok := fhir.Find(r, s.fhirOptions(), typ, strconv.FormatInt(id, 10))
		if !ok {
			return domain.Errorf(domain.ENotFound, "there is no %s with id %d; check the id", typ, id)
		}
		if err := s.disclose(c, domain.ViaFHIR(typ), recordFields, []int64{patientID}); err != nil {
			return err
		}
		return fhirJSON(c, http.StatusOK, res)
	}
}

// fhirMetadata is GET /fhir/metadata: the CapabilityStatement.
func (s *Server) fhirMetadata(c echo.Context) error {
	return fhirJSON(c, http.StatusOK, fhir.Capabilities(fhirBase(c)))
}

// fhirLotBundle is GET /fhir/Bundle?lot=<lot number>: a collection of everything made from the
// lot and who received it.
func (s *Server) fhirLotBundle(c echo.Context) error {
	lot := strings.TrimSpace(c.QueryParam("lot"))
	if lot == "" {
		return domain.FieldError("lot", "name the lot: /fhir/Bundle?lot=<lot number>")
	}
	r, err := s.svc.Records.LotRecords(c.Request().Context(), lot)
	if err != nil {
		return err
	}
	if err := s.disclose(c, domain.ViaFHIRLotBundle, recordFields, r.PatientIDs()); err != nil {
		return err
	}
	return fhirJSON(c, http.StatusOK, fhir.Collection(r, s.fhirOptions(), fhirBase(c), time.Now()))
}

// fhirError writes an error as an OperationOutcome with the status of the error table.
func fhirError(c echo.Context, status int, code, message string) error {
	return fhirJSON(c, status, fhir.Outcome(code, message))
}
