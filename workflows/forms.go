package workflows

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/serviceflow/serviceflow/domain"
)

// ValidateForm checks the data of a task completion against the form fields that apply
// to action: required fields are present and not blank, values have the field's type,
// enum values are among the options, and no field outside the form is sent. It is pure,
// so it may run in an Update validator. Errors come in form order, unknown fields last.
func ValidateForm(form []domain.FormField, action string, data map[string]any) []domain.FieldError {
	var errs []domain.FieldError
	known := map[string]bool{}
	for _, f := range form {
		if len(f.Actions) > 0 && !slices.Contains(f.Actions, action) {
			continue
		}
		known[f.Name] = true
		v, ok := data[f.Name]
		if !ok || v == nil {
			if f.Required {
				errs = append(errs, domain.FieldError{Field: f.Name, Message: "is required"})
			}
			continue
		}
		if msg := checkValue(f, v); msg != "" {
			errs = append(errs, domain.FieldError{Field: f.Name, Message: msg})
		}
	}
	var unknown []string
	// The names are sorted below, so the iteration order does not matter.
	//workflowcheck:ignore
	for name := range data {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		errs = append(errs, domain.FieldError{Field: name, Message: "is not a field of this form"})
	}
	return errs
}

// checkValue returns why v is not a valid value of f, or "". A type it does not know
// accepts any value.
func checkValue(f domain.FormField, v any) string {
	switch f.Type {
	case "money":
		if _, err := parseMoney(v); err != nil {
			return err.Error()
		}
	case "integer":
		n, ok := v.(float64) // JSON numbers decode as float64
		if i, isInt := v.(int); isInt {
			n, ok = float64(i), true
		}
		if !ok || n != math.Trunc(n) {
			return "must be a whole number"
		}
	case "list":
		items, ok := v.([]any)
		if !ok {
			return "must be a list"
		}
		if len(f.Options) > 0 {
			for _, item := range items {
				if s, _ := item.(string); !slices.Contains(f.Options, s) {
					return "must list only " + strings.Join(f.Options, ", ")
				}
			}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return "must be true or false"
		}
	case "date":
		s, _ := v.(string)
		if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != len(time.DateOnly) {
			return "must be a date YYYY-MM-DD"
		}
	case "datetime":
		s, _ := v.(string)
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return "must be a time in RFC 3339, e.g. 2026-05-04T10:00:00+08:00"
		}
	case "string", "text", "enum":
		s, ok := v.(string)
		if !ok {
			return "must be a string"
		}
		if f.Required && strings.TrimSpace(s) == "" {
			return "is required"
		}
		if f.Type == "enum" && !slices.Contains(f.Options, s) {
			return "must be one of " + strings.Join(f.Options, ", ")
		}
	}
	return ""
}

// parseMoney reads a money value: a JSON object {"amount": "12.50", "currency": "CNY"}
// (or a domain.Money), and validates it.
func parseMoney(v any) (domain.Money, error) {
	var m domain.Money
	switch x := v.(type) {
	case domain.Money:
		m = x
	case *domain.Money:
		if x == nil {
			return m, fmt.Errorf("is required")
		}
		m = *x
	case map[string]any:
		amount, ok1 := x["amount"].(string)
		currency, ok2 := x["currency"].(string)
		if !ok1 || !ok2 || len(x) != 2 {
			return m, fmt.Errorf("must be an object {\"amount\": \"1234.50\", \"currency\": \"CNY\"} with string values")
		}
		m = domain.Money{Amount: amount, Currency: currency}
	default:
		return m, fmt.Errorf("must be an object {\"amount\": \"1234.50\", \"currency\": \"CNY\"}")
	}
	return m, m.Validate()
}

// dataString returns the trimmed string value of a data field, or "".
func dataString(data map[string]any, name string) string {
	s, _ := data[name].(string)
	return strings.TrimSpace(s)
}

// dataMoney returns the money value of a data field, or nil when it is absent or invalid
// (validation has rejected invalid values before).
func dataMoney(data map[string]any, name string) *domain.Money {
	v, ok := data[name]
	if !ok || v == nil {
		return nil
	}
	m, err := parseMoney(v)
	if err != nil {
		return nil
	}
	return &m
}
