package labels

// An ISBT 128 parser written for the tests from the tables of ST-001 v6.2.2 (Table 2, the
// index of data structures; §2.4.1, 2.4.3, 2.4.5, 2.4.23, 2.4.32, 2.4.40; Tables 3 and 7;
// Appendix A for the check character). It shares no code with cordtrace's own parser in
// domain/isbt128.go, so that a label both accept is read the same by two readers built apart.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// refStructure is one data structure as the reference parser reads it: its number in Table 2
// and its fields by the letters ST-001 gives them.
type refStructure struct {
	Number string // "001", "003", …
	Text   string // data identifier and content
	Fields map[string]string
}

// refIndex is the part of ST-001 Table 2 (RT003) that the labels use, and the structures
// ST-017's compound message example holds: data identifier, structure number, content length.
var refIndex = []struct {
	di     string
	number string
	length int
}{
	{"=+", "023", 5},  // Compound Message, aabbb
	{"=<", "003", 8},  // Product Code, αooootds
	{"=,", "032", 6},  // Product Divisions, dddddd
	{"=>", "004", 6},  // Expiration Date, cyyjjj
	{"&>", "005", 10}, // Expiration Date and Time, cyyjjjhhmm
	{"=/", "034", 16}, // Processor Product Identification Code, nnnnnppppppqqqqq
	{"&/", "040", 15}, // Chain of Identity Identifier, CHαppppyynnnnnn
}

const (
	refFINFirst = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789" // α of a FIN: A–N, P–Z, 1–9
	refFINNext  = "ABCDEFGHIJKLMNPQRSTUVWXYZ0123456789"
	refDigits   = "0123456789"
	refAlnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	refLower    = "abcdefghijklmnopqrstuvwxyz"
	refUpper    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	// ST-001 Table 7 (RT008), type of collection, in the table's order.
	refTable7 = "0VRSTPrsA1XDd2LEQ3456FC78BHJG"
)

func refAll(s, set string) bool {
	for _, c := range s {
		if !strings.ContainsRune(set, c) {
			return false
		}
	}
	return true
}

// refMod37 is ISO/IEC 7064 Mod 37-2 as ST-001 Appendix A computes it: each character's value
// (0–9, then A–Z as 10–35) added to the running sum, doubled, reduced mod 37; the check value
// is (38 − sum) mod 37, written 0–9, A–Z or * for 36.
func refMod37(s string) (byte, int) {
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		v := int(c - '0')
		if c >= 'A' && c <= 'Z' {
			v = int(c-'A') + 10
		}
		sum = (sum + v) * 2 % 37
	}
	k := (38 - sum) % 37
	return "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"[k], k
}

// refParse reads one scanned symbol: a single data structure, or a compound message whose
// structures it splits by Table 2 and checks against the header's count.
func refParse(symbol string) ([]refStructure, error) {
	var out []refStructure
	rest := symbol
	for rest != "" {
		s, n, err := refOne(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		rest = rest[n:]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty symbol")
	}
	if out[0].Number == "023" {
		count, _ := strconv.Atoi(out[0].Fields["aa"])
		if count != len(out)-1 {
			return nil, fmt.Errorf("compound message says %d structures, holds %d", count, len(out)-1)
		}
		for _, s := range out[1:] {
			if s.Number == "023" {
				return nil, fmt.Errorf("a compound message inside a compound message")
			}
		}
	} else if len(out) > 1 {
		return nil, fmt.Errorf("%d data structures one after another without a compound message (023)", len(out))
	}
	return out, refCrossCheck(out)
}

// refOne reads the data structure at the start of s and returns how many characters it took.
func refOne(s string) (refStructure, int, error) {
	if len(s) < 2 {
		return refStructure{}, 0, fmt.Errorf("%q is too short for a data identifier", s)
	}
	// 001: "=" and α, the only identifier whose second character is content (§2.4.1).
	if s[0] == '=' && strings.IndexByte(refFINFirst, s[1]) >= 0 {
		if len(s) < 16 {
			return refStructure{}, 0, fmt.Errorf("DIN cut short: %q", s)
		}
		st, err := refDIN(s[1:16])
		st.Text = s[:16]
		return st, 16, err
	}
	for _, e := range refIndex {
		if !strings.HasPrefix(s, e.di) {
			continue
		}
		n := len(e.di) + e.length
		if len(s) < n {
			return refStructure{}, 0, fmt.Errorf("data structure %s cut short: %q", e.number, s)
		}
		content := s[len(e.di):n]
		var st refStructure
		var err error
		switch e.number {
		case "023":
			st, err = refFields("023", content, []refField{{"aa", 2, refDigits}, {"bbb", 3, refDigits}})
		case "003":
			st, err = refProduct(content)
		case "032":
			st, err = refFields("032", content, []refField{{"dddddd", 6, refAlnum}})
		case "004":
			st, err = refDate("004", content, false)
		case "005":
			st, err = refDate("005", content, true)
		case "034":
			st, err = refFields("034", content, []refField{{"nnnnn", 5, refFINNext}, {"pppppp", 6, refAlnum}, {"qqqqq", 5, refAlnum}})
		case "040":
			st, err = refCoI(content)
		}
		st.Text = s[:n]
		return st, n, err
	}
	return refStructure{}, 0, fmt.Errorf("no ISBT 128 data structure starts %q", s[:2])
}

type refField struct {
	name   string
	length int
	set    string
}

func refFields(number, content string, fields []refField) (refStructure, error) {
	st := refStructure{Number: number, Fields: map[string]string{}}
	at := 0
	for _, f := range fields {
		v := content[at : at+f.length]
		if !refAll(v, f.set) {
			return st, fmt.Errorf("%s: field %s %q has characters outside %q", number, f.name, v, f.set)
		}
		st.Fields[f.name] = v
		at += f.length
	}
	return st, nil
}

// refDIN: αppppyynnnnnnff (§2.4.1); flags by Table 3, 60–96 being 60 + the check value.
func refDIN(c string) (refStructure, error) {
	st := refStructure{Number: "001", Fields: map[string]string{}}
	if strings.IndexByte(refFINFirst, c[0]) < 0 || !refAll(c[1:3], refFINNext) || !refAll(c[3:5], refDigits) {
		return st, fmt.Errorf("001: FIN %q", c[:5])
	}
	if !refAll(c[5:13], refDigits) {
		return st, fmt.Errorf("001: year and sequence %q are not digits", c[5:13])
	}
	st.Fields["fin"], st.Fields["yy"], st.Fields["nnnnnn"], st.Fields["ff"] = c[:5], c[5:7], c[7:13], c[13:15]
	ff, err := strconv.Atoi(c[13:15])
	if err != nil {
		return st, fmt.Errorf("001: flags %q are not a value of Table 3 in use", c[13:15])
	}
	if ff >= 60 && ff <= 96 {
		if _, k := refMod37(c[:13]); ff != 60+k {
			return st, fmt.Errorf("001: check flags %02d, want %d", ff, 60+k)
		}
	} else if ff > 19 && ff < 60 || ff > 96 {
		return st, fmt.Errorf("001: flags %02d are local or reserved", ff)
	}
	k, _ := refMod37(c[:13])
	st.Fields["K"] = string(k)
	return st, nil
}

// refProduct: αooootds (§2.4.3). For α E, F, H, S, P, X0 or YA–YZ, t is a Table 7 type of
// collection and ds a division (d a capital, s a lower-case letter, 00 undivided, 99 with
// 032); for M, N, R, T, V, W, tds is a three-digit pack code.
func refProduct(c string) (refStructure, error) {
	st := refStructure{Number: "003", Fields: map[string]string{"pdc": c[:5], "t": c[5:6], "ds": c[6:8], "tds": c[5:8]}}
	alpha := c[0]
	if !refAll(c[:1], refUpper) || !refAll(c[1:5], refAlnum) {
		return st, fmt.Errorf("003: product description code %q", c[:5])
	}
	switch {
	case strings.IndexByte("EFHSP", alpha) >= 0 || c[:2] == "X0" || alpha == 'Y' && refAll(c[1:2], refUpper):
		if alpha == 'Y' && !refAll(c[2:5], refDigits) {
			return st, fmt.Errorf("003: clinical-trial code %q is YA–YZ and 3 digits", c[:5])
		}
		if strings.IndexByte(refTable7, c[5]) < 0 {
			return st, fmt.Errorf("003: type of collection %q is not in Table 7", c[5:6])
		}
		d, s := c[6], c[7]
		ok := c[6:8] == "00" || c[6:8] == "99" || strings.IndexByte(refUpper, d) >= 0 && (s == '0' || strings.IndexByte(refLower, s) >= 0)
		if !ok {
			return st, fmt.Errorf("003: division %q", c[6:8])
		}
		st.Fields["family"] = "t+ds"
	case strings.IndexByte("MNRTVW", alpha) >= 0:
		if !refAll(c[5:8], refDigits) {
			return st, fmt.Errorf("003: pack code %q is three digits", c[5:8])
		}
		st.Fields["family"] = "tds"
	default:
		return st, fmt.Errorf("003: product family %q is not read here", c[:2])
	}
	return st, nil
}

// refDate: cyyjjj or cyyjjjhhmm (§2.4.4, 2.4.5); the ordinal day must exist in that year.
func refDate(number, c string, withTime bool) (refStructure, error) {
	st := refStructure{Number: number, Fields: map[string]string{}}
	if !refAll(c, refDigits) {
		return st, fmt.Errorf("%s: %q is not digits", number, c)
	}
	year := 2000 + int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0')
	day, _ := strconv.Atoi(c[3:6])
	last := 365
	if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		last = 366
	}
	if day < 1 || day > last {
		return st, fmt.Errorf("%s: day %d of %d", number, day, year)
	}
	st.Fields["year"], st.Fields["jjj"] = strconv.Itoa(year), c[3:6]
	if withTime {
		h, _ := strconv.Atoi(c[6:8])
		m, _ := strconv.Atoi(c[8:10])
		if h > 23 || m > 59 {
			return st, fmt.Errorf("%s: time %s", number, c[6:10])
		}
		st.Fields["hhmm"] = c[6:10]
	}
	return st, nil
}

// refCoI: CHαppppyynnnnnn (§2.4.40); the sequence may hold letters.
func refCoI(c string) (refStructure, error) {
	st := refStructure{Number: "040", Fields: map[string]string{}}
	if c[:2] != "CH" || strings.IndexByte(refFINFirst, c[2]) < 0 || !refAll(c[3:5], refFINNext) || !refAll(c[5:7], refDigits) ||
		!refAll(c[7:9], refDigits) || !refAll(c[9:15], refAlnum) {
		return st, fmt.Errorf("040: %q", c)
	}
	st.Fields["fin"], st.Fields["yy"], st.Fields["nnnnnn"] = c[2:7], c[7:9], c[9:15]
	k, _ := refMod37(c)
	st.Fields["K"] = string(k)
	return st, nil
}

// refCrossCheck applies the rules between structures of one message: a product code with
// division 99 needs 032 (§2.4.32), and 032 goes with 003 only then, for S or P codes.
func refCrossCheck(all []refStructure) error {
	var product, divisions *refStructure
	for i := range all {
		switch all[i].Number {
		case "003":
			product = &all[i]
		case "032":
			divisions = &all[i]
		}
	}
	if product != nil && product.Fields["ds"] == "99" && product.Fields["family"] == "t+ds" && divisions == nil && len(all) > 1 {
		return fmt.Errorf("product code with division 99 but no Product Divisions (032) in the message")
	}
	if product != nil && divisions != nil {
		if product.Fields["ds"] != "99" || !strings.ContainsAny(product.Fields["pdc"][:1], "SP") {
			return fmt.Errorf("Product Divisions (032) with product code %s", product.Text)
		}
	}
	return nil
}

// refTime is the local time of a 005 structure in the site's zone.
func refTime(s refStructure, site *time.Location) time.Time {
	y, _ := strconv.Atoi(s.Fields["year"])
	d, _ := strconv.Atoi(s.Fields["jjj"])
	h, _ := strconv.Atoi(s.Fields["hhmm"][:2])
	m, _ := strconv.Atoi(s.Fields["hhmm"][2:])
	return time.Date(y, 1, d, h, m, 0, 0, site)
}
