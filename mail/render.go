package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/serviceflow/serviceflow/domain"
)

// Each template is one file per locale, templates/<locale>/<name>.tmpl, defining
// "subject" and "text" (run by text/template) and "html" (run by html/template, which
// escapes the data). templates/<locale>/common.tmpl holds the shared layout pieces.
//
//go:embed templates
var templateFS embed.FS

// Templates lists every template name Render knows.
var Templates = []string{
	domain.TmplComplaintAck, domain.TmplComplaintResponse, domain.TmplComplaintResolution,
	domain.TmplFeedbackRequest, domain.TmplFeedbackReminder, domain.TmplTaskAssigned, domain.TmplTaskReminder,
	domain.TmplEscalation,
	domain.TmplContractChangesRequested, domain.TmplContractApproved, domain.TmplContractDepartmentNotice,
	domain.TmplContractAmendmentRejected,
}

// optionalKeys are the data keys a template may go without; any other missing key fails.
var optionalKeys = map[string][]string{
	domain.TmplComplaintResolution: {"amount"},
}

type templateSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// templates[locale][name], parsed once at start-up: the files are embedded, so a parse
// error is a programming error caught by the tests.
var templates = mustParseTemplates()

func mustParseTemplates() map[string]map[string]templateSet {
	out := map[string]map[string]templateSet{}
	for _, loc := range domain.Locales {
		out[loc] = map[string]templateSet{}
		for _, name := range Templates {
			files := []string{"templates/" + loc + "/common.tmpl", "templates/" + loc + "/" + name + ".tmpl"}
			t := texttemplate.Must(texttemplate.New(name).Option("missingkey=error").ParseFS(templateFS, files...))
			h := htmltemplate.Must(htmltemplate.New(name).Option("missingkey=error").ParseFS(templateFS, files...))
			for _, block := range []string{"subject", "text"} {
				if t.Lookup(block) == nil {
					panic(fmt.Sprintf("mail: template %s/%s defines no %q", loc, name, block))
				}
			}
			if h.Lookup("html") == nil {
				panic(fmt.Sprintf("mail: template %s/%s defines no \"html\"", loc, name))
			}
			out[loc][name] = templateSet{text: t, html: h}
		}
	}
	return out
}

// Locale returns the template locale for a customer or user locale: "zh-CN" (any case)
// or else "en".
func Locale(locale string) string {
	if strings.EqualFold(locale, "zh-CN") {
		return "zh-CN"
	}
	return "en"
}

// Render renders a template in the locale ("en" or "zh-CN"; anything else falls back to
// en). A data key the template needs and does not document as optional is an error. The
// subject is one line.
func Render(template, locale string, data map[string]any) (subject, text, html string, err error) {
	set, ok := templates[Locale(locale)][template]
	if !ok {
		return "", "", "", fmt.Errorf("mail: unknown template %q", template)
	}
	d := make(map[string]any, len(data)+len(optionalKeys[template]))
	for _, k := range optionalKeys[template] {
		d[k] = ""
	}
	for k, v := range data {
		d[k] = v
	}
	var b bytes.Buffer
	if err := set.text.ExecuteTemplate(&b, "subject", d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s subject: %w", template, err)
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := set.text.ExecuteTemplate(&b, "text", d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s text: %w", template, err)
	}
	text = strings.TrimSpace(b.String()) + "\n"
	b.Reset()
	if err := set.html.ExecuteTemplate(&b, "html", d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s html: %w", template, err)
	}
	return subject, text, strings.TrimSpace(b.String()) + "\n", nil
}
