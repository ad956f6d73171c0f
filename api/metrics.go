package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/serviceflow/serviceflow/store"
)

// readModelTimeout bounds the queries of one scrape: a slow or absent database makes
// serviceflow_read_model_up 0 instead of hanging the scrape.
const readModelTimeout = 2 * time.Second

// emailStatuses are reported even when no e-mail has them, so that a rate or an alert on
// e.g. failed e-mails has a series from the start.
var emailStatuses = []string{store.EmailQueued, store.EmailSending, store.EmailSent, store.EmailFailed, store.EmailDelivered, store.EmailBounced}

// readModelCollector reports the read model's state at scrape time: e-mails by status,
// open tasks by process and escalation level, open (unacknowledged) escalations by
// process and level. The counts are the same for every API replica; aggregate with max().
type readModelCollector struct {
	st      *store.Store
	log     *slog.Logger
	timeout time.Duration

	up, emails, tasks, escalations *prometheus.Desc
}

func newReadModelCollector(st *store.Store, log *slog.Logger) *readModelCollector {
	return &readModelCollector{
		st: st, log: log, timeout: readModelTimeout,
		up: prometheus.NewDesc("serviceflow_read_model_up",
			"1 when the last scrape could read the read model from PostgreSQL, else 0.", nil, nil),
		emails: prometheus.NewDesc("serviceflow_emails",
			"E-mails in the outbox by status.", []string{"status"}, nil),
		tasks: prometheus.NewDesc("serviceflow_tasks_open",
			"Open human tasks by process and escalation level (0: not escalated).", []string{"process", "escalation_level"}, nil),
		escalations: prometheus.NewDesc("serviceflow_escalations_open",
			"Escalations not yet acknowledged, by process and level.", []string{"process", "level"}, nil),
	}
}

func (c *readModelCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.emails
	ch <- c.tasks
	ch <- c.escalations
}

// readModelQuery counts all three in one round trip: kind, two labels, count.
const readModelQuery = `
SELECT 'email', status, '', count(*) FROM emails GROUP BY status
UNION ALL
SELECT 'task', process, escalation_level::text, count(*) FROM tasks WHERE status = 'open' GROUP BY process, escalation_level
UNION ALL
SELECT 'escalation', process, level::text, count(*) FROM escalations WHERE acknowledged_at IS NULL GROUP BY process, level`

func (c *readModelCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	type row struct {
		kind, a, b string
		n          int64
	}
	var rows []row
	err := func() error {
		rs, err := c.st.Pool.Query(ctx, readModelQuery)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.kind, &r.a, &r.b, &r.n); err != nil {
				return err
			}
			rows = append(rows, r)
		}
		return rs.Err()
	}()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			c.log.Warn("metrics: read model unavailable", "err", err)
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	emails := make(map[string]int64, len(emailStatuses))
	for _, s := range emailStatuses {
		emails[s] = 0
	}
	for _, r := range rows {
		switch r.kind {
		case "email":
			emails[r.a] = r.n
		case "task":
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(r.n), r.a, r.b)
		case "escalation":
			ch <- prometheus.MustNewConstMetric(c.escalations, prometheus.GaugeValue, float64(r.n), r.a, r.b)
		}
	}
	for s, n := range emails {
		ch <- prometheus.MustNewConstMetric(c.emails, prometheus.GaugeValue, float64(n), s)
	}
}

// register adds col to reg; a collector already there (a second server on one registry)
// is kept and returned.
func register[C prometheus.Collector](reg prometheus.Registerer, col C) C {
	if err := reg.Register(col); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return col
}
