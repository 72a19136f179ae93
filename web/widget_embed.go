package web

import (
	"embed"
	"io/fs"
)

// The web chat widget (web/widget: Preact + TypeScript + Vite), built into
// widget/dist by `make widget` and committed like the workspace's bundle.

//go:embed all:widget/dist
var widgetDist embed.FS

// Widget is the chat widget's built bundle: widget.js (the loader a site
// embeds), frame.html (the page inside the widget's iframe) and
// content-hashed files under assets/.
func Widget() fs.FS {
	sub, err := fs.Sub(widgetDist, "widget/dist")
	if err != nil { // only if the embed pattern above changes
		panic(err)
	}
	return sub
}
