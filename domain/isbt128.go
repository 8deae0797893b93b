package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ISBT 128 identifiers (SPEC §3). They identify products without naming anyone: no name and
// no MRN ever goes into one (21 CFR 1271.290).

const mod37Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"

// Mod37_2 computes the ISO/IEC 7064 Mod 37-2 check character of s (digits and capitals).
// It is printed boxed after an eye-readable id so that a typed id can be checked.
func Mod37_2(s string) (byte, error) {
	p := 0
	for i := 0; i < len(s); i++ {
		v := strings.IndexByte(mod37Alphabet[:36], s[i])
		if v < 0 {
			return 0, FieldError("id", "%q is not a digit or a capital letter", s[i])
		}
		p = ((p + v) * 2) % 37
	}
	return mod37Alphabet[(38-p)%37], nil
}

// ValidateFacilityID checks an ISBT 128 facility identification number: five characters, the
// first A–N, P–Z or 1–9 (never O or 0, which read like each other), then four digits.
func ValidateFacilityID(fin string) error {
	if len(fin) != 5 {
		return FieldError("facility_id", "a facility identification number has 5 characters, not %d", len(fin))
	}
	first := fin[0]
	if !(first >= 'A' && first <= 'Z' && first != 'O' || first >= '1' && first <= '9') {
		return FieldError("facility_id", "the first character must be A–N, P–Z or 1–9 (never O or 0)")
	}
	if !allDigits(fin[1:]) {
		return FieldError("facility_id", "the last four characters must be digits")
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// DIN is an ISBT 128 Donation Identification Number: facility, two-digit year, sequence.
type DIN struct {
	Facility string
	Year     int // 0–99
	Sequence int // 1–999999
}

// NewDIN validates the parts of a DIN.
func NewDIN(facility string, year, seq int) (DIN, error) {
	if err := ValidateFacilityID(facility); err != nil {
		return DIN{}, &Error{Code: EInvalid, Field: "din", Message: "DIN facility: " + ErrorMessage(err)}
	}
	if year < 0 || year > 99 {
		return DIN{}, FieldError("din", "DIN year must be two digits")
	}
	// Sequence 000000 is never issued, so a DIN of zeros is always a misread.
	if seq < 1 || seq > 999999 {
		return DIN{}, FieldError("din", "DIN sequence must be 000001 to 999999")
	}
	return DIN{Facility: facility, Year: year, Sequence: seq}, nil
}

// String is the 13 characters of the DIN, without check character.
func (d DIN) String() string { return fmt.Sprintf("%s%02d%06d", d.Facility, d.Year, d.Sequence) }

// Check is the DIN's keyboard-entry check character.
func (d DIN) Check() byte {
	k, _ := Mod37_2(d.String()) // a valid DIN has only digits and capitals
	return k
}

// EyeReadable is the DIN as printed for people: "A9999 26 000011", followed on labels by the
// boxed check character.
func (d DIN) EyeReadable() string {
	return fmt.Sprintf("%s %02d %06d", d.Facility, d.Year, d.Sequence)
}

// ParseDIN reads a typed or scanned DIN: the 13 characters, or 14 with the check character
// last, which must then be right. Spaces are ignored and letters upper-cased.
func ParseDIN(s string) (DIN, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	if len(s) != 13 && len(s) != 14 {
		return DIN{}, FieldError("din", "a DIN has 13 characters (14 with its check character), not %d", len(s))
	}
	if err := ValidateFacilityID(s[:5]); err != nil {
		return DIN{}, &Error{Code: EInvalid, Field: "din", Message: "DIN facility: " + ErrorMessage(err)}
	}
	if !allDigits(s[5:13]) {
		return DIN{}, FieldError("din", "after the facility, a DIN has 8 digits (year and sequence)")
	}
	year, _ := strconv.Atoi(s[5:7])
	seq, _ := strconv.Atoi(s[7:13])
	d, err := NewDIN(s[:5], year, seq)
	if err != nil {
		return DIN{}, err
	}
	if len(s) == 14 && s[13] != d.Check() {
		return DIN{}, FieldError("din", "check character %c does not match this DIN: one character was mistyped or misread; re-type or re-scan it", s[13])
	}
	return d, nil
}

// DINBarcode is the ISBT 128 data structure 001 carried by a Code 128: "=" + DIN + two flag
// characters. We use flags of type 3, 60 + the check character's value, so that a scanner
// reading the barcode can check the DIN too; the check character itself is never in a barcode.
func (d DIN) DINBarcode() string {
	return fmt.Sprintf("=%s%02d", d.String(), 60+strings.IndexByte(mod37Alphabet, d.Check()))
}

// ParseDINBarcode reads data structure 001. Flags of type 3 must match the DIN's check value.
func ParseDINBarcode(data string) (DIN, error) {
	if len(data) != 16 || data[0] != '=' || data[1] == '<' {
		return DIN{}, FieldError("code", "not an ISBT 128 DIN barcode (= followed by 15 characters)")
	}
	d, err := ParseDIN(data[1:14])
	if err != nil {
		return DIN{}, err
	}
	if !allDigits(data[14:]) {
		return DIN{}, FieldError("code", "the DIN barcode's flag characters must be digits")
	}
	flags, _ := strconv.Atoi(data[14:])
	if flags >= 60 && flags <= 96 && flags-60 != strings.IndexByte(mod37Alphabet, d.Check()) {
		return DIN{}, FieldError("code", "the DIN barcode's check flags do not match its DIN: the barcode is damaged")
	}
	return d, nil
}

// ProductCode is the ISBT 128 product code (data structure 003): product description code,
// type of donation and division.
type ProductCode struct {
	Description string // 5 characters: a capital letter and 4 digits (cellular therapy: S####)
	Donation    byte   // type of donation: a digit or capital letter
	Division    string // 2 characters: "00" undivided, otherwise digits or capital letter + digit
}

// ParseProductCode reads the 8 characters of a product code (without the "=<" of the barcode).
func ParseProductCode(s string) (ProductCode, error) {
	if len(s) != 8 {
		return ProductCode{}, FieldError("product_code", "a product code has 8 characters, not %d", len(s))
	}
	p := ProductCode{Description: s[:5], Donation: s[5], Division: s[6:]}
	return p, p.Validate()
}

// Validate checks each part of the product code.
func (p ProductCode) Validate() error {
	if len(p.Description) != 5 || p.Description[0] < 'A' || p.Description[0] > 'Z' || !allDigits(p.Description[1:]) {
		return FieldError("product_code", "the product description code is a capital letter and 4 digits, such as S1234")
	}
	if !isDigitOrCapital(p.Donation) {
		return FieldError("product_code", "the type of donation is one digit or capital letter")
	}
	if len(p.Division) != 2 || !isDigitOrCapital(p.Division[0]) || p.Division[1] < '0' || p.Division[1] > '9' {
		return FieldError("product_code", "the division is two characters: a digit or capital letter, then a digit")
	}
	return nil
}

func isDigitOrCapital(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' }

func (p ProductCode) String() string {
	return p.Description + string(p.Donation) + p.Division
}

// ProductBarcode is data structure 003 as carried by a Code 128: "=<" + product code.
func (p ProductCode) ProductBarcode() string { return "=<" + p.String() }

// ParseProductBarcode reads data structure 003.
func ParseProductBarcode(data string) (ProductCode, error) {
	code, ok := strings.CutPrefix(data, "=<")
	if !ok {
		return ProductCode{}, FieldError("code", "not an ISBT 128 product code barcode (=< followed by 8 characters)")
	}
	return ParseProductCode(code)
}

// DivisionCode is the division of the nth unit of a lot: 01 to 99.
func DivisionCode(n int) (string, error) {
	if n < 1 || n > 99 {
		return "", FieldError("count", "a lot can be divided into at most 99 units")
	}
	return fmt.Sprintf("%02d", n), nil
}

// UnitID identifies one unit (or dose bag): the DIN it came from and its product code.
type UnitID struct {
	DIN     DIN
	Product ProductCode
}

// String is the 21-character id: DIN, product description, type of donation, division.
func (u UnitID) String() string { return u.DIN.String() + u.Product.String() }

// Check is the check character over the whole id, so that a typed unit or bag id is checked
// in every character, not only in its DIN.
func (u UnitID) Check() byte {
	k, _ := Mod37_2(u.String())
	return k
}

// EyeReadable is the id as people read it: "A9999 26 000011 S1234 0 01".
func (u UnitID) EyeReadable() string {
	return fmt.Sprintf("%s %s %c %s", u.DIN.EyeReadable(), u.Product.Description, u.Product.Donation, u.Product.Division)
}

// ParseUnitID reads a 21-character unit id, or 22 with its check character last (which must
// then be right), as typed when a label cannot be scanned. Spaces are ignored.
func ParseUnitID(s string) (UnitID, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	if len(s) != 21 && len(s) != 22 {
		return UnitID{}, FieldError("unit_id", "a unit or bag id has 21 characters (22 with its check character), not %d", len(s))
	}
	d, err := ParseDIN(s[:13])
	if err != nil {
		return UnitID{}, err
	}
	p, err := ParseProductCode(s[13:21])
	if err != nil {
		return UnitID{}, err
	}
	u := UnitID{DIN: d, Product: p}
	if len(s) == 22 && s[21] != u.Check() {
		return UnitID{}, FieldError("unit_id", "check character %c does not match this id: one character was mistyped; type the id again", s[21])
	}
	return u, nil
}

// ExpiryBarcode is data structure 005, expiration date and time: "&>" + cyyjjjhhmm, in the
// site's local time. c is the century counted from 2000 (0 for 2000–2099), yy the year in it,
// jjj the day of the year.
func ExpiryBarcode(t time.Time, site *time.Location) string {
	l := t.In(site)
	return fmt.Sprintf("&>%d%02d%03d%02d%02d", (l.Year()-2000)/100, l.Year()%100, l.YearDay(), l.Hour(), l.Minute())
}

// ParseExpiryBarcode reads data structure 005 in the site's time zone.
func ParseExpiryBarcode(data string, site *time.Location) (time.Time, error) {
	v, ok := strings.CutPrefix(data, "&>")
	if !ok || len(v) != 10 || !allDigits(v) {
		return time.Time{}, FieldError("code", "not an ISBT 128 expiry barcode (&> followed by 10 digits)")
	}
	n := func(a, b int) int { x, _ := strconv.Atoi(v[a:b]); return x }
	year := 2000 + n(0, 1)*100 + n(1, 3)
	day, hour, minute := n(3, 6), n(6, 8), n(8, 10)
	days := 365
	if time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC).YearDay() == 366 {
		days = 366
	}
	if day < 1 || day > days || hour > 23 || minute > 59 {
		return time.Time{}, FieldError("code", "the expiry barcode holds an impossible date or time")
	}
	return time.Date(year, 1, day, hour, minute, 0, 0, site), nil
}

// ChainOfIdentity is the per-patient id of data structure 040, printed on the patient's labels
// and records so that product and patient are tied without the name.
type ChainOfIdentity struct {
	Facility string
	Year     int
	Sequence int
}

// String is "&/CH" + facility + year + sequence, e.g. &/CHA999926000007.
func (c ChainOfIdentity) String() string {
	return fmt.Sprintf("&/CH%s%02d%06d", c.Facility, c.Year, c.Sequence)
}

// ParseChainOfIdentity reads the data structure.
func ParseChainOfIdentity(s string) (ChainOfIdentity, error) {
	v, ok := strings.CutPrefix(s, "&/CH")
	if !ok || len(v) != 13 || !allDigits(v[5:]) {
		return ChainOfIdentity{}, FieldError("chain_of_identity", "a chain of identity id is &/CH, a facility id and 8 digits")
	}
	if err := ValidateFacilityID(v[:5]); err != nil {
		return ChainOfIdentity{}, err
	}
	year, _ := strconv.Atoi(v[5:7])
	seq, _ := strconv.Atoi(v[7:])
	if seq < 1 {
		return ChainOfIdentity{}, FieldError("chain_of_identity", "the sequence must not be zero")
	}
	return ChainOfIdentity{Facility: v[:5], Year: year, Sequence: seq}, nil
}
