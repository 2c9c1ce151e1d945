package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
	"github.com/rafiki-go/rafiki/webhooks"
)

// delivery is one request a webhook receiver got.
type delivery struct {
	at        time.Time
	body      []byte
	signature string
}

// receiver is a webhook endpoint that fails the first failFirst requests of
// each event id (answering 500 with a body that is no JSON) and answers 200
// after, recording every request.
type receiver struct {
	failFirst int
	mu        sync.Mutex
	byEvent   map[string][]delivery
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var head struct{ ID string }
	_ = json.Unmarshal(body, &head)
	r.mu.Lock()
	r.byEvent[head.ID] = append(r.byEvent[head.ID], delivery{time.Now(), body, req.Header.Get("Rafiki-Signature")})
	n := len(r.byEvent[head.ID])
	r.mu.Unlock()
	if n <= r.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("<html>not now"))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// find answers the id of an event of type typ that came n times.
func (r *receiver) find(t *testing.T, typ string, n int) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, ds := range r.byEvent {
		if len(ds) == n && decodeWebhook(t, ds[0]).Type == typ {
			return id, true
		}
	}
	return "", false
}

func (r *receiver) got(id string) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.byEvent[id]...)
}

// canonical is JSON's canonical form (RFC 8785) of a decoded value, for
// the values webhooks carry (objects, arrays, strings, booleans, null and
// integers), written here rather than taken from the code under test.
func canonical(v any) string {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = canonical(k) + ":" + canonical(v[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = canonical(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case string:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return strings.TrimSuffix(b.String(), "\n")
	case json.Number:
		return v.String()
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// verify checks a Rafiki-Signature header against the body as a receiver
// would: the HMAC of "<t>.<canonical JSON of the parsed body>".
func verify(t *testing.T, secret string, d delivery) {
	t.Helper()
	var ts, mac string
	for _, part := range strings.Split(d.signature, ", ") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			mac = v
		}
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Minute {
		t.Fatalf("signature time %q", d.signature)
	}
	dec := json.NewDecoder(bytes.NewReader(d.body))
	dec.UseNumber()
	var parsed any
	if err := dec.Decode(&parsed); err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts + "." + canonical(parsed)))
	if want := hex.EncodeToString(h.Sum(nil)); !hmac.Equal([]byte(want), []byte(mac)) {
		t.Fatalf("signature %q does not verify: want v1=%s over %s", d.signature, want, canonical(parsed))
	}
}

type webhookBody struct {
	ID   string         `json:"id"`
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

func decodeWebhook(t *testing.T, d delivery) webhookBody {
	t.Helper()
	var b webhookBody
	if err := json.Unmarshal(d.body, &b); err != nil {
		t.Fatalf("webhook body %s: %v", d.body, err)
	}
	return b
}

// newTenant creates a tenant with settings and answers its id.
func newTenant(t *testing.T, op *adminclient.Client, secret string, settings map[string]string) string {
	t.Helper()
	var list []map[string]any
	for k, v := range settings {
		list = append(list, map[string]any{"key": k, "value": v})
	}
	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(context.Background(), `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"apiSecret": secret, "settings": list}}, &created); err != nil {
		t.Fatal(err)
	}
	return created.CreateTenant.Tenant.ID
}

// Webhooks reach each tenant's endpoint signed, with Rafiki's payloads: a
// receiver that fails twice gets the event a third time, with the same id,
// after Rafiki's backoff, and no more once it answered 200; a tenant whose
// endpoint never answers delays nobody else; webhookEvents lists them.
func TestWebhooksDeliveredUntilAnswered200(t *testing.T) {
	const secret = "webhook-signing-secret"
	const step = 150 * time.Millisecond
	s := startSystem(t, false, func(c *config.Config) {
		c.SignatureSecret, c.SignatureVersion = secret, 1
		c.WebhookRetryBackoff, c.WebhookWorkerIdle = step, 20*time.Millisecond
		c.WebhookTimeout, c.WebhookMaxRetry = 2*time.Second, 10
	})
	ctx := context.Background()
	op := s.operator

	flaky := &receiver{failFirst: 2, byEvent: map[string][]delivery{}}
	flakySrv := httptest.NewServer(flaky)
	defer flakySrv.Close()
	// The dead endpoint holds every request until the client gives up.
	hung := make(chan struct{})
	var deadRequests sync.WaitGroup
	deadSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		deadRequests.Add(1)
		defer deadRequests.Done()
		select {
		case <-req.Context().Done():
		case <-hung:
		}
	}))
	defer deadSrv.Close()
	defer close(hung)

	alice := newTenant(t, op, "alice-secret", map[string]string{"WEBHOOK_URL": flakySrv.URL + "/hooks", "WALLET_ADDRESS_URL": "https://alice.test"})
	bob := newTenant(t, op, "bob-secret", map[string]string{"WEBHOOK_URL": deadSrv.URL, "WEBHOOK_TIMEOUT": "3000", "WALLET_ADDRESS_URL": "https://bob.test"})
	walletOf := func(tenantID, url string) (assetID, walletAddressID string) {
		t.Helper()
		a, err := createAsset(ctx, op, "USD", 2, map[string]any{"tenantId": tenantID, "liquidityThreshold": "50"})
		if err != nil {
			t.Fatal(err)
		}
		wa, err := createWalletAddress(ctx, op, map[string]any{"tenantId": tenantID, "assetId": a.ID, "address": url})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID, wa.ID
	}
	aliceAsset, aliceWallet := walletOf(alice, "https://alice.test/shop")
	_, bobWallet := walletOf(bob, "https://bob.test/shop")

	// Bob's endpoint gets more events than a worker has delivery slots.
	const bobPayments = 40
	for range bobPayments {
		if _, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": bobWallet}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		var n int
		err := s.running.Deps.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE recipient_tenant_id = $1 AND attempts > 0`, bob).Scan(&n)
		return err == nil && n > 0
	}, "no delivery to bob attempted")

	expiresAt := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	created := time.Now()
	p, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": aliceWallet, "expiresAt": expiresAt.Format(time.RFC3339Nano),
		"incomingAmount": map[string]any{"value": "500", "assetCode": "USD", "assetScale": 2},
		"metadata":       map[string]any{"description": "Invoice 7"}})
	if err != nil {
		t.Fatal(err)
	}

	// The created event: twice refused, then taken, at Rafiki's intervals.
	var createdID string
	testkit.Eventually(t, 10*time.Second, func() bool {
		var ok bool
		createdID, ok = flaky.find(t, "incoming_payment.created", 3)
		return ok
	}, "alice's created event not delivered three times")
	ds := flaky.got(createdID)
	// Bob's hung requests (3 s each, more than the slots) must not hold
	// alice's first attempt back.
	if wait := ds[0].at.Sub(created); wait > time.Second {
		t.Fatalf("alice's first attempt came %v after the payment", wait)
	}
	for i, want := range []time.Duration{step, 2 * step} {
		if gap := ds[i+1].at.Sub(ds[i].at); gap < want || gap > want+time.Second {
			t.Fatalf("attempt %d came %v after the one before, want %v", i+2, gap, want)
		}
	}
	for _, d := range ds {
		verify(t, secret, d)
		if !bytes.Equal(d.body, ds[0].body) {
			t.Fatalf("attempts differ: %s and %s", ds[0].body, d.body)
		}
	}
	got := decodeWebhook(t, ds[0])
	wantData := map[string]any{"id": p.ID, "walletAddressId": aliceWallet, "createdAt": p.CreatedAt,
		"expiresAt": expiresAt.Format("2006-01-02T15:04:05.000Z"), "completed": false,
		"incomingAmount": map[string]any{"value": "500", "assetCode": "USD", "assetScale": float64(2)},
		"receivedAmount": map[string]any{"value": "0", "assetCode": "USD", "assetScale": float64(2)},
		"metadata":       map[string]any{"description": "Invoice 7"}}
	if got.ID != createdID || fmt.Sprint(got.Data) != fmt.Sprint(wantData) {
		t.Fatalf("created event %+v\nwant data %v", got, wantData)
	}

	// Completion with money: the completed event, with what was received.
	res, err := s.running.Backend.IncomingPayments.RecordReceived(ctx, credit(t, s, p.ID, 500), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.running.Backend.Waiter.Wait(ctx, projections.Webhooks{}.Name(), res.Sequence, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var completedID string
	testkit.Eventually(t, 10*time.Second, func() bool {
		var ok bool
		completedID, ok = flaky.find(t, "incoming_payment.completed", 3)
		return ok
	}, "alice's completed event not delivered")
	done := decodeWebhook(t, flaky.got(completedID)[2])
	if done.Data["completed"] != true || fmt.Sprint(done.Data["receivedAmount"]) != "map[assetCode:USD assetScale:2 value:500]" || done.Data["id"] != p.ID {
		t.Fatalf("completed event %+v", done)
	}

	// withdrawEventLiquidity withdraws what the completed event tells of,
	// once, for the event's tenant or the operator.
	const withdrawEvent = `mutation($input: WithdrawEventLiquidityInput!) { withdrawEventLiquidity(input: $input) { success } }`
	withdraw := func(c *adminclient.Client, eventID string) error {
		return c.Do(ctx, withdrawEvent, map[string]any{"input": map[string]any{"eventId": eventID, "idempotencyKey": uuid.NewString()}}, nil)
	}
	for _, c := range []struct {
		name    string
		client  *adminclient.Client
		eventID string
		code    string
	}{
		{"not an id", s.client(alice, "alice-secret"), "nope", "BAD_USER_INPUT"},
		{"no such event", s.client(alice, "alice-secret"), uuid.NewString(), "BAD_USER_INPUT"},
		{"an event without money", s.client(alice, "alice-secret"), createdID, "BAD_USER_INPUT"},
		{"another tenant's event", s.client(bob, "bob-secret"), completedID, "BAD_USER_INPUT"},
		{"the event's tenant", s.client(alice, "alice-secret"), completedID, ""},
		{"again", op, completedID, "DUPLICATE"},
	} {
		if got := errorCode(withdraw(c.client, c.eventID)); got != c.code {
			t.Fatalf("withdrawEventLiquidity, %s: %q, want %q", c.name, got, c.code)
		}
	}
	if got := liquidityOf(t, s, `query($id: String!) { incomingPayment(id: $id) { liquidity } }`, p.ID); got == nil || *got != "0" {
		t.Fatalf("the payment's liquidity after the event's withdrawal: %v", got)
	}

	// A withdrawal that leaves the asset's liquidity at or below its
	// threshold: asset.liquidity_low.
	for _, m := range []struct{ mutation, extra string }{
		{"depositAssetLiquidity", ""}, {"createAssetLiquidityWithdrawal", "60"},
	} {
		input := map[string]any{"assetId": aliceAsset, "amount": "100", "id": uuid.NewString(), "idempotencyKey": uuid.NewString()}
		if m.extra != "" {
			input["amount"], input["timeoutSeconds"] = m.extra, "0"
		}
		if err := op.Do(ctx, `mutation($input: `+strings.ToUpper(m.mutation[:1])+m.mutation[1:]+`Input!) { `+m.mutation+`(input: $input) { success } }`,
			map[string]any{"input": input}, nil); err != nil {
			t.Fatalf("%s: %v", m.mutation, err)
		}
	}
	var lowID string
	testkit.Eventually(t, 10*time.Second, func() bool {
		var ok bool
		lowID, ok = flaky.find(t, "asset.liquidity_low", 3)
		return ok
	}, "alice's asset.liquidity_low not delivered")
	low := flaky.got(lowID)[2]
	verify(t, secret, low)
	if got, want := fmt.Sprint(decodeWebhook(t, low).Data), fmt.Sprintf("map[asset:map[code:USD id:%s scale:2] balance:40 id:%s liquidityThreshold:50]",
		aliceAsset, aliceAsset); got != want {
		t.Fatalf("liquidity low data %s, want %s", got, want)
	}

	// Once answered 200, an event is not sent again.
	time.Sleep(4 * step)
	if n := len(flaky.got(createdID)); n != 3 {
		t.Fatalf("the created event was sent %d times", n)
	}
	var attempts, status int
	if err := s.running.Deps.Pool.QueryRow(ctx, `SELECT attempts, status_code FROM webhook_deliveries WHERE event_id = $1`, createdID).
		Scan(&attempts, &status); err != nil || attempts != 3 || status != 200 {
		t.Fatalf("delivery record: %d attempts, status %d, %v", attempts, status, err)
	}

	// webhookEvents: a tenant sees its own, filtered by type and paged; the
	// operator anyone's.
	type eventsOut struct {
		WebhookEvents struct {
			PageInfo struct{ HasNextPage bool }
			Edges    []struct {
				Cursor string
				Node   struct {
					ID, Type, CreatedAt string
					Data                map[string]any
					Tenant              struct{ ID string }
				}
			}
		} `json:"webhookEvents"`
	}
	const query = `query($filter: WebhookEventFilter, $first: Int, $tenantId: String) { webhookEvents(filter: $filter, first: $first, tenantId: $tenantId) {
		pageInfo { hasNextPage } edges { cursor node { id type createdAt data tenant { id } } } } }`
	for _, c := range []struct {
		name     string
		client   *adminclient.Client
		vars     map[string]any
		want     []string // ids, newest first
		wantNext bool
	}{
		{"alice's", s.client(alice, "alice-secret"), nil, []string{lowID, completedID, createdID}, false},
		{"alice's completions", s.client(alice, "alice-secret"),
			map[string]any{"filter": map[string]any{"type": map[string]any{"in": []string{"incoming_payment.completed"}}}}, []string{completedID}, false},
		{"alice's but completions", s.client(alice, "alice-secret"),
			map[string]any{"filter": map[string]any{"type": map[string]any{"notIn": []string{"incoming_payment.completed"}}}}, []string{lowID, createdID}, false},
		{"alice naming bob", s.client(alice, "alice-secret"), map[string]any{"tenantId": bob}, []string{lowID, completedID, createdID}, false},
		{"operator, alice's first", op, map[string]any{"tenantId": alice, "first": 1}, []string{lowID}, true},
	} {
		var out eventsOut
		if err := c.client.Do(ctx, query, c.vars, &out); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var ids []string
		for _, e := range out.WebhookEvents.Edges {
			ids = append(ids, e.Node.ID)
			if e.Cursor != e.Node.ID || e.Node.Tenant.ID != alice || (e.Node.Data["id"] != p.ID && e.Node.Data["id"] != aliceAsset) {
				t.Fatalf("%s: edge %+v", c.name, e)
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(c.want) || out.WebhookEvents.PageInfo.HasNextPage != c.wantNext {
			t.Fatalf("%s: %v (next %v), want %v", c.name, ids, out.WebhookEvents.PageInfo.HasNextPage, c.want)
		}
	}
	var bobs eventsOut
	if err := op.Do(ctx, query, map[string]any{"tenantId": bob, "first": 100}, &bobs); err != nil || len(bobs.WebhookEvents.Edges) != bobPayments {
		t.Fatalf("bob's events: %d, %v", len(bobs.WebhookEvents.Edges), err)
	}
}

// A lookup of a wallet address that does not exist, with
// WALLET_ADDRESS_NOT_FOUND_POLLING_ENABLED, sends wallet_address.not_found
// ({walletAddressUrl}) to the tenant whose WALLET_ADDRESS_URL holds the
// URL, else to the operator, and waits up to WALLET_ADDRESS_LOOKUP_TIMEOUT_MS
// for the wallet address to appear: one the tenant creates on the webhook
// is answered to that same lookup. Lookups of one URL within a minute send
// one webhook.
func TestWalletAddressNotFound(t *testing.T) {
	const secret = "not-found-signing-secret"
	const lookup = 3 * time.Second
	operatorHooks := &receiver{byEvent: map[string][]delivery{}}
	operatorSrv := httptest.NewServer(operatorHooks)
	defer operatorSrv.Close()
	aliceHooks := &receiver{byEvent: map[string][]delivery{}}
	aliceSrv := httptest.NewServer(aliceHooks)
	defer aliceSrv.Close()
	s := startSystem(t, false, func(c *config.Config) {
		c.SignatureSecret, c.SignatureVersion = secret, 1
		c.WebhookURL, c.WebhookTimeout, c.WebhookMaxRetry, c.WebhookRetryBackoff, c.WebhookWorkerIdle = operatorSrv.URL, 2*time.Second, 10, time.Second, 20*time.Millisecond
		c.WalletAddressNotFoundPolling, c.WalletAddressLookupTimeout, c.WalletAddressPollingFrequency = true, lookup, 50*time.Millisecond
	})
	ctx := context.Background()
	op := s.operator
	alice := newTenant(t, op, "alice-secret", map[string]string{"WEBHOOK_URL": aliceSrv.URL, "WALLET_ADDRESS_URL": "http://wallet.test/alice"})
	asset, err := createAsset(ctx, op, "USD", 2, map[string]any{"tenantId": alice})
	if err != nil {
		t.Fatal(err)
	}

	// Alice's wallet creates the wallet address when told it was looked
	// up, as an account servicing entity creating them on demand does.
	created := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(lookup)
		for time.Now().Before(deadline) {
			if _, ok := aliceHooks.find(t, "wallet_address.not_found", 1); ok {
				_, err := createWalletAddress(ctx, op, map[string]any{"tenantId": alice, "assetId": asset.ID, "address": "http://wallet.test/alice/shop"})
				created <- err
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		created <- fmt.Errorf("no wallet_address.not_found came within %v", lookup)
	}()
	start := time.Now()
	status, body := s.getOP(t, "/alice/shop")
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || !strings.Contains(string(body), `"id":"http://wallet.test/alice/shop"`) || time.Since(start) >= lookup {
		t.Fatalf("lookup answered %d %s after %v", status, body, time.Since(start))
	}
	id, _ := aliceHooks.find(t, "wallet_address.not_found", 1)
	d := aliceHooks.got(id)[0]
	verify(t, secret, d)
	if got := decodeWebhook(t, d); fmt.Sprint(got.Data) != "map[walletAddressUrl:http://wallet.test/alice/shop]" {
		t.Fatalf("alice's webhook %+v", got)
	}

	// A URL no tenant holds: the operator is told, and the lookup answers
	// 404 once it waited; again within the minute, no second webhook.
	window := time.Now().Truncate(time.Minute)
	for i := range 2 {
		start := time.Now()
		if status, _ := s.getOP(t, "/nobody/jwks.json"); status != http.StatusNotFound || time.Since(start) < lookup {
			t.Fatalf("lookup %d of a missing wallet address answered %d after %v", i+1, status, time.Since(start))
		}
		if i == 1 && !time.Now().Truncate(time.Minute).Equal(window) {
			// The lookups spread over two minutes: whether the second
			// fell in the first's minute depends on when each was
			// recorded, so one webhook or two.
			time.Sleep(time.Second)
			operatorHooks.mu.Lock()
			n := len(operatorHooks.byEvent)
			operatorHooks.mu.Unlock()
			if n < 1 || n > 2 {
				t.Fatalf("after two lookups over two minutes the operator was told %d times", n)
			}
			continue
		}
		want := 1
		testkit.Eventually(t, 5*time.Second, func() bool {
			operatorHooks.mu.Lock()
			defer operatorHooks.mu.Unlock()
			return len(operatorHooks.byEvent) >= want
		}, "the operator was told of %d lookups, want %d", len(operatorHooks.byEvent), want)
		time.Sleep(300 * time.Millisecond)
		operatorHooks.mu.Lock()
		n := len(operatorHooks.byEvent)
		operatorHooks.mu.Unlock()
		if n != want {
			t.Fatalf("after lookup %d the operator was told %d times, want %d", i+1, n, want)
		}
	}
	id, _ = operatorHooks.find(t, "wallet_address.not_found", 1)
	if got := decodeWebhook(t, operatorHooks.got(id)[0]); fmt.Sprint(got.Data) != "map[walletAddressUrl:http://wallet.test/nobody]" {
		t.Fatalf("operator's webhook %+v", got)
	}
	aliceHooks.mu.Lock()
	defer aliceHooks.mu.Unlock()
	if len(aliceHooks.byEvent) != 1 {
		t.Fatalf("alice was told %d times", len(aliceHooks.byEvent))
	}
}

// Readiness tells of the deliveries due for more than a minute, without
// failing.
func TestWebhooksCheckTellsOverdueDeliveries(t *testing.T) {
	url := testkit.NewDatabase(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, url)
	check := app.WebhooksCheck(webhooks.New(pool, webhooks.Config{}, nil, nil, slog.New(slog.DiscardHandler)), pool)
	ctx := context.Background()
	if err := check.Run(ctx); err != nil {
		t.Fatalf("nothing due: %v", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO webhook_deliveries (event_id, recipient_tenant_id, event_type, process_at) VALUES
		(gen_random_uuid(), gen_random_uuid(), 't', '2026-12-05T00:58:00Z'), (gen_random_uuid(), gen_random_uuid(), 't', now() - interval '2 minutes'),
		(gen_random_uuid(), gen_random_uuid(), 't', now()), (gen_random_uuid(), gen_random_uuid(), 't', NULL)`); err != nil {
		t.Fatal(err)
	}
	err := check.Run(ctx)
	var note app.Note
	if !errors.As(err, &note) || string(note) != "2 webhook deliveries due for more than 1m0s, the oldest since 2026-12-05T00:58:00Z" {
		t.Fatalf("two overdue: %v", err)
	}
}

// Money a wallet address received over STREAM outside incoming payments
// (Web Monetization) is told by triggerWalletAddressEvents: a
// wallet_address.web_monetization webhook per wallet address with what it
// received since it last told, which withdrawEventLiquidity withdraws once.
func TestWebMonetizationEvents(t *testing.T) {
	const secret = "web-monetization-signing-secret"
	hooks := &receiver{byEvent: map[string][]delivery{}}
	srv := httptest.NewServer(hooks)
	defer srv.Close()
	s := startSystem(t, false, func(c *config.Config) {
		c.SignatureSecret, c.SignatureVersion = secret, 1
		c.WebhookURL, c.WebhookTimeout, c.WebhookMaxRetry, c.WebhookRetryBackoff, c.WebhookWorkerIdle = srv.URL, 2*time.Second, 10, time.Second, 20*time.Millisecond
	})
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "staticIlpAddress": "test.sender", "initialLiquidity": "1000",
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"from-sender"}},
			"outgoing": map[string]any{"authToken": "to-sender", "endpoint": "http://127.0.0.1:9/unused"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "dana", "publicName": "Dana"})
	if err != nil {
		t.Fatal(err)
	}
	// An idle wallet address, whose account never received: told nothing.
	if _, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "erin"}); err != nil {
		t.Fatal(err)
	}
	connectorURL, err := s.running.URL(app.ConnectorListener)
	if err != nil {
		t.Fatal(err)
	}
	destination, streamSecret := spspCredentials(t, s, "/dana")
	pay := func(amount uint64) {
		t.Helper()
		if got, reply := payOverSTREAM(t, connectorURL, "from-sender", destination, streamSecret, amount); got != amount {
			t.Fatalf("paying the wallet address %d: %+v", amount, reply)
		}
	}
	trigger := func(c *adminclient.Client) int {
		t.Helper()
		var out struct {
			TriggerWalletAddressEvents struct{ Count int } `json:"triggerWalletAddressEvents"`
		}
		if err := c.Do(ctx, `mutation { triggerWalletAddressEvents(input: {limit: 10}) { count } }`, nil, &out); err != nil {
			t.Fatal(err)
		}
		return out.TriggerWalletAddressEvents.Count
	}
	told := func(amount string) string {
		t.Helper()
		var id string
		testkit.Eventually(t, 10*time.Second, func() bool {
			hooks.mu.Lock()
			defer hooks.mu.Unlock()
			for eventID, ds := range hooks.byEvent {
				var b webhookBody
				if json.Unmarshal(ds[0].body, &b) == nil && b.Type == "wallet_address.web_monetization" &&
					fmt.Sprint(b.Data["walletAddress"].(map[string]any)["receivedAmount"]) == "map[assetCode:USD assetScale:2 value:"+amount+"]" {
					id = eventID
					return true
				}
			}
			return false
		}, "no wallet_address.web_monetization of %s", amount)
		d := hooks.got(id)[0]
		verify(t, secret, d)
		if got := decodeWebhook(t, d).Data["walletAddress"].(map[string]any); got["id"] != wa.ID || got["createdAt"] == "" {
			t.Fatalf("web monetization data %v", got)
		}
		return id
	}

	pay(120)
	other := newTenant(t, op, "frank-secret", nil)
	if n := trigger(s.client(other, "frank-secret")); n != 0 {
		t.Fatalf("another tenant triggered %d events", n)
	}
	if n := trigger(op); n != 1 {
		t.Fatalf("triggered %d events, want 1", n)
	}
	first := told("120")
	if n := trigger(op); n != 0 {
		t.Fatalf("triggered %d events with nothing new received", n)
	}
	pay(30)
	if n := trigger(op); n != 1 {
		t.Fatalf("triggered %d events after 30 more, want 1", n)
	}
	told("30")

	withdraw := func(eventID string) error {
		return op.Do(ctx, `mutation($input: WithdrawEventLiquidityInput!) { withdrawEventLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"eventId": eventID, "idempotencyKey": uuid.NewString()}}, nil)
	}
	if err := withdraw(first); err != nil {
		t.Fatal(err)
	}
	if got := errorCode(withdraw(first)); got != "DUPLICATE" {
		t.Fatalf("the event's money withdrawn twice: %q", got)
	}
	if got := liquidityOf(t, s, `query($id: String!) { walletAddress(id: $id) { liquidity } }`, wa.ID); got == nil || *got != "30" {
		t.Fatalf("the wallet address holds %v after the first event's withdrawal, want 30", got)
	}
}
