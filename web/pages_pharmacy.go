package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

type pharmacyData struct {
	Orders []domain.OrderWaiting
	Bags   []domain.BagNotGiven
	// Recall is every open recall task: the pharmacy scans each unit and bag back or records
	// it destroyed; the bags still on a ward are shown as waiting for the ward.
	Recall []domain.RecallTask
}

// pharmacy is the worklist: the dose orders waiting for a bag, oldest first, and the bags not
// given yet.
func (h *Handler) pharmacy(c echo.Context, u domain.User) error {
	return h.pharmacyPage(c, u, http.StatusOK, "")
}

// pharmacyPage renders the worklist with status and a message (flash); a failure to read the
// worklist is shown as the message instead.
func (h *Handler) pharmacyPage(c echo.Context, u domain.User, status int, flash string) error {
	ctx := c.Request().Context()
	orders, err := h.svc.Pharmacy.OpenDoseOrders(ctx)
	var bags []domain.BagNotGiven
	if err == nil {
		bags, err = h.svc.Pharmacy.UngivenDoseBags(ctx)
	}
	var recall []domain.RecallTask
	if err == nil {
		recall, err = h.svc.Recall.OpenRecallTasks(ctx)
	}
	if err != nil {
		flash = domain.ErrorMessage(err)
	}
	return h.pages.Render(c.Response(), status, "pharmacy", View{Title: "Pharmacy", User: &u, Flash: flash, Data: pharmacyData{Orders: orders, Bags: bags, Recall: recall}})
}

type prepareData struct {
	Order   domain.OrderWaiting
	Units   []domain.AvailableUnit
	Spec    domain.ReleaseSpec
	MaxThaw string // the latest thaw time the form accepts, for the datetime input
}

// prepare is the form that records the thaw of units into one order's bag.
func (h *Handler) prepare(c echo.Context, u domain.User) error {
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return h.pharmacyMessage(c, u, "There is no such dose order. Pick one from the list.")
	}
	order, err := h.svc.Pharmacy.OpenDoseOrder(ctx, id)
	if domain.ErrorCode(err) == domain.ENotFound {
		return h.pharmacyMessage(c, u, "This dose order is not waiting any more: a bag has filled it, or it was cancelled.")
	} else if err != nil {
		return err
	}
	units, err := h.svc.Pharmacy.AvailableUnits(ctx)
	if err != nil {
		return err
	}
	spec, err := h.specVersion(ctx, order.SpecVersion)
	if err != nil {
		return err
	}
	return h.pages.Render(c.Response(), http.StatusOK, "prepare", View{Title: "Prepare dose " + order.SubjectID, User: &u,
		Data: prepareData{Order: order, Units: units, Spec: spec}})
}

func (h *Handler) pharmacyMessage(c echo.Context, u domain.User, msg string) error {
	return h.pharmacyPage(c, u, http.StatusNotFound, msg)
}

// scanData configures the one scan page used for dispatch (pharmacy) and receipt (ward).
type scanData struct {
	Kind     string
	Endpoint string
	Heading  string
	Place    string // the label of the place field: destination or receiving ward
}

func (h *Handler) scanPage(kind string) func(echo.Context, domain.User) error {
	d := scanData{Kind: kind, Endpoint: "/api/v1/scans/" + kind}
	switch kind {
	case domain.ScanDispatch:
		d.Heading, d.Place = "Dispatch dose bags", "Destination ward"
	default:
		d.Heading, d.Place = "Receive dose bags", "Receiving ward"
	}
	return func(c echo.Context, u domain.User) error {
		return h.pages.Render(c.Response(), http.StatusOK, "scan", View{Title: d.Heading, User: &u, Data: d})
	}
}

// bedsideData is the ward's worklist on the bedside page: the recalled or held bags still on
// a ward, to send back to the pharmacy.
type bedsideData struct {
	Recall []domain.RecallTask
}

// bedside is the phone-sized page where a nurse and a witness verify and infuse.
func (h *Handler) bedside(c echo.Context, u domain.User) error {
	tasks, err := h.svc.Recall.OpenRecallTasks(c.Request().Context())
	if err != nil {
		return err
	}
	var d bedsideData
	for _, t := range tasks {
		if t.Location == domain.AtWard {
			d.Recall = append(d.Recall, t)
		}
	}
	return h.pages.Render(c.Response(), http.StatusOK, "bedside", View{Title: "Bedside", User: &u, Data: d})
}
