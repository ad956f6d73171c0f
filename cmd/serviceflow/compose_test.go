package main

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/serviceflow/serviceflow/api"
)

// loadCompose parses docker-compose.yml as Docker Compose does (interpolation,
// normalisation, consistency checks), without the caller's environment.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../../docker-compose.yml"},
		cli.WithWorkingDirectory("../.."), cli.WithEnv(nil), cli.WithInterpolation(true),
		cli.WithNormalization(true), cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

// goModVersion reads the version go.mod requires of module.
func goModVersion(t *testing.T, module string) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+v(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("go.mod does not require %s", module)
	}
	return string(m[1])
}

// composeEnv returns a service's environment variable, failing when it is unset.
func composeEnv(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	v, ok := s.Environment[name]
	if !ok || v == nil || *v == "" {
		t.Fatalf("%s: %s is not set", s.Name, name)
	}
	return *v
}

// composeHostPort splits host:port, failing on anything else.
func composeHostPort(t *testing.T, what, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q: %v", what, addr, err)
	}
	return h, p
}

// composeDependsOn fails unless s waits for dep with condition.
func composeDependsOn(t *testing.T, s types.ServiceConfig, dep, condition string) {
	t.Helper()
	d, ok := s.DependsOn[dep]
	if !ok {
		t.Errorf("%s does not depend on %s", s.Name, dep)
		return
	}
	if d.Condition != condition {
		t.Errorf("%s waits for %s to be %s, want %s", s.Name, dep, d.Condition, condition)
	}
}

func TestComposeTopology(t *testing.T) {
	p := loadCompose(t)
	svc := func(name string) types.ServiceConfig {
		t.Helper()
		s, err := p.GetService(name)
		if err != nil {
			t.Fatalf("docker-compose.yml: %v", err)
		}
		return s
	}
	known := map[string]bool{} // every variable serviceflow reads
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		known[ct.Field(i).Tag.Get("env")] = true
	}

	// PostgreSQL, whose credentials the other services use.
	pg := svc("postgres")
	if !strings.HasPrefix(pg.Image, "postgres:") {
		t.Errorf("postgres image %q", pg.Image)
	}
	pgUser, pgPass := composeEnv(t, pg, "POSTGRES_USER"), composeEnv(t, pg, "POSTGRES_PASSWORD")
	if pg.HealthCheck == nil || len(pg.HealthCheck.Test) == 0 {
		t.Error("postgres has no healthcheck, so nobody can wait for it")
	}

	// Temporal, on that PostgreSQL, at the release go.mod pins for the embedded server.
	temporalVersion := goModVersion(t, "go.temporal.io/server")
	tmp := svc("temporal")
	if tmp.Image != "temporalio/server:"+temporalVersion {
		t.Errorf("temporal image %q, want temporalio/server:%s", tmp.Image, temporalVersion)
	}
	if db := composeEnv(t, tmp, "DB"); db != "postgres12" && db != "postgres12_pgx" {
		t.Errorf("temporal DB=%s, want a PostgreSQL plugin", db)
	}
	if composeEnv(t, tmp, "POSTGRES_SEEDS") != "postgres" || composeEnv(t, tmp, "POSTGRES_USER") != pgUser || composeEnv(t, tmp, "POSTGRES_PWD") != pgPass {
		t.Error("temporal does not use the postgres service with its credentials")
	}
	dynPath := composeEnv(t, tmp, "DYNAMIC_CONFIG_FILE_PATH")
	mounted := false
	for _, c := range tmp.Configs {
		if c.Target == dynPath {
			_, mounted = p.Configs[c.Source]
		}
	}
	if !mounted {
		t.Errorf("temporal's dynamic config %s is not mounted from a config", dynPath)
	}
	if tmp.HealthCheck == nil {
		t.Error("temporal has no healthcheck")
	}
	composeDependsOn(t, tmp, "temporal-schema", types.ServiceConditionCompletedSuccessfully)

	schema := svc("temporal-schema")
	if schema.Image != "temporalio/admin-tools:"+temporalVersion {
		t.Errorf("temporal-schema image %q, want temporalio/admin-tools:%s", schema.Image, temporalVersion)
	}
	if composeEnv(t, schema, "SQL_HOST") != "postgres" || composeEnv(t, schema, "SQL_PLUGIN") != composeEnv(t, tmp, "DB") ||
		composeEnv(t, schema, "SQL_USER") != pgUser || composeEnv(t, schema, "SQL_PASSWORD") != pgPass {
		t.Error("temporal-schema does not set up the postgres service Temporal uses")
	}
	script := strings.Join(schema.Command, " ")
	for _, db := range []string{composeEnv(t, tmp, "DBNAME"), composeEnv(t, tmp, "VISIBILITY_DBNAME")} {
		if !strings.Contains(script, db) {
			t.Errorf("temporal-schema does not set up database %s", db)
		}
	}
	composeDependsOn(t, schema, "postgres", types.ServiceConditionHealthy)

	ns := svc("temporal-namespace")
	if composeEnv(t, ns, "TEMPORAL_ADDRESS") != "temporal:7233" || !strings.Contains(strings.Join(ns.Command, " "), "namespace create") {
		t.Error("temporal-namespace does not create the namespace on temporal:7233")
	}
	composeDependsOn(t, ns, "temporal", types.ServiceConditionHealthy)

	// The Web UI points at that Temporal, at the version of the embedded UI.
	ui := svc("temporal-ui")
	if want := "temporalio/ui:" + goModVersion(t, "github.com/temporalio/ui-server/v2"); ui.Image != want {
		t.Errorf("temporal-ui image %q, want %s", ui.Image, want)
	}
	if composeEnv(t, ui, "TEMPORAL_ADDRESS") != "temporal:7233" {
		t.Error("temporal-ui does not point at temporal:7233")
	}

	// The SendGrid mock, and the key it accepts.
	sg := svc("sendgrid")
	if !strings.HasPrefix(sg.Image, "ghashange/sendgrid-mock:") {
		t.Errorf("sendgrid image %q", sg.Image)
	}
	mockKey := composeEnv(t, sg, "API_KEY")
	if u, err := url.Parse(composeEnv(t, sg, "EVENT_DELIVERY_URL")); err != nil || u.Host != "api:8080" || u.Path != api.SendGridWebhookPath {
		t.Errorf("sendgrid reports deliveries to %q, not to the api's %s", composeEnv(t, sg, "EVENT_DELIVERY_URL"), api.SendGridWebhookPath)
	}
	// The mock's events are unsigned: without a key to check real ones with, the api must
	// be told to accept them, or every delivery report is refused with 401.
	if apiEnv := svc("api").Environment; apiEnv["SENDGRID_WEBHOOK_PUBLIC_KEY"] == nil &&
		composeEnv(t, svc("api"), "SERVICEFLOW_WEBHOOK_ALLOW_UNSIGNED") != "true" {
		t.Error("api has no SENDGRID_WEBHOOK_PUBLIC_KEY and does not allow the mock's unsigned events")
	}

	// serviceflow api and worker: the image without the dev stack, 2 replicas each, every
	// required variable pointing at the services above.
	for _, name := range []string{"api", "worker"} {
		s := svc(name)
		if s.Build == nil || s.Build.Context == "" {
			t.Errorf("%s is not built from the Dockerfile", name)
		}
		if len(s.Command) != 1 || s.Command[0] != name {
			t.Errorf("%s runs %v, want [%s]", name, s.Command, name)
		}
		if s.Deploy == nil || s.Deploy.Replicas == nil || *s.Deploy.Replicas != 2 {
			t.Errorf("%s is not deployed with 2 replicas", name)
		}
		for k := range s.Environment {
			if !known[k] {
				t.Errorf("%s: %s is not a variable serviceflow reads", name, k)
			}
		}
		db, err := url.Parse(composeEnv(t, s, "DATABASE_URL"))
		if err != nil {
			t.Fatal(err)
		}
		pw, _ := db.User.Password()
		if db.Hostname() != "postgres" || db.User.Username() != pgUser || pw != pgPass ||
			strings.TrimPrefix(db.Path, "/") != composeEnv(t, pg, "POSTGRES_DB") {
			t.Errorf("%s: DATABASE_URL %s is not the postgres service's database", name, db.Redacted())
		}
		if h, port := composeHostPort(t, "TEMPORAL_ADDRESS", composeEnv(t, s, "TEMPORAL_ADDRESS")); h != "temporal" || port != "7233" {
			t.Errorf("%s: TEMPORAL_ADDRESS is not temporal:7233", name)
		}
		mock, err := url.Parse(composeEnv(t, s, "SENDGRID_API_URL"))
		if err != nil || mock.Hostname() != "sendgrid" || mock.Port() != "3000" {
			t.Errorf("%s: SENDGRID_API_URL %q does not point at the mock", name, composeEnv(t, s, "SENDGRID_API_URL"))
		}
		if composeEnv(t, s, "SENDGRID_API_KEY") != mockKey {
			t.Errorf("%s: SENDGRID_API_KEY is not the key the mock accepts", name)
		}
		composeEnv(t, s, "MAIL_FROM")
		if len(composeEnv(t, s, "SERVICEFLOW_LINK_SECRET")) < minLinkSecret {
			t.Errorf("%s: SERVICEFLOW_LINK_SECRET is shorter than %d characters", name, minLinkSecret)
		}
		composeDependsOn(t, s, "migrate", types.ServiceConditionCompletedSuccessfully)
		composeDependsOn(t, s, "temporal-namespace", types.ServiceConditionCompletedSuccessfully)
		composeDependsOn(t, s, "sendgrid", types.ServiceConditionStarted)
	}
	mig := svc("migrate")
	if len(mig.Command) != 1 || mig.Command[0] != "migrate" || composeEnv(t, mig, "DATABASE_URL") != composeEnv(t, svc("api"), "DATABASE_URL") {
		t.Error("migrate does not migrate the database api and worker use")
	}
	composeDependsOn(t, mig, "postgres", types.ServiceConditionHealthy)

	// The API listens on all interfaces, published once per replica.
	apiSvc := svc("api")
	if h, port := composeHostPort(t, "SERVICEFLOW_HTTP_ADDR", composeEnv(t, apiSvc, "SERVICEFLOW_HTTP_ADDR")); h != "0.0.0.0" || port != "8080" {
		t.Errorf("api listens on %s:%s, want 0.0.0.0:8080", h, port)
	}
	if len(apiSvc.Ports) != 1 || apiSvc.Ports[0].Target != 8080 {
		t.Fatalf("api ports %+v, want one mapping of 8080", apiSvc.Ports)
	}
	if n := composePortCount(t, apiSvc.Ports[0].Published); n < *apiSvc.Deploy.Replicas {
		t.Errorf("api publishes %q: %d host port(s) for %d replicas", apiSvc.Ports[0].Published, n, *apiSvc.Deploy.Replicas)
	}
	// The api and the workers serve their metrics to the compose network, on a port that
	// is not published to the host and is not the API's.
	for _, name := range []string{"api", "worker"} {
		s := svc(name)
		h, port := composeHostPort(t, "SERVICEFLOW_METRICS_ADDR", composeEnv(t, s, "SERVICEFLOW_METRICS_ADDR"))
		if h != "0.0.0.0" {
			t.Errorf("%s metrics on %s, not reachable from other containers", name, h)
		}
		if port == "8080" {
			t.Errorf("%s serves its metrics on the API port", name)
		}
		for _, p := range s.Ports {
			if strconv.Itoa(int(p.Target)) == port {
				t.Errorf("%s publishes its metrics port %s to the host", name, port)
			}
		}
	}

	// No host port is published twice, and no replicated service pins one host port.
	seen := map[string]string{}
	for _, s := range p.Services {
		for _, port := range s.Ports {
			if port.Published == "" {
				continue
			}
			if other, dup := seen[port.Published]; dup {
				t.Errorf("host port %s is published by %s and %s", port.Published, other, s.Name)
			}
			seen[port.Published] = s.Name
			if s.Deploy != nil && s.Deploy.Replicas != nil && *s.Deploy.Replicas > composePortCount(t, port.Published) {
				t.Errorf("%s: %d replicas cannot share host port %s", s.Name, *s.Deploy.Replicas, port.Published)
			}
		}
	}
}

// composePortCount is the number of host ports a published "8080" or "8080-8081" offers.
func composePortCount(t *testing.T, published string) int {
	t.Helper()
	lo, hi, isRange := strings.Cut(published, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || b < a {
		t.Fatalf("published port %q", published)
	}
	return b - a + 1
}

// The image's build leaves out the embedded Temporal server and Web UI.
func TestComposeImageLeavesOutDevStack(t *testing.T) {
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`go build [^\n]*-tags nodevstack[^\n]*\./cmd/serviceflow`).Match(df) {
		t.Fatal("the Dockerfile does not build ./cmd/serviceflow with -tags nodevstack")
	}
	out, err := exec.Command("go", "list", "-deps", "-tags", "nodevstack", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"go.temporal.io/server", "github.com/temporalio/ui-server", "github.com/fergusstrange/embedded-postgres", "/devstack"} {
			if strings.HasPrefix(pkg, banned) || strings.HasSuffix(pkg, banned) {
				t.Errorf("-tags nodevstack still links %s", pkg)
			}
		}
	}
}
