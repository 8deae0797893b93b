package domain

// ValidateFacilityID checks an ISBT 128 facility identification number (SPEC §3): five
// characters, the first A–N, P–Z or 1–9 (never O or 0, which read like each other), then four
// digits.
func ValidateFacilityID(fin string) error {
	if len(fin) != 5 {
		return FieldError("facility_id", "a facility identification number has 5 characters, not %d", len(fin))
	}
	first := fin[0]
	if !(first >= 'A' && first <= 'Z' && first != 'O' || first >= '1' && first <= '9') {
		return FieldError("facility_id", "the first character must be A–N, P–Z or 1–9 (never O or 0)")
	}
	for _, c := range fin[1:] {
		if c < '0' || c > '9' {
			return FieldError("facility_id", "the last four characters must be digits")
		}
	}
	return nil
}
