// Package httppublic is the notifier's public HTTP side: the unsubscribe page that every
// badge e-mail links to. GET shows a confirmation button (mail scanners follow links, and
// must not unsubscribe anyone); POST opts the address out, which is also what mail
// clients do for RFC 8058 one-click unsubscribe.
package httppublic

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/laurel-badges/laurel/services/notifier/internal/email"
)

// Path is where the page is served.
const Path = "/email/unsubscribe"

// Unsubscriber is the part of the e-mail core the page needs.
type Unsubscriber interface {
	Unsubscribe(ctx context.Context, token string) (address string, err error)
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Badge e-mail</title></head>
<body style="font-family: sans-serif">
{{if .Done}}<p>{{.Address}} will get no more badge e-mail from this issuer.</p>
{{else if .Bad}}<p>This unsubscribe link is not valid.</p>
{{else}}<form method="post"><input type="hidden" name="token" value="{{.Token}}">
<p><button type="submit">Stop badge e-mail to this address</button></p></form>
{{end}}</body></html>
`))

type view struct {
	Done, Bad      bool
	Address, Token string
}

// Register adds the page to mux.
func Register(mux *http.ServeMux, u Unsubscriber, log *slog.Logger) {
	render := func(w http.ResponseWriter, code int, v view) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = page.Execute(w, v)
	}
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, view{Token: r.URL.Query().Get("token")})
	})
	mux.HandleFunc("POST "+Path, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		addr, err := u.Unsubscribe(r.Context(), r.FormValue("token")) // query (one-click) or form
		switch {
		case errors.Is(err, email.ErrBadToken):
			render(w, http.StatusBadRequest, view{Bad: true})
		case err != nil:
			log.ErrorContext(r.Context(), "unsubscribe failed", slog.Any("error", err))
			http.Error(w, "try again later", http.StatusServiceUnavailable)
		default:
			render(w, http.StatusOK, view{Done: true, Address: addr})
		}
	})
}
