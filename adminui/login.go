package adminui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
)

type loginData struct {
	Next    string
	Refused bool
}

func (u *UI) loginPage(rq *request) {
	rq.render(http.StatusOK, "login", "Sign in", loginData{Next: safeNext(rq.r.URL.Query().Get("next")), Refused: rq.r.URL.Query().Get("refused") != ""})
}

// login checks the tenant id and secret by asking the API who they are,
// then keeps them in the session (a new one, with a new CSRF token).
func (u *UI) login(rq *request) {
	tenantID := strings.TrimSpace(rq.r.PostFormValue("tenantId"))
	secret := rq.r.PostFormValue("apiSecret")
	data := loginData{Next: safeNext(rq.r.PostFormValue("next"))}
	if tenantID == "" || secret == "" {
		rq.render(http.StatusUnprocessableEntity, "login", "Sign in", data, "Enter the tenant id and its API secret.")
		return
	}
	client := throttleKey(rq.r)
	if wait := u.signIns.take(client); wait > 0 {
		rq.w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		rq.render(http.StatusTooManyRequests, "login", "Sign in", data,
			fmt.Sprintf("Too many failed sign-ins from your address: try again in %d seconds.", int(wait.Seconds())+1))
		return
	}
	var out struct {
		Whoami struct {
			ID         string `json:"id"`
			IsOperator bool   `json:"isOperator"`
		} `json:"whoami"`
	}
	err := u.client(tenantID, secret).Do(rq.r.Context(), `query { whoami { id isOperator } }`, nil, &out)
	if !refused(err) {
		// Only a refusal is a failed guess: a sign-in, or an API that did
		// not answer, costs the client nothing.
		u.signIns.refund(client)
	}
	if err != nil {
		rq.render(http.StatusUnauthorized, "login", "Sign in", data, u.publicProblem(err))
		return
	}
	sess := session{ID: newToken(), TenantID: out.Whoami.ID, Secret: secret, Operator: out.Whoami.IsOperator,
		CSRF: newToken(), Expires: time.Now().Add(sessionLifetime).Unix()}
	if err := u.setSession(rq.w, rq.r, sess); err != nil {
		u.fail(rq.w, err)
		return
	}
	next := data.Next
	if next == "" {
		next = "/"
	}
	http.Redirect(rq.w, rq.r, next, http.StatusSeeOther)
}

// logout records the session as signed out, so that a copy of its cookie
// is signed out too, then replaces the browser's cookie.
func (u *UI) logout(rq *request) {
	if rq.sess.signedIn() {
		if err := u.signOuts.End(rq.r.Context(), rq.sess.ID, time.Unix(rq.sess.Expires, 0)); err != nil {
			u.fail(rq.w, fmt.Errorf("sign out: %w", err))
			return
		}
	}
	rq.signOut()
	http.Redirect(rq.w, rq.r, "/login", http.StatusSeeOther)
}

// refused tells whether the API refused the tenant id and secret, rather
// than failed to answer.
func refused(err error) bool {
	var status *adminclient.StatusError
	return errors.As(err, &status) && status.Status == http.StatusUnauthorized
}

// safeNext keeps a page to return to after signing in only when it is a
// path of this site, never another site's URL.
// Browsers drop tabs and new lines from a URL and read a backslash as a
// slash, so "/\t/evil.example" would take the user to another site: a
// path with any of them, or any other control character, is refused, and
// what is left must parse as a path with no scheme and no host.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return ""
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return ""
		}
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return ""
	}
	return next
}

type homeData struct {
	TenantID string
	Operator bool
}

func (u *UI) home(rq *request) {
	rq.render(http.StatusOK, "home", "Overview", homeData{TenantID: rq.sess.TenantID, Operator: rq.sess.Operator})
}
