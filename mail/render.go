package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"

	"github.com/serviceflow/serviceflow/domain"
)

// Each template is one file per locale, templates/<locale>/<name>.tmpl for the
// platform's (task notices, escalations) and templates/<locale>/<process>/<name>.tmpl
// for a process's, defining "subject" and "text" (run by text/template) and "html" (run
// by html/template, which escapes the data). templates/<locale>/common.tmpl holds the
// shared layout pieces. The templates are found in the embedded file system: a process
// adds its own by adding files, and every locale must have the same ones.
//
//go:embed templates
var templateFS embed.FS

// commonFile is the name of each locale's shared layout pieces.
const commonFile = "common.tmpl"

type templateSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template
	// optional are the data keys the template may go without (its "optional" block, a
	// list of names); any other missing key fails.
	optional []string
}

// templates[locale][name], parsed once at start-up: the files are embedded, so a parse
// error is a programming error caught by the tests.
var templates = mustParseTemplates(templateFS)

// Templates lists every template name Render knows, sorted.
var Templates = templateNames(templates)

func mustParseTemplates(fsys fs.FS) map[string]map[string]templateSet {
	out, err := parseTemplates(fsys)
	if err != nil {
		panic(err)
	}
	return out
}

// parseTemplates parses every template of every locale in fsys (laid out as
// templateFS). A template missing from a locale, two files of one name, or one that
// lacks a block is an error.
func parseTemplates(fsys fs.FS) (map[string]map[string]templateSet, error) {
	out := map[string]map[string]templateSet{}
	for _, loc := range domain.Locales {
		dir := "templates/" + loc
		files := map[string]string{} // name -> path
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".tmpl") || p == dir+"/"+commonFile {
				return err
			}
			name := strings.TrimSuffix(path.Base(p), ".tmpl")
			if prev, dup := files[name]; dup {
				return fmt.Errorf("mail: template %s is both %s and %s", name, prev, p)
			}
			files[name] = p
			return nil
		})
		if err != nil {
			return nil, err
		}
		out[loc] = map[string]templateSet{}
		for name, p := range files {
			set, err := parseTemplate(fsys, name, dir+"/"+commonFile, p)
			if err != nil {
				return nil, fmt.Errorf("mail: template %s/%s: %w", loc, name, err)
			}
			out[loc][name] = set
		}
	}
	first := domain.Locales[0]
	for _, loc := range domain.Locales[1:] {
		a, b := templateNames(map[string]map[string]templateSet{first: out[first]}), templateNames(map[string]map[string]templateSet{loc: out[loc]})
		if !slices.Equal(a, b) {
			return nil, fmt.Errorf("mail: locales %s and %s have different templates: %v and %v", first, loc, a, b)
		}
	}
	return out, nil
}

func parseTemplate(fsys fs.FS, name string, files ...string) (templateSet, error) {
	t, err := texttemplate.New(name).Option("missingkey=error").ParseFS(fsys, files...)
	if err != nil {
		return templateSet{}, err
	}
	h, err := htmltemplate.New(name).Option("missingkey=error").ParseFS(fsys, files...)
	if err != nil {
		return templateSet{}, err
	}
	for _, block := range []string{"subject", "text"} {
		if t.Lookup(block) == nil {
			return templateSet{}, fmt.Errorf("defines no %q", block)
		}
	}
	if h.Lookup("html") == nil {
		return templateSet{}, errors.New(`defines no "html"`)
	}
	set := templateSet{text: t, html: h}
	if o := t.Lookup("optional"); o != nil {
		var b bytes.Buffer
		if err := o.Execute(&b, nil); err != nil {
			return templateSet{}, fmt.Errorf("optional: %w", err)
		}
		set.optional = strings.Fields(b.String())
	}
	return set, nil
}

// templateNames lists the template names of every locale in sets, sorted, once each.
func templateNames(sets map[string]map[string]templateSet) []string {
	var names []string
	for _, byName := range sets {
		for name := range byName {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
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
	d := make(map[string]any, len(data)+len(set.optional))
	for _, k := range set.optional {
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
