package labels

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
)

// A lot of 30 units from one donation and one dose bag, labelled as the service labels them.
type roundTripLabel struct {
	name   string
	id     domain.UnitID
	coi    *domain.ChainOfIdentity
	expiry time.Time
	layout Layout
}

func roundTripLabels(t *testing.T) []roundTripLabel {
	t.Helper()
	var out []roundTripLabel
	for n := 1; n <= 30; n++ {
		division, divisions, err := domain.UnitDivision(n, 30)
		if err != nil {
			t.Fatal(err)
		}
		id := domain.UnitID{DIN: sampleDIN, Product: domain.ProductCode{Description: "S1234", Donation: 'V', Division: division}, Divisions: divisions}
		c := sampleUnit()
		c.EyeReadableID, c.Check = id.EyeReadable(), string(id.Check())
		c.QR = signed(Payload{Kind: KindUnit, ID: id.String(), ViableCells: c.ViableCells, Expiry: sampleUnitExpAt, PrintSerial: 1})
		c.SetISBT(id, domain.ExpiryBarcode(sampleUnitExpAt, shanghai), nil)
		out = append(out, roundTripLabel{name: fmt.Sprintf("unit %d of 30", n), id: id, expiry: sampleUnitExpAt, layout: UnitLayout(c)})
	}
	out = append(out, roundTripLabel{name: "dose bag", id: sampleBagID, coi: &sampleChainID, expiry: sampleBagExpAt, layout: DoseBagLayout(sampleBag())})
	return out
}

// requireTool finds a program the round trip needs: missing, the test is skipped, unless CI
// requires every tool (CORDTRACE_REQUIRE_TOOLS=1).
func requireTool(t *testing.T, name, why string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CORDTRACE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required: %s", name, why)
		}
		t.Skipf("%s not installed (%s); CI installs it", name, why)
	}
	return bin
}

// Every symbol of every label, rendered as PNG, as PDF printed at 300 dpi and as ZPL drawn the
// way a Zebra printer draws it, decodes to what the label meant to carry; the ISBT 128 symbols
// parse, with cordtrace's parser and with the independent one, to the same fields.
func TestLabelsRoundTrip(t *testing.T) {
	all := roundTripLabels(t)
	if testing.Short() {
		// The first unit, the last and the dose bag; the full run reads all 31 labels.
		all = []roundTripLabel{all[0], all[29], all[30]}
	}
	formats := []struct {
		name   string
		render func(t *testing.T, labels []roundTripLabel) []*image.Gray
		slack  float64 // mm around a symbol's box where the renderer may have moved it
	}{
		{"png", renderPNGs, 0},
		{"pdf", renderPDFPages, 0},
		{"zpl", renderZPLs, 1.5},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			images := f.render(t, all)
			if len(images) != len(all) {
				t.Fatalf("%d images for %d labels", len(images), len(all))
			}
			ids := map[string]bool{}
			for i, l := range all {
				got := readLabel(t, f.name+" "+l.name, images[i], l, f.slack)
				if ids[got] {
					t.Errorf("%s: id %s read from two labels", l.name, got)
				}
				ids[got] = true
			}
		})
	}
}

// readLabel decodes every symbol of one rendered label, checks each against the layout and
// the label's id, and returns the id the DataMatrix names.
func readLabel(t *testing.T, name string, img *image.Gray, l roundTripLabel, slack float64) string {
	t.Helper()
	var fromMatrix string
	for _, e := range l.layout.Elements {
		if e.Kind == ElemText || e.Kind == ElemBox {
			continue
		}
		r := regionWithSlack(img, e, slack)
		got, err := readSymbol(e.Kind, r)
		if err != nil {
			t.Errorf("%s: symbol at (%.0f,%.0f) does not decode: %v", name, e.X, e.Y, err)
			if dir := os.Getenv("CORDTRACE_ARTIFACTS_DIR"); dir != "" {
				keepImage(filepath.Join(dir, strings.ReplaceAll(fmt.Sprintf("%s-%.0f-%.0f.png", name, e.X, e.Y), " ", "-")), r)
			}
			continue
		}
		if got != e.Text {
			t.Errorf("%s: symbol reads %q, want %q", name, got, e.Text)
			continue
		}
		switch e.Kind {
		case ElemQR:
			p, err := Verify(got, renderKeys())
			if err != nil || p.ID != l.id.String() {
				t.Errorf("%s: QR payload %+v %v; want id %s", name, p, err, l.id)
			}
			if u, err := domain.ParseUnitID(p.ID); err != nil || u != l.id {
				t.Errorf("%s: QR id %s parses as %v %v", name, p.ID, u, err)
			}
		case ElemCode128:
			compareStructures(t, name, got, l)
		case ElemDataMatrix:
			compareStructures(t, name, got, l)
			m, err := domain.ReadLabelMessage(got)
			if err != nil || m.Unit != l.id || (m.ChainOfIdentity == nil) != (l.coi == nil) ||
				l.coi != nil && *m.ChainOfIdentity != *l.coi {
				t.Errorf("%s: DataMatrix reads %+v %v; want %v", name, m, err, l.id)
			}
			fromMatrix = m.Unit.String()
		}
	}
	return fromMatrix
}

// compareStructures parses a decoded ISBT 128 symbol with the independent parser and with
// cordtrace's, and checks them field by field against each other and the label.
func compareStructures(t *testing.T, name, symbol string, l roundTripLabel) {
	t.Helper()
	ref, err := refParse(symbol)
	if err != nil {
		t.Errorf("%s: the independent parser refuses %q: %v", name, symbol, err)
		return
	}
	if ref[0].Number == "023" {
		if ref[0].Fields["bbb"] != "000" {
			t.Errorf("%s: compound message sequence %s", name, ref[0].Fields["bbb"])
		}
		ref = ref[1:]
		want := 3
		if l.id.Divisions != "" {
			want++
		}
		if l.coi != nil {
			want++
		}
		if len(ref) != want {
			t.Errorf("%s: DataMatrix holds %d structures, want %d", name, len(ref), want)
		}
	}
	var din, product, divisions string
	for _, s := range ref {
		switch s.Number {
		case "001":
			d, err := domain.ParseDINBarcode(s.Text)
			din = s.Fields["fin"] + s.Fields["yy"] + s.Fields["nnnnnn"]
			if err != nil || d.String() != din || string(d.Check()) != s.Fields["K"] || d != l.id.DIN {
				t.Errorf("%s: DIN %s: cordtrace %v %v, independent %s check %s", name, s.Text, d, err, din, s.Fields["K"])
			}
		case "003":
			p, err := domain.ParseProductBarcode(s.Text)
			product = s.Fields["pdc"] + s.Fields["t"] + s.Fields["ds"]
			if err != nil || p.Description != s.Fields["pdc"] || string(p.Donation) != s.Fields["t"] || p.Division != s.Fields["ds"] || p != l.id.Product {
				t.Errorf("%s: product code %s: cordtrace %+v %v, independent %v", name, s.Text, p, err, s.Fields)
			}
		case "032":
			d, err := domain.ParseDivisionsBarcode(s.Text)
			divisions = s.Fields["dddddd"]
			if err != nil || d != divisions || d != l.id.Divisions {
				t.Errorf("%s: Product Divisions %s: cordtrace %q %v, independent %q", name, s.Text, d, err, divisions)
			}
		case "005":
			at, err := domain.ParseExpiryBarcode(s.Text, shanghai)
			if err != nil || !at.Equal(refTime(s, shanghai)) || !at.Equal(l.expiry) {
				t.Errorf("%s: expiry %s: cordtrace %v %v, independent %v, label %v", name, s.Text, at, err, refTime(s, shanghai), l.expiry)
			}
		case "040":
			c, err := domain.ParseChainOfIdentity(s.Text)
			if err != nil || c.Facility != s.Fields["fin"] || fmt.Sprintf("%02d", c.Year) != s.Fields["yy"] || c.Sequence != s.Fields["nnnnnn"] ||
				string(c.Check()) != s.Fields["K"] || l.coi == nil || c != *l.coi {
				t.Errorf("%s: chain of identity %s: cordtrace %+v %v, independent %v", name, s.Text, c, err, s.Fields)
			}
		default:
			t.Errorf("%s: unexpected data structure %s", name, s.Number)
		}
	}
	if len(ref) > 1 {
		// The independent reading of the whole message names the same unit.
		if got := din + product + divisions; got != l.id.String() {
			t.Errorf("%s: the independent parser reads id %s, want %s", name, got, l.id)
		}
	}
}

// keepImage saves what a reader could not decode, for the CI artifacts.
func keepImage(path string, img image.Image) {
	var b bytes.Buffer
	if png.Encode(&b, img) == nil {
		os.MkdirAll(filepath.Dir(path), 0o755)
		os.WriteFile(path, b.Bytes(), 0o644)
	}
}

func regionWithSlack(img *image.Gray, e Element, slack float64) image.Image {
	e.X, e.Y, e.W, e.H = e.X-slack, e.Y-slack, e.W+2*slack, e.H+2*slack
	return region(img, e)
}

func renderPNGs(t *testing.T, all []roundTripLabel) []*image.Gray {
	var out []*image.Gray
	for _, l := range all {
		b, err := PNG(l.layout)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, decodePNG(t, b))
	}
	return out
}

// renderPDFPages prints every label on one PDF, a page each, and rasterizes the pages at 300
// dpi as a printer would.
func renderPDFPages(t *testing.T, all []roundTripLabel) []*image.Gray {
	bin := requireTool(t, "pdftoppm", "Debian package poppler-utils")
	dir := t.TempDir()
	var layouts []Layout
	for _, l := range all {
		layouts = append(layouts, l.layout)
	}
	var b bytes.Buffer
	if err := RenderPDF(&b, layouts...); err != nil {
		t.Fatal(err)
	}
	pdfPath := filepath.Join(dir, "labels.pdf")
	if err := os.WriteFile(pdfPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-r", "300", "-gray", "-png", pdfPath, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
	var out []*image.Gray
	for _, p := range pages { // page-01.png … page-31.png sort in page order
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, decodePNG(t, b))
	}
	return out
}

// zplRenderer is zebrash, the ZPL renderer, compiled to WebAssembly and published on npm; the
// script draws each ZPL file at 12 dots per mm, the density of a 300-dpi Zebra printer.
const (
	zplRendererPackage = "zpl-renderer-js@3.4.0"
	zplRenderScript    = `const { ready } = require('zpl-renderer-js');
const fs = require('fs');
(async () => {
  const { api } = await ready;
  for (const f of process.argv.slice(2)) {
    const png = await api.zplToBase64Async(fs.readFileSync(f, 'utf8'), 101.6, 101.6, 12);
    fs.writeFileSync(f + '.png', Buffer.from(png, 'base64'));
  }
})().catch((e) => { console.error(e); process.exit(1); });
`
)

// renderZPLs writes each label as ZPL for a 300-dpi printer and draws it with the ZPL renderer,
// installed with npm into a temporary folder (never into the service).
func renderZPLs(t *testing.T, all []roundTripLabel) []*image.Gray {
	node := requireTool(t, "node", "Node.js runs the ZPL renderer")
	npm := requireTool(t, "npm", "npm installs the ZPL renderer")
	dir := t.TempDir()
	install := exec.Command(npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", dir, zplRendererPackage)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s: %v: %s", zplRendererPackage, err, out)
	}
	script := filepath.Join(dir, "render.cjs")
	if err := os.WriteFile(script, []byte(zplRenderScript), 0o644); err != nil {
		t.Fatal(err)
	}
	var files []string
	for i, l := range all {
		var b bytes.Buffer
		if err := RenderZPL(&b, l.layout, ZPL300); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("label-%02d.zpl", i+1))
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	cmd := exec.Command(node, append([]string{script}, files...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("render ZPL: %v: %s", err, out)
	}
	var out []*image.Gray
	for _, f := range files {
		b, err := os.ReadFile(f + ".png")
		if err != nil {
			t.Fatal(err)
		}
		g := decodePNG(t, b)
		// The renderer draws at 12 dots per mm on a canvas a few dots larger than the label;
		// the ZPL's positions are in the printer's dots, so the origin is the same.
		img := image.NewGray(image.Rect(0, 0, mmToPx(WidthMM, PNGDPI), mmToPx(HeightMM, PNGDPI)))
		draw.Draw(img, img.Bounds(), g, image.Point{}, draw.Src)
		out = append(out, img)
	}
	return out
}

// The old forms are refused with a message that says what to do, by cordtrace's reader and by
// the independent parser alike.
func TestOldISBTFormsRefused(t *testing.T) {
	old := sampleDIN.DINBarcode() + "=<S12340A0" + "&>0271210800"
	if _, err := refParse(old); err == nil {
		t.Error("the independent parser accepts data structures without a compound message")
	}
	if _, err := domain.ReadLabelMessage(old); err == nil || !strings.Contains(domain.ErrorMessage(err), "reprint the label") {
		t.Errorf("old DataMatrix: %v", err)
	}
	for _, s := range []string{"=<S1234001", "=<S1234V01"} {
		if _, err := domain.ParseProductBarcode(s); err == nil || !strings.Contains(domain.ErrorMessage(err), "old numeric form") {
			t.Errorf("old division %s: %v", s, err)
		}
	}
	// The independent parser accepts the standard's own examples.
	for _, s := range []string{
		"=<S12954A0", // ST-001 Figure 3
		"=<T1295003", // ST-001 Figure 4
		"=A99991712345600",
		"=+04000=/A9997XYZ100T0479=A99991712345600=,000012=>019031", // ST-017 §4.3.1
	} {
		if _, err := refParse(s); err != nil {
			t.Errorf("the independent parser refuses the standard's example %s: %v", s, err)
		}
	}
}
