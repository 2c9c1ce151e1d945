package examplewallet

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
)

// The wallet decides a partial payment by the data its sender sent: a JSON
// object is confirmed, anything else refused with a reason.
func TestPartialPaymentsDecided(t *testing.T) {
	var mu sync.Mutex
	var calls []map[string]any
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Query     string                    `json:"query"`
			Variables map[string]map[string]any `json:"variables"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("request: %v", err)
		}
		mu.Lock()
		call := req.Variables["input"]
		for _, name := range []string{"confirmPartialIncomingPayment", "rejectPartialIncomingPayment"} {
			if strings.Contains(req.Query, name+"(") {
				call["mutation"] = name
			}
		}
		calls = append(calls, call)
		mu.Unlock()
		_, _ = w.Write([]byte(`{"data":{}}`))
	}))
	defer admin.Close()
	w := New(Config{Admin: &adminclient.Client{URL: admin.URL, TenantID: "t", Secret: "s", HTTP: admin.Client()},
		Log: slog.New(slog.DiscardHandler)})
	for _, c := range []struct {
		name, data, mutation, reason string
	}{
		{"a JSON object", `{"name":"Alice"}`, "confirmPartialIncomingPayment", ""},
		{"text", `Alice`, "rejectPartialIncomingPayment", "the sender's data is not a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			calls = nil
			mu.Unlock()
			body, _ := json.Marshal(map[string]any{"id": "e1", "type": "incoming_payment.partial_payment_received",
				"data": map[string]any{"id": "ip1", "partialIncomingPaymentId": "pp1", "dataFromSender": c.data}})
			rec := httptest.NewRecorder()
			w.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body)))
			mu.Lock()
			defer mu.Unlock()
			if rec.Code != http.StatusOK || len(calls) != 1 {
				t.Fatalf("answered %d after %d calls", rec.Code, len(calls))
			}
			got := calls[0]
			reason, _ := got["reason"].(string)
			if got["mutation"] != c.mutation || got["incomingPaymentId"] != "ip1" || got["partialIncomingPaymentId"] != "pp1" || reason != c.reason {
				t.Fatalf("called %v", got)
			}
		})
	}
}

// The wallet verifies the signature version the instance signs with
// (SIGNATURE_VERSION), and that one only.
func TestVerifyTakesTheConfiguredVersion(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	body := []byte(`{"id":"e","type":"t","data":{}}`)
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte("1700000000000." + string(body)))
	sum := hex.EncodeToString(mac.Sum(nil))
	for _, tc := range []struct {
		version int
		header  string
		ok      bool
	}{
		{0, "t=1700000000000, v1=" + sum, true},
		{1, "t=1700000000000, v1=" + sum, true},
		{2, "t=1700000000000, v2=" + sum, true},
		{2, "t=1700000000000, v1=" + sum, false},
		{1, "t=1700000000000, v2=" + sum, false},
		{2, "t=1700000000000, v2=" + strings.Repeat("0", len(sum)), false},
	} {
		err := Verify("secret", tc.version, tc.header, body, now, time.Minute)
		if (err == nil) != tc.ok {
			t.Errorf("version %d, %q: %v", tc.version, tc.header, err)
		}
	}
}
