package worker_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store/storetest"
	"github.com/serviceflow/serviceflow/worker"
	"github.com/serviceflow/serviceflow/workflows"
)

// The registries the project uses satisfy the interfaces RegisterAll takes.
var (
	_ worker.Registry         = sdkworker.Worker(nil)
	_ worker.Registry         = (*testsuite.TestWorkflowEnvironment)(nil)
	_ worker.WorkflowRegistry = sdkworker.WorkflowReplayer(nil)
	_ worker.ActivityRegistry = (*testsuite.TestActivityEnvironment)(nil)
)

type recordingMail struct {
	mu   sync.Mutex
	keys []string
}

func (m *recordingMail) Send(_ context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, in.IdempotencyKey)
	return domain.SendEmailResult{EmailID: "eml_1", Status: "sent"}, nil
}

func (m *recordingMail) Queue(ctx context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
	return m.Send(ctx, in)
}

func (m *recordingMail) QueueMany(ctx context.Context, ins []domain.SendEmailInput) error {
	for _, in := range ins {
		if _, err := m.Send(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

func (m *recordingMail) Deliver(_ context.Context, key string) (domain.SendEmailResult, error) {
	return m.Send(context.Background(), domain.SendEmailInput{IdempotencyKey: key})
}

func TestActivitiesRunByTheirNames(t *testing.T) {
	s := storetest.New(t, "worker")
	mail := &recordingMail{}
	acts := &activities.Activities{Store: s, Mail: mail, Config: activities.Config{PublicURL: "http://sf.test"}}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	worker.RegisterActivities(env, acts)

	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	_, err := env.ExecuteActivity(domain.ActRecordAudit, domain.AuditInput{Key: "k1", Process: "complaint",
		ProcessID: "cmp_1", Event: "test_event", At: at})
	require.NoError(t, err)
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE key = 'k1' AND event = 'test_event'`).Scan(&n))
	assert.Equal(t, 1, n)

	v, err := env.ExecuteActivity(domain.ActSendEmail, domain.SendEmailInput{IdempotencyKey: "mail-1", Template: domain.TmplComplaintAck})
	require.NoError(t, err)
	var res domain.SendEmailResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, "eml_1", res.EmailID)
	assert.Equal(t, []string{"mail-1"}, mail.keys)

	// A name nobody registered is refused, so the checks above do exercise the names.
	_, err = env.ExecuteActivity("NoSuchActivity", domain.AuditInput{})
	require.Error(t, err)
}

func TestRegisterAllInATestEnvironment(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	require.NotPanics(t, func() { worker.RegisterAll(env, &activities.Activities{}) })
}

func TestRunNeedsClientAndActivities(t *testing.T) {
	err := worker.Run(context.Background(), worker.Options{})
	require.Error(t, err)
}

func TestContractActivitiesRunByTheirNames(t *testing.T) {
	s := storetest.New(t, "worker_contract")
	acts := &activities.Activities{Store: s, Mail: &recordingMail{}}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	worker.RegisterActivities(env, acts)

	v, err := env.ExecuteActivity(domain.ActNotify, domain.NotifyInput{KeyPrefix: "k", Groups: []string{"nobody"},
		Template: domain.TmplContractApproved, Process: domain.ProcessContract, ProcessID: "ctr_1"})
	require.NoError(t, err)
	var res domain.NotifyResult
	require.NoError(t, v.Get(&res))
	assert.Empty(t, res.Recipients)

	_, err = env.ExecuteActivity(domain.ActAssignLedgerNo, domain.LedgerNoInput{ContractID: "ctr_missing"})
	assert.ErrorContains(t, err, "not found", "registered: it runs, and finds no such contract")
}

// Every activity name the workflows call (a domain.Act* constant) is a method of
// Activities, so RegisterActivities registers it; and every process of the registry is
// registered under its workflow type.
func TestEveryActivityNameIsAMethod(t *testing.T) {
	names := actConstants(t)
	require.NotEmpty(t, names)
	typ := reflect.TypeOf(&activities.Activities{})
	for name, value := range names {
		m, ok := typ.MethodByName(value)
		if !assert.True(t, ok, "domain.%s = %q is no method of *activities.Activities", name, value) {
			continue
		}
		assert.Equal(t, reflect.TypeFor[error](), m.Type.Out(m.Type.NumOut()-1), "%s returns no error last", value)
	}
}

func TestRegistryWorkflowsAreRegistered(t *testing.T) {
	var reg recordingRegistry
	worker.RegisterWorkflows(&reg)
	var want []string
	for _, d := range workflows.Registry {
		want = append(want, d.WorkflowType)
		for name := range d.Children {
			if !slices.Contains(want, name) {
				want = append(want, name)
			}
		}
	}
	assert.ElementsMatch(t, want, reg.workflows, "each process's workflow and children, each once")
	assert.Contains(t, reg.workflows, domain.VisitWorkflowType)
	assert.Contains(t, reg.workflows, "ComplaintWorkflow")
	assert.Contains(t, reg.workflows, "ContractWorkflow")
}

type recordingRegistry struct{ workflows []string }

func (r *recordingRegistry) RegisterWorkflowWithOptions(_ any, o workflow.RegisterOptions) {
	r.workflows = append(r.workflows, o.Name)
}

// actConstants reads the Act* string constants of package domain from its source.
func actConstants(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("../domain/*.go")
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Act") || strings.HasPrefix(n.Name, "Action") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						out[n.Name] = v
					}
				}
			}
		}
	}
	return out
}
