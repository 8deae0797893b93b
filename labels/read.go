package labels

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/png" // labels come as PNG

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// ReadQR reads the QR code of a unit or dose-bag label rendered as PNG, the way a hand scanner
// aimed at it does: the symbol's box with a white margin, decoded from the pixels. The label's
// kind need not be known: the QR box of each layout is tried in turn.
func ReadQR(png []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		return "", fmt.Errorf("read label image: %w", err)
	}
	mm := func(v float64) int { return int(v / 25.4 * PNGDPI) }
	pad := mm(3)
	var firstErr error
	for _, l := range []Layout{DoseBagLayout(Content{QR: "x"}), UnitLayout(Content{QR: "x"})} {
		for _, e := range l.Elements {
			if e.Kind != ElemQR {
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
			res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
			if err == nil {
				return res.GetText(), nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if firstErr == nil {
		firstErr = errors.New("the label layouts have no QR code")
	}
	return "", fmt.Errorf("decode the label's QR code: %w", firstErr)
}
