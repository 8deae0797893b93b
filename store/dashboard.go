package store

import (
	"context"
	"sort"
	"strings"
	"time"

	"cordtrace/domain"
)

// The dashboards' aggregates. Counting is done by the database where both dialects say it the
// same way (GROUP BY); bucketing times into days and weeks is done here, in the site's time
// zone, because SQLite keeps times as text and the two dialects truncate dates differently.

// LotOverview counts lots per status and lists the lots in quarantine. A lot's updated_at
// is set when it enters quarantine and nothing changes it while it stays there.
func (s *Store) LotOverview(ctx context.Context) (domain.LotOverview, error) {
	db := s.read(ctx)
	var counts []struct {
		Status string
		Lots   int
	}
	if err := db.Model(&lotRow{}).Select("status, COUNT(*) AS lots").Group("status").Scan(&counts).Error; err != nil {
		return domain.LotOverview{}, classify(err)
	}
	byStatus := map[string]int{}
	for _, c := range counts {
		byStatus[c.Status] = c.Lots
	}
	out := domain.LotOverview{ByStatus: make([]domain.LotStatusCount, len(domain.LotStatuses)), Quarantined: []domain.QuarantinedLot{}}
	for i, st := range domain.LotStatuses {
		out.ByStatus[i] = domain.LotStatusCount{Status: st, Lots: byStatus[string(st)]}
	}
	var lots []lotRow
	if err := db.Where("status = ?", domain.LotQuarantine).Order("updated_at, id").Find(&lots).Error; err != nil {
		return domain.LotOverview{}, classify(err)
	}
	now := s.now()
	for _, l := range lots {
		since := l.UpdatedAt.UTC()
		out.Quarantined = append(out.Quarantined, domain.QuarantinedLot{LotID: l.ID, LotNumber: l.LotNumber, Since: since,
			Days: max(0, now.Sub(since).Hours()/24)})
	}
	return out, nil
}

// QCTrend lists each lot's effective viability and BV2 inhibition results since a time.
func (s *Store) QCTrend(ctx context.Context, since time.Time) (domain.QCTrend, error) {
	spec, err := s.CurrentSpec(ctx)
	if err != nil {
		return domain.QCTrend{}, err
	}
	db := s.read(ctx)
	var rows []qcResultRow
	// A result some later row corrects is superseded; an invalid BV2 run has no inhibition.
	if err := db.Where("test IN ? AND entered_at >= ?", []string{string(domain.TestViability), string(domain.TestBV2Potency)}, since.UTC()).
		Where("id NOT IN (SELECT corrects_id FROM qc_results WHERE corrects_id IS NOT NULL)").
		Order("entered_at, id").Find(&rows).Error; err != nil {
		return domain.QCTrend{}, classify(err)
	}
	numbers, err := s.lotNumbers(ctx, rows)
	if err != nil {
		return domain.QCTrend{}, err
	}
	out := domain.QCTrend{SpecVersion: spec.Version, MinViabilityPct: spec.MinViabilityPct, MinInhibitionPct: spec.MinInhibitionPct,
		Viability: []domain.QCTrendPoint{}, Inhibition: []domain.QCTrendPoint{}}
	for _, r := range rows {
		p := domain.QCTrendPoint{LotID: r.LotID, LotNumber: numbers[r.LotID], EnteredAt: r.EnteredAt.UTC()}
		switch {
		case r.Test == string(domain.TestViability) && r.Value != nil:
			p.Value = *r.Value
			out.Viability = append(out.Viability, p)
		case r.Test == string(domain.TestBV2Potency) && r.Valid != nil && *r.Valid && r.InhibitionPct != nil:
			p.Value = *r.InhibitionPct
			out.Inhibition = append(out.Inhibition, p)
		}
	}
	return out, nil
}

func (s *Store) lotNumbers(ctx context.Context, rows []qcResultRow) (map[int64]string, error) {
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.LotID)
	}
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var lots []lotRow
	if err := s.read(ctx).Where("id IN ?", ids).Find(&lots).Error; err != nil {
		return nil, classify(err)
	}
	for _, l := range lots {
		out[l.ID] = l.LotNumber
	}
	return out, nil
}

// ExpiringUnits lists the lots that may still be used and expire within the horizon, with
// their units not yet used.
func (s *Store) ExpiringUnits(ctx context.Context, within time.Duration) ([]domain.ExpiringLot, error) {
	db := s.read(ctx)
	now := s.now()
	usable := []string{string(domain.LotInProcess), string(domain.LotQuarantine), string(domain.LotReleased), string(domain.LotOnHold)}
	var lots []lotRow
	if err := db.Where("status IN ? AND expires_at > ? AND expires_at <= ?", usable, now, now.Add(within)).
		Order("expires_at, id").Find(&lots).Error; err != nil {
		return nil, classify(err)
	}
	out := []domain.ExpiringLot{}
	if len(lots) == 0 {
		return out, nil
	}
	ids := make([]int64, len(lots))
	for i, l := range lots {
		ids[i] = l.ID
	}
	var counts []struct {
		LotID  int64
		Status string
		Units  int
	}
	if err := db.Model(&unitRow{}).Select("lot_id, status, COUNT(*) AS units").
		Where("lot_id IN ? AND status IN ?", ids, []string{string(domain.UnitAvailable), string(domain.UnitAllocated)}).
		Group("lot_id, status").Scan(&counts).Error; err != nil {
		return nil, classify(err)
	}
	type pair struct{ available, allocated int }
	units := map[int64]pair{}
	for _, c := range counts {
		p := units[c.LotID]
		if c.Status == string(domain.UnitAvailable) {
			p.available += c.Units
		} else {
			p.allocated += c.Units
		}
		units[c.LotID] = p
	}
	for _, l := range lots {
		p := units[l.ID]
		if p.available+p.allocated == 0 {
			continue // nothing left to lose
		}
		out = append(out, domain.ExpiringLot{LotID: l.ID, LotNumber: l.LotNumber, Status: domain.LotStatus(l.Status), ExpiresAt: l.ExpiresAt.UTC(),
			DaysLeft: l.ExpiresAt.Sub(now).Hours() / 24, Available: p.available, Allocated: p.allocated})
	}
	return out, nil
}

// BagsInTransit lists the bags that left the pharmacy and are not infused, returned or
// discarded, with the time of their accepted dispatch scan.
func (s *Store) BagsInTransit(ctx context.Context) ([]domain.BagInTransit, error) {
	db := s.read(ctx)
	var bags []doseBagRow
	out := []domain.BagInTransit{}
	if err := db.Where("status IN ?", []string{string(domain.BagDispatched), string(domain.BagReceived), string(domain.BagVerified)}).
		Order("id").Find(&bags).Error; err != nil {
		return nil, classify(err)
	}
	if len(bags) == 0 {
		return out, nil
	}
	ids := make([]int64, len(bags))
	lotIDs := make([]int64, len(bags))
	for i, b := range bags {
		ids[i], lotIDs[i] = b.ID, b.LotID
	}
	var scans []custodyScanRow
	if err := db.Where("dose_bag_id IN ? AND accepted = ?", ids, true).Order("id").Find(&scans).Error; err != nil {
		return nil, classify(err)
	}
	var lots []lotRow
	if err := db.Where("id IN ?", lotIDs).Find(&lots).Error; err != nil {
		return nil, classify(err)
	}
	numbers := map[int64]string{}
	for _, l := range lots {
		numbers[l.ID] = l.LotNumber
	}
	dispatched, location := map[int64]time.Time{}, map[int64]string{}
	for _, sc := range scans { // in order, so the last accepted scan names where the bag is
		if sc.DoseBagID == nil {
			continue
		}
		if sc.Kind == domain.ScanDispatch {
			dispatched[*sc.DoseBagID] = sc.ScannedAt.UTC()
		}
		location[*sc.DoseBagID] = sc.Location
	}
	now := s.now()
	for _, b := range bags {
		at := dispatched[b.ID]
		out = append(out, domain.BagInTransit{BagID: b.BagID, LotNumber: numbers[b.LotID], Status: domain.DoseBagStatus(b.Status),
			Location: location[b.ID], DispatchedAt: at, Hours: max(0, now.Sub(at).Hours()), ExpiresAt: b.ExpiresAt.UTC()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DispatchedAt.Before(out[j].DispatchedAt) })
	return out, nil
}

// ScanCompliance buckets the bedside verifications per ward and period.
func (s *Store) ScanCompliance(ctx context.Context, since time.Time, p domain.Period) ([]domain.ComplianceBucket, error) {
	loc := s.opts.Site
	from := p.Start(since, loc)
	var rows []verificationRow
	if err := s.read(ctx).Select("ward, code_kind, pass, failed, verified_at, wristband_entry, code_entry, entry_reason").Where("verified_at >= ?", from.UTC()).
		Order("verified_at, id").Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	type key struct {
		ward  string
		start int64
	}
	buckets := map[key]*domain.ComplianceBucket{}
	for _, r := range rows {
		ward := strings.TrimSpace(r.Ward)
		if ward == "" {
			ward = domain.NoWard
		}
		start := p.Start(r.VerifiedAt, loc)
		k := key{ward, start.Unix()}
		b := buckets[k]
		if b == nil {
			b = &domain.ComplianceBucket{Ward: ward, Start: start, StopsByCheck: map[string]int{}, EntryReasons: map[string]int{}}
			buckets[k] = b
		}
		b.Verifications++
		if r.Pass {
			b.Passes++
		} else {
			b.Stops++
			for _, code := range strings.Split(r.Failed, ",") {
				if code = strings.TrimSpace(code); code != "" {
					b.StopsByCheck[code]++
				}
			}
		}
		if r.WristbandEntry == domain.EntryTyped || r.CodeEntry == domain.EntryTyped {
			b.Typed++
		}
		if r.EntryReason != "" {
			b.EntryReasons[r.EntryReason]++
		}
		switch r.CodeKind {
		case domain.CodeQR:
			b.QR++
		case domain.CodeISBT:
			b.ISBT++
		case domain.CodeManual:
			b.Manual++
		default:
			b.Unknown++
		}
	}
	out := make([]domain.ComplianceBucket, 0, len(buckets))
	for _, b := range buckets {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ward != out[j].Ward {
			return out[i].Ward < out[j].Ward
		}
		return out[i].Start.Before(out[j].Start)
	})
	return out, nil
}
