// Package web holds the browser assets Healthgate serves, embedded in the
// binary with no third-party or CDN dependency: the checkout SDK that
// merchant pages include (/sdk/healthgate.js), the operator dashboard
// (/ui/) and the demo merchant's checkout page.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed sdk checkout ui
var assets embed.FS

// SDK serves /sdk/healthgate.js. Merchant pages load it cross-origin, so it
// is cacheable and allowed from any origin.
func SDK() http.Handler {
	body, err := assets.ReadFile("sdk/healthgate.js")
	if err != nil {
		panic(err) // embedded at build time
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(body)
	})
}

// Checkout returns the demo merchant's static checkout files.
func Checkout() fs.FS {
	sub, err := fs.Sub(assets, "checkout")
	if err != nil {
		panic(err)
	}
	return sub
}

// UI serves the operator dashboard under /ui/. The page holds no data: it
// asks the service's API with the operator's admin key.
func UI() http.Handler {
	sub, err := fs.Sub(assets, "ui")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.StripPrefix("/ui/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
}
