package store

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

// A cursor decodes on the list that issued it and on no other; anything that is not a
// cursor of that list's shape is ErrBadCursor.
func TestCursorBelongsToItsList(t *testing.T) {
	at := time.Date(2026, 5, 1, 9, 30, 0, 123456000, time.UTC)
	issued := map[string]Cursor{
		CursorTasks:          {K: CursorTasks, T: at, N: 2, ID: "tsk_1"},
		CursorComplaints:     {K: CursorComplaints, ID: "cmp_1"},
		CursorContracts:      {K: CursorContracts, ID: "ctr_1"},
		CursorLedger:         {K: CursorLedger, ID: "HT-2026-0001"},
		CursorContractLedger: {K: CursorContractLedger, ID: "HT-2026-0002"},
		CursorCustomers:      {K: CursorCustomers, ID: "cus_1"},
		CursorEscalations:    {K: CursorEscalations, T: at, ID: "esc_1"},
		CursorEmails:         {K: CursorEmails, T: at, ID: "eml_1"},
	}
	for list, c := range issued {
		for other := range issued {
			got, ok, err := DecodeCursor(c.Encode(), other)
			switch {
			case other == list && (err != nil || !ok || got != c):
				t.Errorf("%s: round trip gave %+v, %v, %v", list, got, ok, err)
			case other != list && !errors.Is(err, ErrBadCursor):
				t.Errorf("a %s cursor on %s: %v, want ErrBadCursor", list, other, err)
			}
		}
	}
	if c, ok, err := DecodeCursor("", CursorTasks); err != nil || ok || c != (Cursor{}) {
		t.Errorf("no cursor: %+v, %v, %v", c, ok, err)
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, s := range map[string]string{
		"not base64":     "bad!",
		"padded":         base64.URLEncoding.EncodeToString([]byte(`{"k":"tasks","t":"2026-01-01T00:00:00Z","id":"x"}`)),
		"not JSON":       b64("tasks"),
		"an array":       b64(`["tasks"]`),
		"no list":        b64(`{"t":"2026-01-01T00:00:00Z","id":"x"}`),
		"no id":          b64(`{"k":"tasks","t":"2026-01-01T00:00:00Z"}`),
		"no time":        b64(`{"k":"tasks","n":1,"id":"x"}`),
		"an extra field": b64(`{"k":"tasks","t":"2026-01-01T00:00:00Z","id":"x","z":1}`),
		"trailing data":  b64(`{"k":"tasks","t":"2026-01-01T00:00:00Z","id":"x"}{}`),
		"bad time":       b64(`{"k":"tasks","t":"yesterday","id":"x"}`),
	} {
		if _, _, err := DecodeCursor(s, CursorTasks); !errors.Is(err, ErrBadCursor) {
			t.Errorf("%s: %v, want ErrBadCursor", name, err)
		}
	}
	for name, s := range map[string]string{
		"a time":   b64(`{"k":"complaints","t":"2026-01-01T00:00:00Z","id":"cmp_1"}`),
		"a number": b64(`{"k":"complaints","n":3,"id":"cmp_1"}`),
	} {
		if _, _, err := DecodeCursor(s, CursorComplaints); !errors.Is(err, ErrBadCursor) {
			t.Errorf("a complaint cursor with %s: %v, want ErrBadCursor", name, err)
		}
	}
}
