package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/workflows"
)

// TestVendoredAssets checks every embedded front-end asset against the SHA-256 recorded
// in static/SHA256SUMS when it was vendored from npm (static/vendor.sh), and that the
// pages load htmx from exactly that file, served as embedded.
// ownScripts are the app's own scripts under static (not vendored).
var ownScripts = []string{"live.js", "surveycharts.js"}

func TestVendoredAssets(t *testing.T) {
	sums, err := staticFS.ReadFile("static/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("bad SHA256SUMS line %q", sc.Text())
		}
		listed[name] = sum
	}
	if _, ok := listed["htmx-2.0.11.min.js"]; !ok {
		t.Fatalf("htmx 2.0.11 is not recorded in SHA256SUMS: %v", listed)
	}
	// The checksum npm's htmx.org@2.0.11 tarball held for dist/htmx.min.js.
	const htmx = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
	if listed["htmx-2.0.11.min.js"] != htmx {
		t.Fatalf("SHA256SUMS records %s for htmx, want %s", listed["htmx-2.0.11.min.js"], htmx)
	}
	// The checksums npm's chartist@1.5.0 tarball held for dist/index.umd.js and
	// dist/index.css: the survey cycle page's charts.
	for name, want := range map[string]string{
		"chartist-1.5.0.umd.js": "944597015852d8a65defe451a37202e8232938e98ac2215f08bd42a55d573e9d",
		"chartist-1.5.0.css":    "43e13edcdf964ec39b10b90b7d9bb34a7bc526705893f76520b540a6b178e28f",
	} {
		if listed[name] != want {
			t.Fatalf("SHA256SUMS records %q for %s, want %s", listed[name], name, want)
		}
	}
	for name, want := range listed {
		b, err := staticFS.ReadFile("static/" + name)
		if err != nil {
			t.Fatalf("%s is recorded but not embedded: %v", name, err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: sha256 %x, recorded %s", name, got, want)
		}
	}
	// Every vendored (.js, and chartist's .css) file is recorded; our own files (app.css)
	// need not be.
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if (strings.HasSuffix(p, ".js") || strings.HasPrefix(p, "static/chartist-")) && !slices.Contains(ownScripts, strings.TrimPrefix(p, "static/")) {
			if _, ok := listed[strings.TrimPrefix(p, "static/")]; !ok {
				t.Errorf("%s is embedded without a recorded checksum", p)
			}
		}
		return err
	})

	e := newEnv(t, Config{})
	w := e.req(http.MethodGet, "/static/htmx-2.0.11.min.js", "", nil)
	got := sha256.Sum256(w.Body.Bytes())
	if w.Code != http.StatusOK || hex.EncodeToString(got[:]) != htmx {
		t.Fatalf("served htmx: %d, sha256 %x", w.Code, got)
	}
	if !strings.Contains(e.req(http.MethodGet, "/signin", "", nil).Body.String(), `<script src="/static/htmx-2.0.11.min.js" defer></script>`) {
		t.Fatal("the layout does not load the vendored htmx")
	}
}

func readCatalogue(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := catalogueFS.ReadFile("i18n/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// TestCatalogueParity fails when the en and zh-CN catalogues' keys differ, when a
// string is empty or untranslated, and when a key the code or the templates use is in
// neither.
func TestCatalogueParity(t *testing.T) {
	en, zh := readCatalogue(t, "en.json"), readCatalogue(t, "zh-CN.json")
	files, _ := fs.Glob(catalogueFS, "i18n/*.json")
	if len(files) != 2 {
		t.Fatalf("catalogues %v, want en and zh-CN only (add the new one here)", files)
	}
	for k := range en {
		if _, ok := zh[k]; !ok {
			t.Errorf("zh-CN lacks %q", k)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
	placeholders := regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)
	for k, v := range en {
		if strings.TrimSpace(v) == "" || strings.TrimSpace(zh[k]) == "" {
			t.Errorf("%q is empty in a catalogue", k)
		}
		if p, q := placeholders.FindAllString(v, -1), placeholders.FindAllString(zh[k], -1); !sameSet(p, q) {
			t.Errorf("%q: placeholders differ: en %v, zh-CN %v", k, p, q)
		}
		// The app's name, and each language's name (written in that language), are the
		// same in both.
		if v == zh[k] && k != "app.name" && !strings.HasPrefix(k, "lang.") {
			t.Errorf("%q is not translated: %q in both", k, v)
		}
	}

	// The keys used: literal ones in the templates and the Go code, and the ones built
	// from names (a tab, a registry process, a process's header links, a flash notice).
	var used []string
	// A key whole in a literal: `T("nav.board")`, not the prefix of `T("nav.new_" + name)`.
	literal := regexp.MustCompile(`\.T "([a-z0-9_.]*[a-z0-9_])"|\bT\("([a-z0-9_.]*[a-z0-9_])"[,)]`)
	sources, _ := fs.Glob(templateFS, "templates/*.html")
	for _, f := range sources {
		b, _ := templateFS.ReadFile(f)
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1]+m[2])
		}
	}
	goFiles, _ := fs.Glob(os.DirFS("."), "*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1]+m[2])
		}
	}
	if len(used) < 20 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for _, tab := range []string{store.ScopeMine, store.ScopeGroup, store.ScopeAll} {
		used = append(used, "inbox.tab."+tab)
	}
	for _, d := range workflows.Registry {
		used = append(used, "process."+d.Name)
	}
	for _, c := range caseProcesses { // the header's links of each process's pages
		used = append(used, "nav."+c.name+"s")
		if c.mayFile != nil {
			used = append(used, "nav.new_"+c.name)
		}
		for _, l := range c.links {
			used = append(used, "nav."+l.key)
		}
	}
	used = append(used, notices...)
	for _, k := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("the key %q is used but not in the catalogues", k)
		}
	}
}

func sameSet(a, b []string) bool {
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
