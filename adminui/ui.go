// Package adminui is the operator's web admin interface: server-rendered
// pages over the admin GraphQL API, which it calls as any client does,
// signing each request with the signed-in tenant's id and API secret
// (package adminclient). Forms work without JavaScript; templates and the
// style sheet are embedded in the binary.
package adminui

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
)

//go:embed templates/*.html static/*
var files embed.FS

// Config is what the UI needs.
type Config struct {
	// GraphQLURL is the backend's admin API endpoint (GRAPHQL_URL, as
	// Rafiki's frontend names it).
	GraphQLURL string
	// AuthGraphQLURL is the auth service's admin API endpoint
	// (AUTH_GRAPHQL_URL), where grants are; empty: no grant pages.
	AuthGraphQLURL string
	// SessionKey seals the session cookies (32 bytes). Nil makes a random
	// one, so that sign-ins last as long as the process.
	SessionKey []byte
	// SecureCookies marks the session cookie Secure even on requests that
	// did not arrive over TLS (behind a proxy that terminates it).
	SecureCookies bool
	HTTP          *http.Client
	Log           *slog.Logger
	// Audit reads objects' events for their history tabs; nil where
	// the process has no access to the event log (the tabs say so).
	Audit Audit
	// SignOuts remembers the sessions signed out; nil keeps them in this
	// process only.
	SignOuts SignOuts
}

// UI serves the admin pages.
type UI struct {
	graphqlURL    string
	authURL       string
	sealer        *sealer
	secureCookies bool
	http          *http.Client
	log           *slog.Logger
	pages         map[string]*template.Template
	mux           *http.ServeMux
	audit         Audit
	signIns       *signInThrottle
	signOuts      SignOuts
}

// New builds the UI's handler.
func New(cfg Config) (*UI, error) {
	key := cfg.SessionKey
	if key == nil {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails
	}
	s, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	u := &UI{graphqlURL: cfg.GraphQLURL, authURL: cfg.AuthGraphQLURL, sealer: s, secureCookies: cfg.SecureCookies, http: cfg.HTTP, log: cfg.Log, pages: pages, audit: cfg.Audit, signIns: newSignInThrottle(), signOuts: cfg.SignOuts}
	if u.signOuts == nil {
		u.signOuts = newMemorySignOuts()
	}
	if u.http == nil {
		u.http = &http.Client{Timeout: 30 * time.Second}
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	u.routes()
	return u, nil
}

// ServeHTTP serves the pages. Requests that change anything are POSTs of
// forms carrying the session's CSRF token, and a browser's cross-origin
// POSTs are refused before that (Sec-Fetch-Site, Origin).
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	crossOrigin.Handler(u.mux).ServeHTTP(w, r)
}

var crossOrigin = http.NewCrossOriginProtection()

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(files, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		pages[base] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"amount": func(value any, scale int) string {
		switch v := value.(type) {
		case string:
			return formatAmount(v, scale)
		case *string:
			if v == nil {
				return ""
			}
			return formatAmount(*v, scale)
		}
		return fmt.Sprint(value)
	},
	// balance is a liquidity at the asset's scale; none (no account
	// yet) is nothing.
	"balance": func(value *string, scale int) string {
		if value == nil {
			return formatAmount("0", scale)
		}
		return formatAmount(*value, scale)
	},
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"time": func(s string) string {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
}

// request is one request of a signed-in page, or of the login page.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	sess session
	ui   *UI
}

// view is what every page's template gets.
type view struct {
	Title    string
	Nav      string
	TenantID string // empty before signing in
	Operator bool
	CSRF     string
	Flash    string
	Errors   []string
	Form     url.Values
	Data     any
}

// handle wraps a page: it reads the session, sends those not signed in to
// the login page, and refuses a POST whose form lacks the session's CSRF
// token.
func (u *UI) handle(signedIn bool, fn func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := u.sessionOf(w, r)
		if err != nil {
			u.fail(w, err)
			return
		}
		rq := &request{w: w, r: r, sess: sess, ui: u}
		if signedIn && !sess.signedIn() {
			next := ""
			if r.Method == http.MethodGet {
				next = "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, "/login"+next, http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil || !checkCSRF(sess, r) {
				rq.render(http.StatusForbidden, "error", "Form refused", nil,
					"This form was refused: it has expired or did not come from this site. Go back, reload the page and try again.")
				return
			}
		}
		fn(rq)
	}
}

func (u *UI) fail(w http.ResponseWriter, err error) {
	u.log.Error("admin ui", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// render writes a page. problems are shown at its top as errors.
func (rq *request) render(status int, page, title string, data any, problems ...string) {
	t, ok := rq.ui.pages[page]
	if !ok {
		rq.ui.fail(rq.w, fmt.Errorf("no page %q", page))
		return
	}
	form := rq.r.PostForm
	if rq.r.Method != http.MethodPost || form == nil {
		form = url.Values{}
	}
	v := view{Title: title, Nav: strings.SplitN(strings.TrimPrefix(rq.r.URL.Path, "/"), "/", 2)[0],
		TenantID: rq.sess.TenantID, Operator: rq.sess.Operator,
		CSRF: rq.sess.CSRF, Flash: flashes[rq.r.URL.Query().Get("done")], Errors: problems, Form: form, Data: data}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		rq.ui.fail(rq.w, fmt.Errorf("render %s: %w", page, err))
		return
	}
	rq.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rq.w.Header().Set("Cache-Control", "no-store")
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write([]byte(b.String()))
}

// done sends the browser to a page after a change, with a message naming
// what was done (Post/Redirect/Get: reloading does not post again).
func (rq *request) done(path, what string) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(rq.w, rq.r, path+sep+"done="+what, http.StatusSeeOther)
}

// flashes are the messages done may show, by key: only these, so that no
// text in a URL ends up on a page.
var flashes = map[string]string{
	"signed-in":         "Signed in.",
	"asset-created":     "Asset created.",
	"asset-updated":     "Thresholds saved.",
	"asset-deleted":     "Asset deleted.",
	"fee-set":           "Fee set.",
	"deposited":         "Liquidity deposited.",
	"withdrawn":         "Liquidity withdrawn.",
	"peer-created":      "Peer created.",
	"peer-updated":      "Peer saved.",
	"peer-deleted":      "Peer deleted.",
	"grant-revoked":     "Grant revoked.",
	"wallet-created":    "Wallet address created.",
	"wallet-updated":    "Wallet address saved.",
	"payment-approved":  "Payment approved.",
	"payment-cancelled": "Payment cancelled.",
	"payment-requested": "Incoming payment created.",
	"payment-created":   "Outgoing payment created: deposit its liquidity to send it.",
	"payment-funded":    "Liquidity deposited: the payment is being sent.",
	"tenant-created":    "Tenant created.",
	"tenant-updated":    "Tenant saved.",
	"settings-saved":    "Settings saved.",
	"tenant-deleted":    "Tenant deleted.",
}

// client signs as the session's tenant.
func (rq *request) client() *adminclient.Client {
	return rq.ui.client(rq.sess.TenantID, rq.sess.Secret)
}

func (u *UI) client(tenantID, secret string) *adminclient.Client {
	return &adminclient.Client{URL: u.graphqlURL, TenantID: tenantID, Secret: secret, HTTP: u.http}
}

// gql runs a query or mutation as the signed-in tenant.
func (rq *request) gql(query string, vars map[string]any, out any) error {
	return rq.client().Do(rq.r.Context(), query, vars, out)
}

// problem says what went wrong with a call of the API, for a signed-in
// page: the API's own messages, with their codes, which the operator
// needs; anything else as publicProblem says it.
func (u *UI) problem(err error) string {
	var gqlErrs adminclient.Errors
	switch {
	case errors.As(err, &gqlErrs):
		msgs := make([]string, len(gqlErrs))
		for i, e := range gqlErrs {
			msgs[i] = e.Message
			if c := e.Code(); c != "" {
				msgs[i] += " (" + c + ")"
			}
		}
		return strings.Join(msgs, "; ")
	case errors.Is(err, errNotFound):
		return "Not found."
	}
	return u.publicProblem(err)
}

// publicProblem says what went wrong with a call of the API in words
// anyone may read, a visitor who has not signed in too: the API's address
// and what it answered besides a refusal (its hosts, database, paths) go
// to the log only.
func (u *UI) publicProblem(err error) string {
	var unreached *url.Error
	switch {
	case refused(err):
		return "The admin API refused the signature: the tenant id or API secret is wrong, or the tenant was deleted."
	case errors.Is(err, context.DeadlineExceeded):
		return "The admin API did not answer in time."
	case errors.As(err, &unreached):
		u.log.Warn("admin API call failed", "err", err)
		return "The admin API could not be reached."
	default:
		u.log.Warn("admin API call failed", "err", err)
		return "The admin API failed to answer; the details are in the log."
	}
}

// apiFailed shows the page a call failed on, or sends a session the API no
// longer accepts back to the login page.
func (rq *request) apiFailed(err error) {
	var status *adminclient.StatusError
	if errors.As(err, &status) && status.Status == http.StatusUnauthorized {
		rq.signOut()
		http.Redirect(rq.w, rq.r, "/login?refused=1", http.StatusSeeOther)
		return
	}
	var gqlErrs adminclient.Errors
	if errors.As(err, &gqlErrs) && gqlErrs[0].Code() == "NOT_FOUND" {
		rq.render(http.StatusNotFound, "error", "Not found", nil, rq.ui.problem(err))
		return
	}
	rq.render(http.StatusBadGateway, "error", "Error", nil, rq.ui.problem(err))
}

func (rq *request) signOut() {
	sess := session{CSRF: newToken(), Expires: time.Now().Add(sessionLifetime).Unix()}
	if err := rq.ui.setSession(rq.w, rq.r, sess); err != nil {
		rq.ui.log.Error("admin ui: sign out", "err", err)
	}
	rq.sess = sess
}

// noObjectMessage tells of a creation the API answered without the object.
const noObjectMessage = "The admin API answered without the object it made: look for it in its list."

// notFound answers a missing object.
func (rq *request) notFound(what string) {
	rq.render(http.StatusNotFound, "error", "Not found", nil, what+" was not found.")
}
