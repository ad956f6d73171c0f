package web

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/serviceflow/serviceflow/store"
)

// Form limits: anything longer is refused without hashing it.
const (
	maxUsernameLen = 100
	maxPasswordLen = 1000
)

// SetPassword hashes password and stores the hash as username's password.
// ErrNotFound (store's) when the user does not exist.
func SetPassword(ctx context.Context, st *store.Store, username, password string) error {
	if len(password) < MinPasswordLength {
		return errors.New("the password must have at least 8 characters")
	}
	if len(password) > maxPasswordLen {
		return errors.New("the password is too long")
	}
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	return st.SetPasswordHash(ctx, username, h)
}

// sessionUser returns the signed-in user of r, or nil when there is no valid session.
func (a *App) sessionUser(r *http.Request) (*store.User, error) {
	c, err := r.Cookie(a.cookie)
	if err != nil || c.Value == "" || len(c.Value) > 200 {
		return nil, nil
	}
	u, err := a.st.WebSessionUser(r.Context(), c.Value, a.now(), a.cfg.IdleTimeout, a.cfg.MaxAge)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// signedIn returns the signed-in user, or redirects to the sign-in page (and reports
// false) when there is none.
func (a *App) signedIn(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u, err := a.sessionUser(r)
	if err != nil {
		a.internal(w, r, err)
		return nil, false
	}
	if u == nil {
		a.clearCookie(w)
		to := "/signin"
		if r.Method == http.MethodGet && taskPath.MatchString(r.URL.Path) {
			to += "?next=" + url.QueryEscape(r.URL.Path) // back to the task or case after sign-in
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil, false
	}
	return u, true
}

func (a *App) setCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: a.cookie, Value: token, Path: "/", HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(a.cfg.MaxAge / time.Second)})
}

func (a *App) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: a.cookie, Value: "", Path: "/", HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

type signInData struct {
	page
	Username string
	Next     string // the page to open after sign-in ("" for the inbox)
}

// taskPath is the only kind of page a sign-in goes on to: a task (a staff e-mail's task
// link) or a case's page (a link passed on between colleagues).
var taskPath = regexp.MustCompile(`^/(tasks|complaints|contracts)/[A-Za-z0-9_-]{1,100}$`)

// nextPage is where a sign-in goes on to: next when it is a task or case page, else the
// inbox.
func nextPage(next string) string {
	if taskPath.MatchString(next) {
		return next
	}
	return "/"
}

func (a *App) signInPage(w http.ResponseWriter, r *http.Request) {
	u, err := a.sessionUser(r)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if u != nil {
		http.Redirect(w, r, nextPage(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	a.renderSignIn(w, r, http.StatusOK, "", "")
}

func (a *App) renderSignIn(w http.ResponseWriter, r *http.Request, status int, username, errMsg string) {
	p := a.newPage(r, nil)
	p.Title, p.Error = p.T("signin.title"), errMsg
	next := r.FormValue("next") // the query of the page, the form of a sign-in
	if nextPage(next) == "/" {
		next = ""
	}
	a.render(w, status, "signin", signInData{page: p, Username: username, Next: next})
}

// signIn checks a username and password. A username locked out by failed sign-ins is
// refused whatever the password (429); a wrong password counts a failure (401).
func (a *App) signIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	p := a.newPage(r, nil)
	if username == "" || password == "" || len(username) > maxUsernameLen || len(password) > maxPasswordLen {
		a.renderSignIn(w, r, http.StatusUnauthorized, username, p.T("signin.wrong"))
		return
	}
	now := a.now()
	until, err := a.st.SignInLockedUntil(ctx, username, now)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if !until.IsZero() {
		a.locked(w, r, username, until.Sub(now))
		return
	}
	hash, err := a.st.PasswordHash(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.internal(w, r, err)
		return
	}
	ok := false
	if hash == "" {
		_, _ = CheckPassword(dummyHash, password) // as slow as a real check
	} else if ok, err = CheckPassword(hash, password); err != nil {
		a.log.Error("web: stored password hash unreadable", "user", username, "err", err)
		ok = false
	}
	if !ok {
		n, until, err := a.st.RecordSignInFailure(ctx, username, now, a.cfg.Lockout)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		a.log.Warn("web: failed sign-in", "user", username, "failures", n)
		if !until.IsZero() {
			a.locked(w, r, username, until.Sub(now))
			return
		}
		a.renderSignIn(w, r, http.StatusUnauthorized, username, p.T("signin.wrong"))
		return
	}
	if err := a.st.ClearSignInFailures(ctx, username); err != nil {
		a.internal(w, r, err)
		return
	}
	token, err := a.st.CreateWebSession(ctx, username, now)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.log.Info("web: signed in", "user", username)
	a.setCookie(w, token)
	http.Redirect(w, r, nextPage(r.PostFormValue("next")), http.StatusSeeOther)
}

// locked answers a sign-in of a locked-out username.
func (a *App) locked(w http.ResponseWriter, r *http.Request, username string, left time.Duration) {
	p := a.newPage(r, nil)
	mins := int(math.Ceil(left.Minutes()))
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(left.Seconds()))))
	a.renderSignIn(w, r, http.StatusTooManyRequests, username, p.T("signin.locked", "Minutes", mins))
}

func (a *App) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(a.cookie); err == nil && c.Value != "" {
		if err := a.st.DeleteWebSession(r.Context(), c.Value); err != nil {
			a.internal(w, r, err)
			return
		}
	}
	a.clearCookie(w)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
