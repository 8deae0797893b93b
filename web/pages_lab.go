package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

type lotsData struct {
	Lots     []domain.Lot
	Statuses []domain.LotStatus
	Status   string
	Query    string
}

func (h *Handler) lots(c echo.Context, u domain.User) error {
	f := domain.LotFilter{Query: c.QueryParam("q")}
	view := View{Title: "Lots", User: &u}
	if st := c.QueryParam("status"); st != "" {
		status, err := domain.ParseLotStatus(st)
		if err != nil {
			view.Flash = domain.ErrorMessage(err)
		}
		f.Status = status
	}
	lots, err := h.svc.Lab.ListLots(c.Request().Context(), f)
	if err != nil {
		view.Flash = domain.ErrorMessage(err)
	}
	view.Data = lotsData{Lots: lots, Statuses: domain.LotStatuses, Status: string(f.Status), Query: f.Query}
	return h.pages.Render(c.Response(), http.StatusOK, "lots", view)
}

// lotData is the lot page: the lot with its results and evaluation, what the lab may enter,
// and the lot's audit history for those allowed to read it.
type lotData struct {
	domain.LotDetail // its Spec is the version the evaluation and the forms' limits show
	// Markers are the phenotype form's fields: the key the API takes and the name the
	// evaluation gives the criterion ("CD14/CD11b": either may be measured).
	Markers     []markerField
	Audit       []domain.AuditEntry
	CanAudit    bool
	SignActions []domain.SignatureAction
	// OpenInvestigations are the lot's OOS investigations QA has still to close.
	OpenInvestigations []domain.Investigation
	// ReplacedBy maps a result a correction replaced to that correction, so that the page
	// strikes it through and says which result replaced it and why.
	ReplacedBy map[int64]domain.QCResult
	// Recall lists the lot's recall tasks and how many are closed.
	Recall         []domain.RecallTask
	RecallProgress domain.RecallProgress
}

type markerField struct{ Key, Label string }

func (h *Handler) lot(c echo.Context, u domain.User) error {
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return h.notFound(c, u, "There is no such lot. Pick one from the list.")
	}
	d, err := h.svc.Lab.LotDetail(ctx, id)
	if domain.ErrorCode(err) == domain.ENotFound {
		return h.notFound(c, u, domain.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	data := lotData{LotDetail: d, SignActions: []domain.SignatureAction{domain.SignRelease, domain.SignReject, domain.SignHold, domain.SignRecall}}
	for _, inv := range d.Investigations {
		if inv.Status == domain.InvestigationOpen {
			data.OpenInvestigations = append(data.OpenInvestigations, inv)
		}
	}
	for _, group := range append(append([][]string{}, d.Spec.PositiveMarkers...), d.Spec.NegativeMarkers...) {
		data.Markers = append(data.Markers, markerField{Key: group[0], Label: strings.Join(group, "/")})
	}
	data.ReplacedBy = map[int64]domain.QCResult{}
	for _, r := range d.Results {
		if r.Corrects != nil {
			data.ReplacedBy[*r.Corrects] = r
		}
	}
	if data.Recall, err = h.svc.Recall.LotRecallTasks(ctx, id); err != nil {
		return err
	}
	data.RecallProgress = domain.Progress(data.Recall)
	if _, err := domain.Authorize(u, domain.PermReadAudit); err == nil {
		data.CanAudit = true
		data.Audit, err = h.svc.Audit.ListAudit(ctx, domain.AuditFilter{EntityType: "lot", EntityID: strconv.FormatInt(id, 10), Limit: 200})
		if err != nil {
			return err
		}
	}
	return h.pages.Render(c.Response(), http.StatusOK, "lot", View{Title: "Lot " + d.Lot.LotNumber, User: &u, Data: data})
}

func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.FieldError("id", "not an id")
	}
	return id, nil
}

// notFound shows the lots list with what was not found, rather than a bare error page.
func (h *Handler) notFound(c echo.Context, u domain.User, msg string) error {
	return h.pages.Render(c.Response(), http.StatusNotFound, "lots", View{Title: "Lots", User: &u, Flash: msg, Data: lotsData{Statuses: domain.LotStatuses}})
}
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
