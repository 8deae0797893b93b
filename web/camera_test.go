package web_test

import (
	"bytes"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	qrcode "github.com/skip2/go-qrcode"

	"cordtrace/store/storetest"
)

// writeY4M writes a still picture as a Y4M video, the format Chromium's fake camera plays,
// with the QR code of text in the middle of the frame.
func writeY4M(t *testing.T, path, text string) {
	t.Helper()
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 640, 480
	symbol := q.Image(400)
	frame := image.NewGray(image.Rect(0, 0, w, h))
	for i := range frame.Pix {
		frame.Pix[i] = 0xff
	}
	off := image.Pt((w-400)/2, (h-400)/2)
	for y := 0; y < 400; y++ {
		for x := 0; x < 400; x++ {
			frame.SetGray(x+off.X, y+off.Y, color.GrayModel.Convert(symbol.At(x, y)).(color.Gray))
		}
	}
	var b bytes.Buffer
	b.WriteString("YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
	chroma := bytes.Repeat([]byte{128}, w*h/4)
	for i := 0; i < 3; i++ {
		b.WriteString("FRAME\n")
		b.Write(frame.Pix)
		b.Write(chroma)
		b.Write(chroma)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The bedside camera reads a bag's QR code into the bag field. Headless Chromium on Linux
// usually has no BarcodeDetector, so this exercises the jsQR decoder shipped with the page.
func TestBrowserCameraScan(t *testing.T) {
	const code = "CT1|T=B|ID=A999926000001S1234VAa|M=MRN0001|N=70000000|X=20261125T1200Z|P=1|K=k1|S=abc"
	video := filepath.Join(t.TempDir(), "qr.y4m")
	writeY4M(t, video, code)
	s := newSite(t, storetest.SQLite)
	b := newBrowser(t, s.url, chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true), chromedp.Flag("use-file-for-fake-video-capture", video))
	b.login("rn.dee")
	b.open("/bedside")
	b.run(chromedp.Click("#camera-button"))
	b.waitFor(`document.getElementById("bag-code").value !== ""`)
	var got string
	var cameraHidden, witnessFocused bool
	b.run(chromedp.Evaluate(`document.getElementById("bag-code").value`, &got),
		chromedp.Evaluate(`document.getElementById("camera").hidden`, &cameraHidden),
		chromedp.Evaluate(`document.activeElement.id === "witness-user"`, &witnessFocused))
	if got != code {
		t.Fatalf("the camera read %q, want %q", got, code)
	}
	if !cameraHidden || !witnessFocused {
		t.Errorf("after reading, camera hidden = %v and witness focused = %v; want both", cameraHidden, witnessFocused)
	}
	var native bool
	b.run(chromedp.Evaluate(`"BarcodeDetector" in window`, &native))
	t.Logf("decoded by BarcodeDetector: %v (otherwise by the shipped jsQR)", native)
	time.Sleep(100 * time.Millisecond)
	b.shot("00-bedside-camera-read")
}
