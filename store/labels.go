package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
)

type labelKeyRow struct {
	KID          string `gorm:"primaryKey;column:kid"`
	PublicKey    string
	PrivateKey   *string // NULL once the key is retired: its private half is destroyed
	CreatedAt    time.Time
	RetiredAt    *time.Time
	RevokedAt    *time.Time
	RevokeReason string
}

func (labelKeyRow) TableName() string { return "label_keys" }

func (r labelKeyRow) toDomain() domain.LabelKey {
	k := domain.LabelKey{KID: r.KID, PublicKey: r.PublicKey, CreatedAt: r.CreatedAt.UTC(), RetiredAt: r.RetiredAt,
		RevokedAt: r.RevokedAt, RevokeReason: r.RevokeReason}
	if r.PrivateKey != nil {
		k.PrivatePEM = *r.PrivateKey
	}
	return k
}

// labelPrintKeyRow records that a key signed copies of a print, from SignedAt on.
type labelPrintKeyRow struct {
	PrintID  int64  `gorm:"primaryKey"`
	KID      string `gorm:"primaryKey;column:kid"`
	SignedAt time.Time
}

func (labelPrintKeyRow) TableName() string { return "label_print_keys" }

type labelPrintRow struct {
	ID         int64 `gorm:"primaryKey"`
	EntityType string
	EntityID   int64
	Serial     int64
	Reason     string
	PrintedBy  int64
	PrintedAt  time.Time
	Copies     int // the copies printed of this serial
}

func (labelPrintRow) TableName() string { return "label_prints" }

func (r labelPrintRow) toDomain() domain.LabelPrint {
	return domain.LabelPrint{EntityType: r.EntityType, EntityID: r.EntityID, Serial: r.Serial, Reason: r.Reason,
		PrintedAt: r.PrintedAt.UTC(), Copies: r.Copies}
}

// bagLabelPrintable locks a dose bag and refuses to label it before a second pharmacist has
// checked it (domain.BagChecked). Other entities need no check.
func bagLabelPrintable(t *tx, entityType string, entityID int64) error {
	if entityType != "dose_bag" {
		return nil
	}
	var bag doseBagRow
	if err := t.lockByID(&bag, entityID, "dose bag"); err != nil {
		return err
	}
	return domain.BagChecked(bag.BagID, bag.CheckedBy, "labelled")
}

// LabelKeys returns every signing key, newest first.
func (s *Store) LabelKeys(ctx context.Context) ([]domain.LabelKey, error) {
	var rows []labelKeyRow
	if err := s.read(ctx).Order("created_at DESC, kid DESC").Find(&rows).Error; err != nil {
		return nil, classify(fmt.Errorf("read label keys: %w", err))
	}
	out := make([]domain.LabelKey, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// EnsureLabelKey returns the newest active key, creating one when there is none.
func (s *Store) EnsureLabelKey(ctx context.Context, generate func() (domain.LabelKey, error)) (domain.LabelKey, error) {
	active := func() (domain.LabelKey, bool, error) {
		keys, err := s.LabelKeys(ctx)
		for _, k := range keys {
			if k.RetiredAt == nil {
				return k, true, err
			}
		}
		return domain.LabelKey{}, false, err
	}
	if k, ok, err := active(); err != nil || ok {
		return k, err
	}
	k, err := generate()
	if err != nil {
		return k, err
	}
	err = s.write(ctx, domain.SystemActor("label-key"), func(t *tx) error {
		var n int64
		if err := t.db.Model(&labelKeyRow{}).Where("retired_at IS NULL").Count(&n).Error; err != nil || n > 0 {
			return err // another process created one first: use it
		}
		if err := createLabelKey(t, k, ""); err != nil && !isUnique(err) {
			return err
		}
		return nil // on a unique violation, another process created one first: nothing was recorded
	})
	if err != nil {
		return domain.LabelKey{}, err
	}
	k, _, err = active()
	return k, err
}

func currentSerial(db *gorm.DB, entityType string, entityID int64) (int64, error) {
	var last struct{ Max *int64 }
	if err := db.Model(&labelPrintRow{}).Select("MAX(serial) AS max").
		Where("entity_type = ? AND entity_id = ?", entityType, entityID).Scan(&last).Error; err != nil {
		return 0, fmt.Errorf("read print serial: %w", err)
	}
	if last.Max == nil {
		return 0, nil
	}
	return *last.Max, nil
}

// labelPrints lists every serial of an entity's label, oldest first, with its copies.
func labelPrints(db *gorm.DB, entityType string, entityID int64) ([]domain.LabelPrint, error) {
	var rows []labelPrintRow
	if err := db.Where("entity_type = ? AND entity_id = ?", entityType, entityID).Order("serial").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read label prints: %w", err)
	}
	out := make([]domain.LabelPrint, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// CurrentSerial is the latest print serial of an entity, 0 if never printed.
func (s *Store) CurrentSerial(ctx context.Context, entityType string, entityID int64) (int64, error) {
	n, err := currentSerial(s.read(ctx), entityType, entityID)
	return n, classify(err)
}

// Print records a print of the current label, one more copy of its serial signed by key kid;
// the first print makes serial 1. A dose bag no second pharmacist has checked is not labelled
// (EConflict), nor is a label signed by a key that is no longer the active one: a rotation
// committed since the key was read. Each print is an audit entry: format, serial, copy and
// key, by the actor, at the time.
func (s *Store) Print(ctx context.Context, actor domain.Actor, entityType string, entityID int64, format, kid string) (domain.LabelPrint, error) {
	var out domain.LabelPrint
	err := s.write(ctx, actor, func(t *tx) error {
		if err := bagLabelPrintable(t, entityType, entityID); err != nil {
			return err
		}
		// Shared lock: a rotation or revocation waits until this print is recorded, and a
		// print waits for one in progress, so no copy is ever credited to a retired key.
		var key labelKeyRow
		err := t.db.Clauses(clause.Locking{Strength: "SHARE"}).Where("kid = ?", kid).Take(&key).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			return domain.Errorf(domain.EConflict, "there is no label signing key %s; print the label again", kid)
		case err != nil:
			return fmt.Errorf("read label key: %w", err)
		case key.RetiredAt != nil:
			return domain.Errorf(domain.EConflict, "the label signing key %s was retired while the label was printed; print it again to sign it with the current key", kid)
		}
		serial, err := currentSerial(t.db, entityType, entityID)
		if err != nil {
			return err
		}
		if serial == 0 {
			serial = 1
			row := labelPrintRow{EntityType: entityType, EntityID: entityID, Serial: 1, PrintedBy: actor.UserID, PrintedAt: t.now}
			if err := t.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
				return fmt.Errorf("record print: %w", err)
			}
		}
		where := t.db.Model(&labelPrintRow{}).Where("entity_type = ? AND entity_id = ? AND serial = ?", entityType, entityID, serial)
		if err := where.Update("copies", gorm.Expr("copies + 1")).Error; err != nil {
			return fmt.Errorf("count the copy: %w", err)
		}
		var printed labelPrintRow
		if err := t.db.Select("id", "copies").
			Where("entity_type = ? AND entity_id = ? AND serial = ?", entityType, entityID, serial).Take(&printed).Error; err != nil {
			return fmt.Errorf("count the copy: %w", err)
		}
		signed := labelPrintKeyRow{PrintID: printed.ID, KID: kid, SignedAt: t.now}
		if err := t.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&signed).Error; err != nil {
			return fmt.Errorf("record the print's key: %w", err)
		}
		out = domain.LabelPrint{EntityType: entityType, EntityID: entityID, Serial: serial, PrintedAt: t.now, Copies: printed.Copies}
		t.audit("label.print", entityType, entityID, nil, map[string]any{"serial": serial, "format": format, "copy": printed.Copies, "kid": kid}, "")
		return nil
	})
	return out, err
}

// Reprint makes a new serial with a reason; older prints are refused at every scan after it.
func (s *Store) Reprint(ctx context.Context, actor domain.Actor, entityType string, entityID int64, reason string) (domain.LabelPrint, error) {
	if strings.TrimSpace(reason) == "" {
		return domain.LabelPrint{}, domain.FieldError("reason", "a reprint needs a reason (damaged, smudged, lost…)")
	}
	var out domain.LabelPrint
	err := s.write(ctx, actor, func(t *tx) error {
		if err := bagLabelPrintable(t, entityType, entityID); err != nil {
			return err
		}
		serial, err := currentSerial(t.db, entityType, entityID)
		if err != nil {
			return err
		}
		row := labelPrintRow{EntityType: entityType, EntityID: entityID, Serial: serial + 1, Reason: strings.TrimSpace(reason),
			PrintedBy: actor.UserID, PrintedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "someone reprinted this label at the same moment; reload and check the latest print")
			}
			return fmt.Errorf("record reprint: %w", err)
		}
		out = domain.LabelPrint{EntityType: entityType, EntityID: entityID, Serial: row.Serial, Reason: row.Reason, PrintedAt: t.now}
		t.audit("label.reprint", entityType, entityID, map[string]any{"serial": serial}, map[string]any{"serial": row.Serial}, row.Reason)
		return nil
	})
	return out, err
}

func (s *Store) unitWithLot(db *gorm.DB, q *gorm.DB) (domain.Unit, domain.Lot, error) {
	var u unitRow
	if err := q.Take(&u).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Unit{}, domain.Lot{}, domain.Errorf(domain.ENotFound, "there is no such unit")
	} else if err != nil {
		return domain.Unit{}, domain.Lot{}, classify(err)
	}
	var lot lotRow
	if err := db.Take(&lot, u.LotID).Error; err != nil {
		return domain.Unit{}, domain.Lot{}, classify(err)
	}
	don, err := s.donationDIN(db, lot.DonationID)
	if err != nil {
		return domain.Unit{}, domain.Lot{}, classify(err)
	}
	l := lot.toDomain(don.DIN)
	l.DonorEligibility = domain.Eligibility(don.Eligibility)
	return u.toDomain(), l, nil
}

// UnitForLabel returns a unit and its lot.
func (s *Store) UnitForLabel(ctx context.Context, id int64) (domain.Unit, domain.Lot, error) {
	db := s.read(ctx)
	return s.unitWithLot(db, db.Where("id = ?", id))
}

// UnitByCode returns a unit by its unit id (21 characters, 27 with Product Divisions), and its lot.
func (s *Store) UnitByCode(ctx context.Context, unitID string) (domain.Unit, domain.Lot, error) {
	db := s.read(ctx)
	return s.unitWithLot(db, db.Where("unit_id = ?", unitID))
}

// LotUnits returns a lot's units in division order, and the lot.
func (s *Store) LotUnits(ctx context.Context, lotID int64) ([]domain.Unit, domain.Lot, error) {
	d, err := s.LotDetail(ctx, lotID)
	if err != nil {
		return nil, domain.Lot{}, err
	}
	return d.Units, d.Lot, nil
}

// createLabelKey stores a new active key. The private key never goes into the audit trail.
// The database keeps one key active: a key made active by another transaction at the same
// moment is a unique violation.
func createLabelKey(t *tx, k domain.LabelKey, reason string) error {
	pem := k.PrivatePEM
	if err := t.db.Create(&labelKeyRow{KID: k.KID, PublicKey: k.PublicKey, PrivateKey: &pem, CreatedAt: t.now}).Error; err != nil {
		return fmt.Errorf("store label key: %w", err)
	}
	t.audit("label_key.create", "label_key", k.KID, nil, map[string]string{"kid": k.KID, "public_key": k.PublicKey}, reason)
	return nil
}

// retireActiveKeys retires every active key and destroys its private half: from then on no
// one can sign with it, and it verifies only the prints it signed before (domain.LabelKeyProblem).
func retireActiveKeys(t *tx, reason string) error {
	var active []labelKeyRow
	if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("retired_at IS NULL").Find(&active).Error; err != nil {
		return err
	}
	for _, a := range active {
		if err := t.db.Model(&labelKeyRow{}).Where("kid = ?", a.KID).
			Updates(map[string]any{"retired_at": t.now, "private_key": nil}).Error; err != nil {
			return fmt.Errorf("retire label key %s: %w", a.KID, err)
		}
		t.audit("label_key.retire", "label_key", a.KID, nil, map[string]any{"kid": a.KID, "retired_at": t.now, "private_key": "destroyed"}, reason)
	}
	return nil
}

// keyRace turns the unique violation of two keys made active at once into a conflict.
func keyRace(err error) error {
	if isUnique(err) {
		return domain.Errorf(domain.EConflict, "another label key was made active at the same moment; list the keys (cordtrace label-key list) before trying again")
	}
	return err
}

// RotateLabelKey retires every active signing key, destroying its private half, and creates
// a new one, in one transaction. A retired key still verifies the labels it signed before it
// was retired; new prints use the new key.
func (s *Store) RotateLabelKey(ctx context.Context, actor domain.Actor, generate func() (domain.LabelKey, error)) (domain.LabelKey, error) {
	k, err := generate()
	if err != nil {
		return k, err
	}
	err = s.write(ctx, actor, func(t *tx) error {
		if err := retireActiveKeys(t, "rotation"); err != nil {
			return err
		}
		return keyRace(createLabelKey(t, k, "rotation"))
	})
	return k, err
}

// RevokeLabelKey revokes key kid with a reason, for a key that may be in other hands: every
// label it signed is refused at every scan until it is reprinted (domain.LabelKeyProblem). A
// key still signing is retired at once, its private half destroyed, and a new key made with
// generate signs from then on. It returns the labels whose current print the key signed:
// each must be reprinted before it is used.
func (s *Store) RevokeLabelKey(ctx context.Context, actor domain.Actor, kid, reason string, generate func() (domain.LabelKey, error)) (domain.LabelKeyRevocation, error) {
	kid, reason = strings.TrimSpace(kid), strings.TrimSpace(reason)
	if kid == "" {
		return domain.LabelKeyRevocation{}, domain.FieldError("kid", "name the label key to revoke (cordtrace label-key list shows them)")
	}
	if reason == "" {
		return domain.LabelKeyRevocation{}, domain.FieldError("reason", "a revocation needs a reason (key file copied, printer stolen…)")
	}
	if len(reason) > 500 {
		return domain.LabelKeyRevocation{}, domain.FieldError("reason", "the reason is at most 500 characters")
	}
	var out domain.LabelKeyRevocation
	err := s.write(ctx, actor, func(t *tx) error {
		var key labelKeyRow
		err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("kid = ?", kid).Take(&key).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			return domain.Errorf(domain.ENotFound, "there is no label key %s", kid)
		case err != nil:
			return fmt.Errorf("read label key: %w", err)
		case key.RevokedAt != nil:
			return domain.Errorf(domain.EConflict, "label key %s was already revoked on %s", kid, key.RevokedAt.UTC().Format("2006-01-02 15:04 UTC"))
		}
		out = domain.LabelKeyRevocation{KID: kid, RevokedAt: t.now}
		if key.RetiredAt == nil {
			k, err := generate()
			if err != nil {
				return err
			}
			if err := retireActiveKeys(t, "revocation of "+kid); err != nil {
				return err
			}
			if err := keyRace(createLabelKey(t, k, "revocation of "+kid)); err != nil {
				return err
			}
			out.NewKey = k.KID
		}
		if err := t.db.Model(&labelKeyRow{}).Where("kid = ?", kid).
			Updates(map[string]any{"revoked_at": t.now, "revoke_reason": reason, "private_key": nil}).Error; err != nil {
			return fmt.Errorf("revoke label key %s: %w", kid, err)
		}
		if out.Reprint, err = labelsToReprint(t.db, kid); err != nil {
			return err
		}
		t.audit("label_key.revoke", "label_key", kid, map[string]any{"retired_at": key.RetiredAt},
			map[string]any{"kid": kid, "revoked_at": t.now, "private_key": "destroyed", "labels_to_reprint": len(out.Reprint)}, reason)
		return nil
	})
	if err != nil {
		return domain.LabelKeyRevocation{}, err
	}
	return out, nil
}

// labelsToReprint lists the units and dose bags whose current print key kid signed.
func labelsToReprint(db *gorm.DB, kid string) ([]domain.LabelToReprint, error) {
	var out []domain.LabelToReprint
	err := queryRows(db, `SELECT lp.entity_type, lp.entity_id, COALESCE(b.bag_id, u.unit_id, ''), lp.serial
		FROM label_print_keys lpk
			JOIN label_prints lp ON lp.id = lpk.print_id
			LEFT JOIN dose_bags b ON lp.entity_type = 'dose_bag' AND b.id = lp.entity_id
			LEFT JOIN units u ON lp.entity_type = 'unit' AND u.id = lp.entity_id
		WHERE lpk.kid = ? AND lp.serial = (SELECT MAX(l2.serial) FROM label_prints l2
			WHERE l2.entity_type = lp.entity_type AND l2.entity_id = lp.entity_id)
		ORDER BY lp.entity_type, lp.entity_id`, []any{kid}, func(scan func(...any) error) error {
		var r domain.LabelToReprint
		if err := scan(&r.EntityType, &r.EntityID, &r.Code, &r.Serial); err != nil {
			return fmt.Errorf("read labels to reprint: %w", err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// printKeyColumns and printKeyJoins read, inside a query of an entity's row, key kid and
// whether it signed print serial of the entity's label: entityID is the SQL of the entity's
// id, and the joins take kid, the entity type and serial as arguments. A key that does not
// exist reads as NULLs.
const printKeyColumns = `k.kid, k.retired_at, k.revoked_at, k.revoke_reason, lpk.signed_at`

func printKeyJoins(entityID string) string {
	return `
		LEFT JOIN label_keys k ON k.kid = ?
		LEFT JOIN label_print_keys lpk ON lpk.kid = k.kid AND lpk.print_id = (SELECT lp.id FROM label_prints lp
			WHERE lp.entity_type = ? AND lp.entity_id = ` + entityID + ` AND lp.serial = ?)`
}

// printKeySQL reads key kid and whether it signed print serial of an entity's label; its
// arguments are kid, the entity type, the entity's id and serial.
var printKeySQL = `SELECT ` + printKeyColumns + ` FROM (SELECT 1) one` + printKeyJoins("?")

// printKeyRow holds the printKeyColumns of one row.
type printKeyRow struct {
	kid, revokeReason        sql.NullString
	retired, revoked, signed sql.NullTime
}

func (r *printKeyRow) dest() []any {
	return []any{&r.kid, &r.retired, &r.revoked, &r.revokeReason, &r.signed}
}

// key is what the row says of key kid.
func (r *printKeyRow) key(kid string) domain.PrintKey {
	k := domain.PrintKey{KeyID: kid, Known: r.kid.Valid, RevokeReason: r.revokeReason.String,
		SignedPrint: r.signed.Valid, SignedAt: r.signed.Time}
	if r.retired.Valid {
		k.RetiredAt = &r.retired.Time
	}
	if r.revoked.Valid {
		k.RevokedAt = &r.revoked.Time
	}
	return k
}

// printKey reads what the records say of key kid for print serial of an entity's label.
func printKey(db *gorm.DB, entityType string, entityID, serial int64, kid string) (domain.PrintKey, error) {
	k := domain.PrintKey{KeyID: kid}
	err := queryRows(db, printKeySQL, []any{kid, entityType, entityID, serial}, func(scan func(...any) error) error {
		var r printKeyRow
		if err := scan(r.dest()...); err != nil {
			return fmt.Errorf("read the label's key: %w", err)
		}
		k = r.key(kid)
		return nil
	})
	return k, err
}

// PrintKey is what the records say of key kid for print serial of an entity's label.
func (s *Store) PrintKey(ctx context.Context, entityType string, entityID, serial int64, kid string) (domain.PrintKey, error) {
	k, err := printKey(s.read(ctx), entityType, entityID, serial, kid)
	return k, classify(err)
}
