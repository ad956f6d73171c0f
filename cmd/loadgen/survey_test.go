package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/mail"
)

// The plan makes exactly the share of detractors asked for, each answer is one the
// survey link takes, and who counts as a detractor is what domain.IsDetractor says of
// the answer as the API reads it.
func TestPlanAnswersMakesTheShareOfDetractors(t *testing.T) {
	var customers []string
	for i := 1; i <= 1000; i++ {
		customers = append(customers, seededCustomer(i))
	}
	for _, share := range []float64{0, 0.2, 0.333, 1} {
		p := planAnswers(customers, share)
		n := 0
		for i, c := range customers {
			b, err := json.Marshal(p.answers[i])
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber() // as POST /c/{token} reads it
			var read map[string]any
			if err := dec.Decode(&read); err != nil {
				t.Fatal(err)
			}
			if errs := domain.ValidateSurveyAnswer(read); len(errs) > 0 {
				t.Fatalf("answer %d %v: %v", i, p.answers[i], errs)
			}
			if got := domain.IsDetractor(domain.SurveyAnswerFrom(read)); got != p.detractors[c] {
				t.Fatalf("answer %d %v: IsDetractor %v, planned %v", i, p.answers[i], got, p.detractors[c])
			}
			if p.detractors[c] {
				n++
			}
		}
		if want := int(share*1000 + 0.5); n != want {
			t.Errorf("share %v: %d detractors, want %d", share, n, want)
		}
	}
	a, b := planAnswers(customers, 0.2), planAnswers(customers, 0.2)
	for i := range customers {
		if !sameAnswer(roundTrip(t, a.answers[i]), b.answers[i]) {
			t.Fatalf("answer %d differs between two plans: %v, %v", i, a.answers[i], b.answers[i])
		}
	}
}

// roundTrip is an answer as the database gives it back (JSON numbers as float64).
func roundTrip(t *testing.T, a map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSameAnswer(t *testing.T) {
	posted := map[string]any{"nps": 3, "service_quality": 5, "comment": "ok"}
	if !sameAnswer(roundTrip(t, posted), posted) {
		t.Error("a stored copy differs")
	}
	for _, stored := range []map[string]any{
		{"nps": 4.0, "service_quality": 5.0, "comment": "ok"},
		{"nps": 3.0, "service_quality": 5.0},
		{"nps": 3.0, "service_quality": 5.0, "comment": "ok", "extra": 1.0},
		{"nps": "3", "service_quality": 5.0, "comment": "ok"},
	} {
		if sameAnswer(stored, posted) {
			t.Errorf("%v taken for %v", stored, posted)
		}
	}
}

// The fake SendGrid takes what serviceflow's SendGrid sender sends, keeps the link
// token by idempotency key, counts a repeat, and refuses a payload it cannot check.
func TestFakeSendGridKeepsTheLinkTokens(t *testing.T) {
	f, err := startFakeSendGrid()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	for _, kv := range f.env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	sender := mail.NewSendGrid(env["SENDGRID_API_KEY"], env["SENDGRID_API_URL"], 5*time.Second)
	token := strings.Repeat("ab12", 16)
	msg := func(key string) mail.Message {
		return mail.Message{To: domain.EmailRecipient{Email: "c@loadgen.example"}, From: domain.EmailRecipient{Email: "no-reply@x.example"},
			Subject: "How are we doing?", Text: "Answer here:\n\nhttp://127.0.0.1:1/c/" + token + "\n",
			HTML: `<a href="http://127.0.0.1:1/c/` + token + `">Answer</a>`, IdempotencyKey: key}
	}
	ctx := context.Background()
	for _, key := range []string{"survey/svc_1/invite/cus_A", "survey/svc_1/invite/cus_B", "survey/svc_1/invite/cus_A", "survey/svc_1/invite/cus_A/reminder/1", "complaint/cmp_1/ack"} {
		if _, err := sender.Send(ctx, msg(key)); err != nil {
			t.Fatalf("send %s: %v", key, err)
		}
	}
	bad := msg("survey/svc_1/invite/cus_C")
	bad.HTML = ""
	if _, err := sender.Send(ctx, bad); err == nil {
		t.Fatal("an e-mail without HTML was accepted")
	}
	if n, _, _ := f.delivered("survey/svc_1/invite/"); n != 2 {
		t.Errorf("delivered %d invitations, want 2", n)
	}
	if got := f.tokensOf("survey/svc_1/invite/"); len(got) != 2 || got["cus_A"] != token || got["cus_B"] != token {
		t.Errorf("tokens %v", got)
	}
	accepted, repeats, refused, reasons := f.stats()
	if accepted != 5 || repeats != 1 || refused != 1 || len(reasons) != 1 || !strings.Contains(reasons[0], "text/html") {
		t.Errorf("stats: %d accepted, %d repeats, %d refused %v", accepted, repeats, refused, reasons)
	}
}

// The scenario at 200 customers, the cycle shortened to 30 s: every customer invited
// and delivered, every answer recorded as posted, each detractor with exactly one
// return_visit task also after the catch-ups at the reminders and the close, a short
// history. Timings are not checked: this is a benchmark's test, not a timed test.
func TestSurveyScenarioAt200Customers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serviceflow dev and runs a survey cycle")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "serviceflow")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/serviceflow/serviceflow/cmd/serviceflow").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	o, err := parseFlags([]string{"-scenario", "survey", "-customers", "200", "-mail-rate", "500", "-ephemeral",
		"-serviceflow", bin, "-visit-wait", "60s", "-close-after", "30s", "-out", filepath.Join(dir, "figures.json")})
	if err != nil {
		t.Fatal(err)
	}
	if o.clients != 16 {
		t.Errorf("survey clients %d, want 16", o.clients)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f, err := runSurvey(ctx, o)
	if f == nil {
		t.Fatal(err)
	}
	var out strings.Builder
	f.print(&out)
	t.Log(out.String())
	if err != nil {
		t.Error(err)
	}
	if f.Customers != 200 || f.Audience < 200 || f.Invited != f.Audience || f.EmailsQueued != f.Audience {
		t.Errorf("invited %d (e-mails %d) of an audience of %d", f.Invited, f.EmailsQueued, f.Audience)
	}
	if f.Delivered != f.Invited || f.OutboxSent != f.EmailsQueued || f.OutboxFailed+f.ProviderRefused+f.ProviderRepeats != 0 {
		t.Errorf("delivered %d of %d; outbox %d sent, %d failed; provider %d refused, %d repeats",
			f.Delivered, f.Invited, f.OutboxSent, f.OutboxFailed, f.ProviderRefused, f.ProviderRepeats)
	}
	if f.HistoryAfterDelivery <= 0 || f.HistoryAtEnd < f.HistoryAfterDelivery || f.HistoryAtEnd >= 2000 {
		t.Errorf("history %d after the deliveries, %d at the end", f.HistoryAfterDelivery, f.HistoryAtEnd)
	}
	if f.Answers.Count != 200 || f.Answers.Errors != 0 || f.PostAnswer.Count != 200 || f.Answered != 200 || f.AnswersWrong+f.AnswersMissed != 0 {
		t.Errorf("answers: %+v, %d recorded, %d differ, %d missing", f.Answers, f.Answered, f.AnswersWrong, f.AnswersMissed)
	}
	if f.Detractors != 40 || f.VisitTasks != f.Detractors || f.VisitCustomers != f.Detractors ||
		f.VisitMissing+f.VisitExtra+f.VisitDuplicate != 0 {
		t.Errorf("%d detractors, %d return_visit tasks for %d customers (%d missing, %d extra, %d duplicated)",
			f.Detractors, f.VisitTasks, f.VisitCustomers, f.VisitMissing, f.VisitExtra, f.VisitDuplicate)
	}
	// The shortened cycle reminded the demo's customers (who never answer) twice, closed,
	// and its catch-ups started no visit twice (counted again after the close).
	if f.RemindersQueued < 2*(f.Audience-f.Customers) || f.ClosedSeconds < 30 || f.WorkflowStatus != "completed" {
		t.Errorf("close: %d reminders queued, closed after %.1fs, workflow %s", f.RemindersQueued, f.ClosedSeconds, f.WorkflowStatus)
	}
	if err := f.write(o.out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(o.out)
	if err != nil {
		t.Fatal(err)
	}
	var back Survey
	if err := json.Unmarshal(b, &back); err != nil || back.Answered != f.Answered || len(back.Targets) != 4 {
		t.Errorf("the JSON file reads back as %+v (%v)", back, err)
	}
}
