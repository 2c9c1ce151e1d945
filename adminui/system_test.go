package adminui_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

// system is the backend, its workers and the admin UI, run in process as
// `rafiki dev` runs them.
type system struct {
	cfg      config.Config
	running  *app.Running
	uiURL    string
	operator *adminclient.Client
}

func startSystem(t testing.TB) *system {
	t.Helper()
	n := testkit.StartNATS(t, false)
	cfg := config.Config{
		OperatorTenantID: uuid.NewString(), AdminAPISecret: "operator-" + uuid.NewString(),
		AdminSignatureVersion: 1, AdminSignatureTTL: 30 * time.Second, ILPAddress: "test.rafiki",
		DatabaseURL: testkit.NewDatabase(t), AuthDatabaseURL: testkit.NewDatabase(t), RedisURL: testkit.RedisURL(), NATSURL: n.URL, NATSStreamReplicas: 1,
		ReadYourWritesTimeout: 5 * time.Second, RequestTimeout: 10 * time.Second, ShutdownTimeout: 5 * time.Second,
		IncomingPaymentExpiryMax: 30 * 24 * time.Hour, QuoteLifespan: 5 * time.Minute, OutgoingPaymentRetryAttempts: 5,
		GraphQLIdempotencyTTL: time.Hour, GraphQLIdempotencyLock: 2 * time.Second,
		StreamSecret: make([]byte, 32), EnableSPSP: true, EventSecretsKey: testkit.EventSecretsKey,
		OpenPaymentsURL: "http://wallet.test", AuthServerGrantURL: "http://auth.test", LocalCacheDuration: 15 * time.Second,
		WebhookTimeout: 2 * time.Second, WebhookMaxRetry: 1, WebhookWorkerIdle: 200 * time.Millisecond, WebhookRetryBackoff: 10 * time.Second,
		AuthServerURL: "http://auth.test", CookieKey: "cookie-key-of-the-tests", InteractionExpiry: 10 * time.Minute,
		AccessTokenExpiry: 10 * time.Minute,
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
	r, err := app.Start(context.Background(), cfg, log, app.Set{Backend: true, Auth: true, Worker: true, AdminUI: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(stop)
	})
	uiURL, err := r.URL(app.AdminUIListener)
	if err != nil {
		t.Fatal(err)
	}
	adminURL, err := r.URL(app.AdminListener)
	if err != nil {
		t.Fatal(err)
	}
	// The listener is bound on every address; the browser goes to the
	// loopback one.
	uiURL = strings.Replace(uiURL, "[::]", "127.0.0.1", 1)
	return &system{cfg: cfg, running: r, uiURL: uiURL,
		operator: &adminclient.Client{URL: adminURL + "/graphql", TenantID: cfg.OperatorTenantID, Secret: cfg.AdminAPISecret}}
}

// browser is a client of the UI that keeps its cookies and reads the forms
// of the last page it got, as a browser without JavaScript would.
type browser struct {
	t      testing.TB
	base   string
	client *http.Client
	page   string // the last page's body
	status int
	path   string // the last page's path, after redirects
}

func (s *system) browser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: s.uiURL, client: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

func (b *browser) do(req *http.Request) {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	b.page, b.status, b.path = string(body), resp.StatusCode, resp.Request.URL.RequestURI()
}

// get loads a page.
func (b *browser) get(path string) *browser {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	b.do(req)
	return b
}

// post sends a form as is.
func (b *browser) post(path string, form url.Values, header ...string) *browser {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	b.do(req)
	return b
}

var (
	formRE   = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)".*?</form>`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// submit fills in the form of the current page that posts to action,
// keeping its hidden fields (the CSRF token, a transfer id), and sends it.
func (b *browser) submit(action string, fields map[string]string) *browser {
	b.t.Helper()
	for _, m := range formRE.FindAllStringSubmatch(b.page, -1) {
		if m[1] != action {
			continue
		}
		form := url.Values{}
		for _, h := range hiddenRE.FindAllStringSubmatch(m[0], -1) {
			form.Set(h[1], h[2])
		}
		for k, v := range fields {
			form.Set(k, v)
		}
		return b.post(action, form)
	}
	b.t.Fatalf("no form posting to %s on %s (status %d):\n%s", action, b.path, b.status, b.page)
	return b
}

// sees fails unless the page has every text and the status.
func (b *browser) sees(status int, texts ...string) *browser {
	b.t.Helper()
	if b.status != status {
		b.t.Fatalf("%s: status %d, want %d:\n%s", b.path, b.status, status, b.page)
	}
	for _, text := range texts {
		if !strings.Contains(b.page, text) {
			b.t.Fatalf("%s: no %q on the page:\n%s", b.path, text, b.page)
		}
	}
	return b
}

// lacks fails if the page has any of texts.
func (b *browser) lacks(texts ...string) *browser {
	b.t.Helper()
	for _, text := range texts {
		if strings.Contains(b.page, text) {
			b.t.Fatalf("%s: %q on the page:\n%s", b.path, text, b.page)
		}
	}
	return b
}

func (b *browser) login(tenantID, secret string) *browser {
	b.t.Helper()
	return b.get("/login").submit("/login", map[string]string{"tenantId": tenantID, "apiSecret": secret})
}

// idFrom is the last path segment of the current page's path.
func (b *browser) idFrom() string {
	p := strings.SplitN(b.path, "?", 2)[0]
	return p[strings.LastIndex(p, "/")+1:]
}
