package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// donationData is a donation's page: the donor's tests, screening and determinations, and the
// look-back. Patients appear by subject id and chain of identity only, so the page is open to
// every user and discloses no one.
type donationData struct {
	domain.DonationDetail
	Tests []domain.DonorTest
}

func (h *Handler) donation(c echo.Context, u domain.User) error {
	id, err := pathID(c)
	if err != nil {
		return h.notFound(c, u, "There is no such donation. Open it from its lot's page.")
	}
	d, err := h.svc.Donors.DonationDetail(c.Request().Context(), id)
	if domain.ErrorCode(err) == domain.ENotFound {
		return h.notFound(c, u, domain.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return h.pages.Render(c.Response(), http.StatusOK, "donation", View{Title: "Donation " + d.Donation.EyeReadable, User: &u,
		Data: donationData{DonationDetail: d, Tests: domain.DonorTests}})
}
