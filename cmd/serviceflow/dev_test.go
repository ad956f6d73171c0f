//go:build !nodevstack

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// dev keeps its link secret in the data directory, readable by its owner only, so links
// made before a restart get their reminders after it.
func TestDevLinkSecretSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	first, err := devLinkSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < minLinkSecret {
		t.Fatalf("secret %q is too short", first)
	}
	again, err := devLinkSecret(dir)
	if err != nil || again != first {
		t.Fatalf("after a restart: %q %v, want %q", again, err, first)
	}
	fi, err := os.Stat(filepath.Join(dir, "link-secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("link-secret: %v %v", fi, err)
	}
	if other, _ := devLinkSecret(t.TempDir()); other == first {
		t.Fatal("two data directories share a secret")
	}
}
