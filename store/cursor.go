package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/serviceflow/serviceflow/domain"
)

// Cursor is the keyset position of a list: the list it pages (K), the sort key of the
// last item and its id. It travels as an opaque base64 string.
type Cursor struct {
	K  string    `json:"k"`
	T  time.Time `json:"t,omitzero"`
	N  int64     `json:"n,omitempty"`
	ID string    `json:"id"`
}

// cursorKeys tells, for each list a cursor pages, whether its sort key has a time and a
// number. A cursor only pages the list that issued it: one of another list, or one
// without a list, is ErrBadCursor, not a position that happens to match nothing. Each
// list declares itself with cursorList beside its query, so a new list is its own file.
var cursorKeys = map[string]struct{ t, n bool }{}

// cursorList declares a list that cursors page and the shape of its sort key (a time
// T, a number N, and always an ID), and returns its name.
func cursorList(name string, t, n bool) string {
	if _, dup := cursorKeys[name]; dup {
		panic("store: two cursor lists named " + name)
	}
	cursorKeys[name] = struct{ t, n bool }{t, n}
	return name
}

// ContractsCursor is the list a contract list's cursor pages: approved contracts (the
// ledger) are ordered by ledger number, the others by id.
func ContractsCursor(status string) string {
	if status == domain.ContractApproved {
		return CursorLedger
	}
	return CursorContracts
}

// ErrBadCursor is returned for a cursor that does not decode, or is not one the list
// asked for issues.
var ErrBadCursor = errors.New("invalid cursor")

// Encode returns the opaque form.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses an opaque cursor of list; the empty string gives the zero cursor.
// Anything but a cursor of that list's shape (base64 of one JSON object with exactly its
// fields) is ErrBadCursor.
func DecodeCursor(s, list string) (Cursor, bool, error) {
	if s == "" {
		return Cursor{}, false, nil
	}
	keys, known := cursorKeys[list]
	if !known {
		return Cursor{}, false, errors.New("unknown cursor list " + list)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, false, ErrBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Cursor
	if err := dec.Decode(&c); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		return Cursor{}, false, ErrBadCursor
	}
	if c.K != list || c.ID == "" || c.T.IsZero() == keys.t || (c.N != 0 && !keys.n) {
		return Cursor{}, false, ErrBadCursor
	}
	return c, true, nil
}
