package loadtest

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
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"cordtrace/labels"
)

// scanPNG reads a dose-bag label's QR code as a hand scanner aimed at it does: the symbol's box
// with a white margin, decoded from the pixels.
func scanPNG(png []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		return "", fmt.Errorf("read label image: %w", err)
	}
	var firstErr error
	for _, e := range labels.DoseBagLayout(labels.Content{QR: "x"}).Elements {
		if e.Kind != labels.ElemQR {
			continue
		}
		mm := func(v float64) int { return int(v / 25.4 * labels.PNGDPI) }
		pad := mm(3)
		box := image.Rect(mm(e.X), mm(e.Y), mm(e.X+e.W), mm(e.Y+e.H))
		aimed := image.NewGray(image.Rect(0, 0, box.Dx()+2*pad, box.Dy()+2*pad))
		draw.Draw(aimed, aimed.Bounds(), image.White, image.Point{}, draw.Src)
		draw.Draw(aimed, box.Sub(box.Min).Add(image.Pt(pad, pad)), img, box.Min, draw.Src)
		bmp, err := gozxing.NewBinaryBitmapFromImage(aimed)
		if err != nil {
			return "", err
		}
		res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
		if err == nil {
			return res.GetText(), nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = errors.New("the dose-bag layout has no QR code")
	}
	return "", fmt.Errorf("decode the label's QR code: %w", firstErr)
}

// qrFromZPL reads the text of the QR code (^BQ) in a ZPL label: exactly what the printer
// encodes into the printed symbol. Field data may be hex-escaped after ^FH\.
func qrFromZPL(zpl []byte) (string, error) {
	for line := range strings.Lines(string(zpl)) {
		if !strings.Contains(line, "^BQ") {
			continue
		}
		escaped := strings.Contains(line, "^FH\\^FD")
		_, field, ok := strings.Cut(line, "^FD")
		if !ok {
			break
		}
		field, _, _ = strings.Cut(field, "^FS")
		// The field starts with the error-correction level and the input mode: "MA,".
		_, text, ok := strings.Cut(field, ",")
		if !ok {
			break
		}
		if escaped {
			var b strings.Builder
			for i := 0; i < len(text); i++ {
				if text[i] == '\\' && i+2 < len(text) {
					v, err := strconv.ParseUint(text[i+1:i+3], 16, 8)
					if err != nil {
						return "", fmt.Errorf("ZPL label: bad escape in the QR field: %w", err)
					}
					b.WriteByte(byte(v))
					i += 2
					continue
				}
				b.WriteByte(text[i])
			}
			text = b.String()
		}
		return text, nil
	}
	return "", errors.New("the ZPL label has no QR code field (^BQ)")
}
