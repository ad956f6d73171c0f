package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/oklog/ulid/v2"
)

// NewID returns a new prefixed ULID such as "cmp_01J9Z...". Not for workflow code:
// workflows derive ids deterministically (TaskID) or receive them in their input.
func NewID(prefix string) string {
	return prefix + "_" + ulid.Make().String()
}

// TaskID derives a task id from the workflow id, step, round and an optional key (to tell
// apart parallel tasks of one step), so a retried CreateTask inserts nothing new.
func TaskID(workflowID, step string, round int, key string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d\x00%s", workflowID, step, round, key)))
	return "tsk_" + strings.ToUpper(hex.EncodeToString(h[:13]))
}

// NewToken returns a random URL-safe secret of 32 bytes, hex encoded.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// HashToken returns the SHA-256 of a bearer token, the only form that is stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
