// Package web holds Kanal's browser apps as built bundles, embedded in the
// binary so that `go build` and `go run` need no Node.js. The sources live
// beside the bundles (web/workspace); `make web` rebuilds them and CI fails
// when the committed bundle is stale.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:workspace/dist
var dist embed.FS

// Workspace is the agent workspace's built bundle: index.html at the root and
// content-hashed files under assets/.
func Workspace() fs.FS {
	sub, err := fs.Sub(dist, "workspace/dist")
	if err != nil { // only if the embed pattern above changes
		panic(err)
	}
	return sub
}
