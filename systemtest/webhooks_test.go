package systemtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestWebhookSurvivesAKill runs `rafiki dev` sending webhooks to an
// endpoint that holds the first request, kills it (SIGKILL) while that
// delivery is under way, and starts it again: once the killed attempt's
// lease ended, the event comes again, with the same id, and is taken.
func TestWebhookSurvivesAKill(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	held := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var e struct{ ID, Type string }
		_ = json.Unmarshal(body, &e)
		mu.Lock()
		ids = append(ids, e.ID)
		first := len(ids) == 1
		mu.Unlock()
		if first {
			close(held)
			<-req.Context().Done()
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	count := func() ([]string, int) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...), len(ids)
	}

	h := newHarness(t)
	r := h.NewRafiki(map[string]string{"WEBHOOK_URL": srv.URL, "WEBHOOK_TIMEOUT": "20000"})
	dev := r.Start("dev", nil, "dev")
	r.WaitReady(t, dev, 90*time.Second)
	op, assetID := operatorWithAsset(t, r, 20*time.Second)
	ctx := context.Background()
	wa, err := createWalletAddress(ctx, op, assetID, "hooked", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": wa.ID}}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook attempted")
	}
	dev.Kill()
	killed := time.Now()

	dev2 := r.Start("dev-again", nil, "dev")
	r.WaitReady(t, dev2, 90*time.Second)
	// The lease of the killed attempt: the timeout and 10 s.
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, n := count()
		if n >= 2 {
			if got[1] != got[0] || got[0] == "" {
				t.Fatalf("after the restart event %q came, not %q", got[1], got[0])
			}
			if since := time.Since(killed); since < 20*time.Second {
				t.Fatalf("sent again %v after the kill, within the killed attempt's lease", since)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook was not delivered after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	if _, n := count(); n != 2 {
		t.Fatalf("%d requests: the event was sent again after it was taken", n)
	}
}
