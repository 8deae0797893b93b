package store

import (
	"context"

	"gorm.io/gorm"

	"cordtrace/domain"
)

// WriteForTest exposes the write path so that tests can check its guarantees directly.
func (s *Store) WriteForTest(ctx context.Context, actor domain.Actor, fn func(db *gorm.DB, audit func(action, entityType, entityID string)) error) error {
	return s.write(ctx, actor, func(t *tx) error {
		return fn(t.db, func(action, entityType, entityID string) {
			t.audit(action, entityType, entityID, nil, nil, "")
		})
	})
}
