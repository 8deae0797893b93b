package loadtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

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
