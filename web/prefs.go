package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
)

// languages are the page languages the switch offers, each named in itself.
var languages = domain.Locales

// setLanguage is the header's language switch: it sets the user's language through the
// API's SetPreferences (as PATCH /api/v1/me does) and reloads the page it came from.
func (a *App) setLanguage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	locale := r.PostFormValue("locale")
	if _, err := a.api.SetPreferences(r.Context(), *u, api.Preferences{Locale: &locale}); err != nil {
		if _, bad := problemOf(err); !bad {
			a.internal(w, r, err)
			return
		}
		// Only a forged form sends an unknown language: the page stays as it is.
	}
	http.Redirect(w, r, backTo(r), http.StatusSeeOther)
}

// backTo is the path and query of the app's page the request came from (its Referer,
// which the same-origin Referrer-Policy sends), or "/" when that is not a page of this
// app.
func backTo(r *http.Request) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || (ref.Scheme != "http" && ref.Scheme != "https") || ref.User != nil {
		return "/"
	}
	p := ref.EscapedPath()
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "/"
	}
	if ref.RawQuery != "" {
		p += "?" + ref.RawQuery
	}
	return p
}
