package adminui

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSessionSealing(t *testing.T) {
	key := make([]byte, 32)
	s, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sess := session{TenantID: "t", Secret: "the-secret", Operator: true, CSRF: "c", Expires: now.Add(time.Hour).Unix()}
	sealed, err := s.seal(sess)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	if strings.Contains(string(raw), "the-secret") {
		t.Fatal("the secret is readable in the cookie")
	}
	if got, ok := s.open(sealed, now); !ok || got != sess {
		t.Fatalf("open = %+v, %v", got, ok)
	}
	otherKey := make([]byte, 32)
	otherKey[0] = 1
	other, _ := newSealer(otherKey)
	flipped := []byte(sealed)
	flipped[len(flipped)/2] ^= 1
	for _, c := range []struct {
		name  string
		s     *sealer
		value string
		at    time.Time
	}{
		{"expired", s, sealed, now.Add(2 * time.Hour)},
		{"another key", other, sealed, now},
		{"changed", s, string(flipped), now},
		{"cut short", s, sealed[:10], now},
		{"not base64", s, "!!!", now},
		{"empty", s, "", now},
	} {
		if got, ok := c.s.open(c.value, c.at); ok {
			t.Errorf("%s: opened %+v", c.name, got)
		}
	}
	if _, err := newSealer(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/assets":               "/assets",
		"/assets?after=x":       "/assets?after=x",
		"":                      "",
		"https://evil.example/": "",
		"//evil.example/":       "",
		"/\\evil.example":       "",
		"assets":                "",
		"/a\r\nSet-Cookie: x=1": "",
		"/\t/evil.example/x":    "",
		"/\t\\evil.example":     "",
		"/\n/evil.example":      "",
		"/assets\\..\\x":        "",
		"/\x00/evil.example":    "",
		"/\x7f/evil.example":    "",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestPager(t *testing.T) {
	start, end := "s", "e"
	for _, c := range []struct {
		url        string
		info       pageInfo
		prev, next string
	}{
		{"/payments?type=INCOMING", pageInfo{StartCursor: &start, EndCursor: &end, HasNextPage: true},
			"", "/payments?after=e&type=INCOMING"},
		{"/payments?type=INCOMING&after=x&done=deposited", pageInfo{StartCursor: &start, EndCursor: &end, HasNextPage: true, HasPreviousPage: true},
			"/payments?before=s&type=INCOMING", "/payments?after=e&type=INCOMING"},
		{"/assets?before=y", pageInfo{StartCursor: &start, EndCursor: &end, HasPreviousPage: true}, "/assets?before=s", ""},
		{"/assets", pageInfo{}, "", ""},
	} {
		r := httptest.NewRequest(http.MethodGet, c.url, nil)
		p := newPager(r, c.info)
		if p.Prev != c.prev || p.Next != c.next {
			t.Errorf("%s: %+v, want prev %q next %q", c.url, p, c.prev, c.next)
		}
	}
	for raw, want := range map[string]string{
		"/assets":          `map[first:20]`,
		"/assets?after=a":  `map[after:a first:20]`,
		"/assets?before=b": `map[before:b last:20]`,
	} {
		u, _ := url.Parse(raw)
		if got := fmt.Sprint(pageVars(&http.Request{URL: u})); got != want {
			t.Errorf("pageVars(%s) = %s, want %s", raw, got, want)
		}
	}
}

// TestAPIUnreachable shows what the login page says when the admin API
// cannot be reached.
func TestAPIUnreachable(t *testing.T) {
	api := httptest.NewServer(http.NotFoundHandler())
	apiURL := api.URL + "/graphql"
	api.Close()
	ui, err := New(Config{GraphQLURL: apiURL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Cookies()[0]
	sess, ok := ui.sealer.open(cookie.Value, time.Now())
	if !ok {
		t.Fatal("no session")
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/login",
		strings.NewReader(url.Values{"csrf": {sess.CSRF}, "tenantId": {"t"}, "apiSecret": {"s"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "could not be reached") {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
}
