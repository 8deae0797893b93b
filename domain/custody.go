package domain

import (
	"context"
	"math"
	"strings"
	"time"
)

// Custody scan kinds (SPEC §12).
const (
	ScanDispatch = "dispatch"
	ScanReceive  = "receive"
)

// How a scanned code was read. Manual entries are reported per ward, because typing around a
// scanner is the known failure of barcode administration (SPEC §7).
const (
	CodeQR      = "qr"
	CodeISBT    = "isbt"
	CodeManual  = "manual"
	CodeUnknown = "unknown"
)

// CustodyScan is one scan of a dose bag as the label layer read it.
type CustodyScan struct {
	Kind     string
	Code     string
	CodeKind string
	// BagID is the 21-character bag id the code names, "" when it names none.
	BagID string
	// PrintSerial is the label print the code came from; 0 when the code carries none.
	PrintSerial int64
	// MRN is the patient MRN the signed QR carries; "" for other codes.
	MRN string
	// KeyID is the key that signed the QR; "" for other codes.
	KeyID string
	// LabelRefusal says why the label layer refused the code (forged, altered, unknown key…).
	LabelRefusal string
	Location     string
	TemperatureC *float64
	// Entry tells how the page got the code (Entry*); empty when the client does not say.
	Entry string
}

// Validate checks the fields a person or scanner sent.
func (s CustodyScan) Validate() error {
	if strings.TrimSpace(s.Code) == "" {
		return FieldError("code", "scan the bag's code (or type its id with the check character)")
	}
	if len(s.Code) > 1024 {
		return FieldError("code", "the scanned code is too long to be a label")
	}
	if l := strings.TrimSpace(s.Location); l == "" || len(l) > 100 {
		return FieldError("to", "say where the bag goes (a ward or location, at most 100 characters)")
	}
	if s.TemperatureC == nil {
		return FieldError("temperature_c", "record the transport temperature in °C")
	}
	if t := *s.TemperatureC; math.IsNaN(t) || t < -90 || t > 60 {
		return FieldError("temperature_c", "the temperature must be a reading in °C between -90 and 60")
	}
	return ValidateEntry("entry", s.Entry)
}

// Excursion reports whether a transport temperature is outside the specification's range.
func Excursion(spec ReleaseSpec, c float64) bool {
	return c < spec.TransportMinC || c > spec.TransportMaxC
}

// CustodyEvent is a recorded scan.
type CustodyEvent struct {
	ID           int64         `json:"id"`
	Kind         string        `json:"kind"`
	DoseBagID    int64         `json:"dose_bag_id,omitempty"`
	BagID        string        `json:"bag_id,omitempty"`
	CodeKind     string        `json:"code_kind"`
	Location     string        `json:"location"`
	TemperatureC *float64      `json:"temperature_c,omitempty"`
	Excursion    bool          `json:"excursion"`
	Accepted     bool          `json:"accepted"`
	Refusal      string        `json:"refusal,omitempty"`
	BagStatus    DoseBagStatus `json:"bag_status,omitempty"`
	ScannedAt    time.Time     `json:"scanned_at"`
	Entry        string        `json:"entry,omitempty"` // how the code was entered (Entry*), when said
}

// CustodyService records custody scans.
type CustodyService interface {
	// RecordScan stores the scan whatever its outcome. A refused scan is stored and then
	// returned as an error: ERuleViolated (label, lot or expiry), EConflict (bag state) or
	// ENotFound (no such bag).
	RecordScan(ctx context.Context, actor Actor, s CustodyScan) (CustodyEvent, error)
}
