package store

import (
	"encoding/json"
	"time"

	"cordtrace/domain"
)

type dinSequenceRow struct {
	Facility string `gorm:"primaryKey"`
	Year     int    `gorm:"primaryKey;autoIncrement:false"`
	LastSeq  int
}

func (dinSequenceRow) TableName() string { return "din_sequences" }

type donationRow struct {
	ID          int64 `gorm:"primaryKey"`
	DIN         string
	CollectedAt time.Time
	Eligibility string
	CreatedBy   int64
	CreatedAt   time.Time
}

func (donationRow) TableName() string { return "donations" }

func (r donationRow) toDomain() domain.Donation {
	d, _ := domain.ParseDIN(r.DIN)
	return domain.Donation{ID: r.ID, DIN: r.DIN, Check: string(d.Check()), EyeReadable: d.EyeReadable(),
		CollectedAt: r.CollectedAt.UTC(), Eligibility: domain.Eligibility(r.Eligibility), CreatedAt: r.CreatedAt.UTC()}
}

type specVersionRow struct {
	Version     int `gorm:"primaryKey;autoIncrement:false"`
	Spec        string
	CreatedBy   *int64
	PrintedName string
	Meaning     string
	CreatedAt   time.Time
	// A physician's co-signature; with it (or for versions signed before co-signatures) the
	// version is in force from EffectiveAt.
	CosignedBy          *int64
	CosignerPrintedName string
	CosignMeaning       string
	EffectiveAt         *time.Time
}

func (specVersionRow) TableName() string { return "spec_versions" }

func (r specVersionRow) toDomain(spec domain.ReleaseSpec) domain.SpecVersion {
	v := domain.SpecVersion{Spec: spec, PrintedName: r.PrintedName, Meaning: r.Meaning, CreatedAt: r.CreatedAt.UTC(),
		Status: domain.SpecProposed, CosignerPrintedName: r.CosignerPrintedName, CosignMeaning: r.CosignMeaning}
	if r.EffectiveAt != nil {
		at := r.EffectiveAt.UTC()
		v.Status, v.EffectiveAt = domain.SpecInForce, &at
	}
	return v
}

type lotRow struct {
	ID             int64 `gorm:"primaryKey"`
	LotNumber      string
	DonationID     int64
	Status         string
	ManufacturedAt time.Time
	ExpiresAt      time.Time
	CreatedBy      int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (lotRow) TableName() string { return "lots" }

func (r lotRow) toDomain(din string) domain.Lot {
	return domain.Lot{ID: r.ID, LotNumber: r.LotNumber, DonationID: r.DonationID, DIN: din,
		Status: domain.LotStatus(r.Status), ManufacturedAt: r.ManufacturedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type qcResultRow struct {
	ID            int64 `gorm:"primaryKey"`
	LotID         int64
	Test          string
	Value         *float64
	Result        string
	Markers       string
	Analyte       string
	Baseline      string
	LPS           string `gorm:"column:lps"`
	Treated       string
	Valid         *bool
	InhibitionPct *float64
	InvalidReason string
	CorrectsID    *int64
	Reason        string
	EnteredBy     int64
	EnteredAt     time.Time
}

func (qcResultRow) TableName() string { return "qc_results" }

// Raw replicates and markers are kept as JSON text: they are read and written whole, never
// queried by element.
func jsonText(v any) string {
	switch x := v.(type) {
	case []float64:
		if len(x) == 0 {
			return ""
		}
	case map[string]float64:
		if len(x) == 0 {
			return ""
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func qcRowFrom(r domain.QCResult) qcResultRow {
	return qcResultRow{ID: r.ID, LotID: r.LotID, Test: string(r.Test), Value: r.Value, Result: r.Result,
		Markers: jsonText(r.Markers), Analyte: r.Analyte, Baseline: jsonText(r.Baseline), LPS: jsonText(r.LPS),
		Treated: jsonText(r.Treated), Valid: r.Valid, InhibitionPct: r.InhibitionPct, InvalidReason: r.InvalidReason, CorrectsID: r.Corrects,
		Reason: r.Reason, EnteredBy: r.EnteredBy, EnteredAt: r.EnteredAt}
}

func (r qcResultRow) toDomain() domain.QCResult {
	out := domain.QCResult{ID: r.ID, LotID: r.LotID, Test: domain.QCTest(r.Test), Value: r.Value, Result: r.Result,
		Analyte: r.Analyte, Valid: r.Valid, InhibitionPct: r.InhibitionPct, InvalidReason: r.InvalidReason, Corrects: r.CorrectsID, Reason: r.Reason,
		EnteredBy: r.EnteredBy, EnteredAt: r.EnteredAt.UTC()}
	for _, f := range []struct {
		text string
		into any
	}{{r.Markers, &out.Markers}, {r.Baseline, &out.Baseline}, {r.LPS, &out.LPS}, {r.Treated, &out.Treated}} {
		if f.text != "" {
			json.Unmarshal([]byte(f.text), f.into)
		}
	}
	return out
}

type qcInvestigationRow struct {
	ID           int64 `gorm:"primaryKey"`
	LotID        int64
	Test         string
	ResultID     int64
	Status       string
	OpenedAt     time.Time
	Conclusion   string
	Reason       string
	ClosedBy     *int64
	PrintedName  string
	Meaning      string
	ClosedAt     *time.Time
	LastResultID *int64
}

func (qcInvestigationRow) TableName() string { return "qc_investigations" }

func (r qcInvestigationRow) toDomain() domain.Investigation {
	inv := domain.Investigation{ID: r.ID, LotID: r.LotID, Test: domain.QCTest(r.Test), ResultID: r.ResultID, Status: r.Status,
		OpenedAt: r.OpenedAt.UTC(), Conclusion: r.Conclusion, Reason: r.Reason, SignedBy: r.PrintedName, Meaning: r.Meaning}
	if r.ClosedBy != nil {
		inv.ClosedBy = *r.ClosedBy
	}
	if r.ClosedAt != nil {
		at := r.ClosedAt.UTC()
		inv.ClosedAt = &at
	}
	if r.LastResultID != nil {
		inv.LastResultID = *r.LastResultID
	}
	return inv
}

type signatureRow struct {
	ID             int64 `gorm:"primaryKey"`
	LotID          int64
	Action         string
	UserID         int64
	PrintedName    string
	Role           string
	Meaning        string
	Reason         string
	SpecVersion    *int
	EvaluationHash string
	PatientID      *int64
	SignedAt       time.Time
}

func (signatureRow) TableName() string { return "signatures" }

func (r signatureRow) toDomain() domain.Signature {
	s := domain.Signature{ID: r.ID, LotID: r.LotID, Action: domain.SignatureAction(r.Action), UserID: r.UserID,
		PrintedName: r.PrintedName, Role: domain.Role(r.Role), Meaning: r.Meaning, Reason: r.Reason,
		EvaluationHash: r.EvaluationHash, SignedAt: r.SignedAt.UTC()}
	if r.SpecVersion != nil {
		s.SpecVersion = *r.SpecVersion
	}
	if r.PatientID != nil {
		s.PatientID = *r.PatientID
	}
	return s
}

type unitRow struct {
	ID          int64 `gorm:"primaryKey"`
	LotID       int64
	UnitID      string
	Division    int
	ViableCells int64
	VolumeML    float64 `gorm:"column:volume_ml"`
	Status      string
	CreatedAt   time.Time
}

func (unitRow) TableName() string { return "units" }

func (r unitRow) toDomain() domain.Unit {
	u, _ := domain.ParseUnitID(r.UnitID)
	return domain.Unit{ID: r.ID, LotID: r.LotID, UnitID: r.UnitID, Check: string(u.Check()), EyeReadable: u.EyeReadable(),
		Division: r.Division, ViableCells: r.ViableCells, VolumeML: r.VolumeML, Status: domain.UnitStatus(r.Status),
		CreatedAt: r.CreatedAt.UTC()}
}
