package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"
	"gopkg.in/yaml.v3"
)

// openAPIProblems lints spec as a standard OpenAPI 3.1 linter does and returns every
// problem: libopenapi loads it (a document that does not parse, a model that does not
// build, such as a $ref to nothing, and whatever it logs as an error), libopenapi-validator
// validates the document against the OpenAPI 3.1 schema (each violation with its line,
// column and location), and every Schema Object is checked against the OAS 3.1 schema
// dialect made strict (schemaKeywordProblems).
func openAPIProblems(spec []byte) (out []string) {
	logged := &errorLog{}
	cfg := datamodel.NewDocumentConfiguration()
	cfg.Logger = slog.New(logged)
	defer func() { out = append(out, logged.lines()...) }()
	doc, err := libopenapi.NewDocumentWithConfiguration(spec, cfg)
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	out = schemaKeywordProblems(spec)
	if _, err := doc.BuildV3Model(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			out = append(out, "model: "+line)
		}
	}
	v, errs := validator.NewValidator(doc)
	for _, err := range errs {
		out = append(out, "validator: "+err.Error())
	}
	if v == nil {
		return out
	}
	if ok, verrs := v.ValidateDocument(); !ok || len(verrs) > 0 {
		for _, e := range verrs {
			out = append(out, fmt.Sprintf("line %d col %d: %s: %s", e.SpecLine, e.SpecCol, e.Message, e.Reason))
			for _, f := range e.SchemaValidationErrors {
				out = append(out, fmt.Sprintf("  line %d col %d at %s (%s): %s", f.Line, f.Column, f.FieldPath, f.KeywordLocation, f.Reason))
			}
		}
		if len(verrs) == 0 {
			out = append(out, "the document is not valid, with no error given")
		}
	}
	return out
}

// errorLog keeps what libopenapi logs at error level (an unresolvable reference, …).
type errorLog struct {
	mu  sync.Mutex
	out []string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	line := "libopenapi: " + r.Message
	r.Attrs(func(a slog.Attr) bool { line += fmt.Sprintf(" %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out = append(l.out, line)
	return nil
}
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }
func (l *errorLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.out...)
}

// strictDialect is the OAS 3.1 base dialect (JSON Schema 2020-12 and the OAS
// vocabulary) with no keyword besides those and x- extensions, as linters such as
// Redocly's enforce: a description that breaks its YAML flow mapping, or a 3.0 keyword
// like nullable, shows as an unknown keyword. Its $dynamicAnchor makes every subschema
// strict too (the 2020-12 meta-schemas reach subschemas through $dynamicRef "#meta").
const strictDialect = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:serviceflow:oas-3.1-strict-dialect",
  "$dynamicAnchor": "meta",
  "$ref": "https://json-schema.org/draft/2020-12/schema",
  "properties": {
    "discriminator": {"type": "object", "required": ["propertyName"]},
    "xml": {"type": "object"},
    "externalDocs": {"type": "object", "required": ["url"]},
    "example": true
  },
  "patternProperties": {"^x-": true},
  "unevaluatedProperties": false
}`

var strictSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	meta, err := jsonschema.UnmarshalJSON(strings.NewReader(strictDialect))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("urn:serviceflow:oas-3.1-strict-dialect", meta); err != nil {
		return nil, err
	}
	return c.Compile("urn:serviceflow:oas-3.1-strict-dialect")
})

// schemaKeywordProblems checks every Schema Object of spec (components.schemas and each
// "schema" of a parameter, header or media type) against strictDialect.
func schemaKeywordProblems(spec []byte) []string {
	sch, err := strictSchema()
	if err != nil {
		return []string{"strict dialect: " + err.Error()}
	}
	var raw any
	if err := yaml.Unmarshal(spec, &raw); err != nil {
		return []string{"yaml: " + err.Error()}
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return []string{"yaml to json: " + err.Error()}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return []string{"json: " + err.Error()}
	}
	schemas := map[string]any{}
	var walk func(n any, at string)
	walk = func(n any, at string) {
		switch n := n.(type) {
		case map[string]any:
			for k, v := range n {
				switch p := at + "/" + k; {
				case k == "schema" || at == "/components/schemas":
					schemas[p] = v // not walked further: the dialect checks its subschemas
				case strings.HasPrefix(k, "x-") || k == "example" || k == "examples":
				default:
					walk(v, p)
				}
			}
		case []any:
			for i, v := range n {
				walk(v, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(doc, "")
	var out []string
	for at, s := range schemas {
		if err := sch.Validate(s); err != nil {
			out = append(out, fmt.Sprintf("schema %s: %v", at, err))
		}
	}
	sort.Strings(out)
	return out
}

// The served openapi.yaml is a valid OpenAPI 3.1 document, as a standard linter sees it.
func TestOpenAPIIsValid(t *testing.T) {
	if !strings.Contains(string(openapiYAML), "openapi: 3.1") {
		t.Fatal("openapi.yaml does not declare OpenAPI 3.1")
	}
	for _, p := range openAPIProblems(openapiYAML) {
		t.Error(p)
	}
}

// The check itself finds what a linter finds: YAML that does not parse, a description
// that breaks its flow mapping into an unknown keyword, a schema of an unknown type or
// with a 3.0 keyword, a $ref to nothing, a document or parameter missing what 3.1 requires.
func TestOpenAPIValidationCatchesErrors(t *testing.T) {
	const head = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n"
	for name, spec := range map[string]string{
		"broken flow mapping": head + "paths: {}\ncomponents:\n  schemas:\n    C:\n      type: object\n" +
			"      properties:\n        revision: {type: integer, description: counts from 1: the first}\n",
		"unknown type": head + "paths: {}\ncomponents:\n  schemas:\n    C: {type: whole}\n",
		"a 3.0 keyword": head + "paths: {}\ncomponents:\n  schemas:\n    C:\n      type: object\n" +
			"      properties:\n        p: {type: string, nullable: true}\n",
		"an unquoted description with a comma": head + "paths: {}\ncomponents:\n  schemas:\n    C:\n      type: object\n" +
			"      properties:\n        revision: {type: integer, description: The revision under review, or in force from approval on.}\n",
		"no version":             "openapi: 3.1.0\ninfo: {title: t}\npaths: {}\n",
		"a path without a slash": head + "paths:\n  x:\n    get: {responses: {'200': {description: ok}}}\n",
		"a parameter without in": head + "paths:\n  /x:\n    get:\n      parameters: [{name: q, schema: {type: string}}]\n" +
			"      responses: {'200': {description: ok}}\n",
		"dangling ref": head + "paths:\n  /x:\n    get:\n      responses:\n        '200':\n          description: ok\n" +
			"          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Nope'}\n",
	} {
		if p := openAPIProblems([]byte(spec)); len(p) == 0 {
			t.Errorf("%s: no problem found", name)
		} else {
			t.Logf("%s: %s", name, strings.Join(p, "; "))
		}
	}
	if p := openAPIProblems([]byte(head + "paths: {}\n")); len(p) != 0 {
		t.Errorf("a minimal valid document: %v", p)
	}
}
