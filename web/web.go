// Package web is the web app of issue 11: server-rendered HTML pages (html/template,
// templates in web/templates) enhanced with htmx (vendored under web/static), served by
// the API's server on the same address. Pages read and act through the API's own
// functions (api.Server's ListTasks, ClaimTask, UnclaimTask and api.Access): the app
// decides no access on its own.
//
// Sign-in is by username and password (argon2id); a session is a random token in an
// HttpOnly, SameSite=Lax cookie (Secure when the public URL is https) of which only the
// hash is stored, refused after an idle timeout. Failed sign-ins lock the username out
// for a while. Every state-changing request passes Go's http.CrossOriginProtection, and
// every response carries a strict Content-Security-Policy that denies framing.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed i18n/*.json
var catalogueFS embed.FS

// Config configures the web app.
type Config struct {
	// PublicURL is the app's public base URL: https makes the session cookie Secure, and
	// its origin is trusted by the cross-origin protection (behind a proxy that rewrites
	// the Host header).
	PublicURL string
	// IdleTimeout ends a session nobody used for this long (default 30 min).
	IdleTimeout time.Duration
	// MaxAge ends any session this long after sign-in (default 12 h).
	MaxAge time.Duration
	// Lockout: failed sign-ins that lock a username out (default 5 within 15 min lock it
	// for 15 min).
	Lockout store.LockoutPolicy
}

// ContentSecurityPolicy is sent with every response of the app: scripts and styles only
// from the app's own files (no inline script or style), no framing, forms posting only
// to the app.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// App is the web app.
type App struct {
	cfg     Config
	api     *api.Server
	access  api.Access
	st      *store.Store
	log     *slog.Logger
	pages   map[string]*template.Template
	bundle  *i18n.Bundle
	secure  bool
	cookie  string
	handler http.Handler
	hub     *store.Hub // nil without a store
	now     func() time.Time
}

// route is one of the app's routes, in gin's syntax (the API's router mounts them).
// updating routes update a workflow and get the deadline of the API's routes that do.
type route struct {
	method, path string
	updating     bool
}

// streams are the routes whose response is long-lived (server-sent events): no request
// deadline.
var streams = []string{"/events"}

var routes = []route{
	{http.MethodGet, "/", false},
	{http.MethodGet, "/signin", false},
	{http.MethodPost, "/signin", false},
	{http.MethodPost, "/signout", false},
	{http.MethodPost, "/tasks/:id/claim", false},
	{http.MethodPost, "/tasks/:id/unclaim", false},
	{http.MethodPost, "/tasks/:id/assign", false},
	{http.MethodGet, "/tasks/:id", false},
	{http.MethodPost, "/tasks/:id/complete", true},
	{http.MethodPost, "/tasks/:id/comments", false},
	{http.MethodGet, "/static/*file", false},
	{http.MethodGet, "/escalations", false},
	{http.MethodGet, "/escalations/:id", false},
	{http.MethodPost, "/escalations/:id/acknowledge", false},
	{http.MethodGet, "/events", false},
	{http.MethodPost, "/preferences/language", false},
}

// caseProcess is what one process's own file registers for its pages, in an init func,
// as its api file adds its routes. Its pages live under /<name>s ("/complaints", the
// case itself at /<name>s/{id}, its new-case form at /<name>s/new); the header links
// its list (nav-<name>s, "nav.<name>s") for those who may list its cases and its form
// (nav-new-<name>, "nav.new_<name>") for those mayFile allows; caseLink links a case.
type caseProcess struct {
	name  string
	pages []processPage
	// mayFile tells who may file a case through the new-case form; nil for a process
	// whose cases nobody files (a survey cycle is started by its programme): no form,
	// no header link.
	mayFile func(api.Access, store.User) bool
	// mayList tells who the header links the list for; nil: those Access.Lists lets
	// list all cases or their own (a process where a sales rep has no cases of their
	// own, such as the surveys, says so here).
	mayList func(api.Access, store.User) bool
	// links are further pages of the process the header links for those may allows
	// (the order's invoices), after its list.
	links []processLink
}

// processLink is a header link to a page of a process: its path below the process's
// path, the catalogue key of its text ("nav.<key>", element id "nav-<key>"), and who
// sees it.
type processLink struct {
	path, key string
	may       func(api.Access, store.User) bool
}

// processPage is one route of a process's pages: path is below the process's path, in
// gin's syntax ("", "/:id", "/new").
type processPage struct {
	method, path string
	updating     bool
	handle       func(*App, http.ResponseWriter, *http.Request)
}

// caseProcesses are the processes with pages, in file order.
var caseProcesses []caseProcess

// mayListCases reports whether the header links the process's list for u.
func (c caseProcess) mayListCases(acc api.Access, u store.User) bool {
	if c.mayList != nil {
		return c.mayList(acc, u)
	}
	all, own := acc.Lists(u, c.name)
	return all || own
}

// base is the path the process's pages live under.
func (c caseProcess) base() string { return "/" + c.name + "s" }

// allRoutes are the shared routes and every process's pages.
func allRoutes() []route {
	out := slices.Clone(routes)
	for _, c := range caseProcesses {
		for _, p := range c.pages {
			out = append(out, route{p.method, c.base() + p.path, p.updating})
		}
	}
	return out
}

// New builds the app over the API server srv and its store.
func New(cfg Config, srv *api.Server, st *store.Store, log *slog.Logger) (*App, error) {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 12 * time.Hour
	}
	if cfg.Lockout.Limit <= 0 {
		cfg.Lockout = store.LockoutPolicy{Limit: 5, Window: 15 * time.Minute, Lock: 15 * time.Minute}
	}
	if log == nil {
		log = slog.Default()
	}
	a := &App{cfg: cfg, api: srv, access: srv.Access(), st: st, log: log, now: time.Now, cookie: "sf_session"}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("web: public URL: %w", err)
		}
		if u.Scheme == "https" {
			a.secure, a.cookie = true, "__Host-sf_session" // the prefix pins it to this host, Secure, Path=/
		}
	}
	if st != nil {
		a.hub = st.NewHub(log)
	}
	var err error
	if a.bundle, err = loadCatalogues(); err != nil {
		return nil, err
	}
	if a.pages, err = parsePages(); err != nil {
		return nil, err
	}
	cop := http.NewCrossOriginProtection()
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err == nil && u.Host != "" {
			if err := cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
				return nil, fmt.Errorf("web: public URL as a trusted origin: %w", err)
			}
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(a.crossOrigin))
	a.handler = securityHeaders(cop.Handler(a.mux()))
	return a, nil
}

// Run keeps the live updates going (the hub's LISTEN connection) until ctx ends, then
// ends every event stream so that the server can shut down.
func (a *App) Run(ctx context.Context) {
	if a.hub != nil {
		a.hub.Run(ctx)
	}
}

// Mount serves the app's routes on the API server (behind its common middleware).
func (a *App) Mount(srv *api.Server) {
	for _, r := range allRoutes() {
		switch {
		case slices.Contains(streams, r.path):
			srv.HandleStream(r.method, r.path, a.handler)
		case r.updating:
			srv.HandleUpdating(r.method, r.path, a.handler)
		default:
			srv.Handle(r.method, r.path, a.handler)
		}
	}
}

// Routes lists the app's routes as "METHOD /path" in gin's syntax: pages for people,
// not part of the JSON API that openapi.yaml describes.
func Routes() []string {
	all := allRoutes()
	out := make([]string, len(all))
	for i, r := range all {
		out[i] = r.method + " " + r.path
	}
	return out
}

// Handler is the app alone (the tests mount it as the binary does, with Mount).
func (a *App) Handler() http.Handler { return a.handler }

func (a *App) mux() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", a.home)
	m.HandleFunc("GET /signin", a.signInPage)
	m.HandleFunc("POST /signin", a.signIn)
	m.HandleFunc("POST /signout", a.signOut)
	m.HandleFunc("POST /tasks/{id}/claim", a.claim)
	m.HandleFunc("POST /tasks/{id}/unclaim", a.unclaim)
	m.HandleFunc("POST /tasks/{id}/assign", a.reassign)
	m.HandleFunc("GET /tasks/{id}", a.taskPage)
	m.HandleFunc("POST /tasks/{id}/complete", a.complete)
	m.HandleFunc("POST /tasks/{id}/comments", a.comment)
	m.HandleFunc("GET /escalations", a.board)
	m.HandleFunc("GET /escalations/{id}", a.escalation)
	m.HandleFunc("POST /escalations/{id}/acknowledge", a.acknowledge)
	m.HandleFunc("GET /events", a.events)
	m.HandleFunc("POST /preferences/language", a.setLanguage)
	for _, c := range caseProcesses {
		for _, p := range c.pages {
			// gin's ":id" is the ServeMux's "{id}"
			path := regexp.MustCompile(`:(\w+)`).ReplaceAllString(c.base()+p.path, "{$1}")
			m.HandleFunc(p.method+" "+path, func(w http.ResponseWriter, r *http.Request) { p.handle(a, w, r) })
		}
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	m.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	}))
	return m
}

// securityHeaders sets the headers every response of the app carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin answers a state-changing request from another origin.
func (a *App) crossOrigin(w http.ResponseWriter, r *http.Request) {
	a.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	p := a.newPage(r, nil)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintln(w, p.T("error.cross_origin"))
}

// loadCatalogues reads the string catalogues, one per language (web/i18n/<tag>.json).
func loadCatalogues() (*i18n.Bundle, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	files, err := fs.Glob(catalogueFS, "i18n/*.json")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		buf, err := catalogueFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if _, err := b.ParseMessageFileBytes(buf, f); err != nil {
			return nil, fmt.Errorf("web: catalogue %s: %w", f, err)
		}
	}
	return b, nil
}

// parsePages parses each page template with the layout and the partials (the files
// named _*.html, which are no pages).
func parsePages() (map[string]*template.Template, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", f)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", f, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// templateFuncs are the functions the templates may call besides the builtins.
var templateFuncs = template.FuncMap{
	// fieldArgs passes a page and a form field to a partial ("newfield").
	"fieldArgs": func(p any, f newField) map[string]any { return map[string]any{"P": p, "F": f} },
}

// page is what every template gets: the language, the signed-in user (nil when signed
// out) and the T method that looks a string up in the catalogue.
type page struct {
	Lang   string
	User   *store.User
	Title  string
	Notice string
	Error  string
	Board  bool // the user may see the escalation board (the nav links it)
	loc    *i18n.Localizer
	log    *slog.Logger
	tz     *time.Location // the user's time zone (UTC when signed out or unknown)

	// Lists and Creates: the processes' case lists and new-case forms the user may use,
	// which the header links (caseProcess).
	Lists, Creates []navLink
}

// navLink is a link of the header: its element id, its path and its text.
type navLink struct{ ID, Href, Text string }

// When is t as the page shows a moment: in the user's time zone, to the minute, with
// the zone's offset from UTC ("2026-12-07 09:30 UTC+8").
func (p page) When(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	loc := p.tz
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	_, off := t.Zone()
	zone := "UTC"
	if off != 0 {
		sign := "+"
		if off < 0 {
			sign, off = "-", -off
		}
		zone += sign + strconv.Itoa(off/3600)
		if m := off % 3600 / 60; m != 0 {
			zone += fmt.Sprintf(":%02d", m)
		}
	}
	return t.Format("2006-01-02 15:04") + " " + zone
}

// T returns the catalogue string id in the page's language, filled from pairs of
// template-data name and value. A missing string shows its id (and is logged): the
// catalogue tests keep that from happening.
func (p page) T(id string, kv ...any) string {
	var data map[string]any
	if len(kv) > 0 {
		data = map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			data[fmt.Sprint(kv[i])] = kv[i+1]
		}
	}
	s, err := p.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		p.log.Error("web: catalogue string missing", "id", id, "lang", p.Lang, "err", err)
		return id
	}
	return s
}

// Languages are the languages a user can switch the pages to.
func (p page) Languages() []string { return languages }

// name is the catalogue's name of key among the names under prefix ("step", "status",
// …) in the page's language, or key made readable when the catalogue has none.
func (p page) name(prefix, key string) string {
	if id := prefix + "." + key; p.Has(id) {
		return p.T(id)
	}
	return strings.ReplaceAll(key, "_", " ")
}

// Has reports whether the catalogue has id (for names with an optional translation).
func (p page) Has(id string) bool {
	_, err := p.loc.Localize(&i18n.LocalizeConfig{MessageID: id})
	return err == nil
}

// newPage is the page of request r for user u (nil: signed out): in the user's language,
// else the one the browser asks for.
func (a *App) newPage(r *http.Request, u *store.User) page {
	var langs []string
	if u != nil && u.Locale != "" {
		langs = append(langs, u.Locale)
	} else if l := r.URL.Query().Get("lang"); l != "" {
		langs = append(langs, l)
	}
	langs = append(langs, r.Header.Get("Accept-Language"))
	loc := i18n.NewLocalizer(a.bundle, langs...)
	_, tag, err := loc.LocalizeWithTag(&i18n.LocalizeConfig{MessageID: "app.name"})
	lang := "en"
	if err == nil {
		lang = tag.String()
	}
	tz := time.UTC
	if u != nil && u.TimeZone != "" {
		if l, err := time.LoadLocation(u.TimeZone); err == nil {
			tz = l
		}
	}
	p := page{Lang: lang, User: u, loc: loc, log: a.log, tz: tz}
	if u != nil {
		p.Board = a.access.MaySeeEscalations(*u)
		for _, c := range caseProcesses {
			if c.mayListCases(a.access, *u) {
				p.Lists = append(p.Lists, navLink{"nav-" + c.name + "s", c.base(), p.T("nav." + c.name + "s")})
			}
			for _, l := range c.links {
				if l.may(a.access, *u) {
					p.Lists = append(p.Lists, navLink{"nav-" + l.key, c.base() + l.path, p.T("nav." + l.key)})
				}
			}
			if c.mayFile != nil && c.mayFile(a.access, *u) {
				p.Creates = append(p.Creates, navLink{"nav-new-" + c.name, c.base() + "/new", p.T("nav.new_" + c.name)})
			}
		}
	}
	return p
}

// render executes the page template name with data (a struct embedding page).
func (a *App) render(w http.ResponseWriter, status int, name string, data any) {
	t, ok := a.pages[name]
	if !ok {
		panic("web: no template " + name)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		a.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// internal logs err and answers a plain 500 page.
func (a *App) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("web: request failed", "path", r.URL.Path, "err", err)
	p := a.newPage(r, nil)
	http.Error(w, p.T("error.internal"), http.StatusInternalServerError)
}

// problemOf returns the *api.Problem in err, if any.
func problemOf(err error) (*api.Problem, bool) { return errors.AsType[*api.Problem](err) }

// isNotFound reports whether err is the API's 404.
func isNotFound(err error) bool {
	p, ok := problemOf(err)
	return ok && p.Status == http.StatusNotFound
}
