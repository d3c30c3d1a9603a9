// Package qrpng draws QR codes as PNG images: the one adapter of
// github.com/skip2/go-qrcode, for the console's static-token sheets and
// the installer page's claim and device codes.
package qrpng

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxPayload bounds what is encoded: a static token's payload is ~60 bytes.
const MaxPayload = 256

// Encode returns a PNG of payload's QR code (medium error correction),
// size pixels wide including the quiet zone.
func Encode(payload string, size int) ([]byte, error) {
	if payload == "" || len(payload) > MaxPayload {
		return nil, fmt.Errorf("qrpng: payload of %d bytes (1..%d)", len(payload), MaxPayload)
	}
	if size < 64 || size > 1024 {
		return nil, fmt.Errorf("qrpng: size %d (64..1024)", size)
	}
	png, err := qrcode.Encode(payload, qrcode.Medium, size)
	if err != nil {
		return nil, fmt.Errorf("qrpng: %w", err)
	}
	return png, nil
}
