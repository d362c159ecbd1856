package grpcserver

import (
	"io"
	"net/http"
)

// AdminHandler serves the operator endpoints, meant for the admin address
// only (never the public one):
//
//	/metrics  the metrics handler (Prometheus)
//	/healthz  liveness: 200 while the process can answer HTTP at all
//	/readyz   readiness: 200 when ready() is true, else 503
//
// ready is called on every probe and must be cheap and safe for concurrent
// use; Server.Ready fits.
func AdminHandler(metrics http.Handler, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready() {
			plain(w, http.StatusOK, "ready\n")
			return
		}
		plain(w, http.StatusServiceUnavailable, "not ready\n")
	})
	return mux
}

func plain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}
