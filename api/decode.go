package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/mail"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// jsonSpace is the white space JSON allows around a value.
const jsonSpace = " \t\r\n"

// maxFieldErrors caps the entries of one 422, so a hostile body cannot make the answer
// many times its own size.
const maxFieldErrors = 50

// readBody reads the (size-limited) request body: 413 when it is over the limit.
func readBody(c *gin.Context) ([]byte, *Problem) {
	b, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, problem(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit))
	}
	if err != nil {
		return nil, problem(http.StatusBadRequest, "could not read the request body")
	}
	return b, nil
}

func malformed(detail string) *Problem {
	return &Problem{Type: typeMalformed, Title: "Malformed request", Status: http.StatusBadRequest, Detail: detail}
}

// decodeJSON decodes the body strictly into the struct dst (see decodeStrict). Over the
// size limit it answers 413, malformed JSON 400, and returns false. Otherwise it returns
// the bad fields of the body, to which the handler adds its own checks before answering
// them all in one 422.
func decodeJSON(c *gin.Context, dst any, optional bool) (checks, bool) {
	body, p := readBody(c)
	var v checks
	if p == nil {
		v, p = decodeStrict(body, dst, optional)
	}
	if p != nil {
		writeProblem(c, p)
		return nil, false
	}
	return v, true
}

// decodeStrict decodes the JSON object body into the struct dst points to. Malformed
// JSON, or JSON that is not an object, is a 400 problem. Otherwise each field of the body
// that is unknown, given twice, of the wrong type or holding a NUL character is returned,
// in the body's order, and every other field is decoded. Names match exactly (where
// encoding/json would also take "Name" for "name"). An empty body is {} when optional.
func decodeStrict(body []byte, dst any, optional bool) (checks, *Problem) {
	body = bytes.Trim(body, jsonSpace)
	switch {
	case len(body) == 0 && optional:
		return nil, nil
	case len(body) == 0:
		return nil, malformed("the request body is empty; a JSON object is expected")
	case !json.Valid(body):
		var x any
		return nil, malformed("malformed JSON: " + json.Unmarshal(body, &x).Error())
	case body[0] != '{':
		return nil, malformed("the request body must be a JSON object")
	}
	var v checks
	decodeObject(body, reflect.ValueOf(dst).Elem(), "", &v)
	return v, nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// decodeObject decodes the valid JSON object obj into the struct dst field by field, so
// that every bad field is reported, not only the first. prefix names nested fields.
func decodeObject(obj []byte, dst reflect.Value, prefix string, v *checks) {
	fields := jsonFields(dst.Type())
	seen := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(obj))
	_, _ = dec.Token() // '{'; obj is valid JSON, so neither this nor the calls below fail
	for dec.More() {
		tok, _ := dec.Token()
		key := tok.(string)
		var raw json.RawMessage
		_ = dec.Decode(&raw)
		i, known := fields[key]
		name := prefix + clip(key, 100)
		if key == "" {
			name = prefix + `""` // an empty name, spelled as in JSON
		}
		switch {
		case !known:
			v.add(name, "unknown field")
		case seen[key]:
			v.add(name, "is given more than once")
		default:
			seen[key] = true
			decodeField(raw, dst.Field(i), name, v)
		}
	}
}

// decodeField decodes raw into the struct field f, recursing into nested objects and
// into arrays of objects (each element's fields named name[i].field).
func decodeField(raw json.RawMessage, f reflect.Value, name string, v *checks) {
	t := f.Type()
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && raw[0] == '{' && !reflect.PointerTo(t).Implements(unmarshalerType) {
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(t))
			f = f.Elem()
		}
		decodeObject(raw, f, name+".", v)
		return
	}
	if f.Kind() == reflect.Slice && raw[0] == '[' && f.Type().Elem().Kind() == reflect.Struct &&
		!reflect.PointerTo(f.Type().Elem()).Implements(unmarshalerType) {
		decodeArray(raw, f, name, v)
		return
	}
	if hasNUL(raw) {
		v.add(name, "must not contain NUL characters")
		return
	}
	if err := json.Unmarshal(raw, f.Addr().Interface()); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			v.add(name, "must be "+jsonKind(typeErr.Type.Kind()))
		} else {
			v.add(name, "is invalid")
		}
	}
}

// decodeArray decodes the valid JSON array arr into the slice of structs f element by
// element, each as strictly as the body (unknown, repeated, mistyped fields): an element
// that is not an object is a bad field name[i].
func decodeArray(arr []byte, f reflect.Value, name string, v *checks) {
	dec := json.NewDecoder(bytes.NewReader(arr))
	_, _ = dec.Token() // '['
	out := reflect.MakeSlice(f.Type(), 0, 0)
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		_ = dec.Decode(&raw)
		el := reflect.New(f.Type().Elem()).Elem()
		if elem := fmt.Sprintf("%s[%d]", name, i); raw[0] == '{' {
			decodeObject(raw, el, elem+".", v)
		} else {
			v.add(elem, "must be an object")
		}
		out = reflect.Append(out, el)
	}
	f.Set(out)
}

// jsonFields maps the JSON names of the struct type t to its field indexes.
func jsonFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case !sf.IsExported() || name == "-":
			continue
		case name == "":
			name = sf.Name
		}
		out[name] = i
	}
	return out
}

// hasNUL reports whether a string or key in the JSON value raw holds U+0000, which
// PostgreSQL stores in neither text nor jsonb.
func hasNUL(raw []byte) bool {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
			return true
		}
	}
}

// jsonKind names the JSON type expected for a Go kind.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// isText reports whether s can be stored as PostgreSQL text: valid UTF-8 without NUL.
func isText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// clip shortens s to at most n characters, for echoing client input.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// pathID returns the path parameter name. A value that is not text names no object, so
// it answers 404 for what and returns false.
func pathID(c *gin.Context, name, what string) (string, bool) {
	id := c.Param(name)
	if !isText(id) {
		notFound(c, what)
		return "", false
	}
	return id, true
}

// listParams checks the query of a list into v: every parameter must be text, ?limit=
// an integer from 1 (capped at 200) and ?cursor= one returned by this list.
func listParams(c *gin.Context, v *checks, list string) (limit int, cursor string) {
	q := c.Request.URL.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !isText(k) || slices.ContainsFunc(q[k], func(s string) bool { return !isText(s) }) {
			v.add(clip(k, 100), "must be UTF-8 text without NUL characters")
		}
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			v.add("limit", "must be an integer from 1 to 200")
		}
		limit = min(n, 200)
	}
	cursor = c.Query("cursor")
	if _, _, err := store.DecodeCursor(cursor, list); err != nil {
		v.add("cursor", "is not a cursor returned by this list")
	}
	return limit, cursor
}

// checks collects validation errors, one per field.
type checks []domain.FieldError

// add records msg for field, unless that field, or a part or the whole of it, has
// already failed: one entry per bad field.
func (v *checks) add(field, msg string) {
	if len(*v) >= maxFieldErrors {
		return
	}
	for _, e := range *v {
		if e.Field == field || strings.HasPrefix(e.Field, field+".") || strings.HasPrefix(field, e.Field+".") {
			return
		}
	}
	*v = append(*v, domain.FieldError{Field: field, Message: msg})
}

// text checks a string field: text, required and at most max characters.
func (v *checks) text(field, val string, required bool, max int) {
	switch {
	case !isText(val):
		v.add(field, "must be UTF-8 text without NUL characters")
	case required && strings.TrimSpace(val) == "":
		v.add(field, "is required")
	case utf8.RuneCountInString(val) > max:
		v.add(field, fmt.Sprintf("must be at most %d characters", max))
	}
}

// oneOf checks an enum field; an empty optional value passes.
func (v *checks) oneOf(field, val string, required bool, set []string) {
	switch {
	case val == "" && required:
		v.add(field, "is required")
	case val != "" && !domain.In(val, set):
		v.add(field, "must be one of: "+strings.Join(set, ", "))
	}
}

// email checks a required e-mail address.
func (v *checks) email(field, val string) {
	if val == "" {
		v.add(field, "is required")
		return
	}
	a, err := mail.ParseAddress(val)
	if err != nil || a.Address != val || len(val) > 254 || !strings.Contains(val[strings.LastIndex(val, "@"):], ".") {
		v.add(field, "must be an e-mail address such as name@example.com")
	}
}

// failed reports whether field has an error.
func (v checks) failed(field string) bool {
	return slices.ContainsFunc(v, func(e domain.FieldError) bool { return e.Field == field })
}

// problem returns the 422 problem, or nil when every check passed.
func (v checks) problem() *Problem {
	if len(v) == 0 {
		return nil
	}
	return invalid(v...)
}
