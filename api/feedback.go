package api

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// feedbackText holds the customer-facing strings of the feedback pages per locale.
type feedbackText struct {
	Lang, Title, Intro, Rating, Comment, Submit, Thanks, Already, Unknown, Closed, BadScore, BadComment, Failed string
	Scores                                                                                                      [5]string
}

var feedbackTexts = map[string]feedbackText{
	"en": {
		Lang: "en", Title: "How did we do?",
		Intro:  "Your complaint “%s” has been resolved. Please tell us how satisfied you are with how we handled it.",
		Rating: "Your rating", Comment: "Comment (optional)", Submit: "Send feedback",
		Thanks:     "Thank you for your feedback. It helps us serve you better.",
		Already:    "This feedback has already been given. Thank you!",
		Unknown:    "This feedback link is not valid.",
		Closed:     "This survey is closed and no longer accepts answers.",
		BadScore:   "Please choose a rating from 1 to 5.",
		BadComment: "Please shorten your comment to at most 2000 characters of plain text.",
		Failed:     "We could not record your feedback just now. Please try again in a few minutes.",
		Scores:     [5]string{"Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"},
	},
	"zh-CN": {
		Lang: "zh-CN", Title: "您对我们的处理满意吗？",
		Intro:  "您的投诉“%s”已处理完毕。请告诉我们您对处理结果的满意程度。",
		Rating: "您的评分", Comment: "意见（可选）", Submit: "提交反馈",
		Thanks:     "感谢您的反馈，这将帮助我们更好地为您服务。",
		Already:    "您已提交过反馈，谢谢！",
		Unknown:    "此反馈链接无效。",
		Closed:     "此调查已结束，不再接受回复。",
		BadScore:   "请选择 1 到 5 的评分。",
		BadComment: "请将意见缩短至 2000 字以内的纯文本。",
		Failed:     "暂时无法记录您的反馈，请稍后再试。",
		Scores:     [5]string{"非常不满意", "不满意", "一般", "满意", "非常满意"},
	},
}

var feedbackTmpl = template.Must(template.New("feedback").Parse(`<!doctype html>
<html lang="{{.T.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.T.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;background:#f4f5f7;color:#1f2933;margin:0;padding:2rem 1rem}
main{max-width:34rem;margin:0 auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 1rem}
p{line-height:1.5}
fieldset{border:0;padding:0;margin:1.5rem 0}
legend{font-weight:600;margin-bottom:.5rem}
label.score{display:flex;align-items:center;gap:.6rem;padding:.5rem .75rem;border:1px solid #d9dde3;border-radius:8px;margin:.35rem 0;cursor:pointer}
label.score:hover{border-color:#3b6fd8}
textarea{width:100%;box-sizing:border-box;min-height:6rem;padding:.6rem;border:1px solid #d9dde3;border-radius:8px;font:inherit}
button{margin-top:1.25rem;background:#3b6fd8;color:#fff;border:0;border-radius:8px;padding:.7rem 1.4rem;font:inherit;cursor:pointer}
.error{background:#fdecea;color:#8a1c14;padding:.75rem 1rem;border-radius:8px}
.done{font-size:1.1rem}
</style>
</head>
<body>
<main>
{{if .Form}}
<h1>{{.T.Title}}</h1>
<p>{{.Intro}}</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post">
<fieldset>
<legend>{{.T.Rating}}</legend>
{{range .Scores}}<label class="score"><input type="radio" name="score" value="{{.Value}}" required{{if .Checked}} checked{{end}}> <strong>{{.Value}}</strong> {{.Label}}</label>
{{end}}</fieldset>
<label for="comment"><strong>{{.T.Comment}}</strong></label>
<textarea id="comment" name="comment" maxlength="2000">{{.Comment}}</textarea>
<button type="submit">{{.T.Submit}}</button>
</form>
{{else}}
<p class="{{if .Error}}error{{else}}done{{end}}">{{if .Error}}{{.Error}}{{else}}{{.Message}}{{end}}</p>
{{end}}
</main>
</body>
</html>
`))

type scoreOption struct {
	Value   int
	Label   string
	Checked bool
}

type feedbackView struct {
	T       feedbackText
	Form    bool
	Intro   string
	Scores  []scoreOption
	Comment string
	Error   string
	Message string
}

// feedbackLocale picks the customer's locale, else the browser's, else English.
func feedbackLocale(c *gin.Context, locale string) feedbackText {
	if t, ok := feedbackTexts[locale]; ok {
		return t
	}
	if strings.HasPrefix(strings.ToLower(c.GetHeader("Accept-Language")), "zh") {
		return feedbackTexts["zh-CN"]
	}
	return feedbackTexts["en"]
}

func (s *Server) renderFeedback(c *gin.Context, status int, v feedbackView) {
	if strings.Contains(c.GetHeader("Content-Type"), "json") && c.Request.Method == http.MethodPost {
		s.feedbackJSON(c, status, v)
		return
	}
	var buf bytes.Buffer
	if err := feedbackTmpl.Execute(&buf, v); err != nil {
		s.internal(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer") // the token is in the URL
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// feedbackJSON answers a JSON submission: 200 {"status":"recorded"} or a problem.
func (s *Server) feedbackJSON(c *gin.Context, status int, v feedbackView) {
	switch {
	case status == http.StatusOK:
		writeJSON(c, status, gin.H{"status": "recorded"})
	default:
		msg := v.Error
		if msg == "" {
			msg = v.Message
		}
		writeProblem(c, problem(status, msg))
	}
}

func (s *Server) feedbackForm(t feedbackText, f store.FeedbackLink, score int, comment, errMsg string) feedbackView {
	v := feedbackView{T: t, Form: true, Intro: strings.Replace(t.Intro, "%s", f.ComplaintSubject, 1), Comment: comment, Error: errMsg}
	for i := 1; i <= 5; i++ {
		v.Scores = append(v.Scores, scoreOption{Value: i, Label: t.Scores[i-1], Checked: i == score})
	}
	return v
}

// loadFeedback finds the link of the :token path parameter, answering the 404 page when
// it is unknown.
func (s *Server) loadFeedback(c *gin.Context) (store.FeedbackLink, bool) {
	var f store.FeedbackLink
	err := store.ErrNotFound // a token that is not text names no link
	if token := c.Param("token"); isText(token) {
		f, err = s.st.FeedbackLinkByToken(c.Request.Context(), token)
	}
	if errors.Is(err, store.ErrNotFound) {
		s.renderFeedback(c, http.StatusNotFound, feedbackView{T: feedbackLocale(c, ""), Error: feedbackLocale(c, "").Unknown})
		return f, false
	}
	if err != nil {
		s.internal(c, err)
		return f, false
	}
	return f, true
}

// feedbackPage serves the customer's feedback form (no auth: the token is the key).
func (s *Server) feedbackPage(c *gin.Context) {
	f, ok := s.loadFeedback(c)
	if !ok {
		return
	}
	t := feedbackLocale(c, f.Locale)
	if f.AnsweredAt != nil {
		s.renderFeedback(c, http.StatusOK, feedbackView{T: t, Message: t.Already})
		return
	}
	s.renderFeedback(c, http.StatusOK, s.feedbackForm(t, f, 0, "", ""))
}

type feedbackRequest struct {
	Score   int    `json:"score"`
	Comment string `json:"comment"`
}

// submitFeedback records the customer's answer once and hands it to the complaint
// workflow (submit-feedback Update). The answer is marked first, so two submissions
// cannot both reach the process; it is unmarked again when the process refuses it.
func (s *Server) submitFeedback(c *gin.Context) {
	var req feedbackRequest
	isJSON := strings.Contains(c.GetHeader("Content-Type"), "json")
	var v checks
	if isJSON {
		var ok bool
		if v, ok = decodeJSON(c, &req, false); !ok {
			return
		}
		if p := v.problem(); p != nil {
			writeProblem(c, p)
			return
		}
	} else {
		if err := c.Request.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeProblem(c, problem(http.StatusRequestEntityTooLarge, "the request body is too large"))
			} else {
				writeProblem(c, problem(http.StatusBadRequest, "malformed form"))
			}
			return
		}
		req.Score, _ = strconv.Atoi(c.Request.PostForm.Get("score"))
		req.Comment = c.Request.PostForm.Get("comment")
	}
	f, ok := s.loadFeedback(c)
	if !ok {
		return
	}
	t := feedbackLocale(c, f.Locale)
	if f.AnsweredAt != nil {
		s.renderFeedback(c, http.StatusConflict, feedbackView{T: t, Message: t.Already})
		return
	}
	req.Comment = strings.TrimSpace(req.Comment)
	if req.Score < 1 || req.Score > 5 {
		v.add("score", "must be an integer from 1 to 5")
	}
	v.text("comment", req.Comment, false, 2000)
	switch {
	case len(v) > 0 && isJSON:
		writeProblem(c, v.problem())
		return
	case len(v) > 0:
		msg := t.BadScore
		if !v.failed("score") {
			msg = t.BadComment
		}
		s.renderFeedback(c, http.StatusUnprocessableEntity, s.feedbackForm(t, f, 0, req.Comment, msg))
		return
	}
	s.waitForWorkflow(c) // the answer goes to the complaint's workflow
	ctx := c.Request.Context()
	at := s.now().UTC()
	switch err := s.st.MarkFeedbackAnswered(ctx, f.Token, req.Score, req.Comment, at); {
	case errors.Is(err, store.ErrConflict):
		s.renderFeedback(c, http.StatusConflict, feedbackView{T: t, Message: t.Already})
		return
	case err != nil:
		s.internal(c, err)
		return
	}
	uctx, cancel := context.WithTimeout(ctx, s.cfg.UpdateTimeout)
	defer cancel()
	err := s.update(uctx, f.WorkflowID, domain.UpdateSubmitFeedback, domain.Feedback{Score: req.Score, Comment: req.Comment, At: at}, nil)
	if err == nil {
		s.renderFeedback(c, http.StatusOK, feedbackView{T: t, Message: t.Thanks})
		return
	}
	if uerr := s.st.UnmarkFeedbackAnswered(context.WithoutCancel(ctx), f.Token); uerr != nil {
		s.log.Error("unmark feedback", "err", uerr, "complaint_id", f.ComplaintID)
	}
	if p := s.updateProblem(err); p != nil && p.Status == http.StatusConflict {
		s.renderFeedback(c, http.StatusConflict, feedbackView{T: t, Error: t.Closed})
		return
	}
	s.log.Error("submit feedback", "err", err, "complaint_id", f.ComplaintID)
	s.renderFeedback(c, http.StatusServiceUnavailable, feedbackView{T: t, Error: t.Failed})
}
