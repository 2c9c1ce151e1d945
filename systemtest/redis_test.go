package systemtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/apperr"
)

// TestRedisOutage stops the Redis `rafiki dev` uses, then starts it again.
// While it is down, what needs no Redis keeps answering (wallet address
// documents and the Open Payments listener's readiness, liveness), the
// admin listener's readiness says Redis is missing, and signed admin
// calls, whose replay guard needs Redis, fail at once with a server-side
// error instead of hanging. Once it is back, signed calls work again
// without a restart.
func TestRedisOutage(t *testing.T) {
	h := newHarness(t)
	rs := h.RedisServer()
	r := h.NewRafiki(map[string]string{"REDIS_URL": rs.URL()})
	dev := startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 15*time.Second)
	ctx := context.Background()
	if _, err := createWalletAddress(ctx, op, assetID, "/before", ""); err != nil {
		t.Fatalf("createWalletAddress: %v", err)
	}
	admin := fmt.Sprintf("http://127.0.0.1:%d", r.Ports["ADMIN_PORT"])
	openPayments := fmt.Sprintf("http://127.0.0.1:%d", r.Ports["OPEN_PAYMENTS_PORT"])
	untouched := []string{r.OpenPaymentsURL() + "/before", openPayments + "/readyz", openPayments + "/healthz", admin + "/livez"}
	for _, url := range append(untouched, admin+"/readyz") {
		if status, took, err := get(url, 2*time.Second); err != nil || status != http.StatusOK {
			t.Fatalf("GET %s with Redis up: %d after %s, %v", url, status, took, err)
		}
	}

	if err := rs.Proc.Stop(syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatalf("stop redis: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, body, err := getBody(admin+"/readyz", 3*time.Second)
		if err == nil && status == http.StatusServiceUnavailable && strings.Contains(body, "redis") {
			t.Logf("admin readiness with Redis down: %d %s", status, body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin /readyz 5s after Redis stopped: %d %s %v", status, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, url := range untouched {
		if status, took, err := get(url, 2*time.Second); err != nil || status != http.StatusOK {
			t.Errorf("GET %s with Redis down: %d after %s, %v", url, status, took, err)
		}
	}
	const bound = 5 * time.Second
	signed := map[string]func(context.Context) error{
		"query": func(ctx context.Context) error { return listQuery(ctx, op) },
		"mutation": func(ctx context.Context) error {
			_, err := createWalletAddress(ctx, op, assetID, "/during", "")
			return err
		},
	}
	for name, call := range signed {
		callCtx, cancel := context.WithTimeout(ctx, 3*bound)
		start := time.Now()
		err := call(callCtx)
		took := time.Since(start)
		cancel()
		switch {
		case err == nil:
			t.Errorf("signed %s with Redis down succeeded: the replay guard was not consulted", name)
		case took > bound:
			dev.DumpDuring(func(ctx context.Context) { _ = call(ctx) })
			t.Fatalf("signed %s with Redis down answered after %s (bound %s): %v; goroutines in %s", name, took.Round(time.Millisecond), bound, err, dev.LogPath)
		default:
			if msg := serviceError(err); msg != "" {
				t.Errorf("signed %s with Redis down: %s", name, msg)
			}
			t.Logf("signed %s with Redis down: answered after %s: %v", name, took.Round(time.Millisecond), err)
		}
	}

	rs.Start()
	deadline = time.Now().Add(10 * time.Second)
	for {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := listQuery(callCtx, op)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("signed calls still fail 10s after Redis came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 5 {
		if _, err := createWalletAddress(ctx, op, assetID, fmt.Sprintf("/after-%d", i), ""); err != nil {
			t.Fatalf("createWalletAddress after Redis came back: %v", err)
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		status, body, err := getBody(admin+"/readyz", 3*time.Second)
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin /readyz 5s after Redis came back: %d %s %v", status, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if dev.Exited() {
		t.Fatalf("dev exited: %v", dev.err)
	}
}

// getBody fetches a URL and returns the status and the body.
func getBody(url string, timeout time.Duration) (int, string, error) {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(body), err
}

// get fetches a URL and returns the status and how long it took.
func get(url string, timeout time.Duration) (int, time.Duration, error) {
	start := time.Now()
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		return 0, time.Since(start), err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, time.Since(start), nil
}

// serviceError describes what is wrong with the error a signed call got
// while a dependency was down, or returns "" when it is a server-side
// failure a client can read: a GraphQL error (in a 5xx or a 200) whose
// code is one of a server-side failure in apperr's table.
func serviceError(err error) string {
	var status *adminclient.StatusError
	var errs adminclient.Errors
	switch {
	case errors.As(err, &status):
		if status.Status < 500 {
			return fmt.Sprintf("answered %d, not a server-side failure: %s", status.Status, status.Body)
		}
		var body struct{ Errors adminclient.Errors }
		if json.Unmarshal([]byte(status.Body), &body) != nil || len(body.Errors) == 0 {
			return fmt.Sprintf("answered %d without a GraphQL error: %s", status.Status, status.Body)
		}
		errs = body.Errors
	case errors.As(err, &errs):
	default:
		return fmt.Sprintf("no answer from the service: %v", err)
	}
	for _, row := range apperr.Rows() {
		if row.GraphQL == errs[0].Code() {
			if row.HTTP < 500 {
				return fmt.Sprintf("error coded %s, a client's mistake, for a server-side failure: %v", row.GraphQL, errs)
			}
			return ""
		}
	}
	return fmt.Sprintf("error code %q is not in apperr's table: %v", errs[0].Code(), errs)
}
