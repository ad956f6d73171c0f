package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/workflows"
)

// linkProcesses are the processes whose link pages must exist: every registered one,
// and the order process, which has its pages before its registry entry.
func linkProcesses() []domain.Process {
	var ps []domain.Process
	for _, d := range workflows.Registry {
		ps = append(ps, d.Process)
	}
	if _, ok := workflows.Lookup(domain.ProcessOrder); !ok {
		ps = append(ps, domain.OrderProcess)
	}
	return ps
}

// Every purpose of every process has its page in every locale.
func TestLinkPageOfEveryPurposeInEveryLocale(t *testing.T) {
	t.Parallel()
	if len(linkTemplates.locales) < 2 {
		t.Fatalf("locales %v", linkTemplates.locales)
	}
	for _, p := range linkProcesses() {
		for purpose := range p.Links {
			for locale := range linkTemplates.locales {
				if linkTemplates.pages[purpose+"/"+locale] == nil {
					t.Errorf("process %s: no page %s.%s.html", p.Name, purpose, locale)
				}
			}
		}
	}
}

// orderLinkContext is the context of an order link as the page gets it: JSON-decoded
// from the row, so a quantity is a float64.
func orderLinkContext(t testing.TB, purpose string) map[string]any {
	t.Helper()
	c := map[string]any{
		"order_id": "ord_01JORDER", "total": "12500.00 CNY", "requested_delivery_date": "2026-06-30",
		"delivery_method": "delivery", "address": "88 Harbour Road\nPudong, Shanghai", "net_days": 30,
		"lines": []map[string]any{
			{"sku": "FL-DN50", "description": "Steel flange DN50", "quantity": 10, "unit_price": "120.00 CNY", "amount": "1200.00 CNY"},
			{"sku": "BOLT/M12-ZINC-PLATED-LONG-SKU-0000000001", "description": "Bolt M12 <zinc>", "quantity": 1000000,
				"unit_price": "0.01 CNY", "amount": "10000.00 CNY"},
		},
	}
	if purpose == domain.PurposeAcceptDelivery {
		c["carrier"], c["tracking_no"], c["certificate_no"], c["shipped_on"] = "SF Express", "SF1234567890", "QC-2026-0042", "2026-06-20"
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func renderLinkPage(t *testing.T, purpose, locale string, v linkView) string {
	t.Helper()
	page := linkTemplates.pages[purpose+"/"+locale]
	if page == nil {
		t.Fatalf("no page %s/%s", purpose, locale)
	}
	v.Lang, v.CSS, v.CustomerName = locale, linkCSSPath, "Northwind Machinery"
	if v.Values == nil {
		v.Values = map[string]string{}
	}
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	var b bytes.Buffer
	if err := page.Execute(&b, v); err != nil {
		t.Fatalf("%s/%s %s: %v", purpose, locale, v.View, err)
	}
	s := b.String()
	for _, bad := range []string{"<no value>", "e+06", "<nil>", "style=", "<script", "%!"} {
		if strings.Contains(s, bad) {
			t.Fatalf("%s/%s %s has %q:\n%s", purpose, locale, v.View, bad, s)
		}
	}
	return s
}

func wantIn(t *testing.T, page string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Fatalf("page lacks %q:\n%s", w, page)
		}
	}
}

// The order's pages show the order and its lines, label every field, flag a field at
// fault with its message, and thank a yes and a no differently.
func TestOrderLinkPagesRender(t *testing.T) {
	t.Parallel()
	type texts struct{ heading, reasonRequired, decisionError, thanksYes, thanksNo string }
	want := map[string]map[string]texts{
		domain.PurposeConfirmOrder: {
			"en":    {"Please confirm your order", "Please tell us why you decline the order.", "Please choose whether you confirm or decline", "Thank you for your confirmation", "We will be in touch with you shortly."},
			"zh-CN": {"请确认您的订单", "请告诉我们您拒绝该订单的原因。", "请选择确认或拒绝该订单。", "感谢您的确认", "我们会尽快与您联系。"},
		},
		domain.PurposeAcceptDelivery: {
			"en":    {"Did your goods arrive in good order?", "Please describe the problem.", "Please choose whether you accept the delivery or report a problem.", "Thank you for accepting the delivery", "will be in touch with you shortly."},
			"zh-CN": {"货物是否完好收到？", "请描述您遇到的问题。", "请选择确认验收或反馈问题。", "感谢您确认验收", "会尽快与您联系。"},
		},
	}
	for purpose, byLocale := range want {
		text := map[string]string{domain.PurposeConfirmOrder: "reason", domain.PurposeAcceptDelivery: "problem"}[purpose]
		no := map[string]string{domain.PurposeConfirmOrder: domain.AnswerDecline, domain.PurposeAcceptDelivery: domain.AnswerProblem}[purpose]
		yes := map[string]string{domain.PurposeConfirmOrder: domain.AnswerConfirm, domain.PurposeAcceptDelivery: domain.AnswerAccept}[purpose]
		for locale, w := range byLocale {
			ctx := orderLinkContext(t, purpose)
			page := renderLinkPage(t, purpose, locale, linkView{View: "form", Context: ctx})
			wantIn(t, page, "<title>"+w.heading+"</title>", "ord_01JORDER", "Northwind Machinery",
				"Steel flange DN50", "FL-DN50", "120.00 CNY", "1200.00 CNY", ">1000000<", "12500.00 CNY", "Bolt M12 &lt;zinc&gt;",
				`<table class="lines">`, "<caption>", `<th scope="col"`, "<fieldset>", "<legend>",
				`type="radio" name="decision" value="`+yes+`" required`, `type="radio" name="decision" value="`+no+`" required`,
				`<label for="`+text+`">`, `<textarea id="`+text+`" name="`+text+`" maxlength="2000" aria-describedby="`+text+`-hint">`,
				`id="`+text+`-hint"`, "88 Harbour Road\nPudong, Shanghai")
			if strings.Contains(page, `role="alert"`) {
				t.Fatalf("%s/%s: an error on a fresh form", purpose, locale)
			}
			if purpose == domain.PurposeAcceptDelivery {
				wantIn(t, page, "SF Express", "SF1234567890", "QC-2026-0042", "2026-06-20")
			} else {
				wantIn(t, page, "2026-06-30", map[string]string{"en": "30 days net", "zh-CN": "验收后 30 天内付款"}[locale])
			}

			// Pickup: no address, no carrier; the page says so.
			ctx["delivery_method"] = "pickup"
			delete(ctx, "carrier")
			delete(ctx, "tracking_no")
			page = renderLinkPage(t, purpose, locale, linkView{View: "form", Context: ctx})
			if strings.Contains(page, "Harbour Road") || strings.Contains(page, "SF Express") {
				t.Fatalf("%s/%s pickup shows the address or the carrier:\n%s", purpose, locale, page)
			}

			// The rules' messages become the page's, on the fields at fault, with what was typed.
			page = renderLinkPage(t, purpose, locale, linkView{View: "form", Context: ctx,
				Values: map[string]string{"decision": no, text: ""},
				Errors: map[string]string{text: "is required"}})
			wantIn(t, page, w.reasonRequired, `id="`+text+`-error" role="alert"`,
				`aria-describedby="`+text+`-hint `+text+`-error" class="invalid" aria-invalid="true"`,
				`value="`+no+`" required checked`)
			page = renderLinkPage(t, purpose, locale, linkView{View: "form", Context: ctx,
				Values: map[string]string{text: "<b>x</b>"},
				Errors: map[string]string{"decision": "must be one of ...", text: "must be plain text of at most 2000 characters"}})
			wantIn(t, page, w.decisionError, `<fieldset class="invalid" aria-describedby="decision-error">`, "2000", "&lt;b&gt;x&lt;/b&gt;</textarea>")
			if strings.Contains(page, w.reasonRequired) {
				t.Fatalf("%s/%s: a too long text is called missing", purpose, locale)
			}

			wantIn(t, renderLinkPage(t, purpose, locale, linkView{View: "thanks", Values: map[string]string{"decision": yes}}), w.thanksYes)
			no := renderLinkPage(t, purpose, locale, linkView{View: "thanks", Values: map[string]string{"decision": no}})
			wantIn(t, no, w.thanksNo)
			if strings.Contains(no, w.thanksYes) {
				t.Fatalf("%s/%s: a no is thanked as a yes", purpose, locale)
			}
			// A link whose context lacks keys still renders (the missing shown as nothing).
			renderLinkPage(t, purpose, locale, linkView{View: "form", Context: map[string]any{"lines": []any{map[string]any{}}}})
		}
	}
}

// formAnswer turns a radio choice and a textarea into the answer the purpose's rules
// accept, and leaves out an empty optional text.
func TestFormAnswerEnumChoice(t *testing.T) {
	t.Parallel()
	cases := []struct {
		purpose domain.LinkPurpose
		values  map[string]string
		answer  map[string]any
		invalid []string
	}{
		{domain.ConfirmOrderLink, map[string]string{"decision": "confirm", "reason": "  ", "extra": "x"},
			map[string]any{"decision": "confirm"}, nil},
		{domain.ConfirmOrderLink, map[string]string{"decision": "decline", "reason": " Too dear.\n"},
			map[string]any{"decision": "decline", "reason": "Too dear."}, nil},
		{domain.ConfirmOrderLink, map[string]string{"decision": "decline", "reason": ""},
			map[string]any{"decision": "decline"}, []string{"reason"}},
		{domain.ConfirmOrderLink, map[string]string{"reason": "?"},
			map[string]any{"reason": "?"}, []string{"decision"}},
		{domain.ConfirmOrderLink, map[string]string{"decision": "maybe"},
			map[string]any{"decision": "maybe"}, []string{"decision"}},
		{domain.AcceptDeliveryLink, map[string]string{"decision": "accept"},
			map[string]any{"decision": "accept"}, nil},
		{domain.AcceptDeliveryLink, map[string]string{"decision": "problem", "problem": "Two flanges are scratched."},
			map[string]any{"decision": "problem", "problem": "Two flanges are scratched."}, nil},
		{domain.AcceptDeliveryLink, map[string]string{"decision": "problem"},
			map[string]any{"decision": "problem"}, []string{"problem"}},
		{domain.AcceptDeliveryLink, map[string]string{"decision": ""},
			map[string]any{"decision": ""}, []string{"decision"}},
	}
	for i, c := range cases {
		a := formAnswer(c.purpose, c.values)
		if !reflect.DeepEqual(a, c.answer) {
			t.Errorf("case %d: answer %v, want %v", i, a, c.answer)
		}
		var fields []string
		for _, e := range c.purpose.Validate(a) {
			fields = append(fields, e.Field)
		}
		if !reflect.DeepEqual(fields, c.invalid) {
			t.Errorf("case %d: invalid %v, want %v", i, fields, c.invalid)
		}
	}
}

// withOrderLinks lets the link handler find the order process's purposes while the
// process is not registered yet. Not parallel: it changes the registry, and a parallel
// test runs only once every sequential one is done.
func withOrderLinks(t *testing.T) {
	if _, ok := workflows.Lookup(domain.ProcessOrder); ok {
		return
	}
	saved := workflows.Registry
	workflows.Registry = append(append([]workflows.Definition(nil), saved...), workflows.Definition{Process: domain.OrderProcess})
	t.Cleanup(func() { workflows.Registry = saved })
}

func insertOrderLink(t *testing.T, e *env, purpose, token, locale string) store.CustomerLink {
	t.Helper()
	cust := domain.LinkCustomer{ID: "cus_acme", Email: "buyer@acme.test", Name: "Acme", Locale: "en"}
	if locale == "zh-CN" {
		cust = domain.LinkCustomer{ID: "cus_globex", Email: "li@globex.test", Name: "Globex 环球", Locale: "zh-CN"}
	}
	l, _, err := store.CreateCustomerLink(context.Background(), e.st.Pool, domain.CreateLinkInput{
		Key: "order/ord_1/" + purpose + "/" + token, Purpose: purpose, Process: domain.ProcessOrder, ProcessID: "ord_1",
		WorkflowID: domain.OrderWorkflowID("ord_1"), Round: 1, Customer: cust, Context: orderLinkContext(t, purpose),
		Template: domain.TmplOrderConfirmRequest, ExpiresAt: time.Now().Add(time.Hour), At: time.Now().Add(-time.Hour),
	}, domain.HashToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The order's links through the handler: the page, a refused answer on its field, and
// an answer handed to the workflow, thanked by what it says.
func TestOrderLinkAnswerThroughThePage(t *testing.T) {
	e := newEnv(t)
	withOrderLinks(t)
	confirm := insertOrderLink(t, e, domain.PurposeConfirmOrder, "tok-confirm", "en")
	e.onUpdate(func(client.UpdateWorkflowOptions) (any, error) {
		return domain.LinkAnswerResult{LinkID: confirm.ID, ProcessStatus: domain.OrderCancelled}, nil
	})

	checkPage(t, e.do("GET", "/c/tok-confirm", "", nil), http.StatusOK, "en",
		"Please confirm your order", "Dear Acme", "Steel flange DN50", ">1000000<", "12500.00 CNY", `name="reason"`)
	checkPage(t, e.doForm("/c/tok-confirm", "decision=decline&reason=+"), http.StatusUnprocessableEntity, "en",
		"Please tell us why you decline the order.", `aria-describedby="reason-hint reason-error"`, `value="decline" required checked`)
	if e.updateCount() != 0 {
		t.Fatal("an invalid answer reached the workflow")
	}
	checkPage(t, e.doForm("/c/tok-confirm", "decision=decline&reason=Too+dear."), http.StatusOK, "en",
		"Thank you for letting us know", "We will be in touch with you shortly.")
	u := e.tc.lastUpdate()
	a, ok := u.Args[0].(domain.LinkAnswer)
	if !ok || u.WorkflowID != domain.OrderWorkflowID("ord_1") || a.Purpose != domain.PurposeConfirmOrder ||
		!reflect.DeepEqual(a.Answer, map[string]any{"decision": "decline", "reason": "Too dear."}) {
		t.Fatalf("update %+v %+v", u, u.Args[0])
	}

	accept := insertOrderLink(t, e, domain.PurposeAcceptDelivery, "tok-accept", "zh-CN")
	e.onUpdate(func(client.UpdateWorkflowOptions) (any, error) {
		return domain.LinkAnswerResult{LinkID: accept.ID, ProcessStatus: domain.OrderDelivered}, nil
	})
	checkPage(t, e.do("GET", "/c/tok-accept", "", nil), http.StatusOK, "zh-CN",
		"货物是否完好收到？", "尊敬的Globex 环球", "QC-2026-0042", "SF1234567890")
	checkPage(t, e.doForm("/c/tok-accept", "decision=accept"), http.StatusOK, "zh-CN", "感谢您确认验收")
	if a := e.tc.lastUpdate().Args[0].(domain.LinkAnswer); !reflect.DeepEqual(a.Answer, map[string]any{"decision": "accept"}) {
		t.Fatalf("answer %v", a.Answer)
	}
}
