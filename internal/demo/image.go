package demo

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"sync"
)

// SampleImage is the picture a simulated customer can attach: a parcel on
// a shelf, drawn once (JPEG, 480×360), so that the demo ships no binary
// file.
var SampleImage = sync.OnceValue(func() []byte {
	const w, h = 480, 360
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill := func(x0, y0, x1, y1 int, c color.RGBA) {
		for y := max(y0, 0); y < min(y1, h); y++ {
			for x := max(x0, 0); x < min(x1, w); x++ {
				img.SetRGBA(x, y, c)
			}
		}
	}
	// Wall: a soft vertical gradient; shelf below.
	for y := range h {
		c := color.RGBA{R: uint8(232 - y/8), G: uint8(240 - y/10), B: 250, A: 255}
		fill(0, y, w, y+1, c)
	}
	fill(0, 290, w, 310, color.RGBA{R: 150, G: 104, B: 62, A: 255})
	fill(0, 310, w, h, color.RGBA{R: 120, G: 82, B: 48, A: 255})
	// The parcel: front, top and side, with tape and a label.
	fill(130, 150, 330, 290, color.RGBA{R: 205, G: 160, B: 105, A: 255})
	for i := range 40 {
		fill(130+i, 110+i, 330+i, 111+i, color.RGBA{R: 225, G: 185, B: 130, A: 255}) // top
		fill(330+i, 110+i, 331+i, 250+i, color.RGBA{R: 170, G: 128, B: 80, A: 255})  // side
	}
	fill(222, 150, 238, 290, color.RGBA{R: 235, G: 215, B: 170, A: 255})
	for i := range 40 {
		fill(222+i, 110+i, 238+i, 111+i, color.RGBA{R: 240, G: 222, B: 180, A: 255})
	}
	fill(150, 230, 210, 270, color.RGBA{R: 250, G: 250, B: 250, A: 255})
	for y := 238; y < 264; y += 8 {
		fill(156, y, 204, y+3, color.RGBA{R: 60, G: 60, B: 60, A: 255})
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(err)
	}
	return b.Bytes()
})
