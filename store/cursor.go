package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// Cursor is the keyset position of a list: the sort key of the last item and its id.
// It travels as an opaque base64 string.
type Cursor struct {
	T  time.Time `json:"t,omitempty"`
	N  int64     `json:"n,omitempty"`
	ID string    `json:"id"`
}

// ErrBadCursor is returned for a cursor that does not decode.
var ErrBadCursor = errors.New("invalid cursor")

// Encode returns the opaque form.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses an opaque cursor; the empty string gives the zero cursor.
func DecodeCursor(s string) (Cursor, bool, error) {
	if s == "" {
		return Cursor{}, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, false, ErrBadCursor
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" {
		return Cursor{}, false, ErrBadCursor
	}
	return c, true, nil
}
