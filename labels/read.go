package labels

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/png" // labels come as PNG
	"strconv"
	"strings"

	"github.com/makiuchi-d/gozxing"
	zxdatamatrix "github.com/makiuchi-d/gozxing/datamatrix"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"cordtrace/domain"
)

// ReadQR reads the QR code of a unit or dose-bag label rendered as PNG, the way a hand scanner
// aimed at it does: the symbol's box with a white margin, decoded from the pixels. The label's
// kind need not be known: the QR box of each layout is tried in turn.
func ReadQR(png []byte) (string, error) {
	text, err := readSymbolOf(png, ElemQR)
	if err != nil {
		return "", fmt.Errorf("decode the label's QR code: %w", err)
	}
	return text, nil
}

// ReadDataMatrix reads the DataMatrix of a unit or dose-bag label rendered as PNG and parses the
// ISBT 128 compound message it holds: the unit or bag, its expiry and, on a dose bag, the
// chain of identity. A DataMatrix of the older form (structures without the compound message
// header) is refused, as at every scan.
func ReadDataMatrix(png []byte) (domain.LabelMessage, error) {
	text, err := readSymbolOf(png, ElemDataMatrix)
	if err != nil {
		return domain.LabelMessage{}, fmt.Errorf("decode the label's DataMatrix: %w", err)
	}
	return domain.ReadLabelMessage(text)
}

// readSymbolOf decodes the first symbol of a kind found where a label layout places it.
func readSymbolOf(png []byte, kind ElementKind) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		return "", fmt.Errorf("read label image: %w", err)
	}
	mm := func(v float64) int { return int(v / 25.4 * PNGDPI) }
	pad := mm(3)
	var firstErr error
	for _, l := range []Layout{DoseBagLayout(Content{QR: "x", DataMatrix: "x"}), UnitLayout(Content{QR: "x", DataMatrix: "x"})} {
		for _, e := range l.Elements {
			if e.Kind != kind {
				continue
			}
			box := image.Rect(mm(e.X), mm(e.Y), mm(e.X+e.W), mm(e.Y+e.H))
			aimed := image.NewGray(image.Rect(0, 0, box.Dx()+2*pad, box.Dy()+2*pad))
			draw.Draw(aimed, aimed.Bounds(), image.White, image.Point{}, draw.Src)
			draw.Draw(aimed, box.Sub(box.Min).Add(image.Pt(pad, pad)), img, box.Min, draw.Src)
			bmp, err := gozxing.NewBinaryBitmapFromImage(aimed)
			if err != nil {
				return "", err
			}
			var reader gozxing.Reader = zxqr.NewQRCodeReader()
			if kind == ElemDataMatrix {
				reader = zxdatamatrix.NewDataMatrixReader()
			}
			res, err := reader.Decode(bmp, nil)
			if err == nil {
				return res.GetText(), nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if firstErr == nil {
		firstErr = errors.New("the label layouts have no such symbol")
	}
	return "", firstErr
}

// ReadZPLQR reads the text of the QR code (^BQ) in a ZPL label: exactly what the printer
// encodes into the printed symbol, as RenderZPL wrote it (the error-correction level and input
// mode first, then the text, hex-escaped after ^FH\ when it holds ^, ~ or \).
func ReadZPLQR(zpl []byte) (string, error) {
	for line := range strings.Lines(string(zpl)) {
		if !strings.Contains(line, "^BQ") {
			continue
		}
		escaped := strings.Contains(line, "^FH\\^FD")
		_, field, ok := strings.Cut(line, "^FD")
		if !ok {
			return "", errors.New("ZPL label: the QR code field (^BQ) has no data (^FD)")
		}
		field, _, _ = strings.Cut(field, "^FS")
		_, text, ok := strings.Cut(field, ",") // "MA,": error correction, input mode
		if !ok {
			return "", errors.New("ZPL label: the QR code's data does not start with its error correction and mode")
		}
		if !escaped {
			return text, nil
		}
		var b strings.Builder
		for i := 0; i < len(text); i++ {
			if text[i] != '\\' {
				b.WriteByte(text[i])
				continue
			}
			if i+2 >= len(text) {
				return "", errors.New("ZPL label: an escape in the QR code's data is cut short")
			}
			v, err := strconv.ParseUint(text[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("ZPL label: bad escape in the QR code's data: %w", err)
			}
			b.WriteByte(byte(v))
			i += 2
		}
		return b.String(), nil
	}
	return "", errors.New("ZPL label: no QR code field (^BQ)")
}
