//go:build nodevstack

package main

import (
	"context"
	"errors"
)

// runDev is absent from images built with -tags nodevstack, which leave out the embedded
// Temporal server and Web UI.
func runDev(context.Context, []string) error {
	return errors.New("this binary was built without the dev stack (-tags nodevstack); use `serviceflow api` and `serviceflow worker`")
}
