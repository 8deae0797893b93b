package labels

import (
	"fmt"
	"image"
	"image/draw"

	bqr "github.com/boombuler/barcode/qr"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"
)

// qrEncoders are the ways a label's QR symbol may be made, in order of preference: level M,
// as SPEC §8 asks at least, then Q and H; at each level skip2/go-qrcode first, then
// boombuler/barcode, whose mask choice differs. A small share of go-qrcode's symbols (about 1
// in 300 of our payloads at level M) do not read back at all; the other encoder's symbol for
// the same data and level does.
var qrEncoders = []struct {
	name   string
	letter byte // the level as ZPL's ^BQ names it
	encode func(data string) ([][]bool, error)
}{
	{"go-qrcode", 'M', goQRCode(qrcode.Medium)}, {"boombuler", 'M', boombulerQR(bqr.M)},
	{"go-qrcode", 'Q', goQRCode(qrcode.High)}, {"boombuler", 'Q', boombulerQR(bqr.Q)},
	{"go-qrcode", 'H', goQRCode(qrcode.Highest)}, {"boombuler", 'H', boombulerQR(bqr.H)},
}

func goQRCode(level qrcode.RecoveryLevel) func(string) ([][]bool, error) {
	return func(data string) ([][]bool, error) {
		q, err := qrcode.New(data, level)
		if err != nil {
			return nil, err
		}
		q.DisableBorder = true
		return q.Bitmap(), nil
	}
}

func boombulerQR(level bqr.ErrorCorrectionLevel) func(string) ([][]bool, error) {
	return func(data string) ([][]bool, error) {
		bc, err := bqr.Encode(data, level, bqr.Auto)
		if err != nil {
			return nil, err
		}
		n := bc.Bounds().Dx()
		m := make([][]bool, n)
		for y := range n {
			m[y] = make([]bool, n)
			for x := range n {
				r, _, _, _ := bc.At(x, y).RGBA()
				m[y][x] = r == 0
			}
		}
		return m, nil
	}
}

// qrSymbol encodes data as a QR symbol that an independent decoder reads back: the first of
// qrEncoders whose symbol decodes. It returns the modules and the level's letter.
func qrSymbol(data string) ([][]bool, byte, error) {
	var firstErr error
	for _, e := range qrEncoders {
		m, err := e.encode(data)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if decodes(m, data) {
			return m, e.letter, nil
		}
	}
	if firstErr != nil {
		return nil, 0, fmt.Errorf("QR: %w", firstErr)
	}
	return nil, 0, fmt.Errorf("QR: no encoder and error correction level gives a symbol that decodes; the label is not printed")
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
