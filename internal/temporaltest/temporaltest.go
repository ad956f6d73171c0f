// Package temporaltest holds what the tests of several packages need to fake a Temporal
// client's answers.
package temporaltest

import (
	"context"
	"encoding/json"

	"go.temporal.io/sdk/client"
)

// UpdateHandle is a workflow Update that has completed with Val, or failed with Err. Get
// decodes Val into the result as the client's JSON data converter would.
type UpdateHandle struct {
	client.WorkflowUpdateHandle
	Val any
	Err error
}

// Get returns Err, or decodes Val into ptr (which may be nil).
func (h UpdateHandle) Get(_ context.Context, ptr any) error {
	if h.Err != nil || ptr == nil {
		return h.Err
	}
	b, err := json.Marshal(h.Val)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}
