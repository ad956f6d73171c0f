package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store/storetest"
	"github.com/serviceflow/serviceflow/worker"
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
