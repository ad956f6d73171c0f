package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeFile is axe-core, vendored from npm at a pinned version (testdata/axe/vendor.sh).
const axeFile = "testdata/axe/axe-4.14.1.min.js"

// axeSource is axe-core's script, read once and checked against its SHA256SUMS.
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(axeFile)
	if err != nil {
		return "", err
	}
	sums, err := os.ReadFile("testdata/axe/SHA256SUMS")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	want := hex.EncodeToString(sum[:]) + "  " + strings.TrimPrefix(axeFile, "testdata/axe/")
	if !strings.Contains(string(sums), want) {
		return "", fmt.Errorf("%s does not match testdata/axe/SHA256SUMS (run testdata/axe/vendor.sh)", axeFile)
	}
	return string(b), nil
})

// axeViolation is one rule axe-core found broken on a page, with where.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// seriousViolations runs axe-core on the page the tab shows and returns its serious and
// critical violations. The script goes in through DevTools, which the page's
// Content-Security-Policy does not govern.
func seriousViolations(ctx context.Context) ([]axeViolation, error) {
	src, err := axeSource()
	if err != nil {
		return nil, err
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+"\n;true")); err != nil {
		return nil, fmt.Errorf("load axe: %w", err)
	}
	return chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
			id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(" ")) })))`, chromedp.EvalAwaitPromise))
}

// checkAccessible fails the test on any serious or critical axe-core violation of the
// page the tab shows (name says which page, in the failure).
func checkAccessible(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	found, err := seriousViolations(ctx)
	if err != nil {
		t.Fatalf("axe on %s: %v", name, err)
	}
	for _, v := range found {
		t.Errorf("axe on %s: %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Targets)
	}
}

// TestBrowserAxeFindsViolations shows that checkAccessible can fail: on a page with an
// unlabelled input and an image without alternative text, axe reports both.
func TestBrowserAxeFindsViolations(t *testing.T) {
	var mu sync.Mutex
	var errs []string
	ctx := browser(t, &errs, &mu)
	page := `<!doctype html><html lang="en"><title>bad</title><main><input type="text"><img src="data:,"></main></html>`
	if _, err := chromedp.Run(ctx, chromedp.Navigate("data:text/html,"+strings.ReplaceAll(page, "#", "%23"))); err != nil {
		t.Fatal(err)
	}
	found, err := seriousViolations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range found {
		ids = append(ids, v.ID)
	}
	slices.Sort(ids)
	if strings.Join(ids, " ") != "image-alt label" {
		t.Fatalf("axe found %v on a page with an unlabelled input and an image without alt, want [image-alt label]", ids)
	}
}
