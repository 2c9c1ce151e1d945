package adminui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestMemorySignOuts(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	m := newMemorySignOuts()
	m.now = func() time.Time { return now }
	ended := func(id string) bool {
		t.Helper()
		ok, err := m.Ended(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := range signOutsMax - 1 {
		_ = m.End(ctx, fmt.Sprint(i), now.Add(time.Hour))
	}
	_ = m.End(ctx, "soon", now.Add(time.Minute))
	if !ended("soon") || ended("never") {
		t.Fatal("Ended does not tell the sessions signed out")
	}
	_ = m.End(ctx, "new", now.Add(time.Hour))
	if len(m.until) != signOutsMax || ended("soon") || !ended("new") || !ended("0") {
		t.Fatalf("full: %d kept; the one nearest its expiry should make room", len(m.until))
	}
	now = now.Add(time.Hour)
	if ended("new") {
		t.Fatal("a sign-out is remembered past the session's expiry")
	}
	_ = m.End(ctx, "later", now.Add(time.Hour))
	if len(m.until) != 1 || !ended("later") {
		t.Fatalf("%d kept: the expired sign-outs should make room first", len(m.until))
	}
}

// unreadableSignOuts is a store of sign-outs that is down.
type unreadableSignOuts struct{}

func (unreadableSignOuts) End(context.Context, string, time.Time) error { return errors.New("down") }
func (unreadableSignOuts) Ended(context.Context, string) (bool, error) {
	return false, errors.New("down")
}

// TestSignOutCheckFailsClosed: a signed-in session is served
// only when its sign-out can be checked, and one sealed before sessions
// had an id is signed out.
func TestSignOutCheckFailsClosed(t *testing.T) {
	ui, err := New(Config{GraphQLURL: "http://admin-api.test/graphql", SignOuts: unreadableSignOuts{},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	get := func(sess session) int {
		t.Helper()
		value, err := ui.sealer.seal(sess)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: value})
		rec := httptest.NewRecorder()
		ui.ServeHTTP(rec, req)
		return rec.Code
	}
	expires := time.Now().Add(time.Hour).Unix()
	if code := get(session{ID: "i", TenantID: "t", Secret: "s", CSRF: "c", Expires: expires}); code != http.StatusInternalServerError {
		t.Errorf("sign-outs unreadable: status %d, want 500", code)
	}
	if code := get(session{TenantID: "t", Secret: "s", CSRF: "c", Expires: expires}); code != http.StatusSeeOther {
		t.Errorf("a signed-in session without an id: status %d, want a redirect to sign in", code)
	}
}
