package store

import (
	"context"
	"fmt"
	"time"

	"cordtrace/domain"
)

// witnessTokenRow is a witness token (SPEC §7): only its hash is kept.
type witnessTokenRow struct {
	ID        int64 `gorm:"primaryKey"`
	TokenHash string
	WitnessID int64
	IssuedTo  int64
	IssuedAt  time.Time
	ExpiresAt time.Time
}

func (witnessTokenRow) TableName() string { return "witness_tokens" }

// IssueWitnessToken checks the witness's password, entered on actor's device, and issues a
// token for one verification by actor within domain.WitnessTokenLife. The issue is audited;
// its use is audited by the verification that uses it.
func (s *Store) IssueWitnessToken(ctx context.Context, actor domain.Actor, username, password string) (domain.WitnessToken, error) {
	if username == "" {
		return domain.WitnessToken{}, domain.FieldError("username", "the witness enters their username")
	}
	if password == "" {
		return domain.WitnessToken{}, domain.FieldError("password", "the witness enters their password")
	}
	u, err := s.CheckPassword(ctx, username, password, actor.RequestID)
	if err != nil {
		return domain.WitnessToken{}, err
	}
	if problem := domain.WitnessProblem(u.ID, u.FullName, u.Roles, actor.UserID); problem != "" {
		return domain.WitnessToken{}, domain.Errorf(domain.ERuleViolated, "%s", problem)
	}
	token, err := newToken()
	if err != nil {
		return domain.WitnessToken{}, err
	}
	var out domain.WitnessToken
	err = s.write(ctx, actor, func(t *tx) error {
		row := witnessTokenRow{TokenHash: tokenHash(token), WitnessID: u.ID, IssuedTo: actor.UserID, IssuedAt: t.now,
			ExpiresAt: t.now.Add(domain.WitnessTokenLife)}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("issue witness token: %w", err)
		}
		out = domain.WitnessToken{Token: token, ExpiresAt: row.ExpiresAt.UTC()}
		t.audit("witness_token.issue", "witness_token", row.ID, nil,
			map[string]any{"witness_id": u.ID, "issued_to": actor.UserID, "expires_at": out.ExpiresAt}, "")
		return nil
	})
	return out, err
}
