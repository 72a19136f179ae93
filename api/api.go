// Package api embeds Kanal's HTTP contract, api/openapi.yaml.
package api

import (
	_ "embed"
	"html"
)

// Spec is the OpenAPI document.
//
//go:embed openapi.yaml
var Spec []byte

// DocsHTML renders the contract as a page.
func DocsHTML() []byte {
	return []byte("<!doctype html><meta charset=utf-8><title>Kanal API</title><pre>" + html.EscapeString(string(Spec)) + "</pre>")
}
