package store

import (
	"cmp"
	"context"
	"slices"

	"gorm.io/gorm"

	"cordtrace/domain"
)

// OpenDoseOrders lists the dose orders no bag has filled yet, oldest first: the order in which
// the pharmacy should prepare them.
func (s *Store) OpenDoseOrders(ctx context.Context) ([]domain.OrderWaiting, error) {
	db := s.read(ctx)
	var orders []doseOrderRow
	if err := db.Where("status = ?", domain.OrderOpen).Order("ordered_at, id").Find(&orders).Error; err != nil {
		return nil, classify(err)
	}
	subjects, err := subjectIDsOfOrders(db, orders)
	if err != nil {
		return nil, err
	}
	out := make([]domain.OrderWaiting, len(orders))
	for i, o := range orders {
		out[i] = domain.OrderWaiting{DoseOrder: o.toDomain(), SubjectID: subjects[o.PatientID]}
	}
	return out, nil
}

// OpenDoseOrder is the open dose order id, with who it is for.
func (s *Store) OpenDoseOrder(ctx context.Context, id int64) (domain.OrderWaiting, error) {
	db := s.read(ctx)
	var orders []doseOrderRow
	if err := db.Where("id = ? AND status = ?", id, domain.OrderOpen).Limit(1).Find(&orders).Error; err != nil {
		return domain.OrderWaiting{}, classify(err)
	}
	if len(orders) == 0 {
		return domain.OrderWaiting{}, domain.Errorf(domain.ENotFound, "dose order %d is not waiting: a bag has filled it, it was cancelled, or it does not exist", id)
	}
	subjects, err := subjectIDsOfOrders(db, orders)
	if err != nil {
		return domain.OrderWaiting{}, err
	}
	return domain.OrderWaiting{DoseOrder: orders[0].toDomain(), SubjectID: subjects[orders[0].PatientID]}, nil
}

// UngivenDoseBags lists the bags neither infused nor discarded, oldest prepared first.
func (s *Store) UngivenDoseBags(ctx context.Context) ([]domain.BagNotGiven, error) {
	db := s.read(ctx)
	statuses := append(slices.Clone(domain.LiveBagStatuses), domain.BagReturned)
	var bags []doseBagRow
	if err := db.Where("status IN ?", statuses).Order("prepared_at, id").Find(&bags).Error; err != nil {
		return nil, classify(err)
	}
	full, err := bagsOfRows(db, bags)
	if err != nil {
		return nil, err
	}
	patients := make([]int64, len(bags))
	for i, b := range bags {
		patients[i] = b.PatientID
	}
	subjects, err := subjectIDs(db, patients)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(bags))
	for i, b := range bags {
		ids[i] = b.ID
	}
	var prints []labelPrintRow
	if len(ids) > 0 {
		if err := db.Where("entity_type = 'dose_bag' AND entity_id IN ?", ids).Order("serial").Find(&prints).Error; err != nil {
			return nil, classify(err)
		}
	}
	out := make([]domain.BagNotGiven, len(full))
	for i, b := range full {
		out[i] = domain.BagNotGiven{DoseBag: b, SubjectID: subjects[b.PatientID], LabelPrints: []domain.LabelPrint{}}
	}
	for _, p := range prints {
		for i := range out {
			if out[i].ID == p.EntityID {
				out[i].LabelPrints = append(out[i].LabelPrints, domain.LabelPrint{EntityType: p.EntityType, EntityID: p.EntityID,
					Serial: p.Serial, Reason: p.Reason, PrintedAt: p.PrintedAt.UTC(), Copies: p.Copies})
			}
		}
	}
	return out, nil
}

// subjectIDsOfOrders maps the patients of orders to their trial subject ids.
func subjectIDsOfOrders(db *gorm.DB, orders []doseOrderRow) (map[int64]string, error) {
	ids := make([]int64, len(orders))
	for i, o := range orders {
		ids[i] = o.PatientID
	}
	return subjectIDs(db, ids)
}

// subjectIDs maps the patients with ids to their trial subject ids.
func subjectIDs(db *gorm.DB, ids []int64) (map[int64]string, error) {
	var patients []patientRow
	if len(ids) > 0 {
		if err := db.Where("id IN ?", ids).Find(&patients).Error; err != nil {
			return nil, classify(err)
		}
	}
	out := make(map[int64]string, len(patients))
	for _, p := range patients {
		out[p.ID] = p.SubjectID
	}
	return out, nil
}

// AvailableUnits lists the units that may be thawed now, soonest-expiring lot first so that
// the oldest stock is used before it expires.
func (s *Store) AvailableUnits(ctx context.Context) ([]domain.AvailableUnit, error) {
	db := s.read(ctx)
	now := s.now()
	// Whether a lot may be used is domain.LotUsability's to say, for no patient in particular
	// (an exceptional release is for one patient only), so every lot is read and asked: a
	// programme makes a few hundred lots a year, and a filter in the query would be a second
	// copy of the rule.
	var candidates []lotRow
	if err := db.Order("expires_at, id").Find(&candidates).Error; err != nil {
		return nil, classify(err)
	}
	lots := candidates[:0]
	for _, l := range candidates {
		if domain.LotUsability(domain.LotFacts{LotNumber: l.LotNumber, Status: l.Status, ExpiresAt: l.ExpiresAt}, 0, now).Usable {
			lots = append(lots, l)
		}
	}
	if len(lots) == 0 {
		return []domain.AvailableUnit{}, nil
	}
	byID := make(map[int64]lotRow, len(lots))
	ids := make([]int64, len(lots))
	for i, l := range lots {
		byID[l.ID], ids[i] = l, l.ID
	}
	var units []unitRow
	if err := db.Where("lot_id IN ? AND status = ?", ids, domain.UnitAvailable).Order("unit_id").Find(&units).Error; err != nil {
		return nil, classify(err)
	}
	out := make([]domain.AvailableUnit, len(units))
	for i, u := range units {
		l := byID[u.LotID]
		out[i] = domain.AvailableUnit{Unit: u.toDomain(), LotNumber: l.LotNumber, LotExpiresAt: l.ExpiresAt.UTC()}
	}
	// Soonest-expiring lot first (as the lots were read), then by unit id within the lot.
	slices.SortStableFunc(out, func(a, b domain.AvailableUnit) int {
		return cmp.Or(a.LotExpiresAt.Compare(b.LotExpiresAt), cmp.Compare(a.LotID, b.LotID))
	})
	return out, nil
}
