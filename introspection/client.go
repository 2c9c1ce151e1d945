package introspection

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// answerBytesMax bounds an answer read from the server.
const answerBytesMax = 256 << 10

// Client asks the authorization server about tokens
// (AUTH_SERVER_INTROSPECTION_URL), as a resource server does.
type Client struct {
	url   string
	http  *http.Client
	cache *Cache[Info]
}

// NewClient asks the server at url; cache (nil caches nothing) keeps active
// answers, and the caller makes it follow the grant events.
func NewClient(url string, httpClient *http.Client, cache *Cache[Info]) *Client {
	return &Client{url: url, http: httpClient, cache: cache}
}

// Introspect asks whether token is active and which of its granted access
// items cover access.
func (c *Client) Introspect(ctx context.Context, token string, access []events.GrantAccess) (Info, error) {
	body, err := json.Marshal(Request{AccessToken: token, Access: access})
	if err != nil {
		return Info{}, fmt.Errorf("introspect: %w", err)
	}
	// The token's hash and the access asked about name an answer; the
	// token itself is never kept.
	key := grant.TokenHash(token)
	if len(access) > 0 {
		asked, err := json.Marshal(access)
		if err != nil {
			return Info{}, fmt.Errorf("introspect: %w", err)
		}
		key += string(asked)
	}
	if c.cache != nil {
		if info, ok := c.cache.Get(key); ok {
			return info, nil
		}
	}
	info, err := c.ask(ctx, body)
	if err != nil {
		return Info{}, err
	}
	// An active answer is kept until the token expires (the cache keeps
	// none longer than a Hold). One that does not tell the expiry, as
	// Rafiki's authorization server's does not, is not kept: its token
	// could expire within the Hold and still be let in.
	if info.Active && info.ExpiresAt != 0 && c.cache != nil {
		c.cache.Put(key, info.Grant, info, time.Unix(info.ExpiresAt, 0))
	}
	return info, nil
}

func (c *Client) ask(ctx context.Context, body []byte) (Info, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return Info{}, fmt.Errorf("introspect: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return Info{}, fmt.Errorf("introspect: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, answerBytesMax))
	if err != nil {
		return Info{}, fmt.Errorf("introspect: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Info{}, fmt.Errorf("introspect: status %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var info Info
	if err := json.Unmarshal(raw, &info); err != nil {
		return Info{}, fmt.Errorf("introspect: decode answer: %w", err)
	}
	if info.Active && (info.Grant == "" || info.Client == nil || (info.Client.WalletAddress == "") == (len(info.Client.JWK) == 0)) {
		return Info{}, fmt.Errorf("introspect: an active answer needs a grant and one client identity: %s", raw)
	}
	return info, nil
}
