package mail

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
)

// sampleData holds every documented key of each template.
func sampleData() map[string]map[string]any {
	samples := map[string]map[string]any{
		domain.TmplComplaintAck: {
			"customer_name": "Li Wei", "complaint_id": "CMP-2024-0001", "subject": "Late delivery",
			"response_due_at": "2024-05-02 10:00 CST",
		},
		domain.TmplComplaintResponse: {
			"customer_name": "Li Wei", "complaint_id": "CMP-2024-0001", "subject": "Late delivery",
			"message": "We are sorry.\nA courier picks it up tomorrow.",
		},
		domain.TmplComplaintResolution: {
			"customer_name": "Li Wei", "complaint_id": "CMP-2024-0001", "subject": "Late delivery",
			"resolution_type": "compensation", "summary": "We compensate the delay.", "amount": "500.00 CNY",
		},
		domain.TmplFeedbackRequest: {
			"customer_name": "Li Wei", "complaint_id": "CMP-2024-0001", "subject": "Late delivery",
			"link_url": "http://127.0.0.1:8080/c/abc123",
		},
		domain.TmplFeedbackReminder: {
			"customer_name": "Li Wei", "complaint_id": "CMP-2024-0001", "subject": "Late delivery",
			"link_url": "http://127.0.0.1:8080/c/abc123", "expires_at": "2024-05-09T10:00:00Z",
		},
		domain.TmplTaskAssigned: {
			"recipient_name": "Carol", "task_title": "Evaluate complaint CMP-2024-0001", "step": "evaluate",
			"process": "complaint", "process_id": "CMP-2024-0001", "due_at": "2024-05-02 10:00 CST",
			"task_url": "http://127.0.0.1:8080/tasks/tsk_1",
		},
		domain.TmplTaskReminder: {
			"recipient_name": "Carol", "task_title": "Respond to CMP-2024-0001", "due_at": "2024-05-02 10:00 CST",
			"n": float64(2), "task_url": "http://127.0.0.1:8080/tasks/tsk_1",
		},
		domain.TmplEscalation: {
			"recipient_name": "Dave", "level": 1, "task_title": "Respond to CMP-2024-0001",
			"process": "complaint", "process_id": "CMP-2024-0001", "reason": "response SLA breached",
			"due_at": "2024-05-02 10:00 CST", "escalation_url": "http://127.0.0.1:8080/escalations/esc_1",
		},
		domain.TmplContractChangesRequested: contractSample(map[string]any{
			"rejected_step": "countersign_quality", "rejected_by": "frank", "comments": contractComments(),
		}),
		domain.TmplContractAmendmentRejected: contractSample(map[string]any{
			"rejected_step": "ops_review", "rejected_by": "ivan", "comments": contractComments(),
			"reason": "The customer wants it earlier.",
		}),
		domain.TmplContractApproved: contractSample(map[string]any{"ledger_no": "HT-2024-0007", "amendment": false}),
		domain.TmplContractDepartmentNotice: contractSample(map[string]any{
			"ledger_no": "HT-2024-0007", "amendment": false, "delivery_date": "2024-09-30",
			"payment_terms": "30% advance, 70% on delivery", "discount_pct": "7.5",
			"requirements": []any{"custom_spec", "special_packaging"},
		}),
	}
	maps.Copy(samples, orderSampleData())
	maps.Copy(samples, surveySampleData())
	maps.Copy(samples, visitSampleData())
	return samples
}

// contractSample is the data every contract e-mail carries, plus extra; the values are
// JSON-decoded, as the outbox stores them.
func contractSample(extra map[string]any) map[string]any {
	d := map[string]any{
		"recipient_name": "Alice", "contract_id": "ctr_01J0", "title": "Spindle line retrofit",
		"customer_name": "Northwind Machinery", "class": "special", "revision": float64(2), "amount": "800000.00 CNY",
	}
	maps.Copy(d, extra)
	return d
}

func contractComments() []any {
	return []any{
		map[string]any{"step": "countersign_quality", "reviewer": "frank", "decision": "reject",
			"at": "2024-05-02T10:00:00Z", "comment": "Tolerance too tight.", "opinion": "Needs a new gauge."},
		map[string]any{"step": "countersign_finance", "reviewer": "erin", "decision": "approve",
			"at": "2024-05-02T09:00:00Z", "comment": "Fine."},
	}
}

var cjk = regexp.MustCompile(`\p{Han}`)

func TestEmailRenderEveryTemplateAndLocale(t *testing.T) {
	samples := sampleData()
	require.Len(t, samples, len(Templates))
	for _, name := range Templates {
		for _, loc := range domain.Locales {
			t.Run(name+"/"+loc, func(t *testing.T) {
				subject, text, html, err := Render(name, loc, samples[name])
				require.NoError(t, err)
				assert.NotEmpty(t, strings.TrimSpace(subject))
				assert.NotContains(t, subject, "\n")
				assert.NotEmpty(t, strings.TrimSpace(text))
				assert.Contains(t, html, "<html lang=\""+loc+"\">")
				assert.Contains(t, html, "</html>")
				assert.NotContains(t, text+html, "<no value>")
				if strings.HasPrefix(name, "complaint_") || name == domain.TmplFeedbackRequest || name == domain.TmplFeedbackReminder {
					assert.Contains(t, subject, "CMP-2024-0001", "complaint subjects carry the id")
				}
				if loc == "zh-CN" {
					assert.Contains(t, text, "您")
					assert.Contains(t, html, "您")
				} else {
					assert.False(t, cjk.MatchString(subject+text+html), "English text has no Chinese")
				}
			})
		}
	}
}

func TestEmailRenderMissingKeyFails(t *testing.T) {
	for name, data := range sampleData() {
		for key := range data {
			if slices.Contains(templates["en"][name].optional, key) {
				continue
			}
			d := maps.Clone(data)
			delete(d, key)
			for _, loc := range domain.Locales {
				_, _, _, err := Render(name, loc, d)
				assert.Error(t, err, "%s/%s without %s", name, loc, key)
			}
		}
	}
}

func TestEmailRenderOptionalAmount(t *testing.T) {
	data := sampleData()[domain.TmplComplaintResolution]
	_, text, html, err := Render(domain.TmplComplaintResolution, "en", data)
	require.NoError(t, err)
	assert.Contains(t, text, "Amount: 500.00 CNY")
	assert.Contains(t, html, "500.00 CNY")
	assert.Contains(t, text, "Resolution: compensation")

	delete(data, "amount")
	_, text, html, err = Render(domain.TmplComplaintResolution, "en", data)
	require.NoError(t, err)
	assert.NotContains(t, text, "Amount")
	assert.NotContains(t, html, "Amount")

	_, text, _, err = Render(domain.TmplComplaintResolution, "zh-CN", data)
	require.NoError(t, err)
	assert.Contains(t, text, "处理方式：补偿")
}

func TestEmailRenderEscapesHTML(t *testing.T) {
	data := sampleData()[domain.TmplComplaintAck]
	data["subject"] = "<script>alert(1)</script>\nsecond line"
	data["customer_name"] = `Li "Wei" & Co`
	for _, loc := range domain.Locales {
		subject, text, html, err := Render(domain.TmplComplaintAck, loc, data)
		require.NoError(t, err)
		assert.NotContains(t, html, "<script>")
		assert.Contains(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;")
		assert.Contains(t, html, "Li &#34;Wei&#34; &amp; Co")
		assert.Contains(t, text, "<script>alert(1)</script>", "plain text is not escaped")
		assert.Contains(t, subject, "<script>alert(1)</script> second line", "subject is one line")
	}
}

func TestEmailRenderLocaleFallback(t *testing.T) {
	data := sampleData()[domain.TmplTaskReminder]
	en1, en2, en3, err := Render(domain.TmplTaskReminder, "en", data)
	require.NoError(t, err)
	for _, loc := range []string{"", "fr", "de-DE", "zh-TW"} {
		s, x, h, err := Render(domain.TmplTaskReminder, loc, data)
		require.NoError(t, err)
		assert.Equal(t, []string{en1, en2, en3}, []string{s, x, h}, "locale %q", loc)
	}
	s, _, _, err := Render(domain.TmplTaskReminder, "zh-cn", data)
	require.NoError(t, err)
	assert.Equal(t, "第 2 次提醒：Respond to CMP-2024-0001 将于 2024-05-02 10:00 CST 到期", s)
	assert.Equal(t, "Reminder 2: Respond to CMP-2024-0001 is due 2024-05-02 10:00 CST", en1)
}

func TestEmailRenderContractComments(t *testing.T) {
	data := sampleData()[domain.TmplContractChangesRequested]
	_, text, html, err := Render(domain.TmplContractChangesRequested, "en", data)
	require.NoError(t, err)
	assert.Contains(t, text, "- quality countersign, frank (reject): Tolerance too tight. Opinion: Needs a new gauge.")
	assert.Contains(t, text, "- finance countersign, erin (approve): Fine.")
	assert.Contains(t, html, "Tolerance too tight.")
	assert.NotContains(t, text+html, "Report")

	data["comments"] = []any{}
	_, text, _, err = Render(domain.TmplContractChangesRequested, "zh-CN", data)
	require.NoError(t, err)
	assert.Contains(t, text, "（无）")
}

func TestEmailRenderContractNotice(t *testing.T) {
	data := sampleData()[domain.TmplContractDepartmentNotice]
	subject, text, _, err := Render(domain.TmplContractDepartmentNotice, "en", data)
	require.NoError(t, err)
	assert.Equal(t, "[HT-2024-0007] Approved contract for Northwind Machinery: Spindle line retrofit", subject)
	assert.Contains(t, text, "- custom specification\n- special packaging")
	assert.Contains(t, text, "Discount:      7.5 %")

	data["discount_pct"], data["requirements"], data["amendment"] = "", []any{}, true
	subject, text, html, err := Render(domain.TmplContractDepartmentNotice, "zh-CN", data)
	require.NoError(t, err)
	assert.Contains(t, subject, "合同变更已批准")
	assert.NotContains(t, text+html, "折扣")
	assert.Contains(t, text, "无（标准条款）")
}

func TestEmailRenderUnknownTemplate(t *testing.T) {
	_, _, _, err := Render("no_such_template", "en", nil)
	assert.ErrorContains(t, err, "unknown template")
}

// Templates are found in the file system: a process's folder is picked up with nothing
// to list, and a template missing from one locale, or two files of one name, fail.
func TestTemplatesFoundInTheFileSystem(t *testing.T) {
	tmpl := func(subject string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(`{{define "subject"}}` + subject + `{{end}}{{define "text"}}t{{end}}{{define "html"}}<p>h</p>{{end}}`)}
	}
	common := &fstest.MapFile{Data: []byte(`{{define "footer"}}f{{end}}`)}
	base := func() fstest.MapFS {
		fsys := fstest.MapFS{}
		for _, loc := range domain.Locales {
			fsys["templates/"+loc+"/common.tmpl"] = common
			fsys["templates/"+loc+"/task_assigned.tmpl"] = tmpl("task " + loc)
			fsys["templates/"+loc+"/order/order_confirmation.tmpl"] = tmpl("order " + loc)
		}
		return fsys
	}
	sets, err := parseTemplates(base())
	require.NoError(t, err)
	assert.Equal(t, []string{"order_confirmation", "task_assigned"}, templateNames(sets))

	missing := base()
	delete(missing, "templates/zh-CN/order/order_confirmation.tmpl")
	_, err = parseTemplates(missing)
	assert.ErrorContains(t, err, "different templates")

	dup := base()
	dup["templates/en/survey/task_assigned.tmpl"] = tmpl("again")
	_, err = parseTemplates(dup)
	assert.ErrorContains(t, err, "template task_assigned is both")

	noBlock := base()
	noBlock["templates/en/order/order_confirmation.tmpl"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}s{{end}}`)}
	_, err = parseTemplates(noBlock)
	assert.ErrorContains(t, err, "defines no")

	// The embedded templates include each process's folder.
	assert.Contains(t, Templates, domain.TmplComplaintAck)
	assert.Contains(t, Templates, domain.TmplContractApproved)
	assert.Contains(t, Templates, domain.TmplTaskAssigned)
}

// An escalation about a task says so; one about a deadline without a task (an invoice)
// names its subject instead.
func TestEscalationRendersTaskOrSubject(t *testing.T) {
	task := maps.Clone(sampleData()[domain.TmplEscalation])
	task["task_id"] = "tsk_1"
	noTask := maps.Clone(sampleData()[domain.TmplEscalation])
	noTask["task_id"], noTask["task_title"] = "", "Invoice INV-2026-0001"
	for _, loc := range domain.Locales {
		_, text, html, err := Render(domain.TmplEscalation, loc, task)
		require.NoError(t, err)
		_, text2, html2, err := Render(domain.TmplEscalation, loc, noTask)
		require.NoError(t, err)
		if loc == "en" {
			assert.Contains(t, text, "A task has missed its deadline")
			assert.Contains(t, text, "Task:    Respond to CMP-2024-0001")
			assert.Contains(t, text2, "A deadline has passed")
			assert.Contains(t, text2, "Subject: Invoice INV-2026-0001")
			assert.NotContains(t, text2+html2, "A task")
		} else {
			assert.Contains(t, text, "以下任务已超过截止时间")
			assert.Contains(t, text2, "事项：Invoice INV-2026-0001")
			assert.NotContains(t, text2+html2, "任务")
		}
		assert.Contains(t, html, "Respond to CMP-2024-0001")
		assert.Contains(t, html2, "Invoice INV-2026-0001")
	}
}

// The staff e-mails carry the page links they are given, in text and as the button.
func TestEmailRenderStaffLinks(t *testing.T) {
	samples := sampleData()
	for name, key := range map[string]string{domain.TmplTaskAssigned: "task_url", domain.TmplTaskReminder: "task_url",
		domain.TmplEscalation: "escalation_url"} {
		link := samples[name][key].(string)
		for _, loc := range domain.Locales {
			_, text, html, err := Render(name, loc, samples[name])
			require.NoError(t, err)
			assert.Contains(t, text, link, "%s/%s text", name, loc)
			assert.Contains(t, html, `href="`+link+`"`, "%s/%s button", name, loc)
			assert.NotContains(t, text+html, "/api/v1/", "%s/%s links a person to the JSON API", name, loc)
		}
	}
}
