package mail

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
)

// visitSampleData holds every key of each visit template.
func visitSampleData() map[string]map[string]any {
	return map[string]map[string]any{
		domain.TmplVisitNeed: {
			"recipient_name": "Bob", "visit_id": "vis_0A1B2C", "customer_id": "cus_1", "customer_name": "Northwind Machinery",
			"rep": "alice", "visited_at": "2026-05-12T10:00:00Z", "method": "on_site",
			"needs": "Wants a quote for <two> more lathes.\nBudget in Q3.",
		},
	}
}

// The need reaches the manager as the rep wrote it, in both locales.
func TestVisitNeedShowsTheNeed(t *testing.T) {
	data := visitSampleData()[domain.TmplVisitNeed]
	for _, loc := range domain.Locales {
		subject, text, html, err := Render(domain.TmplVisitNeed, loc, data)
		require.NoError(t, err)
		assert.Contains(t, subject, "vis_0A1B2C")
		assert.Contains(t, text, "Wants a quote for <two> more lathes.\nBudget in Q3.")
		assert.Contains(t, html, "Wants a quote for &lt;two&gt; more lathes.")
		assert.Contains(t, text, "Northwind Machinery")
	}
}
