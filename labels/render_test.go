package labels

import (
	"bytes"
	"crypto/ed25519"
	"flag"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"

	"cordtrace/domain"
	"github.com/makiuchi-d/gozxing"
	zxdatamatrix "github.com/makiuchi-d/gozxing/datamatrix"
	"github.com/makiuchi-d/gozxing/oned"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/image/font"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// renderSigner signs the sample labels with a fixed key, so the golden files stay stable.
var renderSigner = func() *Signer {
	s, err := NewSigner("k2026a", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		panic(err)
	}
	return s
}()

func renderKeys() *KeyRing {
	var r KeyRing
	r.Add(renderSigner.KeyID(), renderSigner.PublicKey())
	return &r
}

func signed(p Payload) string {
	code, err := renderSigner.Sign(p)
	if err != nil {
		panic(err)
	}
	return code
}

// The sample unit is the 27th of a lot of 30: division 99 and its Product Divisions code.
var (
	sampleDIN, _    = domain.ParseDIN("A999926000011")
	sampleUnitID    = domain.UnitID{DIN: sampleDIN, Product: domain.ProductCode{Description: "S1234", Donation: 'V', Division: "99"}, Divisions: "000027"}
	sampleBagID     = domain.UnitID{DIN: sampleDIN, Product: domain.ProductCode{Description: "S1234", Donation: 'V', Division: "Aa"}}
	sampleChainID   = domain.NewChainOfIdentity("A9999", 26, 7)
	sampleUnitExpAt = time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)
	sampleBagExpAt  = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

func sampleUnit() Content {
	c := Content{
		ProductName:   "HUC-MSC — umbilical cord mesenchymal stem cells",
		EyeReadableID: sampleUnitID.EyeReadable(),
		Check:         string(sampleUnitID.Check()),
		LotNumber:     "LOT-2026-001",
		ViableCells:   100_000_000,
		VolumeML:      50,
		Storage:       "below -150 °C (vapour-phase nitrogen)",
		Expiry:        sampleUnitExpAt,
		Site:          shanghai,
		QR: signed(Payload{Kind: KindUnit, ID: sampleUnitID.String(), ViableCells: 100_000_000,
			Expiry: sampleUnitExpAt, PrintSerial: 1}),
	}
	c.SetISBT(sampleUnitID, domain.ExpiryBarcode(sampleUnitExpAt, shanghai), nil)
	return c
}

func sampleBag() Content {
	c := sampleUnit()
	c.EyeReadableID, c.Check = sampleBagID.EyeReadable(), string(sampleBagID.Check())
	c.QR = signed(Payload{Kind: KindDoseBag, ID: sampleBagID.String(), MRN: "0012345678", ViableCells: 70_000_000,
		Expiry: sampleBagExpAt, PrintSerial: 1})
	c.Storage = "2–8 °C"
	c.ViableCells = 70_000_000
	c.VolumeML = 35
	c.Expiry = sampleBagExpAt
	c.Patient = &PatientBlock{
		Name: "Li Wei", MRN: "0012345678", DateOfBirth: "1960-05-01", SubjectID: "SVP-007",
		ChainOfIdentity: sampleChainID.String(), WeightKg: 70, DosePerKg: 1e6,
		PreparedAt: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC),
	}
	c.SetISBT(sampleBagID, domain.ExpiryBarcode(sampleBagExpAt, shanghai), &sampleChainID)
	return c
}

func decodePNG(t *testing.T, b []byte) *image.Gray {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, image.Point{}, draw.Src)
	return g
}

// region cuts a symbol's box out of the label, with a white quiet zone around it as a scanner
// would see it on the bag.
func region(img *image.Gray, e Element) image.Image {
	pad := mmToPx(3, PNGDPI)
	r := image.Rect(mmToPx(e.X, PNGDPI), mmToPx(e.Y, PNGDPI), mmToPx(e.X+e.W, PNGDPI), mmToPx(e.Y+e.H, PNGDPI))
	out := image.NewGray(image.Rect(0, 0, r.Dx()+2*pad, r.Dy()+2*pad))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(out, r.Sub(r.Min).Add(image.Pt(pad, pad)), img, r.Min, draw.Src)
	return out
}

func decodeSymbol(t *testing.T, kind ElementKind, img image.Image) string {
	t.Helper()
	text, err := readSymbol(kind, img)
	if err != nil {
		t.Fatalf("decode symbol %d: %v", kind, err)
	}
	return text
}

func readSymbol(kind ElementKind, img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	var reader gozxing.Reader
	switch kind {
	case ElemQR:
		reader = zxqr.NewQRCodeReader()
	case ElemCode128:
		reader = oned.NewCode128Reader()
	case ElemDataMatrix:
		reader = zxdatamatrix.NewDataMatrixReader()
	}
	res, err := reader.Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil && kind != ElemCode128 {
		// As a hand scanner tries more than one way, read the 2-D symbol again as the only
		// thing in its box: gozxing's finder occasionally misjudges a QR's version.
		res, err = reader.Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	}
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// Every symbol on every label kind, drawn into the PNG, reads back to exactly its data.
func TestPNGSymbolsScan(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Layout
	}{{"unit", UnitLayout(sampleUnit())}, {"dose bag", DoseBagLayout(sampleBag())}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := PNG(tc.l)
			if err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, b)
			if img.Bounds().Dx() != 1200 || img.Bounds().Dy() != 1200 {
				t.Fatalf("size %v, want 1200×1200 (4 in at 300 dpi)", img.Bounds())
			}
			symbols := 0
			for _, e := range tc.l.Elements {
				if e.Kind == ElemText || e.Kind == ElemBox {
					continue
				}
				symbols++
				got := decodeSymbol(t, e.Kind, region(img, e))
				if got != e.Text {
					t.Errorf("symbol reads %q, want %q", got, e.Text)
				}
				if e.Kind == ElemCode128 {
					checkISBT(t, got)
				}
			}
			want := 5 // QR, three Code 128, DataMatrix
			if tc.name == "unit" {
				want = 6 // and the Product Divisions Code 128
			}
			if symbols != want {
				t.Fatalf("%d symbols on the label, want %d", symbols, want)
			}
			// The QR is also found on the whole label, as a phone camera would see it, and what
			// it reads carries a valid signature.
			got := decodeSymbol(t, ElemQR, img)
			if got != findKind(tc.l, ElemQR).Text {
				t.Errorf("QR on the whole label reads %q", got)
			}
			if p, err := Verify(got, renderKeys()); err != nil || p.ViableCells == 0 {
				t.Errorf("scanned QR does not verify: %v", err)
			}
		})
	}
}

// checkISBT reads a scanned Code 128 back into the ISBT 128 data structure it carries.
func checkISBT(t *testing.T, data string) {
	t.Helper()
	var err error
	switch {
	case strings.HasPrefix(data, "=<"):
		_, err = domain.ParseProductBarcode(data)
	case strings.HasPrefix(data, "=,"):
		_, err = domain.ParseDivisionsBarcode(data)
	case strings.HasPrefix(data, "="):
		var d domain.DIN
		if d, err = domain.ParseDINBarcode(data); err == nil && d.String() != "A999926000011" {
			t.Errorf("DIN barcode reads DIN %s", d)
		}
	case strings.HasPrefix(data, "&>"):
		var at time.Time
		if at, err = domain.ParseExpiryBarcode(data, shanghai); err == nil && at.Year() != 2027 && at.Year() != 2026 {
			t.Errorf("expiry barcode reads %v", at)
		}
	default:
		t.Errorf("Code 128 %q is no ISBT 128 data structure", data)
	}
	if err != nil {
		t.Errorf("Code 128 %q does not parse: %v", data, err)
	}
}

func findKind(l Layout, k ElementKind) Element {
	for _, e := range l.Elements {
		if e.Kind == k {
			return e
		}
	}
	return Element{}
}

func TestLabelsShowWhatSpecRequires(t *testing.T) {
	unit := strings.Join(UnitLayout(sampleUnit()).Texts(), "\n")
	bag := strings.Join(DoseBagLayout(sampleBag()).Texts(), "\n")
	common := []string{"HUC-MSC", "A9999 26 000011 S1234 V", "LOT-2026-001", "CAUTION: New Drug — Limited by Federal (or United States) law", "to investigational use."}
	for _, want := range append(common, "1.00×10^8", "50.0 mL", "below -150 °C", "EXPIRES 2027-05-01 08:00 CST") {
		if !strings.Contains(unit, want) {
			t.Errorf("unit label lacks %q", want)
		}
	}
	for _, want := range append(common, "PATIENT Li Wei", "MRN 0012345678", "DOB 1960-05-01", "Subject SVP-007",
		"Weight used 70.0 kg   Dose 1.00×10^6 cells/kg", "Total viable cells 7.00×10^7   Volume 35.0 mL", "Transport 2–8 °C",
		"Prepared 2026-11-25 16:00 CST", "EXPIRES 2026-11-25 20:00 CST", "Do not irradiate",
		"Do not use a leukocyte-reduction filter", "Chain of identity CH A9999 26 000007") {
		if !strings.Contains(bag, want) {
			t.Errorf("dose-bag label lacks %q", want)
		}
	}
}

func TestPDFCarriesTextAndSheets(t *testing.T) {
	var b bytes.Buffer
	layouts := []Layout{UnitLayout(sampleUnit()), DoseBagLayout(sampleBag()), UnitLayout(sampleUnit())}
	if err := RenderPDF(&b, layouts...); err != nil {
		t.Fatal(err)
	}
	r, err := pdf.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatalf("PDF does not parse: %v", err)
	}
	if r.NumPage() != 3 {
		t.Fatalf("pages = %d, want one per label", r.NumPage())
	}
	text, err := r.Page(2).GetPlainText(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Li Wei", "0012345678", "Do not irradiate", "investigational use", "LOT-2026-001", "°C", "×10^7"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF page 2 text lacks %q:\n%s", want, text)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./labels -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./labels -update and review the diff.\n got:\n%s", name, got)
	}
}

func TestZPLGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Layout
		dpi  int
	}{
		{"unit-203.zpl", UnitLayout(sampleUnit()), ZPL203},
		{"unit-300.zpl", UnitLayout(sampleUnit()), ZPL300},
		{"dosebag-203.zpl", DoseBagLayout(sampleBag()), ZPL203},
		{"dosebag-300.zpl", DoseBagLayout(sampleBag()), ZPL300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := RenderZPL(&b, tc.l, tc.dpi); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
	if err := RenderZPL(&bytes.Buffer{}, UnitLayout(sampleUnit()), 600); err == nil {
		t.Error("600 dpi accepted")
	}
}

func TestZPLFieldDataCannotInjectCommands(t *testing.T) {
	c := sampleBag()
	c.Patient.Name = "Evil^XZ~JA\\name"
	var b bytes.Buffer
	if err := RenderZPL(&b, DoseBagLayout(c), ZPL203); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Count(out, "^XZ") != 1 || strings.Contains(out, "~JA") {
		t.Fatalf("field data reached the printer as commands:\n%s", out)
	}
	if !strings.Contains(out, `^FH\^FDPATIENT Evil\5EXZ\7EJA\5Cname^FS`) {
		t.Fatalf("escaped field missing:\n%s", out)
	}
}

func BenchmarkPNGLabel(b *testing.B) {
	l := DoseBagLayout(sampleBag())
	for b.Loop() {
		if _, err := PNG(l); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkZPLLabel(b *testing.B) {
	l := DoseBagLayout(sampleBag())
	for b.Loop() {
		if err := RenderZPL(&bytes.Buffer{}, l, ZPL300); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPDFSheet100(b *testing.B) {
	layouts := make([]Layout, 100)
	for i := range layouts {
		layouts[i] = UnitLayout(sampleUnit())
	}
	for b.Loop() {
		if err := RenderPDF(&bytes.Buffer{}, layouts...); err != nil {
			b.Fatal(err)
		}
	}
}

// textRect is the box a text element covers when drawn, in millimetres.
func textRect(t *testing.T, e Element) (x0, y0, x1, y1 float64) {
	f, err := face(e.H, e.Bold, PNGDPI)
	if err != nil {
		t.Fatal(err)
	}
	lf := f.(*lockedFace)
	lf.Lock()
	defer lf.Unlock()
	w := float64(font.MeasureString(lf.Face, e.Text).Round()) / PNGDPI * 25.4
	m := lf.Face.Metrics()
	asc := float64(m.Ascent.Round()) / PNGDPI * 25.4
	desc := float64(m.Descent.Round()) / PNGDPI * 25.4
	return e.X, e.Y - asc, e.X + w, e.Y + desc
}

// No text runs into a symbol or its quiet zone, and nothing leaves the label: a scanner
// cannot read a barcode with words printed over it.
func TestLayoutsKeepSymbolsClear(t *testing.T) {
	const quiet = 2.0 // mm around each symbol
	long := sampleBag()
	long.Patient.Name = "Maximilian Alexander Wolfeschlegel"
	long.LotNumber = "LOT-2026-0001-ABCDEFGH"
	huge := sampleBag()
	huge.Patient.Name = strings.Repeat("Wolfeschlegelsteinhausen ", 8)
	huge.LotNumber = strings.Repeat("L", 40)
	huge.Storage = "2–8 °C"
	// Whatever else is cut to fit, the dose-critical values are printed whole.
	hugeText := strings.Join(DoseBagLayout(huge).Texts(), "\n")
	for _, want := range []string{"Weight used 70.0 kg", "Total viable cells 7.00×10^7", "Volume 35.0 mL", "MRN 0012345678", "EXPIRES 2026-11-25 20:00 CST"} {
		if !strings.Contains(hugeText, want) {
			t.Errorf("with long values the label lost %q", want)
		}
	}
	for _, tc := range []struct {
		name string
		l    Layout
	}{{"unit", UnitLayout(sampleUnit())}, {"dose bag", DoseBagLayout(sampleBag())}, {"dose bag, long values", DoseBagLayout(long)}, {"dose bag, huge values", DoseBagLayout(huge)},
		{"unit, huge values", UnitLayout(huge)}} {
		for _, e := range tc.l.Elements {
			var x0, y0, x1, y1 float64
			if e.Kind == ElemText {
				x0, y0, x1, y1 = textRect(t, e)
			} else {
				x0, y0, x1, y1 = e.X, e.Y, e.X+e.W, e.Y+e.H
			}
			if x0 < 0 || y0 < 0 || x1 > WidthMM || y1 > HeightMM {
				t.Errorf("%s: %q leaves the label (%.1f,%.1f)-(%.1f,%.1f)", tc.name, e.Text, x0, y0, x1, y1)
			}
			if e.Kind != ElemText {
				continue
			}
			for _, s := range tc.l.Elements {
				if s.Kind == ElemText || s.Kind == ElemBox {
					continue
				}
				if x0 < s.X+s.W+quiet && x1 > s.X-quiet && y0 < s.Y+s.H+quiet && y1 > s.Y-quiet {
					t.Errorf("%s: text %q overlaps the symbol at (%.0f,%.0f)", tc.name, e.Text, s.X, s.Y)
				}
			}
		}
	}
}

// The PDF's vector symbols scan once printed: rasterize the page as a printer would (at 300
// dpi, with poppler's pdftoppm) and decode every symbol.
func TestPDFSymbolsScan(t *testing.T) {
	bin, err := exec.LookPath("pdftoppm")
	if err != nil {
		if os.Getenv("CORDTRACE_REQUIRE_TOOLS") == "1" {
			t.Fatal("pdftoppm is required (Debian package poppler-utils)")
		}
		t.Skip("pdftoppm not installed (Debian package poppler-utils); CI installs it")
	}
	l := DoseBagLayout(sampleBag())
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "label.pdf")
	f, err := os.Create(pdfPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := RenderPDF(f, l); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(bin, "-r", "300", "-gray", "-png", "-singlefile", pdfPath, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b)
	for _, e := range l.Elements {
		if e.Kind == ElemText || e.Kind == ElemBox {
			continue
		}
		if got := decodeSymbol(t, e.Kind, region(img, e)); got != e.Text {
			t.Errorf("printed symbol reads %q, want %q", got, e.Text)
		}
	}
}
