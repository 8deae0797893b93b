package labels

import (
	"fmt"
	"image"
	"image/draw"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"
)

// qrLevels are the error correction levels a label may use, in order of preference: M, as
// SPEC §8 asks at least, then Q and H.
var qrLevels = []struct {
	level  qrcode.RecoveryLevel
	letter byte // as ZPL's ^BQ names it
}{{qrcode.Medium, 'M'}, {qrcode.High, 'Q'}, {qrcode.Highest, 'H'}}

// qrSymbol encodes data as a QR symbol that an independent decoder reads back. A small share of
// valid symbols (about 1 in 75 of our payloads at level M) trip common decoders' detection
// once printed; a higher level changes the module pattern, so the first level whose symbol
// decodes is used. It returns the modules and the level's letter.
func qrSymbol(data string) ([][]bool, byte, error) {
	for _, l := range qrLevels {
		q, err := qrcode.New(data, l.level)
		if err != nil {
			return nil, 0, fmt.Errorf("QR: %w", err)
		}
		q.DisableBorder = true
		m := q.Bitmap()
		if decodes(m, data) {
			return m, l.letter, nil
		}
	}
	return nil, 0, fmt.Errorf("QR: no error correction level gives a symbol that decodes; the label is not printed")
}

// decodes draws modules as a printer would (whole-pixel modules, a 4-module quiet zone) and
// checks that the decoder reads exactly data back.
func decodes(m [][]bool, data string) bool {
	const px, quiet = 5, 4
	n := len(m)
	img := image.NewGray(image.Rect(0, 0, (n+2*quiet)*px, (n+2*quiet)*px))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for r, row := range m {
		for c, dark := range row {
			if dark {
				draw.Draw(img, image.Rect((c+quiet)*px, (r+quiet)*px, (c+quiet+1)*px, (r+quiet+1)*px), image.Black, image.Point{}, draw.Src)
			}
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return false
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	return err == nil && res.GetText() == data
}
