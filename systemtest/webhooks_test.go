package systemtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
)

// hook is one webhook request a receiver got.
type hook struct {
	at        time.Time
	id, typ   string
	body      []byte
	signature string
	answered  int // the status it was answered with, 0 for none
}

// hookLog records the requests of one receiver.
type hookLog struct {
	mu    sync.Mutex
	hooks []hook
}

// add records a request's body and signature and answers its index.
func (l *hookLog) add(body []byte, signature string) int {
	var e struct{ ID, Type string }
	_ = json.Unmarshal(body, &e)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hooks = append(l.hooks, hook{at: time.Now(), id: e.ID, typ: e.Type, body: body, signature: signature})
	return len(l.hooks) - 1
}

func (l *hookLog) answer(i, status int) {
	l.mu.Lock()
	l.hooks[i].answered = status
	l.mu.Unlock()
}

func (l *hookLog) all() []hook {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.hooks)
}

// byID groups the requests by event id, in the order they came.
func (l *hookLog) byID() map[string][]hook {
	out := map[string][]hook{}
	for _, h := range l.all() {
		out[h.id] = append(out[h.id], h)
	}
	return out
}

// verifySignatures has every request's Rafiki-Signature checked by a
// receiver written in JavaScript (scripts/webhook-verify.mjs, node's
// crypto), not by package webhooks.
func verifySignatures(t *testing.T, secret string, hooks []hook) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to verify the signatures independently: %v", err)
	}
	type req struct {
		Signature string `json:"signature"`
		Body      string `json:"body"`
	}
	reqs := make([]req, len(hooks))
	for i, h := range hooks {
		reqs[i] = req{h.signature, string(h.body)}
	}
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(repositoryRoot(t), "scripts", "webhook-verify.mjs"))
	cmd.Env = append(baseEnv(), "SIGNATURE_SECRET="+secret)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("webhook-verify.mjs: %v\n%s", err, stderr.String())
	}
	var ok []bool
	if err := json.Unmarshal(out, &ok); err != nil || len(ok) != len(hooks) {
		t.Fatalf("webhook-verify.mjs answered %s (%v) for %d requests", out, err, len(hooks))
	}
	for i, v := range ok {
		if !v {
			t.Fatalf("signature %q of %s does not verify", hooks[i].signature, hooks[i].body)
		}
	}
}

// webhookTenant creates a tenant with its own webhook settings, an asset
// and a wallet address, and answers the tenant's and the wallet address's
// ids.
func webhookTenant(t *testing.T, op *adminclient.Client, name string, settings map[string]string) (tenantID, walletAddressID string) {
	t.Helper()
	ctx := context.Background()
	walletAddressURL := "https://" + name + ".test"
	list := []map[string]any{{"key": "WALLET_ADDRESS_URL", "value": walletAddressURL}}
	for k, v := range settings {
		list = append(list, map[string]any{"key": k, "value": v})
	}
	var tenant struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"apiSecret": name + "-secret", "settings": list}}, &tenant); err != nil {
		t.Fatalf("createTenant %s: %v", name, err)
	}
	tenantID = tenant.CreateTenant.Tenant.ID
	var asset struct {
		CreateAsset struct{ Asset struct{ ID string } } `json:"createAsset"`
	}
	if err := op.Do(ctx, `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
		map[string]any{"input": map[string]any{"code": "USD", "scale": 2, "tenantId": tenantID}}, &asset); err != nil {
		t.Fatalf("createAsset for %s: %v", name, err)
	}
	var wa struct {
		CreateWalletAddress struct{ WalletAddress struct{ ID string } } `json:"createWalletAddress"`
	}
	if err := op.Do(ctx, `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id } } }`,
		map[string]any{"input": map[string]any{"tenantId": tenantID, "assetId": asset.CreateAsset.Asset.ID, "address": walletAddressURL + "/shop"}},
		&wa); err != nil {
		t.Fatalf("createWalletAddress for %s: %v", name, err)
	}
	return tenantID, wa.CreateWalletAddress.WalletAddress.ID
}

// newIncomingPayment creates an incoming payment, whose
// incoming_payment.created webhook follows, and answers its id.
func newIncomingPayment(t *testing.T, op *adminclient.Client, walletAddressID string) string {
	t.Helper()
	var out struct {
		CreateIncomingPayment struct{ Payment struct{ ID string } } `json:"createIncomingPayment"`
	}
	if err := op.Do(context.Background(), `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": walletAddressID}}, &out); err != nil {
		t.Fatalf("createIncomingPayment: %v", err)
	}
	return out.CreateIncomingPayment.Payment.ID
}

// webhookEventIDs are the ids of the webhook events of a tenant in the
// installation's read model.
func webhookEventIDs(t *testing.T, r *Rafiki, tenantID string) []string {
	t.Helper()
	rows, err := r.Pool(t).Query(context.Background(), `SELECT id::text FROM rm_webhooks.webhook_events WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestWebhooksSurviveAKill runs `rafiki dev` sending signed webhooks to an
// endpoint that answers the first 60 at once and then holds every request
// unanswered, kills it (SIGKILL) with deliveries under way and more due,
// and starts it again, with more events coming after: every event comes
// (at least once, with its id, its body unchanged), none is lost, those
// under way at the kill come again only once their lease (30 s) ended,
// and every signature verifies in node.
func TestWebhooksSurviveAKill(t *testing.T) {
	const secret = "kill-test-signing-secret"
	const answeredFirst = 60
	var log hookLog
	var heldMu sync.Mutex
	held, released := 0, false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		i := log.add(body, req.Header.Get("Rafiki-Signature"))
		heldMu.Lock()
		hold := i >= answeredFirst && !released
		if hold {
			held++
		}
		heldMu.Unlock()
		if hold {
			// Unanswered until the client is gone.
			<-req.Context().Done()
			return
		}
		log.answer(i, http.StatusOK)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	heldCount := func() int {
		heldMu.Lock()
		defer heldMu.Unlock()
		return held
	}

	h := newHarness(t)
	// A timeout longer than the test waits before the kill: the held
	// requests are under way when it comes.
	r := h.NewRafiki(map[string]string{"WEBHOOK_URL": srv.URL, "WEBHOOK_TIMEOUT": "20000", "SIGNATURE_SECRET": secret})
	dev := r.Start("dev", nil, "dev")
	r.WaitReady(t, dev, 90*time.Second)
	op := r.Operator(20 * time.Second)
	tenantID, walletID := webhookTenant(t, op, "hooked", nil)
	for range 150 {
		newIncomingPayment(t, op, walletID)
	}
	// Deliveries under way: the recipient proved itself with the first
	// 60, so up to 32 are held.
	deadline := time.Now().Add(30 * time.Second)
	for heldCount() < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests held, %d in all", heldCount(), len(log.all()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	dev.Kill()
	killed := time.Now()
	before := log.byID()
	heldMu.Lock()
	released = true
	heldMu.Unlock()

	dev2 := r.Start("dev", nil, "dev")
	r.WaitReady(t, dev2, 90*time.Second)
	for range 50 {
		newIncomingPayment(t, op, walletID)
	}
	events := webhookEventIDs(t, r, tenantID)
	if len(events) != 200 {
		t.Fatalf("%d webhook events in the read model, want 200", len(events))
	}
	taken := func() (missing []string) {
		got := log.byID()
		for _, id := range events {
			if !slices.ContainsFunc(got[id], func(h hook) bool { return h.answered == http.StatusOK }) {
				missing = append(missing, id)
			}
		}
		return missing
	}
	deadline = time.Now().Add(90 * time.Second)
	for missing := taken(); len(missing) > 0; missing = taken() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events not delivered, %v after the kill: %v", len(missing), len(events), time.Since(killed), missing[:min(5, len(missing))])
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)

	got := log.byID()
	again := 0
	for id, hs := range got {
		if !slices.Contains(events, id) {
			t.Fatalf("an event that is not in the read model came: %s", hs[0].body)
		}
		for _, h := range hs[1:] {
			if !bytes.Equal(h.body, hs[0].body) || h.typ != "incoming_payment.created" {
				t.Fatalf("event %s came as %s and as %s", id, hs[0].body, h.body)
			}
		}
		if len(hs) > 1 {
			again++
		}
		// An attempt held at the kill comes again once its lease ended.
		if b := before[id]; len(b) > 0 && b[len(b)-1].answered == 0 {
			next := hs[len(b)]
			if wait := next.at.Sub(b[len(b)-1].at); wait < 29*time.Second {
				t.Fatalf("event %s held at the kill came again %v after, within its lease", id, wait)
			}
		}
	}
	// At least once: what was under way at the kill (the held requests, and
	// answers the killed process had not stored) may come twice; the rest
	// once.
	if again < 8 || again > 32 {
		t.Fatalf("%d events came more than once; %d were held at the kill", again, heldCount())
	}
	t.Logf("%d events delivered, %d of them again after the kill (%d held at the kill)", len(events), again, heldCount())
	verifySignatures(t, secret, log.all())
}

// rawReceiver is an endpoint at the TCP level: it reads each request,
// records it, and then answers with reply, which may be anything, and
// closes the connection; with a nil reply it answers nothing and waits for
// the client to close it.
func rawReceiver(t *testing.T, log *hookLog, reply []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					log.add(body, req.Header.Get("Rafiki-Signature"))
					if reply == nil {
						_, _ = io.Copy(io.Discard, br)
						return
					}
					_, _ = conn.Write(reply)
					return
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/hooks"
}

// TestWebhookReceiversThatFail runs `rafiki dev` with one tenant whose
// endpoint answers at once and three whose endpoints fail: one answers 200
// after its timeout (slow), one answers bytes that are no HTTP (garbage),
// one never answers. Each failing endpoint gets each of its events
// WEBHOOK_MAX_RETRY (3) times, at Rafiki's intervals (10 s, then 20 s,
// after the attempt ended), then no more; meanwhile the healthy tenant's
// events, made at a steady pace, each come once and as soon as they did
// before the failing ones had any. Every signature verifies in node.
func TestWebhookReceiversThatFail(t *testing.T) {
	const secret = "failing-receivers-signing-secret"
	const timeout = 2 * time.Second
	var good, slow, garbage, never hookLog
	goodSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		good.answer(good.add(body, req.Header.Get("Rafiki-Signature")), http.StatusOK)
	}))
	defer goodSrv.Close()
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		slow.add(body, req.Header.Get("Rafiki-Signature"))
		select {
		case <-time.After(timeout + time.Second):
			w.WriteHeader(http.StatusOK)
		case <-req.Context().Done():
		}
	}))
	defer slowSrv.Close()
	garbageURL := rawReceiver(t, &garbage, []byte("HTTQ/9 \x00\xff not an answer\r\n\r\n"))
	neverURL := rawReceiver(t, &never, nil)

	h := newHarness(t)
	r := h.NewRafiki(map[string]string{"SIGNATURE_SECRET": secret})
	dev := r.Start("dev", nil, "dev")
	r.WaitReady(t, dev, 90*time.Second)
	op := r.Operator(20 * time.Second)
	failing := map[string]string{"WEBHOOK_TIMEOUT": fmt.Sprint(timeout.Milliseconds()), "WEBHOOK_MAX_RETRY": "3"}
	with := func(url string) map[string]string {
		s := map[string]string{"WEBHOOK_URL": url}
		for k, v := range failing {
			s[k] = v
		}
		return s
	}
	_, goodWallet := webhookTenant(t, op, "good", map[string]string{"WEBHOOK_URL": goodSrv.URL})
	failingWallets := map[string]string{}
	failingTenants := map[string]string{}
	for name, url := range map[string]string{"slow": slowSrv.URL, "garbage": garbageURL, "never": neverURL} {
		failingTenants[name], failingWallets[name] = webhookTenant(t, op, name, with(url))
	}

	// The healthy tenant's events, one every 100 ms from now to the end;
	// the failing ones' from the third second on, 8 each, more than the 4
	// deliveries a recipient that never succeeded may have under way.
	var madeMu sync.Mutex
	made := map[string]time.Time{} // by payment id
	stopPace := make(chan struct{})
	paced := make(chan struct{})
	go func() {
		defer close(paced)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopPace:
				return
			case <-tick.C:
			}
			var out struct {
				CreateIncomingPayment struct{ Payment struct{ ID string } } `json:"createIncomingPayment"`
			}
			if err := op.Do(context.Background(), `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
				map[string]any{"input": map[string]any{"walletAddressId": goodWallet}}, &out); err != nil {
				t.Errorf("createIncomingPayment: %v", err)
				return
			}
			id := out.CreateIncomingPayment.Payment.ID
			madeMu.Lock()
			made[id] = time.Now()
			madeMu.Unlock()
		}
	}()
	time.Sleep(3 * time.Second)
	failingFrom := time.Now()
	for _, name := range []string{"slow", "garbage", "never"} {
		for range 8 {
			newIncomingPayment(t, op, failingWallets[name])
		}
	}
	// The third attempts are due 10 s + 20 s and two timeouts after the
	// first; the last of them ends a timeout later.
	time.Sleep(30*time.Second + 4*timeout + 4*time.Second)
	close(stopPace)
	<-paced
	if t.Failed() {
		return
	}
	time.Sleep(2 * time.Second)

	for name, log := range map[string]*hookLog{"slow": &slow, "garbage": &garbage, "never": &never} {
		byID := log.byID()
		if len(byID) != 8 {
			t.Fatalf("%s: %d events came, want 8", name, len(byID))
		}
		for id, hs := range byID {
			if len(hs) != 3 {
				t.Fatalf("%s: event %s came %d times, want 3", name, id, len(hs))
			}
			for i, step := range []time.Duration{10 * time.Second, 20 * time.Second} {
				// Each wait starts when the attempt before ended: at once
				// for garbage, after the timeout for the others; a slot of
				// the recipient's 4 may be waited for.
				gap := hs[i+1].at.Sub(hs[i].at)
				if gap < step || gap > step+2*timeout+3*time.Second {
					t.Fatalf("%s: event %s attempt %d came %v after attempt %d, want %v after it ended", name, id, i+2, gap, i+1, step)
				}
			}
		}
		var attempts, pending, delivered int
		if err := r.Pool(t).QueryRow(context.Background(), `SELECT coalesce(sum(attempts), 0), count(*) FILTER (WHERE process_at IS NOT NULL),
			count(*) FILTER (WHERE delivered_at IS NOT NULL) FROM webhook_deliveries WHERE recipient_tenant_id = $1`,
			failingTenants[name]).Scan(&attempts, &pending, &delivered); err != nil {
			t.Fatal(err)
		}
		if attempts != 24 || pending != 0 || delivered != 0 {
			t.Fatalf("%s: deliveries recorded %d attempts, %d pending, %d delivered; want 24, 0, 0", name, attempts, pending, delivered)
		}
	}

	// The healthy tenant: every event once, as soon before the failing
	// endpoints had events as while they held their slots.
	madeMu.Lock()
	defer madeMu.Unlock()
	var before, during []time.Duration
	for id, hs := range good.byID() {
		if len(hs) != 1 {
			t.Fatalf("the healthy tenant's event %s came %d times", id, len(hs))
		}
		var data struct{ Data struct{ ID string } }
		if err := json.Unmarshal(hs[0].body, &data); err != nil {
			t.Fatal(err)
		}
		at, ok := made[data.Data.ID]
		if !ok {
			continue // a payment whose creation the pace did not time
		}
		late := hs[0].at.Sub(at)
		if at.Before(failingFrom) {
			before = append(before, late)
		} else {
			during = append(during, late)
		}
		delete(made, data.Data.ID)
	}
	if len(made) != 0 {
		t.Fatalf("%d of the healthy tenant's events did not come", len(made))
	}
	sort.Slice(before, func(i, j int) bool { return before[i] < before[j] })
	sort.Slice(during, func(i, j int) bool { return during[i] < during[j] })
	if len(before) < 10 || len(during) < 200 {
		t.Fatalf("%d events timed before the failing ones, %d during", len(before), len(during))
	}
	p := func(ds []time.Duration, q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	t.Logf("healthy tenant, creation to webhook: before p50 %v max %v (%d); beside the failing endpoints p50 %v p99 %v max %v (%d)",
		p(before, 0.5), before[len(before)-1], len(before), p(during, 0.5), p(during, 0.99), during[len(during)-1], len(during))
	// A webhook that waited for a slot held by a failing endpoint would be
	// a timeout (2 s) late.
	if worst := during[len(during)-1]; worst > timeout*3/4 {
		t.Fatalf("a healthy tenant's webhook came %v after its event, beside the failing endpoints", worst)
	}
	verifySignatures(t, secret, slices.Concat(good.all(), slow.all(), garbage.all(), never.all()))
}

// TestWebhooksStopBeforeTheAdminAPI stops `rafiki dev` (SIGTERM) while
// webhooks are being delivered to a receiver that, as a wallet does,
// answers each by calling the admin API: the deliveries stop before the
// admin API does, so no receiver is left failing against a closed API and
// no attempt is spent on it; those cut short are made again later.
func TestWebhooksStopBeforeTheAdminAPI(t *testing.T) {
	h := newHarness(t)
	var op *adminclient.Client
	var answered, failedAnswers atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body)
		ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		defer cancel()
		if err := listQuery(ctx, op); err != nil {
			if req.Context().Err() == nil {
				failedAnswers.Add(1)
			}
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		answered.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	r := h.NewRafiki(map[string]string{"WEBHOOK_URL": srv.URL, "EXAMPLE_WALLET_PORT": "0"})
	dev := startDev(t, r)
	op = r.Operator(20 * time.Second)
	_, walletID := webhookTenant(t, op, "answering", nil)
	// Payments made until the stop, so that requests are in flight, and
	// webhooks due, while the admin API drains.
	stop := make(chan struct{})
	var load sync.WaitGroup
	for range 8 {
		load.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = op.Do(context.Background(), `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
					map[string]any{"input": map[string]any{"walletAddressId": walletID}}, nil)
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for answered.Load() < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d webhooks answered after 30s", answered.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	err := dev.Stop(syscall.SIGTERM, 20*time.Second)
	close(stop)
	load.Wait()
	if err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}
	if n := failedAnswers.Load(); n > 0 {
		t.Errorf("%d webhooks were answered 500 to the dispatcher because the admin API had stopped before it", n)
	}
	_, stopping, _ := strings.Cut(dev.Output(), "msg=\"shutting down\"")
	for line := range strings.Lines(stopping) {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "webhook request failed") {
			t.Errorf("while stopping: %s", line)
		}
	}
}
