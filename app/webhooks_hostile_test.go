package app_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

// The webhook surface seen by a hostile tenant (its own settings and
// queries), a hostile endpoint (what it answers), and whoever can post to a
// webhook receiver. The neighbouring tests cover endpoints that are slow,
// fail with 500, answer garbage or never answer; these go after the rest.

const hostileSigningSecret = "hostile-webhooks-signing-secret"

// hostileHook is one request an endpoint got.
type hostileHook struct {
	at        time.Time
	method    string
	path      string
	body      []byte
	signature string
	auth      string
}

// eventID is the webhook event id the body carries, and dataID the id of
// what it tells of.
func (h hostileHook) ids() (eventID, dataID string) {
	var b struct {
		ID   string
		Data struct{ ID string }
	}
	_ = json.Unmarshal(h.body, &b)
	return b.ID, b.Data.ID
}

// hookSink is an endpoint that records every request and answers as told
// (200 when answer is nil); n counts the requests, from 1.
type hookSink struct {
	mu     sync.Mutex
	hooks  []hostileHook
	answer func(w http.ResponseWriter, r *http.Request, n int)
}

func (s *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.hooks = append(s.hooks, hostileHook{time.Now(), r.Method, r.URL.Path, body, r.Header.Get("Rafiki-Signature"), r.Header.Get("Authorization")})
	n := len(s.hooks)
	s.mu.Unlock()
	if s.answer == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	s.answer(w, r, n)
}

func (s *hookSink) all() []hostileHook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hooks)
}

// about answers the requests that told of the object dataID.
func (s *hookSink) about(dataID string) []hostileHook {
	var out []hostileHook
	for _, h := range s.all() {
		if _, d := h.ids(); d == dataID {
			out = append(out, h)
		}
	}
	return out
}

func newHookSink(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int)) (*hookSink, *httptest.Server) {
	t.Helper()
	s := &hookSink{answer: answer}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// startHostileWebhooks runs a system that signs its webhooks and retries
// them every 100 ms and more, so that retries are seen within a test.
func startHostileWebhooks(t *testing.T, configure ...func(*config.Config)) *system {
	t.Helper()
	return startSystem(t, false, append([]func(*config.Config){func(c *config.Config) {
		c.SignatureSecret, c.SignatureVersion = hostileSigningSecret, 1
		c.WebhookRetryBackoff, c.WebhookWorkerIdle = 100*time.Millisecond, 20*time.Millisecond
		c.WebhookTimeout, c.WebhookMaxRetry = 2*time.Second, 10
	}}, configure...)...)
}

// hookedTenant makes a tenant with settings (and a WALLET_ADDRESS_URL of
// its name) and a wallet address of its own; it answers the tenant's id
// and client and the wallet address's id.
func hookedTenant(t *testing.T, s *system, name string, settings map[string]string) (string, *adminclient.Client, string) {
	t.Helper()
	ctx := context.Background()
	all := map[string]string{"WALLET_ADDRESS_URL": "https://" + name + ".test"}
	for k, v := range settings {
		all[k] = v
	}
	secret := name + "-api-secret"
	id := newTenant(t, s.operator, secret, all)
	a, err := createAsset(ctx, s.operator, "USD", 2, map[string]any{"tenantId": id})
	if err != nil {
		t.Fatal(err)
	}
	wa, err := createWalletAddress(ctx, s.operator, map[string]any{"tenantId": id, "assetId": a.ID, "address": "https://" + name + ".test/main"})
	if err != nil {
		t.Fatal(err)
	}
	return id, s.client(id, secret), wa.ID
}

// hookedPayment makes an incoming payment on a wallet address, which makes an
// incoming_payment.created webhook event; it answers the payment's id.
func hookedPayment(t *testing.T, s *system, walletAddressID string, metadata any) string {
	t.Helper()
	input := map[string]any{"walletAddressId": walletAddressID}
	if metadata != nil {
		input["metadata"] = metadata
	}
	p, err := createIncomingPayment(context.Background(), s.operator, input)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// webhookEventOf waits for the webhook event of type typ telling of the
// object id and answers its id.
func webhookEventOf(t *testing.T, s *system, id, typ string) string {
	t.Helper()
	var eventID string
	testkit.Eventually(t, 5*time.Second, func() bool {
		err := s.running.Deps.Pool.QueryRow(context.Background(), `SELECT id::text FROM rm_webhooks.webhook_events WHERE data->>'id' = $1 AND type = $2`,
			id, typ).Scan(&eventID)
		return err == nil
	}, "no %s webhook event for %s", typ, id)
	return eventID
}

// webhookDeliveryRecord is a webhook_deliveries row.
type webhookDeliveryRecord struct {
	attempts  int
	status    *int
	delivered bool
	pending   bool
	err       *string
}

func webhookDeliveryOf(t *testing.T, s *system, eventID, recipient string) (webhookDeliveryRecord, bool) {
	t.Helper()
	var d webhookDeliveryRecord
	err := s.running.Deps.Pool.QueryRow(context.Background(), `SELECT attempts, status_code, delivered_at IS NOT NULL, process_at IS NOT NULL, error
		FROM webhook_deliveries WHERE event_id = $1 AND recipient_tenant_id = $2`, eventID, recipient).Scan(&d.attempts, &d.status, &d.delivered, &d.pending, &d.err)
	return d, err == nil
}

// webhookHMAC is HMAC-SHA256 in hex, the receiver's side of Rafiki-Signature,
// written here rather than taken from package webhooks.
func webhookHMAC(secret, message string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(message))
	return hex.EncodeToString(m.Sum(nil))
}

var webhookSignatureForm = regexp.MustCompile(`^t=([0-9]{13}), v1=([0-9a-f]{64})$`)

// webhookSignedWith tells whether a delivery's Rafiki-Signature is exactly
// "t=<unix ms>, v1=<HMAC(secret, "<t>.<body>")>" and answers its time.
func webhookSignedWith(h hostileHook, secret string) (time.Time, bool) {
	m := webhookSignatureForm.FindStringSubmatch(h.signature)
	if m == nil {
		return time.Time{}, false
	}
	ms, _ := strconv.ParseInt(m[1], 10, 64)
	return time.UnixMilli(ms), hmac.Equal([]byte(m[2]), []byte(webhookHMAC(secret, m[1]+"."+string(h.body))))
}

type webhookEventsPage struct {
	WebhookEvents struct {
		Edges []struct{ Node struct{ ID string } }
	} `json:"webhookEvents"`
}

func (p webhookEventsPage) ids() []string {
	var ids []string
	for _, e := range p.WebhookEvents.Edges {
		ids = append(ids, e.Node.ID)
	}
	return ids
}

const webhookEventsQuery = `query($after: String, $before: String, $last: Int, $tenantId: String) {
	webhookEvents(after: $after, before: $before, last: $last, tenantId: $tenantId) { edges { node { id } } } }`

// Each tenant's events reach its own endpoint and no other; a tenant that
// moves its WEBHOOK_URL gets its next events at the new one only; and a
// tenant's webhookEvents tells nothing of another's events, not even
// through a pagination cursor naming one of them.
func TestWebhooksStayWithTheirTenant(t *testing.T) {
	s := startHostileWebhooks(t)
	ctx := context.Background()
	aliceHooks, aliceSrv := newHookSink(t, nil)
	aliceMoved, aliceMovedSrv := newHookSink(t, nil)
	bobHooks, bobSrv := newHookSink(t, nil)
	alice, aliceClient, aliceWallet := hookedTenant(t, s, "alice", map[string]string{"WEBHOOK_URL": aliceSrv.URL + "/hooks"})
	_, _, bobWallet := hookedTenant(t, s, "bob", map[string]string{"WEBHOOK_URL": bobSrv.URL + "/hooks"})

	// Interleaved, so that bob's events fall between alice's in time.
	var alicePayments, bobPayments []string
	for range 3 {
		alicePayments = append(alicePayments, hookedPayment(t, s, aliceWallet, nil))
		bobPayments = append(bobPayments, hookedPayment(t, s, bobWallet, nil))
	}
	var aliceEvents, bobEvents []string
	for i := range 3 {
		aliceEvents = append(aliceEvents, webhookEventOf(t, s, alicePayments[i], "incoming_payment.created"))
		bobEvents = append(bobEvents, webhookEventOf(t, s, bobPayments[i], "incoming_payment.created"))
	}
	received := func(sink *hookSink) []string {
		seen := map[string]bool{}
		for _, h := range sink.all() {
			id, _ := h.ids()
			seen[id] = true
		}
		ids := make([]string, 0, len(seen))
		for id := range seen {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids []string) []string { return slices.Sorted(slices.Values(ids)) }
	testkit.Eventually(t, 5*time.Second, func() bool {
		return len(received(aliceHooks)) >= 3 && len(received(bobHooks)) >= 3
	}, "the events did not all come")
	time.Sleep(300 * time.Millisecond)
	if got := received(aliceHooks); !slices.Equal(got, sorted(aliceEvents)) {
		t.Fatalf("alice's endpoint got %v, want her events %v", got, aliceEvents)
	}
	if got := received(bobHooks); !slices.Equal(got, sorted(bobEvents)) {
		t.Fatalf("bob's endpoint got %v, want his events %v", got, bobEvents)
	}

	// Alice moves her endpoint: her next event goes there only.
	if err := aliceClient.Do(ctx, `mutation($input: CreateTenantSettingsInput!) { createTenantSettings(input: $input) { settings { key } } }`,
		map[string]any{"input": map[string]any{"settings": []map[string]any{{"key": "WEBHOOK_URL", "value": aliceMovedSrv.URL + "/hooks"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	moved := hookedPayment(t, s, aliceWallet, nil)
	testkit.Eventually(t, 5*time.Second, func() bool { return len(aliceMoved.about(moved)) == 1 }, "alice's event did not come to her new endpoint")
	if n := len(aliceHooks.about(moved)) + len(bobHooks.about(moved)); n != 0 {
		t.Fatalf("alice's event after her move came %d times to the old endpoint or bob's", n)
	}

	// A cursor is a row id: a tenant naming another tenant's event as
	// its cursor must learn what a cursor naming no event tells (here,
	// nothing), not where that event sits among its own events, which
	// would tell it that the id exists and when it was made.
	t.Run("another tenant's event as a cursor", func(t *testing.T) {
		page := func(vars map[string]any) ([]string, string) {
			var out webhookEventsPage
			err := aliceClient.Do(ctx, webhookEventsQuery, vars, &out)
			return out.ids(), errorCode(err)
		}
		unknown := uuid.NewString()
		for _, c := range []struct {
			name      string
			bobs, any map[string]any
		}{
			{"after", map[string]any{"after": bobEvents[2]}, map[string]any{"after": unknown}},
			{"before", map[string]any{"before": bobEvents[0], "last": 10}, map[string]any{"before": unknown, "last": 10}},
		} {
			gotIDs, gotCode := page(c.bobs)
			wantIDs, wantCode := page(c.any)
			if !slices.Equal(gotIDs, wantIDs) || gotCode != wantCode {
				t.Errorf("%s bob's event %s: alice is answered %v (error %q), where an unknown id gives %v (error %q)",
					c.name, c.bobs[c.name], gotIDs, gotCode, wantIDs, wantCode)
			}
		}
	})

	// The type filter is data, not query text: strings made to widen it
	// find nothing, and a tenant filtering on bob's event ids gets none.
	for _, in := range [][]string{{"' OR '1'='1"}, {"%"}, {"*"}, {"incoming_payment.created') OR true --"}, bobEvents} {
		var out webhookEventsPage
		if err := aliceClient.Do(ctx, `query($in: [String!]) { webhookEvents(filter: {type: {in: $in}}) { edges { node { id } } } }`,
			map[string]any{"in": in}, &out); err != nil {
			t.Fatalf("filter %q: %v", in, err)
		}
		if ids := out.ids(); len(ids) != 0 {
			t.Fatalf("filter %q found %v", in, ids)
		}
	}

	// The operator may page through a tenant's events with its cursors.
	var first webhookEventsPage
	if err := s.operator.Do(ctx, webhookEventsQuery, map[string]any{"tenantId": alice, "after": aliceEvents[2]}, &first); err != nil {
		t.Fatal(err)
	}
	if got := first.ids(); !slices.Equal(got, []string{aliceEvents[1], aliceEvents[0]}) {
		t.Fatalf("the operator's page of alice's events after her third: %v", got)
	}
}

// A tenant sets its own webhook settings. Values that are no http(s) URL,
// carry control characters or are too long are refused, as are timeouts
// and retry counts out of bounds (Rafiki refuses what its URL parser or
// number checks refuse; rafiki-go is stricter). A value accepted must be
// one the dispatcher can send to: Rafiki's URL parser drops surrounding
// spaces and refuses a port above 65535, so a value Rafiki takes and
// delivers to must not be taken here only to fail every attempt. A URL
// with credentials is Rafiki's too: they are sent as Basic authorization
// and not written into the delivery's recorded error. The instance's own
// admin API, as a WEBHOOK_URL, is told nothing it acts on.
func TestTenantWebhookURLSettings(t *testing.T) {
	s := startHostileWebhooks(t)
	ctx := context.Background()
	hooks, srv := newHookSink(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path != "/hooks" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	const setSettings = `mutation($input: CreateTenantSettingsInput!) { createTenantSettings(input: $input) { settings { key value } } }`
	set := func(c *adminclient.Client, key, value string) error {
		return c.Do(ctx, setSettings, map[string]any{"input": map[string]any{"settings": []map[string]any{{"key": key, "value": value}}}}, nil)
	}

	_, malloryClient, malloryWallet := hookedTenant(t, s, "mallory", map[string]string{"WEBHOOK_URL": srv.URL + "/hooks"})
	for _, c := range []struct{ key, value string }{
		{"WEBHOOK_URL", "ftp://127.0.0.1/hooks"},
		{"WEBHOOK_URL", "file:///etc/passwd"},
		{"WEBHOOK_URL", "javascript:alert(1)"},
		{"WEBHOOK_URL", "gopher://127.0.0.1:6379/_FLUSHALL"},
		{"WEBHOOK_URL", "//127.0.0.1/hooks"},
		{"WEBHOOK_URL", "http:///hooks"},
		{"WEBHOOK_URL", "http://127.0.0.1/hooks\r\nX-Injected: yes"},
		{"WEBHOOK_URL", "http://127.0.0.1/hooks\x00"},
		{"WEBHOOK_URL", "http://127.0.0.1/" + strings.Repeat("a", 300)},
		{"WEBHOOK_URL", ""},
		{"WEBHOOK_TIMEOUT", "0"},
		{"WEBHOOK_TIMEOUT", "-1"},
		{"WEBHOOK_TIMEOUT", "1e3"},
		{"WEBHOOK_TIMEOUT", "600001"},
		{"WEBHOOK_MAX_RETRY", "-1"},
		{"WEBHOOK_MAX_RETRY", "1001"},
	} {
		if got := errorCode(set(malloryClient, c.key, c.value)); got != "BAD_USER_INPUT" {
			t.Errorf("%s %q: %q, want BAD_USER_INPUT", c.key, c.value, got)
		}
	}
	// Nothing of the refused settings holds: mallory's events still come.
	p := hookedPayment(t, s, malloryWallet, nil)
	testkit.Eventually(t, 5*time.Second, func() bool { return len(hooks.about(p)) == 1 }, "mallory's event did not come after refused settings")

	t.Run("credentials", func(t *testing.T) {
		u := strings.Replace(srv.URL, "http://", "http://hook:s3cret@", 1) + "/hooks"
		dead := "http://hook:s3cret@127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)) + "/hooks"
		_, _, wallet := hookedTenant(t, s, "withcredentials", map[string]string{"WEBHOOK_URL": u})
		deadID, _, deadWallet := hookedTenant(t, s, "deadcredentials", map[string]string{"WEBHOOK_URL": dead})
		p := hookedPayment(t, s, wallet, nil)
		testkit.Eventually(t, 5*time.Second, func() bool { return len(hooks.about(p)) == 1 }, "the event did not come to a URL with credentials")
		if got, want := hooks.about(p)[0].auth, "Basic "+base64.StdEncoding.EncodeToString([]byte("hook:s3cret")); got != want {
			t.Fatalf("authorization %q, want %q", got, want)
		}
		q := hookedPayment(t, s, deadWallet, nil)
		ev := webhookEventOf(t, s, q, "incoming_payment.created")
		testkit.Eventually(t, 5*time.Second, func() bool {
			d, ok := webhookDeliveryOf(t, s, ev, deadID)
			return ok && d.err != nil
		}, "no failed attempt to the dead URL")
		if d, _ := webhookDeliveryOf(t, s, ev, deadID); strings.Contains(*d.err, "s3cret") {
			t.Fatalf("the recorded error holds the URL's password: %s", *d.err)
		}
	})

	t.Run("accepted means deliverable", func(t *testing.T) {
		type attempt struct{ value, tenant, payment, event string }
		var accepted []*attempt
		for i, value := range []string{
			" " + srv.URL + "/hooks",
			srv.URL + "/hooks ",
			"\t" + srv.URL + "/hooks",
			"http://127.0.0.1:99999/hooks",
		} {
			tenantID, c, wallet := hookedTenant(t, s, fmt.Sprintf("spaced%d", i), nil)
			if err := set(c, "WEBHOOK_URL", value); err != nil {
				if code := errorCode(err); code != "BAD_USER_INPUT" {
					t.Errorf("WEBHOOK_URL %q refused with %q", value, code)
				}
				continue
			}
			accepted = append(accepted, &attempt{value: value, tenant: tenantID, payment: hookedPayment(t, s, wallet, nil)})
		}
		for _, a := range accepted {
			a.event = webhookEventOf(t, s, a.payment, "incoming_payment.created")
		}
		delivered := func(a *attempt) bool {
			d, _ := webhookDeliveryOf(t, s, a.event, a.tenant)
			return d.delivered && len(hooks.about(a.payment)) > 0
		}
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && slices.ContainsFunc(accepted, func(a *attempt) bool { return !delivered(a) }) {
			time.Sleep(50 * time.Millisecond)
		}
		for _, a := range accepted {
			if delivered(a) {
				continue
			}
			d, _ := webhookDeliveryOf(t, s, a.event, a.tenant)
			msg := ""
			if d.err != nil {
				msg = *d.err
			}
			t.Errorf("WEBHOOK_URL %q was accepted, and its event was never delivered (%d attempts, last error %q)", a.value, d.attempts, msg)
		}
	})

	t.Run("the instance's own admin API", func(t *testing.T) {
		before := liquidityOf(t, s, `query($id: String!) { walletAddress(id: $id) { liquidity } }`, malloryWallet)
		tenantID, c, wallet := hookedTenant(t, s, "selfaimed", nil)
		if err := set(c, "WEBHOOK_URL", s.adminURL); err != nil {
			t.Fatalf("the admin API's URL as WEBHOOK_URL: %v", err)
		}
		p := hookedPayment(t, s, wallet, nil)
		ev := webhookEventOf(t, s, p, "incoming_payment.created")
		testkit.Eventually(t, 5*time.Second, func() bool {
			d, ok := webhookDeliveryOf(t, s, ev, tenantID)
			return ok && d.status != nil
		}, "no attempt to the admin API")
		d, _ := webhookDeliveryOf(t, s, ev, tenantID)
		if d.delivered || *d.status < 400 || *d.status >= 500 {
			t.Fatalf("the admin API answered the webhook %d (delivered %v), want a refusal", *d.status, d.delivered)
		}
		if after := liquidityOf(t, s, `query($id: String!) { walletAddress(id: $id) { liquidity } }`, malloryWallet); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("something changed: %v → %v", before, after)
		}
	})
}

// Endpoints that answer in hostile ways. Only a 200 to the webhook's POST
// is a delivery (Rafiki's validateStatus): a 204 or a 410 is a failed
// attempt, made again after the backoff up to WEBHOOK_MAX_RETRY, each
// attempt signed afresh. An answer's body is read only so far, one that
// never ends included, and so should its headers be. A connection closed
// mid-request is a failed attempt. A redirect is no delivery: the signed
// body must not be sent on to where the endpoint points, an internal
// address say, nor a 302 turn the POST into a GET whose 200 counts as the
// event delivered when no one got it. A TLS endpoint whose certificate is
// not trusted gets nothing.
func TestWebhooksAgainstAHostileEndpoint(t *testing.T) {
	s := startHostileWebhooks(t)
	const step = 100 * time.Millisecond

	type endless struct {
		mu      sync.Mutex
		written int64
		took    time.Duration
		ended   bool
	}
	var flood endless
	endlessSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		start := time.Now()
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 32<<10))
		var n int64
		for r.Context().Err() == nil && time.Since(start) < 10*time.Second {
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				break
			}
		}
		flood.mu.Lock()
		flood.written, flood.took, flood.ended = n, time.Since(start), true
		flood.mu.Unlock()
	}))
	t.Cleanup(endlessSrv.Close)

	_, hugeHeadersSrv := newHookSink(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Pad", strings.Repeat("p", 8<<20))
		w.WriteHeader(http.StatusOK)
	})
	midway := &hookSink{}
	// The first request is cut off after part of its body, before any
	// answer; the next are answered 200.
	var cut sync.Once
	midwayCutSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := false
		cut.Do(func() { first = true })
		if first {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_, _ = buf.Read(make([]byte, 16))
				_ = conn.Close()
			}
			return
		}
		midway.ServeHTTP(w, r)
	}))
	t.Cleanup(midwayCutSrv.Close)
	gone, goneSrv := newHookSink(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusGone) })
	noContent, noContentSrv := newHookSink(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 2 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	// internal stands for an address inside the operator's network.
	internal, internalSrv := newHookSink(t, nil)
	_, redirect307Srv := newHookSink(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, internalSrv.URL+"/admin/run", http.StatusTemporaryRedirect)
	})
	landing, landingSrv := newHookSink(t, nil)
	_, redirect302Srv := newHookSink(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, landingSrv.URL+"/moved", http.StatusFound)
	})
	tlsCalled := make(chan struct{}, 100)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsCalled <- struct{}{}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(tlsSrv.Close)
	noRetry, noRetrySrv := newHookSink(t, nil)

	type target struct {
		name, url string
		settings  map[string]string
		tenant    string
		payment   string
		event     string
	}
	targets := []*target{
		{name: "endless", url: endlessSrv.URL},
		{name: "hugeheaders", url: hugeHeadersSrv.URL},
		{name: "midway", url: midwayCutSrv.URL},
		{name: "gone", url: goneSrv.URL, settings: map[string]string{"WEBHOOK_MAX_RETRY": "3"}},
		{name: "nocontent", url: noContentSrv.URL},
		{name: "redirecttemporary", url: redirect307Srv.URL},
		{name: "redirectfound", url: redirect302Srv.URL},
		{name: "untrustedtls", url: tlsSrv.URL, settings: map[string]string{"WEBHOOK_MAX_RETRY": "2"}},
		{name: "noretry", url: noRetrySrv.URL, settings: map[string]string{"WEBHOOK_MAX_RETRY": "0"}},
	}
	byName := map[string]*target{}
	for _, tg := range targets {
		settings := map[string]string{"WEBHOOK_URL": tg.url + "/hooks"}
		for k, v := range tg.settings {
			settings[k] = v
		}
		var wallet string
		tg.tenant, _, wallet = hookedTenant(t, s, tg.name, settings)
		tg.payment = hookedPayment(t, s, wallet, nil)
		byName[tg.name] = tg
	}
	for _, tg := range targets {
		tg.event = webhookEventOf(t, s, tg.payment, "incoming_payment.created")
	}
	record := func(name string) webhookDeliveryRecord {
		d, _ := webhookDeliveryOf(t, s, byName[name].event, byName[name].tenant)
		return d
	}
	settled := func(name string) func() bool {
		return func() bool { d := record(name); return d.delivered || (d.attempts > 0 && !d.pending) }
	}

	t.Run("a body that never ends", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, settled("endless"), "not settled")
		testkit.Eventually(t, 5*time.Second, func() bool { flood.mu.Lock(); defer flood.mu.Unlock(); return flood.ended }, "the endless answer is still being read")
		d := record("endless")
		flood.mu.Lock()
		defer flood.mu.Unlock()
		if !d.delivered || d.attempts != 1 || flood.took > time.Second || flood.written > 64<<20 {
			t.Fatalf("delivered %v after %d attempts; the endpoint wrote %d bytes for %v", d.delivered, d.attempts, flood.written, flood.took)
		}
	})

	t.Run("headers of megabytes", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, func() bool {
			return record("hugeheaders").attempts > 0 && record("hugeheaders").status != nil || record("hugeheaders").err != nil
		},
			"no attempt")
		if d := record("hugeheaders"); d.delivered {
			t.Fatalf("an answer with 8 MB of headers was read whole and taken as the delivery (status %v)", *d.status)
		}
	})

	t.Run("connection closed mid-request", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, settled("midway"), "not settled")
		if d := record("midway"); !d.delivered || d.attempts != 2 || len(midway.about(byName["midway"].payment)) != 1 {
			t.Fatalf("delivered %v after %d attempts, %d answered", d.delivered, d.attempts, len(midway.about(byName["midway"].payment)))
		}
	})

	t.Run("410 Gone", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, settled("gone"), "not settled")
		time.Sleep(4 * step)
		d := record("gone")
		hs := gone.about(byName["gone"].payment)
		if d.delivered || d.attempts != 3 || d.status == nil || *d.status != http.StatusGone || len(hs) != 3 {
			t.Fatalf("%d attempts (%d came), status %v, delivered %v; want 3 attempts recorded 410", d.attempts, len(hs), d.status, d.delivered)
		}
		var last time.Time
		for i, h := range hs {
			at, ok := webhookSignedWith(h, hostileSigningSecret)
			if !ok {
				t.Fatalf("attempt %d: signature %q does not verify", i+1, h.signature)
			}
			// Each attempt is signed when it is made, so a receiver that
			// refuses old signatures takes a late retry.
			if at.Sub(h.at).Abs() > time.Second || !at.After(last) {
				t.Fatalf("attempt %d at %v signed at %v", i+1, h.at, at)
			}
			last = at
			if i > 0 {
				if gap := h.at.Sub(hs[i-1].at); gap < time.Duration(i)*step {
					t.Fatalf("attempt %d came %v after the one before, want at least %v", i+1, gap, time.Duration(i)*step)
				}
			}
		}
	})

	t.Run("204 No Content", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, settled("nocontent"), "not settled")
		if d := record("nocontent"); !d.delivered || d.attempts != 3 || len(noContent.about(byName["nocontent"].payment)) != 3 {
			t.Fatalf("delivered %v after %d attempts", d.delivered, d.attempts)
		}
	})

	t.Run("307 to an internal address", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, func() bool {
			return record("redirecttemporary").attempts > 0 && record("redirecttemporary").err != nil ||
				record("redirecttemporary").delivered
		}, "no attempt")
		if hs := internal.all(); len(hs) > 0 {
			t.Fatalf("the redirect was followed: the internal address got %s %s, %d bytes, signature %q; delivered %v",
				hs[0].method, hs[0].path, len(hs[0].body), hs[0].signature, record("redirecttemporary").delivered)
		}
		if record("redirecttemporary").delivered {
			t.Fatal("a 307 answer was recorded as the delivery")
		}
	})

	t.Run("302 to a page that answers 200", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, func() bool {
			return record("redirectfound").attempts > 0 && record("redirectfound").err != nil ||
				record("redirectfound").delivered
		}, "no attempt")
		if d := record("redirectfound"); d.delivered {
			var got []string
			for _, h := range landing.all() {
				got = append(got, fmt.Sprintf("%s %s with %d bytes", h.method, h.path, len(h.body)))
			}
			t.Fatalf("recorded delivered (status %v), though the webhook's body reached no one: the page got %v", *d.status, got)
		}
	})

	// Rafiki sends while attempts < WEBHOOK_MAX_RETRY: 0 sends nothing.
	t.Run("WEBHOOK_MAX_RETRY 0", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, func() bool { d := record("noretry"); return !d.pending && d.err != nil }, "not settled")
		time.Sleep(2 * step)
		if d := record("noretry"); d.delivered || d.attempts != 0 || d.pending || len(noRetry.all()) != 0 {
			t.Fatalf("delivered %v, %d attempts, pending %v, %d requests came", d.delivered, d.attempts, d.pending, len(noRetry.all()))
		}
	})

	t.Run("untrusted TLS certificate", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, settled("untrustedtls"), "not settled")
		d := record("untrustedtls")
		if d.delivered || len(tlsCalled) > 0 || d.err == nil || !strings.Contains(*d.err, "certificate") {
			t.Fatalf("delivered %v, %d requests reached the handler, error %v", d.delivered, len(tlsCalled), d.err)
		}
	})
}

// An incoming payment's metadata is the tenant's to fill: a NUL is refused
// at once, and everything else the metadata may hold (line separators,
// markup, control characters, numbers beyond 2^53, deep
// nesting, the largest size) is delivered once, in the canonical form a
// receiver recomputes (RFC 8785, as Rafiki's json-canonicalize writes it),
// signed over exactly the bytes sent, and listed as it was sent; the events
// after it are not held up.
func TestWebhookPayloadWithHostileMetadata(t *testing.T) {
	s := startHostileWebhooks(t)
	hooks, srv := newHookSink(t, nil)
	_, _, wallet := hookedTenant(t, s, "meta", map[string]string{"WEBHOOK_URL": srv.URL})
	ctx := context.Background()

	nul := json.RawMessage(`{"note":"a\u0000b"}`)
	if _, err := createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": wallet, "metadata": nul}); errorCode(err) != "BAD_USER_INPUT" {
		t.Fatalf("metadata with a NUL: %v", err)
	}

	const depth = 1000
	deep := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	pad := strings.Repeat("z", 12000)
	raw := `{"ls":"a\u2028b\u2029c","html":"</script><b>&amp;","ctl":"\u0001\u001f\"\\\/","emoji":"😀","big":1.2345678901234567e19,` +
		`"e":1e21,"half":0.5,"negzero":-0,"deep":` + deep + `,"pad":"` + pad + `"}`
	// As JSON.stringify and RFC 8785 write it: keys in order, only quote,
	// backslash and controls escaped (U+2028 and U+2029 not), numbers in
	// ECMAScript's shortest form. (A lone surrogate does not get past the
	// admin API's signature, whose canonical form refuses it.)
	want := `{"big":12345678901234567000,"ctl":"\u0001\u001f\"\\/","deep":` + deep + `,"e":1e+21,"emoji":"😀","half":0.5,"html":"</script><b>&amp;",` +
		`"ls":"a` + "\u2028" + `b` + "\u2029" + `c","negzero":0,"pad":"` + pad + `"}`
	p, err := createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": wallet, "metadata": json.RawMessage(raw)})
	if err != nil {
		t.Fatalf("hostile metadata refused: %v", err)
	}
	after := hookedPayment(t, s, wallet, nil)
	testkit.Eventually(t, 5*time.Second, func() bool { return len(hooks.about(p.ID)) > 0 && len(hooks.about(after)) > 0 }, "the events did not come")
	time.Sleep(300 * time.Millisecond)
	hs := hooks.about(p.ID)
	if len(hs) != 1 {
		t.Fatalf("the event came %d times", len(hs))
	}
	h := hs[0]
	if _, ok := webhookSignedWith(h, hostileSigningSecret); !ok {
		t.Fatalf("signature %q does not verify over the body", h.signature)
	}
	if !strings.Contains(string(h.body), `"metadata":`+want+`,`) {
		t.Fatalf("the body's metadata is not in canonical form:\n%s\nwant\n%s", h.body, want)
	}
	eventID, _ := h.ids()
	var listed struct {
		WebhookEvents struct {
			Edges []struct {
				Node struct {
					ID   string
					Data json.RawMessage
				}
			}
		} `json:"webhookEvents"`
	}
	if err := s.operator.Do(ctx, `query { webhookEvents(first: 10) { edges { node { id data } } } }`, nil, &listed); err != nil {
		t.Fatal(err)
	}
	var wantMeta, gotMeta any
	_ = json.Unmarshal([]byte(want), &wantMeta)
	found := false
	for _, e := range listed.WebhookEvents.Edges {
		if e.Node.ID != eventID {
			continue
		}
		found = true
		var data struct{ Metadata any }
		if err := json.Unmarshal(e.Node.Data, &data); err != nil {
			t.Fatal(err)
		}
		gotMeta = data.Metadata
	}
	if !found || fmt.Sprint(gotMeta) != fmt.Sprint(wantMeta) {
		t.Fatalf("webhookEvents lists the event %v with metadata %v", found, gotMeta)
	}
}

// The example wallet acts with the operator's authority on what a webhook
// tells it, so it must act only on webhooks the instance signed: unsigned,
// wrongly signed, altered, stale or future ones are refused (401) and do
// nothing; a replay of an event it took, as sent or signed again, does
// nothing more; a new event id acts again. It takes the signatures of the
// version the instance beside it signs with (SIGNATURE_VERSION 2 here).
func TestExampleWalletAgainstForgedWebhooks(t *testing.T) {
	const secret = "example-wallet-hostile-secret"
	_, elsewhere := newHookSink(t, nil)
	s := startServices(t, app.Set{Backend: true, Worker: true, ExampleWallet: true}, false, func(c *config.Config) {
		c.ExampleWalletPort = testkit.FreePort(t)
		c.SignatureSecret, c.SignatureVersion = secret, 2
		// The instance's own webhooks go elsewhere: only the forged ones
		// reach the wallet.
		c.WebhookURL = elsewhere.URL
	})
	ctx := context.Background()
	walletURL, err := s.running.URL(app.ExampleWalletListener)
	if err != nil {
		t.Fatal(err)
	}
	asset, err := createAsset(ctx, s.operator, "XHK", 2, map[string]any{"liquidityThreshold": "50"})
	if err != nil {
		t.Fatal(err)
	}
	liquidity := func() string {
		l := liquidityOf(t, s, `query($id: String!) { asset(id: $id) { liquidity } }`, asset.ID)
		if l == nil {
			return "<nil>"
		}
		return *l
	}
	body := func(id, threshold string) []byte {
		b, _ := json.Marshal(map[string]any{"id": id, "type": "asset.liquidity_low", "data": map[string]any{
			"id": asset.ID, "asset": map[string]any{"id": asset.ID, "code": "XHK", "scale": 2}, "liquidityThreshold": threshold, "balance": "0"}})
		return b
	}
	sign := func(key, version string, at time.Time, b []byte) string {
		ts := strconv.FormatInt(at.UnixMilli(), 10)
		return "t=" + ts + ", " + version + "=" + webhookHMAC(key, ts+"."+string(b))
	}
	post := func(b []byte, signature string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, walletURL+"/webhooks", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		if signature != "" {
			req.Header.Set("Rafiki-Signature", signature)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, bufio.NewReader(res.Body))
		res.Body.Close()
		return res.StatusCode
	}

	first := uuid.NewString()
	b := body(first, "50")
	now := time.Now()
	altered := body(first, "5000")
	for _, c := range []struct {
		name      string
		body      []byte
		signature string
	}{
		{"unsigned", b, ""},
		{"another secret", b, sign("not-the-secret", "v2", now, b)},
		{"signed over another body", altered, sign(secret, "v2", now, b)},
		{"six minutes old", b, sign(secret, "v2", now.Add(-6*time.Minute), b)},
		{"six minutes ahead", b, sign(secret, "v2", now.Add(6*time.Minute), b)},
		{"a time in seconds", b, "t=" + strconv.FormatInt(now.Unix(), 10) + ", v2=" + webhookHMAC(secret, strconv.FormatInt(now.Unix(), 10)+"."+string(b))},
		{"no mac", b, "t=" + strconv.FormatInt(now.UnixMilli(), 10) + ", v2="},
		{"a mac of another length", b, sign(secret, "v2", now, b)[:40]},
		{"a version the instance does not sign with", b, sign(secret, "v1", now, b)},
	} {
		if got := post(c.body, c.signature); got != http.StatusUnauthorized {
			t.Errorf("%s: answered %d, want 401", c.name, got)
		}
	}
	if got := liquidity(); got != "0" {
		t.Fatalf("after refused webhooks the asset holds %s", got)
	}

	signature := sign(secret, "v2", time.Now(), b)
	if got := post(b, signature); got != http.StatusOK {
		t.Fatalf("a webhook signed with the secret: %d", got)
	}
	if got := liquidity(); got != "500" {
		t.Fatalf("the wallet deposited %s, want 500", got)
	}
	post(b, signature)
	post(b, sign(secret, "v2", time.Now(), b))
	post(altered, sign(secret, "v2", time.Now(), altered))
	if got := liquidity(); got != "500" {
		t.Fatalf("replays of event %s brought the asset to %s, want 500 still", first, got)
	}
	second := body(uuid.NewString(), "50")
	if got := post(second, sign(secret, "v2", time.Now(), second)); got != http.StatusOK || liquidity() != "1000" {
		t.Fatalf("a new event: %d, asset at %s, want 1000", got, liquidity())
	}
}
