package api

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/workflows"
)

// Customer links: GET and POST /c/{token}, one handler for every purpose (no auth: the
// token is the key). The page of a purpose is the template file
// templates/links/<purpose>.<locale>.html, found in the embedded files; what every page
// shares is layout.html and common.<locale>.html. An answer is validated by its
// purpose's rules (its process's domain.Process.Links) and handed to the workflow through the
// customer-link-answer Update, whose validator takes it exactly once.

//go:embed templates/links
var linkFS embed.FS

// linkCSSPath is where the pages' stylesheet is served.
const linkCSSPath = "/c/assets/links.css"

// linkPageCSP lets a page load its stylesheet from here and post its form back here,
// and nothing else: no script, no inline style.
const linkPageCSP = "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// linkPages holds the parsed page of each purpose and locale ("purpose/locale"), and
// the shared pages of each locale ("/locale").
type linkPages struct {
	pages   map[string]*template.Template
	locales map[string]bool
	css     []byte
}

var linkTemplates = mustParseLinkPages(linkFS)

// mustParseLinkPages parses every page under templates/links. The files are embedded:
// a parse error is a programming error, caught by the tests.
func mustParseLinkPages(fsys fs.FS) *linkPages {
	p, err := parseLinkPages(fsys)
	if err != nil {
		panic(err)
	}
	return p
}

// linkFuncs are the functions of the link pages: seq from to lists the integers of a
// rating scale (a survey's 1–5 and 0–10), and str writes one as the form value it is
// compared with.
var linkFuncs = template.FuncMap{
	"seq": func(from, to int) []int {
		var out []int
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
		return out
	},
	"str": strconv.Itoa,
}

func parseLinkPages(fsys fs.FS) (*linkPages, error) {
	const dir = "templates/links"
	lp := &linkPages{pages: map[string]*template.Template{}, locales: map[string]bool{}}
	var err error
	if lp.css, err = fs.ReadFile(fsys, dir+"/links.css"); err != nil {
		return nil, err
	}
	files, err := fs.Glob(fsys, dir+"/*.html")
	if err != nil {
		return nil, err
	}
	parse := func(files ...string) (*template.Template, error) {
		t, err := template.New("layout.html").Option("missingkey=zero").Funcs(linkFuncs).ParseFS(fsys, files...)
		if err != nil {
			return nil, err
		}
		// Catch a page that does not render (a missing template, a bad pipeline) now,
		// not in front of a customer.
		for _, view := range []string{"form", "thanks", "answered", "expired", "unknown", "failed"} {
			if err := t.Execute(&bytes.Buffer{}, linkView{View: view, Values: map[string]string{}, Errors: map[string]string{}}); err != nil {
				return nil, fmt.Errorf("link page %v, view %s: %w", files[len(files)-1], view, err)
			}
		}
		return t, nil
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if locale, ok := strings.CutPrefix(name, "common."); ok {
			lp.locales[locale] = true
		}
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		purpose, locale, ok := strings.Cut(name, ".")
		if !ok {
			continue // layout.html
		}
		if !lp.locales[locale] {
			return nil, fmt.Errorf("link page %s: no %s/common.%s.html", f, dir, locale)
		}
		common := dir + "/common." + locale + ".html"
		if purpose == "common" {
			purpose = ""
			f = common
		}
		t, err := parse(dir+"/layout.html", common, f)
		if err != nil {
			return nil, err
		}
		lp.pages[purpose+"/"+locale] = t.Lookup("layout.html")
	}
	return lp, nil
}

// page returns the page of purpose ("" for the shared pages only) in locale, else in
// the locale the browser asks for, else in English.
func (lp *linkPages) page(c *gin.Context, purpose, locale string) (*template.Template, string) {
	if !lp.locales[locale] {
		locale = "en"
		if strings.HasPrefix(strings.ToLower(c.GetHeader("Accept-Language")), "zh") && lp.locales["zh-CN"] {
			locale = "zh-CN"
		}
	}
	if t := lp.pages[purpose+"/"+locale]; t != nil {
		return t, locale
	}
	return lp.pages["/"+locale], locale
}

// linkView is what a page renders.
type linkView struct {
	Lang         string
	View         string // form, thanks, answered, expired, unknown or failed
	CSS          string
	CustomerName string
	Context      map[string]any    // the link's context, e.g. the complaint's subject
	Values       map[string]string // what the customer entered (on the form again, and on the thank-you page)
	Errors       map[string]string // the fields at fault, with the rule's (English) message
}

// linkStatus is the HTTP status of each view.
var linkStatus = map[string]int{
	"form": http.StatusOK, "thanks": http.StatusOK, "answered": http.StatusConflict,
	"expired": http.StatusGone, "unknown": http.StatusNotFound, "failed": http.StatusServiceUnavailable,
}

// linkRequest is one request on a link: the link (zero when unknown) and how to answer.
type linkRequest struct {
	c    *gin.Context
	link store.CustomerLink
	json bool
}

// render answers the view: a page, or for a JSON request a status or a problem.
func (s *Server) renderLink(r linkRequest, view string, v linkView, fields []domain.FieldError) {
	c := r.c
	status := linkStatus[view]
	if status == 0 || (view == "form" && len(fields) > 0) {
		status = http.StatusUnprocessableEntity
	}
	if r.json {
		switch {
		case view == "thanks":
			writeJSON(c, status, gin.H{"status": "recorded", "link_id": r.link.ID})
		case len(fields) > 0:
			writeProblem(c, invalid(fields...))
		default:
			writeProblem(c, problem(status, linkDetail[view]))
		}
		return
	}
	t, locale := linkTemplates.page(c, r.link.Purpose, r.link.Locale)
	v.Lang, v.View, v.CSS = locale, view, linkCSSPath
	v.CustomerName, v.Context = r.link.CustomerName, r.link.Context
	if v.Values == nil {
		v.Values = map[string]string{}
	}
	v.Errors = map[string]string{}
	for _, f := range fields {
		v.Errors[f.Field] = f.Message
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		s.internal(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", linkPageCSP)
	h.Set("Referrer-Policy", "no-referrer") // the token is in the URL
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// linkDetail is the problem detail of each view, for JSON requests.
var linkDetail = map[string]string{
	"answered": "this link has been answered already",
	"expired":  "this link has expired and takes no answer",
	"unknown":  "no such link",
	"failed":   "the answer could not be recorded now; try again in a few minutes",
}

// linkCSS serves the pages' stylesheet.
func (s *Server) linkCSS(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/css; charset=utf-8", linkTemplates.css)
}

// loadLink finds the link of the :token path parameter by the token's hash. It answers
// the 404 page and returns false when there is none.
func (s *Server) loadLink(r *linkRequest) bool {
	err := store.ErrNotFound // a token that is not text names no link
	if token := r.c.Param("token"); isText(token) && len(token) <= 256 {
		r.link, err = s.st.CustomerLinkByToken(r.c.Request.Context(), token)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		r.link = store.CustomerLink{}
		s.renderLink(*r, "unknown", linkView{}, nil)
		return false
	case err != nil:
		s.internal(r.c, err)
		return false
	}
	return true
}

// linkPurpose is the purpose of l, as its process declares it in the registry.
func linkPurpose(l store.CustomerLink) (domain.LinkPurpose, bool) {
	d, ok := workflows.Lookup(l.Process)
	if !ok {
		return domain.LinkPurpose{}, false
	}
	p, ok := d.Links[l.Purpose]
	return p, ok
}

// closedView is the view of a link that takes no answer now ("" when it takes one).
func (s *Server) closedView(l store.CustomerLink) string {
	switch l.StatusAt(s.now().UTC()) {
	case domain.LinkAnswered:
		return "answered"
	case domain.LinkExpired:
		return "expired"
	}
	if _, ok := linkPurpose(l); !ok {
		return "unknown"
	}
	return ""
}

// linkPage serves a link's page: its form, or why it takes no answer.
func (s *Server) linkPage(c *gin.Context) {
	r := linkRequest{c: c}
	if !s.loadLink(&r) {
		return
	}
	view := s.closedView(r.link)
	if view == "" {
		view = "form"
	}
	s.renderLink(r, view, linkView{}, nil)
}

// answerLink takes the customer's answer: it checks it against the purpose's rules
// (422: the form again, with the message on the field), hands it to the workflow, which
// takes one answer per link, records it and shows the thank-you page. An answered,
// expired or unknown link gets its page (409, 410, 404) and changes nothing.
func (s *Server) answerLink(c *gin.Context) {
	r := linkRequest{c: c, json: strings.Contains(c.GetHeader("Content-Type"), "json")}
	raw, values, ok := s.readAnswer(r)
	if !ok || !s.loadLink(&r) {
		return
	}
	if view := s.closedView(r.link); view != "" {
		s.renderLink(r, view, linkView{}, nil)
		return
	}
	purpose, _ := linkPurpose(r.link)
	answer := raw
	if !r.json {
		answer = formAnswer(purpose, values)
	}
	if errs := purpose.Validate(answer); len(errs) > 0 {
		s.renderLink(r, "form", linkView{Values: values}, errs)
		return
	}

	if r.link.AnswerUpdate == domain.AnswerStored {
		s.storeLinkAnswer(r, answer, values)
		return
	}
	s.waitForWorkflow(c) // the answer goes to the workflow
	ctx := c.Request.Context()
	at := s.now().UTC()
	uctx, cancel := context.WithTimeout(ctx, s.cfg.UpdateTimeout)
	defer cancel()
	var err error
	if r.link.AnswerUpdate == domain.UpdateSubmitFeedback { // a complaint run from before customer links
		err = s.update(uctx, r.link.WorkflowID, domain.UpdateSubmitFeedback, domain.FeedbackFromAnswer(answer, at), nil)
	} else {
		var res domain.LinkAnswerResult
		err = s.update(uctx, r.link.WorkflowID, domain.UpdateLinkAnswer,
			domain.LinkAnswer{LinkID: r.link.ID, Purpose: r.link.Purpose, Answer: answer}, &res)
	}
	if err != nil {
		s.linkUpdateFailed(r, values, err)
		return
	}
	// The workflow has stored the answer already (a run from before customer links has
	// not): recording it again changes nothing.
	wctx, cancel := s.afterwards(ctx)
	defer cancel()
	switch err := store.RecordLinkAnswer(wctx, s.st.Pool, r.link.ID, answer, at); {
	case err == nil, errors.Is(err, store.ErrConflict):
	default:
		s.log.Warn("record link answer", "err", err, "link_id", r.link.ID)
	}
	// The thank-you page sees the answer: it may thank a decline otherwise than a yes.
	s.renderLink(r, "thanks", linkView{Values: values}, nil)
}

// linkAnswered acts, for a purpose, on an answer that the request stored itself
// (domain.AnswerStored): a survey's starts a detractor's return visit. A process's own
// file adds its entry. It runs after the answer is stored, on a context that outlives
// the request; what it fails to do, the process catches up itself.
var linkAnswered = map[string]func(s *Server, ctx context.Context, l store.CustomerLink, answer map[string]any, at time.Time){}

// storeLinkAnswer stores the answer of a link no workflow waits for, exactly once and
// before its expiry (the row's update decides: a second answer finds it answered, a
// late one expired), then runs the purpose's linkAnswered and thanks the customer.
func (s *Server) storeLinkAnswer(r linkRequest, answer map[string]any, values map[string]string) {
	ctx := r.c.Request.Context()
	at := s.now().UTC()
	switch err := store.RecordLinkAnswer(ctx, s.st.Pool, r.link.ID, answer, at); {
	case errors.Is(err, store.ErrConflict):
		s.renderLink(r, "answered", linkView{}, nil)
		return
	case errors.Is(err, store.ErrExpired):
		s.renderLink(r, "expired", linkView{}, nil)
		return
	case err != nil:
		s.log.Error("store link answer", "err", err, "link_id", r.link.ID)
		s.renderLink(r, "failed", linkView{Values: values}, nil)
		return
	}
	if then := linkAnswered[r.link.Purpose]; then != nil {
		actx, cancel := s.afterwards(ctx)
		defer cancel()
		then(s, actx, r.link, answer, at)
	}
	s.renderLink(r, "thanks", linkView{Values: values}, nil)
}

// afterwards is the context of a write that must happen although the customer may have
// gone away: not cancelled with the request, but bounded by DBTimeout.
func (s *Server) afterwards(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DBTimeout)
}

// linkUpdateFailed answers an Update the workflow did not take.
func (s *Server) linkUpdateFailed(r linkRequest, values map[string]string, err error) {
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	view := "failed"
	var fields []domain.FieldError
	switch {
	case errors.As(err, &appErr) && appErr.Type() == domain.ErrTypeLinkAnswered:
		view = "answered"
	case errors.As(err, &appErr) && appErr.Type() == domain.ErrTypeInvalidData:
		if appErr.HasDetails() {
			_ = appErr.Details(&fields)
		}
		if len(fields) == 0 {
			fields = []domain.FieldError{{Field: "answer", Message: appErr.Message()}}
		}
		view = "form"
	case errors.As(err, &appErr) && (appErr.Type() == domain.ErrTypeLinkExpired || appErr.Type() == domain.ErrTypeNotAccepting),
		errors.As(err, &notFound):
		// The process takes no answer any more (or has ended): so says the link now.
		view = "expired"
		wctx, cancel := s.afterwards(r.c.Request.Context())
		defer cancel()
		if _, err := store.ExpireCustomerLink(wctx, s.st.Pool, r.link.ID); err != nil {
			s.log.Warn("expire link", "err", err, "link_id", r.link.ID)
		}
	case errors.As(err, &appErr) && appErr.Type() == domain.ErrTypeLinkUnknown:
		// The run does not know the link (a run that continued as new without it, say):
		// the link is not to blame, so it stays open and the customer may try again.
		s.log.Error("answer link: the workflow does not know it", "link_id", r.link.ID, "workflow_id", r.link.WorkflowID)
	default:
		s.log.Error("answer link", "err", err, "link_id", r.link.ID, "workflow_id", r.link.WorkflowID)
	}
	s.renderLink(r, view, linkView{Values: values}, fields)
}

// readAnswer reads the answer of the request body: a JSON object, or a form (whose
// values are also what the page shows again). Over the size limit it answers 413,
// malformed 400.
func (s *Server) readAnswer(r linkRequest) (answer map[string]any, values map[string]string, ok bool) {
	c := r.c
	if r.json {
		body, p := readBody(c)
		if p == nil {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber() // an integer stays exact; 4.5 stays no integer
			if !json.Valid(body) || dec.Decode(&answer) != nil || answer == nil {
				p = malformed("the request body must be a JSON object")
			}
		}
		if p != nil {
			writeProblem(c, p)
			return nil, nil, false
		}
		return answer, nil, true
	}
	if err := c.Request.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(c, problem(http.StatusRequestEntityTooLarge, "the request body is too large"))
		} else {
			writeProblem(c, malformed("malformed form"))
		}
		return nil, nil, false
	}
	values = map[string]string{}
	for k := range c.Request.PostForm {
		values[k] = c.Request.PostForm.Get(k)
	}
	return nil, values, true
}

// formAnswer turns the form values into the answer the purpose's rules check: each of
// its fields, an integer as a number when it is one; other form values are ignored.
func formAnswer(p domain.LinkPurpose, values map[string]string) map[string]any {
	answer := map[string]any{}
	for _, f := range p.Fields {
		v, ok := values[f.Name]
		v = strings.TrimSpace(v)
		if !ok || (v == "" && !f.Required) {
			continue
		}
		if f.Type == "integer" {
			if n, err := strconv.Atoi(v); err == nil {
				answer[f.Name] = n
				continue
			}
		}
		answer[f.Name] = v
	}
	return answer
}
