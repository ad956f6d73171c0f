// Package devstack runs the development infrastructure of `serviceflow dev` inside the
// process: a single-node Temporal server on SQLite with its Web UI, and a PostgreSQL
// (an existing one, or an embedded one as a last resort).
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Defaults for TemporalOptions.
const (
	DefaultFrontendAddr = "127.0.0.1:7233"
	DefaultUIAddr       = "127.0.0.1:8233"
	DefaultNamespace    = "default"
	// NamespaceRetention is how long closed workflows are kept in the dev namespace.
	NamespaceRetention = 72 * time.Hour
	clusterName        = "active"
	storeName          = "sqlite-default"
	startTimeout       = time.Minute
)

// TemporalOptions configures StartTemporal.
type TemporalOptions struct {
	DataDir      string // the SQLite file is DataDir/temporal.db unless Ephemeral
	Ephemeral    bool   // keep everything in memory
	FrontendAddr string // gRPC frontend; "" means DefaultFrontendAddr
	UIAddr       string // Web UI; "" or "off" disables it (the CLI default is DefaultUIAddr)
	Namespace    string // registered on start; "" means DefaultNamespace
	Logger       *slog.Logger
}

// Temporal is a running in-process Temporal server (and optionally its Web UI).
type Temporal struct {
	server   temporal.Server
	ui       *uiserver.Server
	frontend string
	uiURL    string
	logLevel *slog.LevelVar
	stopOnce sync.Once
	stopErr  error
}

// StartTemporal starts a single-node Temporal server on SQLite, like the Temporal CLI's
// `temporal server start-dev`. It returns once the frontend accepts connections and the
// namespace exists. The server logs warnings and errors only, to o.Logger.
func StartTemporal(ctx context.Context, o TemporalOptions) (*Temporal, error) {
	if o.FrontendAddr == "" {
		o.FrontendAddr = DefaultFrontendAddr
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ip, port, err := splitAddr(o.FrontendAddr)
	if err != nil {
		return nil, fmt.Errorf("temporal frontend: %w", err)
	}
	frontend := net.JoinHostPort(ip, strconv.Itoa(port))
	if err := checkFree(frontend); err != nil {
		return nil, fmt.Errorf("temporal frontend: %w (is another Temporal running? set TEMPORAL_ADDRESS to use it)", err)
	}
	uiAddr := ""
	if o.UIAddr != "" && o.UIAddr != "off" {
		uiIP, uiPort, err := splitAddr(o.UIAddr)
		if err != nil {
			return nil, fmt.Errorf("temporal UI: %w", err)
		}
		uiAddr = net.JoinHostPort(uiIP, strconv.Itoa(uiPort))
		// The UI server exits the process when it cannot listen, so check first.
		if err := checkFree(uiAddr); err != nil {
			return nil, fmt.Errorf("temporal UI: %w", err)
		}
	}

	sqlConf, err := sqliteConfig(o)
	if err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	logger := serverLogger{slog.New(levelHandler{level, o.Logger.Handler()}).With("component", "temporal")}
	var srv temporal.Server
	for attempt := 1; ; attempt++ {
		conf, err := serverConfig(ip, port, sqlConf)
		if err != nil {
			return nil, err
		}
		hosts := map[primitives.ServiceName]static.Hosts{}
		for name, svc := range conf.Services {
			hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(ip, strconv.Itoa(svc.RPC.GRPCPort)))
		}
		srv, err = temporal.NewServer(
			temporal.WithConfig(conf),
			temporal.ForServices(temporal.DefaultServices),
			temporal.WithStaticHosts(hosts),
			temporal.WithLogger(logger),
			temporal.WithDynamicConfigClient(devDynamicConfig()),
		)
		if err == nil {
			break
		}
		// The internal services' ports are picked free, and another process may take one
		// before the server listens on it: pick them again.
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			o.Logger.Warn("temporal: an internal port was taken meanwhile; picking new ones", "attempt", attempt)
			continue
		}
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	t := &Temporal{server: srv, frontend: frontend, logLevel: level}

	if uiAddr != "" {
		t.ui = newUI(uiAddr, frontend, o.Namespace)
		t.uiURL = "http://" + uiAddr
		go func() {
			if err := t.ui.Start(); err != nil {
				o.Logger.Error("temporal UI stopped", "error", err)
			}
		}()
	}
	if err := t.waitReady(ctx, o.Namespace, uiAddr); err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

// FrontendAddr is the host:port of the gRPC frontend, for client.Options.HostPort.
func (t *Temporal) FrontendAddr() string { return t.frontend }

// UIURL is the Web UI's base URL, or "" when the UI is disabled.
func (t *Temporal) UIURL() string { return t.uiURL }

// Stop stops the UI and the server; later calls return the first call's result. The
// server's routine shutdown warnings are muted.
func (t *Temporal) Stop() error {
	t.stopOnce.Do(func() {
		t.logLevel.Set(slog.LevelError)
		if t.ui != nil {
			t.ui.Stop()
		}
		t.stopErr = t.server.Stop()
	})
	return t.stopErr
}

// waitReady waits for the frontend to serve the namespace and for the UI to listen.
func (t *Temporal) waitReady(ctx context.Context, namespace, uiAddr string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  t.frontend,
		Namespace: namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		return fmt.Errorf("temporal frontend on %s not ready: %w", t.frontend, err)
	}
	defer c.Close()
	for {
		_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal namespace %q not ready: %w", namespace, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
	if uiAddr != "" {
		return waitListening(ctx, uiAddr, startTimeout)
	}
	return nil
}

// sqliteConfig returns the persistence config, creating the schema in a new database
// file and registering the namespace (both are no-ops when they already exist).
func sqliteConfig(o TemporalOptions) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.Ephemeral {
		// The plugin creates the schema itself for in-memory databases.
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		conf.DatabaseName = "serviceflow-dev-" + strconv.Itoa(rand.IntN(1_000_000_000))
	} else {
		if o.DataDir == "" {
			return nil, errors.New("temporal: DataDir is required unless Ephemeral")
		}
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("temporal data dir: %w", err)
		}
		dir, err := filepath.Abs(o.DataDir)
		if err != nil {
			return nil, err
		}
		// WAL with synchronous=NORMAL survives a crash of the process (not of the
		// machine's power) and keeps the many small writes cheap. A 64 MiB page cache
		// (the default is 2 MiB) and a checkpoint every ~40 MiB of WAL instead of ~4 MiB
		// cut the reads and fsyncs under load: in paired loadgen runs the completion
		// p50/p99 dropped from 91/227 ms to 71/167 ms on a busy disk.
		conf.ConnectAttributes = map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal",
			"cache_size": "-65536", "wal_autocheckpoint": "10000"}
		conf.DatabaseName = filepath.Join(dir, "temporal.db")
		if _, err := os.Stat(conf.DatabaseName); errors.Is(err, os.ErrNotExist) {
			if err := sqliteschema.SetupSchema(conf); err != nil {
				_ = os.Remove(conf.DatabaseName)
				return nil, fmt.Errorf("create temporal schema in %s: %w", conf.DatabaseName, err)
			}
		} else if err != nil {
			return nil, fmt.Errorf("temporal database: %w", err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, nil)
	if err != nil {
		return nil, err
	}
	ns.Detail.Config.Retention = durationpb.New(NamespaceRetention)
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("register temporal namespace %q: %w", o.Namespace, err)
	}
	return conf, nil
}

// serverConfig is a single-node cluster: the frontend on ip:port, the other services
// (and the frontend's HTTP API) on free ports of the same IP.
func serverConfig(ip string, port int, sqlConf *config.SQL) (*config.Config, error) {
	free := func() (int, error) { return freePortOn(ip) }
	httpPort, err := free()
	if err != nil {
		return nil, err
	}
	conf := &config.Config{}
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = ip
	conf.Persistence.DefaultStore = storeName
	conf.Persistence.VisibilityStore = storeName
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{storeName: {SQL: sqlConf}}
	frontend := net.JoinHostPort(ip, strconv.Itoa(port))
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
			Enabled:                true,
			InitialFailoverVersion: 1,
			RPCAddress:             frontend,
			HTTPAddress:            net.JoinHostPort(ip, strconv.Itoa(httpPort)),
			// Used only when the database is new; an existing one keeps its own id.
			ClusterID: uuid.NewString(),
		}},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []primitives.ServiceName{primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		var svc config.Service
		svc.RPC.BindOnIP = ip
		svc.RPC.GRPCPort = port
		if name == primitives.FrontendService {
			svc.RPC.HTTPPort = httpPort
		} else if svc.RPC.GRPCPort, err = free(); err != nil {
			return nil, err
		}
		conf.Services[string(name)] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	return conf, nil
}

// devDynamicConfig holds the dynamic config of the dev server.
func devDynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Workflow Updates (sync and async-accepted) drive every human task.
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,
		// New search attributes are visible at once instead of after a cache refresh;
		// persistence rate limits go up accordingly (as the Temporal CLI does).
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():               10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                45000,
		// The UI and the tests list workflows often.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8192,
		// The one history shard reads its transfer and timer queues at most 20 times a
		// second by default, which caps every hand-off of the whole server (workflow
		// task, activity, timer) at 20/s: a task completion chaining four activities
		// then waits ~45 ms per hop (cmd/loadgen). A cluster spreads this over many shards.
		dynamicconfig.TransferProcessorMaxPollRPS.Key(): 1000,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():    1000,
		// An activity scheduled by a workflow task goes back to the worker in the same
		// response when it has a free slot, skipping a trip through matching.
		dynamicconfig.EnableActivityEagerExecution.Key(): true,
		// One partition per task queue, written and read: one node with one worker per
		// queue gains nothing from four. With the default four a new task waited up to
		// 2 s to be forwarded to a partition with a poller; with four read but one
		// written, a worker's one normal-queue poll (the other polls its sticky queue)
		// could sit on an empty partition that may not forward, and new workflows then
		// waited the whole 60 s long poll for their first workflow task (loadgen's
		// baseline, once in ~15 runs). A data directory written before the write
		// partitions went to one may hold tasks in partitions 1-3 that nothing reads:
		// delete it (SERVICEFLOW_DATA_DIR, default .serviceflow) to start afresh.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
	}
}

func newUI(addr, frontend, namespace string) *uiserver.Server {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                p,
		TemporalGRPCAddress: frontend,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
	}))
}
