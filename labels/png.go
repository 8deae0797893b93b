package labels

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"sync"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/code128"
	"github.com/boombuler/barcode/datamatrix"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// PNGDPI is the resolution of PNG labels.
const PNGDPI = 300

func mmToPx(mm float64, dpi int) int { return int(math.Round(mm / 25.4 * float64(dpi))) }

// The Go fonts are compiled in, so labels render the same on a server with no fonts installed.
var (
	fontsOnce           sync.Once
	regularTTF, boldTTF *opentype.Font
	fontsErr            error
	faces               sync.Map // faceKey → font.Face
)

type faceKey struct {
	pt   float64
	bold bool
	dpi  int
}

func face(pt float64, bold bool, dpi int) (font.Face, error) {
	fontsOnce.Do(func() {
		if regularTTF, fontsErr = opentype.Parse(goregular.TTF); fontsErr == nil {
			boldTTF, fontsErr = opentype.Parse(gobold.TTF)
		}
	})
	if fontsErr != nil {
		return nil, fontsErr
	}
	key := faceKey{pt, bold, dpi}
	if f, ok := faces.Load(key); ok {
		return f.(font.Face), nil
	}
	src := regularTTF
	if bold {
		src = boldTTF
	}
	f, err := opentype.NewFace(src, &opentype.FaceOptions{Size: pt, DPI: float64(dpi), Hinting: font.HintingFull})
	if err != nil {
		return nil, err
	}
	// Faces are not safe for concurrent use; each cached face is used under its own lock.
	locked := &lockedFace{Face: f}
	actual, _ := faces.LoadOrStore(key, font.Face(locked))
	return actual.(font.Face), nil
}

type lockedFace struct {
	sync.Mutex
	font.Face
}

// textWidthMM measures s as the PNG renderer draws it. PDF and ZPL fonts are about as wide or
// narrower, so a line that fits here fits there.
func textWidthMM(s string, pt float64, bold bool) float64 {
	f, err := face(pt, bold, PNGDPI)
	if err != nil {
		return 0
	}
	lf := f.(*lockedFace)
	lf.Lock()
	defer lf.Unlock()
	return float64(font.MeasureString(lf.Face, s).Round()) / PNGDPI * 25.4
}

// RenderPNG draws the layout at 300 dpi.
func RenderPNG(w io.Writer, l Layout) error {
	img, err := rasterize(l, PNGDPI)
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// PNG returns the layout as PNG bytes.
func PNG(l Layout) ([]byte, error) {
	var b bytes.Buffer
	err := RenderPNG(&b, l)
	return b.Bytes(), err
}

func rasterize(l Layout, dpi int) (*image.Gray, error) {
	size := mmToPx(WidthMM, dpi)
	img := image.NewGray(image.Rect(0, 0, size, mmToPx(HeightMM, dpi)))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for _, e := range l.Elements {
		var err error
		switch e.Kind {
		case ElemText:
			err = drawText(img, e, dpi)
		case ElemBox:
			drawBox(img, e, dpi)
		case ElemQR, ElemCode128, ElemDataMatrix:
			var m [][]bool
			if m, err = Modules(e.Kind, e.Text); err == nil {
				drawModules(img, m, e, dpi)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("label element %q: %w", e.Text, err)
		}
	}
	return img, nil
}

func drawText(img *image.Gray, e Element, dpi int) error {
	f, err := face(e.H, e.Bold, dpi)
	if err != nil {
		return err
	}
	lf := f.(*lockedFace)
	lf.Lock()
	defer lf.Unlock()
	d := font.Drawer{Dst: img, Src: image.Black, Face: lf.Face,
		Dot: fixed.P(mmToPx(e.X, dpi), mmToPx(e.Y, dpi))}
	d.DrawString(e.Text)
	return nil
}

func drawBox(img *image.Gray, e Element, dpi int) {
	x0, y0 := mmToPx(e.X, dpi), mmToPx(e.Y, dpi)
	x1, y1 := mmToPx(e.X+e.W, dpi), mmToPx(e.Y+e.H, dpi)
	t := max(1, dpi/100) // about a quarter millimetre
	for _, r := range []image.Rectangle{
		image.Rect(x0, y0, x1, y0+t), image.Rect(x0, y1-t, x1, y1),
		image.Rect(x0, y0, x0+t, y1), image.Rect(x1-t, y0, x1, y1),
	} {
		draw.Draw(img, r, image.Black, image.Point{}, draw.Src)
	}
}

// Modules encodes data as a symbol's dark/light modules, row by row. A Code 128 symbol has one
// row; the renderer stretches it to the element's height.
func Modules(kind ElementKind, data string) ([][]bool, error) {
	switch kind {
	case ElemQR:
		m, _, err := qrSymbol(data)
		return m, err
	case ElemCode128:
		bc, err := code128.Encode(data)
		if err != nil {
			return nil, fmt.Errorf("Code 128: %w", err)
		}
		return barcodeModules(bc), nil
	case ElemDataMatrix:
		bc, err := datamatrix.Encode(data)
		if err != nil {
			return nil, fmt.Errorf("DataMatrix: %w", err)
		}
		return barcodeModules(bc), nil
	}
	return nil, fmt.Errorf("not a symbol: %d", kind)
}

func barcodeModules(bc barcode.Barcode) [][]bool {
	b := bc.Bounds()
	rows := make([][]bool, b.Dy())
	for y := range rows {
		rows[y] = make([]bool, b.Dx())
		for x := range rows[y] {
			rows[y][x] = color.GrayModel.Convert(bc.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y < 128
		}
	}
	return rows
}

// drawModules draws a symbol with whole-pixel modules, as large as fits the element's box,
// because a scanner reads sharp module edges better than scaled ones.
func drawModules(img *image.Gray, m [][]bool, e Element, dpi int) {
	boxW, boxH := mmToPx(e.W, dpi), mmToPx(e.H, dpi)
	cols := len(m[0])
	mw := max(1, boxW/cols)
	mh := mw
	rows := len(m)
	if rows == 1 { // linear barcode: full height
		mh = boxH
	} else {
		mw = max(1, min(boxW/cols, boxH/rows))
		mh = mw
	}
	x0, y0 := mmToPx(e.X, dpi), mmToPx(e.Y, dpi)
	for r, row := range m {
		for c, dark := range row {
			if dark {
				rect := image.Rect(x0+c*mw, y0+r*mh, x0+(c+1)*mw, y0+(r+1)*mh)
				draw.Draw(img, rect, image.Black, image.Point{}, draw.Src)
			}
		}
	}
}
