package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
	"cordtrace/labels"
)

// Active recall: a lot's tasks, the open tasks of the worklists, the return scan at the
// pharmacy, the record of a destruction, and the physicians' notices.

func (s *Server) lotRecallTasks(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	tasks, err := s.svc.Recall.LotRecallTasks(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, nonNil(tasks))
}

func (s *Server) openRecallTasks(c echo.Context) error {
	tasks, err := s.svc.Recall.OpenRecallTasks(c.Request().Context())
	if err != nil {
		return err
	}
	tasks = nonNil(tasks)
	return c.JSON(http.StatusOK, map[string]any{"tasks": tasks, "progress": domain.Progress(tasks)})
}

func nonNil(t []domain.RecallTask) []domain.RecallTask {
	if t == nil {
		return []domain.RecallTask{}
	}
	return t
}

// readReturnCode works out which unit or bag a code scanned back at the pharmacy names: the
// signed QR of a unit or a bag, its ISBT 128 DataMatrix, or its id typed with the check
// character.
func (s *Server) readReturnCode(ctx context.Context, code string) (id, kind string, err error) {
	code = strings.TrimSpace(code)
	switch {
	case code == "":
		return "", "", domain.FieldError("code", "scan the unit's or bag's code (or type its id with the check character)")
	case strings.HasPrefix(code, "CT"):
		p, err := s.verifyCode(ctx, code)
		var ve *labels.VerifyError
		if errors.As(err, &ve) {
			return "", domain.CodeQR, domain.Errorf(domain.ERuleViolated, "%s", ve.Message)
		} else if err != nil {
			return "", "", err
		}
		return p.ID, domain.CodeQR, nil
	case strings.HasPrefix(code, "=+"):
		m, err := domain.ReadLabelMessage(code)
		if err != nil {
			return "", domain.CodeISBT, err
		}
		return m.Unit.String(), domain.CodeISBT, nil
	}
	typed := strings.ReplaceAll(code, " ", "")
	u, err := domain.ParseUnitID(typed[:max(len(typed)-1, 0)])
	if err != nil || string(u.Check()) != strings.ToUpper(typed[len(typed)-1:]) {
		return "", domain.CodeManual, domain.FieldError("code", "type the id exactly as printed, with the boxed check character at the end")
	}
	return u.String(), domain.CodeManual, nil
}

// returnScan closes the recall task of a unit or bag scanned back at the pharmacy.
func (s *Server) returnScan(c echo.Context) error {
	var in struct {
		Code  string `json:"code"`
		Entry string `json:"entry"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	id, kind, err := s.readReturnCode(ctx, in.Code)
	if err != nil {
		return err
	}
	task, err := s.svc.Recall.ReturnScan(ctx, currentActor(c), id, kind, in.Entry)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, task)
}

// destroyRecallTask records a recalled unit or bag destroyed, with the reason.
func (s *Server) destroyRecallTask() echo.HandlerFunc {
	return withReason(func(ctx context.Context, a domain.Actor, id int64, reason string) (domain.RecallTask, error) {
		return s.svc.Recall.DestroyRecallTask(ctx, a, id, reason)
	})
}

func (s *Server) patientRecallNotices(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	list, err := s.svc.Recall.PatientRecallNotices(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *Server) acknowledgeRecallNotice(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Note string `json:"note"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	n, err := s.svc.Recall.AcknowledgeRecallNotice(c.Request().Context(), currentActor(c), id, in.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, n)
}
