package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/testkit"
)

// Only a 200 answer without GraphQL errors that names the wallet address
// asked for counts as a success; the rest are failures, counted by message.
func TestOnlyFullSuccessesCount(t *testing.T) {
	const tenantID, secret = "9b7b6a86-8a3e-4d8e-9b1a-3e0f3f1f3a11", "load-test-secret"
	var served atomic.Int64
	answers := []func(w http.ResponseWriter, address string){
		func(w http.ResponseWriter, address string) {
			fmt.Fprintf(w, `{"data":{"createWalletAddress":{"walletAddress":{"id":"wa-1","address":"http://wallet.test/%s"}}}}`, address)
		},
		func(w http.ResponseWriter, address string) {
			fmt.Fprint(w, `{"data":null,"errors":[{"message":"asset not found","extensions":{"code":"NOT_FOUND"}}]}`)
		},
		func(w http.ResponseWriter, address string) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"errors":[{"message":"internal server error"}]}`)
		},
		func(w http.ResponseWriter, address string) {
			fmt.Fprint(w, `{"data":{"createWalletAddress":{"walletAddress":{"id":"wa-2","address":"http://wallet.test/someone-else"}}}}`)
		},
		func(w http.ResponseWriter, address string) {
			fmt.Fprint(w, `{"data":{"createWalletAddress":null}}`)
		},
	}
	rdb := testkit.Redis(t)
	// The server checks signatures as the backend does: an unsigned or
	// badly signed request would fail with 401.
	signed := adminauth.Middleware(adminauth.Config{OperatorSecret: secret}, staticSecret(secret), rdb, nil)
	srv := httptest.NewServer(signed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Variables struct {
				Input struct{ Address string }
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("request: %v", err)
		}
		answers[int(served.Add(1)-1)%len(answers)](w, req.Variables.Input.Address)
	})))
	defer srv.Close()

	client := &adminclient.Client{URL: srv.URL, TenantID: tenantID, Secret: secret, HTTP: srv.Client()}
	o := options{clients: 1, duration: 10 * time.Second, count: 10 * len(answers)}
	res, err := drive(context.Background(), o, createWalletAddressOp(client, "asset-1", "test"))
	if err != nil {
		t.Fatal(err)
	}
	if res.ok != 10 || res.failed != 40 || len(res.latencies) != 10 {
		t.Fatalf("%d succeeded, %d failed, %d latencies; want 10, 40, 10 (errors %v)", res.ok, res.failed, len(res.latencies), res.errors)
	}
	want := map[string]int{"asset not found (NOT_FOUND)": 10, "unexpected answer": 20, "HTTP 500": 10}
	for prefix, n := range want {
		got := 0
		for msg, m := range res.errors {
			if strings.HasPrefix(msg, prefix) {
				got += m
			}
		}
		if got != n {
			t.Errorf("%d errors starting %q, want %d (errors %v)", got, prefix, n, res.errors)
		}
	}
}

type staticSecret string

func (s staticSecret) APISecret(context.Context, string) (string, bool, error) {
	return string(s), true, nil
}
