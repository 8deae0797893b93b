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

// ProductCode is the ISBT 128 product code (data structure 003, ST-001 §2.4.3): product
// description code, type of collection and division.
type ProductCode struct {
	Description string // 5 characters: a capital letter and 4 digits, or YA–YZ and 3 digits
	Donation    byte   // type of collection t, a value of ST-001 Table 7 (V: volunteer, allogeneic)
	Division    string // ds: "00", A0…Z0, Aa…Zz, or "99" when data structure 032 carries it
}

// CollectionTypes are the values of the type of collection t (ST-001 Table 7, RT008). Upper
// and lower case differ in meaning (R volunteer research, r paid research).
const CollectionTypes = "0VRSTPrsA1XDd2LEQ3456FC78BHJG"

// DefaultCollectionType is V, volunteer homologous (allogeneic): a cord donated for others.
const DefaultCollectionType = 'V'

// ValidateCollectionType checks t against ST-001 Table 7.
func ValidateCollectionType(t byte) error {
	if t == 0 || strings.IndexByte(CollectionTypes, t) < 0 {
		return FieldError("product_code", "the type of collection %q is not in ISBT 128 Table 7 (use one of %s; V for a volunteer allogeneic donation)", string(t), CollectionTypes)
	}
	return nil
}

// ValidateProductDescription checks a product description code of a family whose product code
// carries a type of collection and a division code (ST-001 §2.4.3): E, F, H, S or P and four
// digits (S1234 for cellular therapy), X0 and three digits, or one of ICCBBA's clinical-trial
// codes, YA to YZ and three digits (YA123). Other families (T tissue, M, N, R, V, W) end in a
// three-digit pack code that cordtrace's units do not use.
func ValidateProductDescription(d string) error {
	ok := len(d) == 5 && (strings.IndexByte("EFHSP", d[0]) >= 0 && allDigits(d[1:]) ||
		d[0] == 'X' && d[1] == '0' && allDigits(d[2:]) ||
		d[0] == 'Y' && d[1] >= 'A' && d[1] <= 'Z' && allDigits(d[2:]))
	if !ok {
		return FieldError("product_code", "the product description code is E, F, H, S or P and 4 digits (such as S1234), X0 and 3 digits, or a clinical-trial code YA–YZ and 3 digits (such as YA123)")
	}
	return nil
}

// DivisionsFollow is the division code that says "see data structure 032 (Product Divisions)".
const DivisionsFollow = "99"

// ValidateDivision checks a division code ds (ST-001 §2.4.3): 00 undivided, A0…Z0 for the
// first level, Aa…Zz for their subdivisions (a capital, then a lower-case letter), or 99 when
// data structure 032 carries the division.
func ValidateDivision(ds string) error {
	if len(ds) == 2 && allDigits(ds) && ds != "00" && ds != DivisionsFollow {
		return FieldError("product_code", "division %s is in the old numeric form; ISBT 128 divisions are 00, A0…Z0, Aa…Zz, or 99 with a Product Divisions code (=,) — reprint the label", ds)
	}
	ok := ds == "00" || ds == DivisionsFollow ||
		len(ds) == 2 && ds[0] >= 'A' && ds[0] <= 'Z' && (ds[1] == '0' || ds[1] >= 'a' && ds[1] <= 'z')
	if !ok {
		return FieldError("product_code", "the division %q must be 00, A0…Z0, Aa…Zz (a capital, then a lower-case letter) or 99", ds)
	}
	return nil
}

// ParseProductCode reads the 8 characters of a product code (without the "=<" of the barcode).
// Case matters: the type of collection and the division's second letter may be lower case.
func ParseProductCode(s string) (ProductCode, error) {
	if len(s) != 8 {
		return ProductCode{}, FieldError("product_code", "a product code has 8 characters, not %d", len(s))
	}
	p := ProductCode{Description: s[:5], Donation: s[5], Division: s[6:]}
	return p, p.Validate()
}

// Validate checks each part of the product code.
func (p ProductCode) Validate() error {
	if err := ValidateProductDescription(p.Description); err != nil {
		return err
	}
	if err := ValidateCollectionType(p.Donation); err != nil {
		return err
	}
	return ValidateDivision(p.Division)
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

// ValidateProductDivisions checks the 6 characters of data structure 032 (ST-001 §2.4.32):
// capitals and digits, never all zeros.
func ValidateProductDivisions(d string) error {
	if len(d) != 6 {
		return FieldError("product_divisions", "a Product Divisions code has 6 characters, not %d", len(d))
	}
	for i := 0; i < len(d); i++ {
		if !isDigitOrCapital(d[i]) {
			return FieldError("product_divisions", "a Product Divisions code has only capital letters and digits")
		}
	}
	if d == "000000" {
		return FieldError("product_divisions", "the Product Divisions code 000000 names no division")
	}
	return nil
}

// DivisionsBarcode is data structure 032, Product Divisions: "=," + 6 characters.
func DivisionsBarcode(d string) string { return "=," + d }

// ParseDivisionsBarcode reads data structure 032.
func ParseDivisionsBarcode(data string) (string, error) {
	d, ok := strings.CutPrefix(data, "=,")
	if !ok || len(d) != 6 {
		return "", FieldError("code", "not an ISBT 128 Product Divisions barcode (=, followed by 6 characters)")
	}
	return d, ValidateProductDivisions(d)
}

// MaxLetterDivisions is how many units a lot can hold with first-level divisions A0…Z0.
const MaxLetterDivisions = 26

// MaxUnitsPerLot bounds the units of one lot: 032 could count further, no lot is that large.
const MaxUnitsPerLot = 999

// UnitDivision is the division of the nth unit of a lot that will hold total units (SPEC §3):
// A0…Z0 while the lot holds at most 26 units; past that, 99 in the product code and the
// unit's number in data structure 032 ("000027"), which is then part of the unit's id.
// Units already labelled keep their ids, so a lot that grows past 26 has letter divisions
// for its first units and 032 numbers, counted on from them, for the rest.
func UnitDivision(n, total int) (division, productDivisions string, err error) {
	if n < 1 || n > total || total > MaxUnitsPerLot {
		return "", "", FieldError("count", "a lot can be divided into at most %d units", MaxUnitsPerLot)
	}
	if total <= MaxLetterDivisions {
		return string(rune('A'+n-1)) + "0", "", nil
	}
	return DivisionsFollow, fmt.Sprintf("%06d", n), nil
}

// UnitID identifies one unit (or dose bag): the DIN it came from, its product code and, when
// the product code's division is 99, its Product Divisions code (data structure 032).
//
// The stored id is DIN + product code + 032 (21 characters, or 27 with 032): with 99 every unit
// of the lot has the same 8-character product code, and ST-001 makes 032 part of the product's
// unique identity, so only the three together are unique, and a database key, a QR payload and a
// typed id then name exactly one unit. A 21-character id never ends in 99, so the two lengths
// can never be read one for the other.
type UnitID struct {
	DIN       DIN
	Product   ProductCode
	Divisions string // data structure 032, 6 characters; only with division 99
}

// Validate checks that 032 is present exactly when the division says so.
func (u UnitID) Validate() error {
	if u.Product.Division == DivisionsFollow {
		if u.Divisions == "" {
			return FieldError("unit_id", "division 99 means \"see Product Divisions\": scan or type the Product Divisions code (=,) too")
		}
		return ValidateProductDivisions(u.Divisions)
	}
	if u.Divisions != "" {
		return FieldError("unit_id", "a Product Divisions code (=,) goes only with division 99, not %s", u.Product.Division)
	}
	return nil
}

// String is the id: DIN, product description, type of collection, division, then 032 if any.
func (u UnitID) String() string { return u.DIN.String() + u.Product.String() + u.Divisions }

// Check is the check character over the whole id, so that a typed unit or bag id is checked
// in every character, not only in its DIN. Mod 37-2 knows only capitals (which is why ST-001
// gives the product code no check character), so it is computed over the id in capitals: the
// case of a division letter is fixed by its position, and the type of collection is the
// site's one configured value.
func (u UnitID) Check() byte {
	k, _ := Mod37_2(strings.ToUpper(u.String()))
	return k
}

// EyeReadable is the id as people read it: "A9999 26 000011 S1234 V A0", with 032 after a
// division of 99: "A9999 26 000011 S1234 V 99 000027".
func (u UnitID) EyeReadable() string {
	s := fmt.Sprintf("%s %s %c %s", u.DIN.EyeReadable(), u.Product.Description, u.Product.Donation, u.Product.Division)
	if u.Divisions != "" {
		s += " " + u.Divisions
	}
	return s
}

// ParseUnitID reads a unit or bag id: 21 characters, or 27 with a Product Divisions code,
// each with one more when the check character is typed last (which must then be right), as
// typed when a label cannot be scanned. Spaces are ignored. The DIN, the product description
// and 032 are read in capitals and the division's second letter in lower case, whatever was
// typed; the type of collection keeps its case unless only the other case is in Table 7.
func ParseUnitID(s string) (UnitID, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	var n int
	switch len(s) {
	case 21, 22:
		n = 21
	case 27, 28:
		n = 27
	default:
		return UnitID{}, FieldError("unit_id", "a unit or bag id has 21 characters, or 27 with a Product Divisions code (one more with its check character), not %d", len(s))
	}
	d, err := ParseDIN(s[:13])
	if err != nil {
		return UnitID{}, err
	}
	p, err := ParseProductCode(normalizeProductCode(s[13:21]))
	if err != nil {
		return UnitID{}, err
	}
	u := UnitID{DIN: d, Product: p}
	if n == 27 {
		u.Divisions = strings.ToUpper(s[21:27])
	}
	if err := u.Validate(); err != nil {
		return UnitID{}, err
	}
	if len(s) == n+1 && strings.ToUpper(s[n:]) != string(u.Check()) {
		return UnitID{}, FieldError("unit_id", "check character %c does not match this id: one character was mistyped; type the id again", s[n])
	}
	return u, nil
}

// normalizeProductCode puts a typed product code in the case ST-001 fixes: the description in
// capitals, the division a capital then a lower-case letter (or a digit).
func normalizeProductCode(s string) string {
	b := []byte(s)
	for i := 0; i < 5; i++ {
		b[i] = upper(b[i])
	}
	if t := b[5]; strings.IndexByte(CollectionTypes, t) < 0 {
		if strings.IndexByte(CollectionTypes, upper(t)) >= 0 {
			b[5] = upper(t)
		} else if strings.IndexByte(CollectionTypes, lower(t)) >= 0 {
			b[5] = lower(t)
		}
	}
	b[6] = upper(b[6])
	if b[6] != '9' || b[7] != '9' {
		b[7] = lower(b[7])
	}
	return string(b)
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c - 'A' + 'a'
	}
	return c
}

// Barcodes are the ISBT 128 data structures that name the unit, each for its own Code 128:
// the DIN (001), the product code (003) and, with division 99, Product Divisions (032).
func (u UnitID) Barcodes() []string {
	out := []string{u.DIN.DINBarcode(), u.Product.ProductBarcode()}
	if u.Divisions != "" {
		out = append(out, DivisionsBarcode(u.Divisions))
	}
	return out
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

// ChainOfIdentity is the per-patient id of data structure 040 (ST-001 §2.4.40), printed on
// the patient's labels and records so that product and patient are tied without the name.
type ChainOfIdentity struct {
	Facility string
	Year     int
	Sequence string // 6 characters, capitals and digits
}

// NewChainOfIdentity is the chain of identity id numbered n (1–999999) by a facility in a year.
func NewChainOfIdentity(facility string, year int, n int64) ChainOfIdentity {
	return ChainOfIdentity{Facility: facility, Year: year, Sequence: fmt.Sprintf("%06d", n)}
}

// String is the data structure: "&/CH" + facility + year + sequence, e.g. &/CHA999926000007.
func (c ChainOfIdentity) String() string {
	return "&/" + c.content()
}

func (c ChainOfIdentity) content() string {
	return fmt.Sprintf("CH%s%02d%s", c.Facility, c.Year, c.Sequence)
}

// Check is the keyboard-entry check character ST-001 requires for data structure 040 (Table
// 30): ISO/IEC 7064 Mod 37-2, as for the DIN, over the 15 characters of the data content
// ("CH", facility, year, sequence). It is printed boxed after the eye-readable id, never in a
// barcode.
func (c ChainOfIdentity) Check() byte {
	k, _ := Mod37_2(c.content())
	return k
}

// EyeReadable is the id as people read it: "CH A9999 26 000007", followed by the boxed check
// character.
func (c ChainOfIdentity) EyeReadable() string {
	return fmt.Sprintf("CH %s %02d %s", c.Facility, c.Year, c.Sequence)
}

// ParseChainOfIdentity reads the data structure, "&/CH" and 13 characters, or the 15
// characters of its content as typed ("CH…"), either with its check character last (which
// must then be right). The sequence may hold capitals as well as digits.
func ParseChainOfIdentity(s string) (ChainOfIdentity, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	v, ok := strings.CutPrefix(s, "&/CH")
	if !ok {
		v, ok = strings.CutPrefix(s, "CH")
	}
	if !ok || len(v) != 13 && len(v) != 14 || !allDigits(v[5:7]) {
		return ChainOfIdentity{}, FieldError("chain_of_identity", "a chain of identity id is &/CH, a facility id, 2 digits of year and 6 letters or digits (and its check character)")
	}
	if err := ValidateFacilityID(v[:5]); err != nil {
		return ChainOfIdentity{}, &Error{Code: EInvalid, Field: "chain_of_identity", Message: "chain of identity facility: " + ErrorMessage(err)}
	}
	seq := v[7:13]
	for i := 0; i < len(seq); i++ {
		if !isDigitOrCapital(seq[i]) {
			return ChainOfIdentity{}, FieldError("chain_of_identity", "the sequence has 6 capital letters or digits")
		}
	}
	if seq == "000000" {
		return ChainOfIdentity{}, FieldError("chain_of_identity", "the sequence must not be zero")
	}
	year, _ := strconv.Atoi(v[5:7])
	c := ChainOfIdentity{Facility: v[:5], Year: year, Sequence: seq}
	if len(v) == 14 && v[13] != c.Check() {
		return ChainOfIdentity{}, FieldError("chain_of_identity", "check character %c does not match this chain of identity id: one character was mistyped; type it again", v[13])
	}
	return c, nil
}

// CompoundMessage is data structure 023 (ST-001 §2.4.23) with the structures that follow it:
// "=+", how many structures (two digits), "000" for an undefined sequence, then the
// structures with nothing between them. It is the content of a label's DataMatrix.
func CompoundMessage(structures ...string) string {
	return fmt.Sprintf("=+%02d000", len(structures)) + strings.Join(structures, "")
}

// isbtLengths is the full length (data identifier and content) of each data structure a
// cordtrace label carries, by data identifier (ST-001 Table 2).
var isbtLengths = map[string]int{"=<": 10, "=,": 8, "&>": 12, "&/": 17, "=>": 8, "=/": 18}

func isbtStructureLength(rest string) (int, bool) {
	if len(rest) >= 2 && rest[0] == '=' && rest[1] != '0' && rest[1] != 'O' && isDigitOrCapital(rest[1]) {
		return 16, true // 001, DIN: = and 15 characters, the first of them part of the identifier
	}
	if len(rest) < 2 {
		return 0, false
	}
	n, ok := isbtLengths[rest[:2]]
	return n, ok
}

// ParseCompoundMessage splits a compound message into its data structures and checks their
// count. Structures whose length cordtrace does not know are refused by their identifier.
func ParseCompoundMessage(msg string) ([]string, error) {
	head, ok := strings.CutPrefix(msg, "=+")
	if !ok {
		return nil, FieldError("code", "not an ISBT 128 compound message (it starts with =+)")
	}
	if len(head) < 5 || !allDigits(head[:5]) {
		return nil, FieldError("code", "the compound message header is =+ followed by 5 digits (count and sequence)")
	}
	count, _ := strconv.Atoi(head[:2])
	if head[2:5] != "000" {
		return nil, FieldError("code", "compound message sequence %s is a specified order cordtrace does not use; its labels use 000", head[2:5])
	}
	rest := head[5:]
	var out []string
	for rest != "" {
		n, ok := isbtStructureLength(rest)
		if !ok {
			return nil, FieldError("code", "the compound message holds a data structure (%.2q) that cordtrace does not read", rest)
		}
		if len(rest) < n {
			return nil, FieldError("code", "the compound message is cut short inside its data structure %.2q", rest)
		}
		out = append(out, rest[:n])
		rest = rest[n:]
	}
	if len(out) != count {
		return nil, FieldError("code", "the compound message says %d data structures but holds %d: the symbol is damaged or incomplete", count, len(out))
	}
	return out, nil
}

// LabelMessage is what a label's DataMatrix says: the unit or bag, its expiry (data structure
// 005, as printed) and, on a dose bag, the patient's chain of identity.
type LabelMessage struct {
	Unit            UnitID
	ExpiryBarcode   string
	ChainOfIdentity *ChainOfIdentity
}

// ReadLabelMessage reads a scanned DataMatrix: a compound message holding the DIN (001), the
// product code (003), Product Divisions (032) when the division is 99, the expiry (005) and
// optionally a chain of identity (040). Data structures one after another without the
// compound message header are the form of older labels and are refused.
func ReadLabelMessage(msg string) (LabelMessage, error) {
	if !strings.HasPrefix(msg, "=+") {
		if len(msg) > 16 && strings.HasPrefix(msg, "=") {
			return LabelMessage{}, FieldError("code", "this DataMatrix holds ISBT 128 data structures without the compound message header (=+): it is an old label; reprint the label and scan the new one")
		}
		return LabelMessage{}, FieldError("code", "not an ISBT 128 compound message (it starts with =+)")
	}
	parts, err := ParseCompoundMessage(msg)
	if err != nil {
		return LabelMessage{}, err
	}
	var m LabelMessage
	var haveDIN, haveProduct bool
	seen := map[string]bool{}
	for _, p := range parts {
		kind := p[:2]
		if p[1] != '<' && p[1] != ',' && p[0] == '=' && isDigitOrCapital(p[1]) {
			kind = "=" // every DIN shares one identifier
		}
		if seen[kind] {
			return LabelMessage{}, FieldError("code", "the compound message holds the data structure %q twice: it names no single unit", kind)
		}
		seen[kind] = true
		switch {
		case p[1] == '<':
			if m.Unit.Product, err = ParseProductBarcode(p); err != nil {
				return LabelMessage{}, err
			}
			haveProduct = true
		case p[1] == ',':
			if m.Unit.Divisions, err = ParseDivisionsBarcode(p); err != nil {
				return LabelMessage{}, err
			}
		case p[:2] == "&>":
			m.ExpiryBarcode = p
		case p[:2] == "=>", p[:2] == "=/":
			// Expiry date without time, processor product code: not on cordtrace's labels.
		case p[:2] == "&/":
			c, err := ParseChainOfIdentity(p)
			if err != nil {
				return LabelMessage{}, err
			}
			m.ChainOfIdentity = &c
		default:
			if m.Unit.DIN, err = ParseDINBarcode(p); err != nil {
				return LabelMessage{}, err
			}
			haveDIN = true
		}
	}
	if !haveDIN || !haveProduct {
		return LabelMessage{}, FieldError("code", "the compound message must hold the DIN (=) and the product code (=<) to name a unit or bag")
	}
	if err := m.Unit.Validate(); err != nil {
		return LabelMessage{}, err
	}
	return m, nil
}
