package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// What every process's case pages share (each process's pages are in its own file,
// web/<process>s.go): list filters and paging, statuses, events and timelines named in
// the page's language, the link to a case (caseLink) and the 404 of a case the user may
// not see. Pages read only through the API's functions, which decide who sees what as the
// JSON API does: a case the user may not see is the app's 404 page, a list the user may
// not read a 403 page.

// casePageSize is how many cases one list page shows.
const casePageSize = 25

// filterOption is an option of a list's filter select.
type filterOption struct {
	Value, Label string
	Selected     bool
}

// filterOptions are the options of a select over values, the empty one ("any") first.
func filterOptions(p page, values []string, selected string, label func(page, string) string) []filterOption {
	out := []filterOption{{Value: "", Label: p.T("cases.any"), Selected: selected == ""}}
	for _, v := range values {
		out = append(out, filterOption{Value: v, Label: label(p, v), Selected: v == selected})
	}
	return out
}

// queryValue is the query parameter name of r when it is one of values ("" otherwise).
func queryValue(r *http.Request, name string, values []string) string {
	if v := r.URL.Query().Get(name); slices.Contains(values, v) {
		return v
	}
	return ""
}

// queryText is the query parameter name of r as short text ("" when it is not).
func queryText(r *http.Request, name string) string {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || len(v) > 100 {
		return ""
	}
	return v
}

// queryCursor is the cursor query parameter of r when it is one of list ("" otherwise).
func queryCursor(r *http.Request, list string) string {
	c := r.URL.Query().Get("cursor")
	if _, _, err := store.DecodeCursor(c, list); err != nil {
		return ""
	}
	return c
}

// nextLink is the link of a list's next page: path with the filters and the cursor.
func nextLink(path string, q url.Values, next string) string {
	if next == "" {
		return ""
	}
	v := url.Values{}
	for k, vals := range q {
		if len(vals) > 0 && vals[0] != "" {
			v.Set(k, vals[0])
		}
	}
	v.Set("cursor", next)
	return path + "?" + v.Encode()
}

// statusName is a case status in the page's language.
func statusName(p page, status string) string {
	return p.name("status", status)
}

// className is a contract class in the page's language.
func className(p page, class string) string {
	if id := "class." + class; p.Has(id) {
		return p.T(id)
	}
	return class
}

// reasonName is why a contract has its class (a requirement or a reason) in the page's
// language.
func reasonName(p page, reason string) string {
	if id := "reason." + reason; p.Has(id) {
		return p.T(id)
	}
	return fieldLabel(p, reason)
}

// eventName is an audit event in the page's language.
func eventName(p page, event string) string {
	return p.name("event", event)
}

// money is an amount with its currency.
func money(m domain.Money) string {
	if m.Amount == "" {
		return ""
	}
	return m.Amount + " " + m.Currency
}

// fact is one labelled value of a case page.
type fact struct {
	Key, Label, Text string
	Long             bool
}

// timelineRow is one audit event as a case page shows it.
type timelineRow struct {
	At           time.Time
	Actor, Event string
	Detail       []fact
}

// caseLink is the page of case id of the process, "" for a process without case pages.
func caseLink(process, id string) string {
	for _, c := range caseProcesses {
		if c.name == process {
			return c.base() + "/" + url.PathEscape(id)
		}
	}
	return ""
}

// caseID is the {id} of a case page's path ("" when it is not text: nothing has it).
func caseID(r *http.Request) string {
	id := r.PathValue("id")
	if !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return ""
	}
	return id
}

// caseRefused answers a case the user may not see (or that does not exist) with the
// 404 page, never saying which; other errors as refused does. It reports whether err
// was not nil.
func (a *App) caseRefused(w http.ResponseWriter, r *http.Request, u *store.User, err error) bool {
	if p, isProblem := problemOf(err); isProblem && p.Status == http.StatusNotFound {
		a.notFound(w, r, u)
		return true
	}
	return a.refused(w, r, u, err)
}

// timeline is a case's audit events for the page: times in the user's zone, events
// named in the page's language, details as labelled values.
func timeline(p page, entries []store.TimelineEntry) []timelineRow {
	out := make([]timelineRow, 0, len(entries))
	for _, e := range entries {
		out = append(out, timelineRow{At: e.At, Actor: e.Actor, Event: eventName(p, e.Event), Detail: details(p, e.Detail)})
	}
	return out
}

// detailHidden are entries of an audit event's detail that are not for people.
var detailHidden = []string{"task_id", "key", "link_id", "payment_id"}

// details renders an audit event's detail map as labelled values, in name order.
func details(p page, m map[string]any) []fact {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !slices.Contains(detailHidden, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []fact
	for _, k := range keys {
		if text := detailText(p, k, m[k]); text != "" {
			label := fieldLabel(p, k)
			if p.Has("detail." + k) { // a name that reads otherwise in an event (an e-mail's "to")
				label = p.T("detail." + k)
			}
			out = append(out, fact{Key: k, Label: label, Text: text})
		}
	}
	return out
}

// detailText is one detail value as text: steps, statuses and options named, times in
// the user's zone, lists and maps flattened.
func detailText(p page, key string, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if ts, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return p.When(ts)
		}
		switch {
		case key == "step":
			return stepName(p, x)
		case key == "status":
			return statusName(p, x)
		case key == "class":
			return className(p, x)
		case key == "class_reasons":
			return reasonName(p, x)
		case key == "route" || key == "current_steps":
			return stepName(p, x)
		case key == "action" || key == "decision":
			return actionLabel(p, x)
		case slices.Contains(enumKeys, key):
			return optionLabel(p, x)
		}
		return x
	case bool:
		if x {
			return p.T("task.yes")
		}
		return p.T("task.no")
	case []any:
		parts := make([]string, 0, len(x))
		for _, it := range x {
			if s := detailText(p, key, it); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		if amt, ok := x["amount"].(string); ok {
			if cur, ok := x["currency"].(string); ok && len(x) == 2 {
				return amt + " " + cur
			}
		}
		var parts []string
		for _, f := range details(p, x) {
			parts = append(parts, f.Label+": "+f.Text)
		}
		return strings.Join(parts, "; ")
	}
	return fmt.Sprint(v)
}
