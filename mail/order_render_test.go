package mail

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
)

// orderSampleData holds every key of each order template, JSON-decoded as the outbox
// stores them (a quantity is a float64).
func orderSampleData() map[string]map[string]any {
	link := map[string]any{"link_url": "http://127.0.0.1:8080/c/tok123", "expires_at": "2026-05-09T10:00:00Z"}
	return map[string]map[string]any{
		domain.TmplOrderConfirmRequest: orderSample(link, map[string]any{
			"requested_delivery_date": "2026-06-30", "lines": orderLines(), "total": "12500.00 CNY",
			"delivery_method": "delivery", "address": "88 Harbour Road\nPudong, Shanghai", "net_days": float64(30),
		}),
		domain.TmplOrderConfirmReminder: orderSample(link, map[string]any{
			"requested_delivery_date": "2026-06-30", "lines": orderLines(), "total": "12500.00 CNY",
		}),
		domain.TmplOrderShipped: orderSample(link, map[string]any{
			"lines": orderLines(), "total": "12500.00 CNY", "delivery_method": "delivery", "carrier": "SF Express", "tracking_no": "SF1234567890",
			"certificate_no": "QC-2026-0042", "shipped_on": "2026-06-20",
		}),
		domain.TmplOrderAcceptReminder: orderSample(link, map[string]any{
			"delivery_method": "delivery", "shipped_on": "2026-06-20",
		}),
		domain.TmplOrderProgress: orderSample(nil, map[string]any{
			"note": "The castings arrived today.\nMachining starts on Monday.", "rep_name": "Alice Chen",
		}),
		domain.TmplOrderDelay: orderSample(nil, map[string]any{
			"requested_delivery_date": "2026-06-30", "planned_date": "2026-07-14",
		}),
		domain.TmplOrderInvoice: orderSample(nil, map[string]any{
			"lines": orderLines(), "total": "12500.00 CNY", "invoice_no": "FP-2026-000001", "invoice_amount": "12500.00 CNY",
			"open_amount": "8750.00 CNY", "due_on": "2026-07-21",
		}),
		domain.TmplInvoiceReminder: {
			"customer_name": "Northwind Machinery", "order_id": "ord_01JORDER", "invoice_no": "FP-2026-000001",
			"open_amount": "8750.00 CNY", "due_on": "2026-07-21", "stage": "before_due",
		},
		domain.TmplOrderCancelled: {
			"customer_name": "Northwind Machinery", "order_id": "ord_01JORDER", "total": "12500.00 CNY",
			"cause": "cancelled", "reason": "Project postponed by the customer.",
		},
		domain.TmplOrderNotice: {
			"recipient_name": "Alice", "order_id": "ord_01JORDER", "customer_name": "Northwind Machinery",
			"total": "12500.00 CNY", "event": "delay", "planned_date": "2026-07-14", "requested_delivery_date": "2026-06-30",
		},
	}
}

// orderSample is the order's id and customer, the link's keys, and extra.
func orderSample(link, extra map[string]any) map[string]any {
	d := map[string]any{"customer_name": "Northwind Machinery", "order_id": "ord_01JORDER"}
	maps.Copy(d, link)
	maps.Copy(d, extra)
	return d
}

func orderLines() []any {
	return []any{
		map[string]any{"sku": "FL-DN50", "description": "Steel flange DN50", "quantity": float64(10),
			"unit_price": "120.00 CNY", "amount": "1200.00 CNY"},
		map[string]any{"sku": "BOLT/M12", "description": "Bolt M12 <zinc>", "quantity": float64(1000000),
			"unit_price": "0.01 CNY", "amount": "10000.00 CNY"},
	}
}

func renderOrder(t *testing.T, name, loc string, data map[string]any) (subject, text, html string) {
	t.Helper()
	subject, text, html, err := Render(name, loc, data)
	require.NoError(t, err, "%s/%s", name, loc)
	assert.NotContains(t, text+html, "<no value>")
	return subject, text, html
}

// Every order template names the order in its subject; the lines show each line, a
// quantity with no exponent, and the total.
func TestOrderTemplatesSubjectAndLines(t *testing.T) {
	for name, data := range orderSampleData() {
		for _, loc := range domain.Locales {
			subject, text, html := renderOrder(t, name, loc, data)
			if name == domain.TmplInvoiceReminder {
				assert.Contains(t, subject, "FP-2026-000001")
			} else {
				assert.Contains(t, subject, "ord_01JORDER", "%s/%s", name, loc)
			}
			if data["lines"] == nil {
				continue
			}
			for _, s := range []string{"FL-DN50", "Steel flange DN50", "120.00 CNY", "1200.00 CNY", "1000000", "12500.00 CNY"} {
				assert.Contains(t, text, s, "%s/%s text", name, loc)
				assert.Contains(t, html, s, "%s/%s html", name, loc)
			}
			assert.NotContains(t, text+html, "e+06")
			assert.Contains(t, html, "Bolt M12 &lt;zinc&gt;")
			assert.Contains(t, text, "Bolt M12 <zinc>")
		}
	}
	// A quantity the workflow passes as an int, before the JSON round trip, too.
	data := orderSampleData()[domain.TmplOrderConfirmRequest]
	data["lines"] = []map[string]any{{"sku": "FL-DN50", "description": "Steel flange DN50", "quantity": 7,
		"unit_price": "120.00 CNY", "amount": "840.00 CNY"}}
	_, text, _ := renderOrder(t, domain.TmplOrderConfirmRequest, "en", data)
	assert.Contains(t, text, "- Steel flange DN50 (FL-DN50)\n  7 x 120.00 CNY = 840.00 CNY\n\nTotal: 12500.00 CNY")
	// A line without its amount is an error, not a blank.
	delete(data["lines"].([]map[string]any)[0], "amount")
	_, _, _, err := Render(domain.TmplOrderConfirmRequest, "en", data)
	assert.Error(t, err)
}

// Both locales declare the same optional keys.
func TestTemplatesOptionalKeysAgreeAcrossLocales(t *testing.T) {
	for _, name := range Templates {
		for _, loc := range domain.Locales[1:] {
			assert.ElementsMatch(t, templates[domain.Locales[0]][name].optional, templates[loc][name].optional, name)
		}
	}
}

func TestOrderConfirmRequestDeliveryAndTerms(t *testing.T) {
	data := orderSampleData()[domain.TmplOrderConfirmRequest]
	_, text, html := renderOrder(t, domain.TmplOrderConfirmRequest, "en", data)
	assert.Contains(t, text, "Delivery:                delivery\n")
	assert.Contains(t, text, "Delivery address:\n88 Harbour Road\nPudong, Shanghai\n")
	assert.Contains(t, text, "30 days net from acceptance of the goods")
	assert.Contains(t, text, "http://127.0.0.1:8080/c/tok123")
	assert.Contains(t, text, "2026-05-09T10:00:00Z (UTC), the order lapses")
	assert.Contains(t, html, `href="http://127.0.0.1:8080/c/tok123"`)

	data["delivery_method"], data["net_days"] = "pickup", float64(0)
	delete(data, "address")
	_, text, _ = renderOrder(t, domain.TmplOrderConfirmRequest, "en", data)
	assert.Contains(t, text, "collection by you at our premises")
	assert.Contains(t, text, "due on acceptance of the goods")
	_, text, _ = renderOrder(t, domain.TmplOrderConfirmRequest, "zh-CN", data)
	assert.Contains(t, text, "交货方式：客户自提")
	assert.Contains(t, text, "付款条件：货物验收时付款")
}

func TestOrderShippedDeliveryOrPickup(t *testing.T) {
	data := orderSampleData()[domain.TmplOrderShipped]
	subject, text, _ := renderOrder(t, domain.TmplOrderShipped, "en", data)
	assert.Contains(t, subject, "has shipped")
	assert.Contains(t, text, "Carrier:             SF Express")
	assert.Contains(t, text, "Tracking number:     SF1234567890")
	assert.Contains(t, text, "Quality certificate: QC-2026-0042")
	assert.Contains(t, text, "the delivery counts as accepted")
	_, text, _ = renderOrder(t, domain.TmplOrderShipped, "zh-CN", data)
	assert.Contains(t, text, "质保书编号：QC-2026-0042")
	assert.Contains(t, text, "将视为您已验收")

	data["delivery_method"] = "pickup"
	delete(data, "carrier")
	delete(data, "tracking_no")
	for _, loc := range domain.Locales {
		subject, text, html := renderOrder(t, domain.TmplOrderShipped, loc, data)
		assert.NotContains(t, text+html, "SF")
		assert.Contains(t, text, "QC-2026-0042")
		if loc == "en" {
			assert.Contains(t, subject, "handed over")
			assert.NotContains(t, text+html, "Carrier")
			assert.NotContains(t, text+html, "Tracking")
		} else {
			assert.Contains(t, subject, "自提")
			assert.NotContains(t, text+html, "承运商")
			assert.NotContains(t, text+html, "运单号")
		}
	}
}

func TestInvoiceReminderStages(t *testing.T) {
	want := map[string]map[string][]string{
		"before_due": {"en": {"friendly reminder", "due for payment on 2026-07-21"}, "zh-CN": {"温馨提示", "将于 2026-07-21 到期"}},
		"due":        {"en": {"due for payment today, 2026-07-21"}, "zh-CN": {"于今日（2026-07-21）到期"}},
		"overdue":    {"en": {"was due on 2026-07-21", "not yet been paid in full"}, "zh-CN": {"已于 2026-07-21 到期", "尚未全额付清"}},
	}
	subjects := map[string]bool{}
	for stage, byLoc := range want {
		data := orderSampleData()[domain.TmplInvoiceReminder]
		data["stage"] = stage
		for loc, phrases := range byLoc {
			subject, text, html := renderOrder(t, domain.TmplInvoiceReminder, loc, data)
			subjects[subject] = true
			assert.Contains(t, text, "8750.00 CNY")
			for _, p := range phrases {
				assert.Contains(t, text, p, "%s/%s", stage, loc)
				assert.Contains(t, html, p, "%s/%s", stage, loc)
			}
		}
	}
	assert.Len(t, subjects, 6, "each stage has its own subject in each locale")
}

// Each cause is worded; the reason shows only for a cancellation and a decline: a
// rejection's or a credit refusal's is internal.
func TestOrderCancelledCauses(t *testing.T) {
	const secret = "Exposure 2.4M over the 2M limit"
	subjects := map[string]bool{}
	for _, cause := range []string{"cancelled", "rejected", "credit_refused", "declined", "lapsed"} {
		data := orderSampleData()[domain.TmplOrderCancelled]
		data["cause"], data["reason"] = cause, secret
		for _, loc := range domain.Locales {
			subject, text, html := renderOrder(t, domain.TmplOrderCancelled, loc, data)
			subjects[loc+subject] = true
			shown := cause == "cancelled" || cause == "declined"
			assert.Equal(t, shown, strings.Contains(text, secret), "%s/%s text", cause, loc)
			assert.Equal(t, shown, strings.Contains(html, secret), "%s/%s html", cause, loc)
			assert.NotContains(t, strings.ToLower(text+html), "credit", "%s/%s", cause, loc)
			assert.NotContains(t, text+html, "信用", "%s/%s", cause, loc)
		}
		delete(data, "reason")
		renderOrder(t, domain.TmplOrderCancelled, "en", data)
	}
	assert.Len(t, subjects, 8, "rejected and credit_refused share a subject; the rest differ")

	data := orderSampleData()[domain.TmplOrderCancelled]
	data["cause"] = "credit_refused"
	subject, text, _ := renderOrder(t, domain.TmplOrderCancelled, "en", data)
	assert.Equal(t, "[ord_01JORDER] We are unable to accept your order", subject)
	assert.Contains(t, text, "unable to accept your order ord_01JORDER")
}

// The staff notice has a subject and a sentence per event, and shows the optional
// keys it is given.
func TestOrderNoticeEvents(t *testing.T) {
	base := orderSampleData()[domain.TmplOrderNotice]
	delete(base, "planned_date")
	delete(base, "requested_delivery_date")
	extra := map[string]map[string]any{
		"lapsed":           {},
		"cancelled":        {"reason": "Customer postponed the project."},
		"declined":         {"reason": "Price too high."},
		"credit_refused":   {"reason": "Exposure over the limit."},
		"rejected":         {"reason": "Margin too low."},
		"slot_released":    {"round": float64(2), "reason": "Customer postponed the project."},
		"delay":            {"planned_date": "2026-07-14", "requested_delivery_date": "2026-06-30"},
		"problem_reported": {"complaint_id": "cmp_01JCOMPLAINT", "reason": "Two flanges are scratched."},
	}
	for _, loc := range domain.Locales {
		subjects, sentences := map[string]bool{}, map[string]bool{}
		for event, more := range extra {
			data := maps.Clone(base)
			data["event"] = event
			maps.Copy(data, more)
			subject, text, html := renderOrder(t, domain.TmplOrderNotice, loc, data)
			subjects[subject], sentences[strings.Split(text, "\n")[2]] = true, true
			assert.Contains(t, subject, "ord_01JORDER")
			assert.Contains(t, text, "Northwind Machinery")
			assert.Contains(t, text, "12500.00 CNY")
			for _, v := range more {
				assert.Contains(t, text, fmt.Sprint(v), "%s/%s", event, loc)
			}
			assert.Contains(t, html, "Alice")
		}
		assert.Len(t, subjects, len(extra), loc)
		assert.Len(t, sentences, len(extra), loc)
	}
	data := maps.Clone(base)
	data["event"], data["round"] = "slot_released", float64(2)
	subject, text, _ := renderOrder(t, domain.TmplOrderNotice, "en", data)
	assert.Equal(t, "[ord_01JORDER] Production slot released: order for Northwind Machinery", subject)
	assert.Contains(t, text, "Production round:        2")
	assert.Contains(t, text, "stop any work on it")
	_, text, _ = renderOrder(t, domain.TmplOrderNotice, "zh-CN", data)
	assert.Contains(t, text, "生产轮次：第 2 轮")
}
