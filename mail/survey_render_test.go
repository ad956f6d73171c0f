package mail

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
)

// surveySampleData is the data of the survey's e-mails that their templates use (the
// link's e-mail also carries the cycle id and the reminder's number).
func surveySampleData() map[string]map[string]any {
	link := func() map[string]any {
		return map[string]any{"customer_name": "Northwind Machinery",
			"link_url": "http://127.0.0.1:8080/c/tok123", "expires_at": "2026-05-15T01:00:00Z"}
	}
	return map[string]map[string]any{domain.TmplSurveyInvitation: link(), domain.TmplSurveyReminder: link()}
}

// The invitation and the reminder carry the personal link and its closing time in both
// languages; the reminder says it is one.
func TestSurveyMailCarriesTheLink(t *testing.T) {
	for name, data := range surveySampleData() {
		for _, loc := range domain.Locales {
			subject, text, html, err := Render(name, loc, data)
			require.NoError(t, err, name+"/"+loc)
			for _, body := range []string{text, html} {
				assert.Contains(t, body, "http://127.0.0.1:8080/c/tok123", name+"/"+loc)
				assert.Contains(t, body, "2026-05-15T01:00:00Z", name+"/"+loc)
			}
			reminder := strings.Contains(subject, "Reminder") || strings.Contains(subject, "提醒")
			assert.Equal(t, name == domain.TmplSurveyReminder, reminder, name+"/"+loc+": "+subject)
		}
	}
}
