package httpsig

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/rafiki-go/rafiki/outbound"
)

// KeySource finds the public key a request names by its keyid.
type KeySource interface {
	Key(ctx context.Context, keyID string) (ed25519.PublicKey, error)
}

// InlineKey is a key the request carries itself, as a grant request's
// client.jwk.
type InlineKey JWK

func (k InlineKey) Key(_ context.Context, keyID string) (ed25519.PublicKey, error) {
	if keyID != k.KID {
		return nil, refuse(ReasonUnknownKey, "keyid %q is not the kid of the client's key", keyID)
	}
	return JWK(k).PublicKey()
}

// FetcherOptions bound what fetching client keys may cost.
type FetcherOptions struct {
	// Client makes the requests; its Timeout bounds each fetch. Nil means
	// outbound.NewClient(outbound.Options{}), production's: no local
	// destinations, https stays https. Services pass the client of their
	// USE_HTTP setting, outbound.NewClient(outbound.Options{UseHTTP: cfg.UseHTTP}).
	Client *http.Client
	// TTL is how long a fetched key set is used. Short, so that a revoked
	// key stops working soon. Default 60 s.
	TTL time.Duration
	// MinRefetch is the least time between two fetches of one wallet
	// address's keys: a request naming an unknown kid fetches them again
	// only when the cached set is at least this old, so unknown kids cannot
	// make every request a fetch. A failed fetch is remembered this long.
	// Default 10 s.
	MinRefetch time.Duration
	// BodyBytesMax bounds a jwks.json. Default 64 KiB.
	BodyBytesMax int64
	// EntriesMax bounds the number of wallet addresses cached. Default 10000.
	EntriesMax int
	// FetchesMax bounds the fetches under way at once; a request that would
	// start one more is refused. Default 256.
	FetchesMax int
	// FetchesPerSiteMax bounds the fetches under way at once from the
	// wallet addresses of one site (registrable domain, or IP address): key
	// servers that never answer, all of one attacker's site, then hold
	// that many of FetchesMax, not all, and the other clients' keys are
	// still fetched. Default 4.
	FetchesPerSiteMax int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// JWKSFetcher resolves keys from <wallet address>/jwks.json, caching each
// wallet address's set. It is safe for concurrent use; concurrent misses on
// one wallet address share one fetch.
type JWKSFetcher struct {
	opts     FetcherOptions
	mu       sync.Mutex
	cache    map[string]jwksCached
	inflight map[string]*jwksCall
	sites    map[string]int // fetches under way by site
}

type jwksCached struct {
	keys    map[string]jwksEntry
	err     error
	fetched time.Time
}

type jwksCall struct {
	done   chan struct{}
	result jwksCached
}

// NewJWKSFetcher fills in the defaults of opts.
func NewJWKSFetcher(opts FetcherOptions) *JWKSFetcher {
	if opts.Client == nil {
		opts.Client = outbound.NewClient(outbound.Options{})
	}
	if opts.TTL <= 0 {
		opts.TTL = 60 * time.Second
	}
	if opts.MinRefetch <= 0 {
		opts.MinRefetch = 10 * time.Second
	}
	if opts.BodyBytesMax <= 0 {
		opts.BodyBytesMax = 64 << 10
	}
	if opts.EntriesMax <= 0 {
		opts.EntriesMax = 10000
	}
	if opts.FetchesMax <= 0 {
		opts.FetchesMax = 256
	}
	if opts.FetchesPerSiteMax <= 0 {
		opts.FetchesPerSiteMax = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &JWKSFetcher{opts: opts, cache: map[string]jwksCached{}, inflight: map[string]*jwksCall{}, sites: map[string]int{}}
}

// For is the key source of one client, named by its wallet address.
func (f *JWKSFetcher) For(walletAddress string) KeySource {
	return walletKeys{f: f, walletAddress: walletAddress}
}

type walletKeys struct {
	f             *JWKSFetcher
	walletAddress string
}

func (w walletKeys) Key(ctx context.Context, keyID string) (ed25519.PublicKey, error) {
	u, err := jwksURL(w.walletAddress)
	if err != nil {
		return nil, err
	}
	got, err := w.f.load(ctx, u, w.f.opts.TTL)
	if err != nil {
		return nil, err
	}
	if e, ok := got.keys[keyID]; ok {
		return e.key, e.err
	}
	// An unknown kid may be a key added since the set was fetched; the set
	// is fetched again only if it is at least MinRefetch old.
	got, err = w.f.load(ctx, u, w.f.opts.MinRefetch)
	if err != nil {
		return nil, err
	}
	if e, ok := got.keys[keyID]; ok {
		return e.key, e.err
	}
	return nil, refuse(ReasonUnknownKey, "wallet address %s has no key %q", w.walletAddress, keyID)
}

func jwksURL(walletAddress string) (string, error) {
	u, err := url.Parse(walletAddress)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", refuse(ReasonKeyUnavailable, "client %q is not a wallet address URL", walletAddress)
	}
	return walletAddress + "/jwks.json", nil
}

// load answers the cached set of u when it is younger than maxAge (a
// failure: younger than MinRefetch), and fetches it otherwise.
func (f *JWKSFetcher) load(ctx context.Context, u string, maxAge time.Duration) (jwksCached, error) {
	f.mu.Lock()
	c, ok := f.cache[u]
	if ok {
		age := f.opts.Now().Sub(c.fetched)
		if c.err == nil && age < maxAge || c.err != nil && age < f.opts.MinRefetch {
			f.mu.Unlock()
			return c, c.err
		}
	}
	call, running := f.inflight[u]
	site := siteOf(u)
	if !running && (len(f.inflight) >= f.opts.FetchesMax || f.sites[site] >= f.opts.FetchesPerSiteMax) {
		f.mu.Unlock()
		return jwksCached{}, refuse(ReasonKeyUnavailable, "too many client key fetches under way; retry later")
	}
	if !running {
		call = &jwksCall{done: make(chan struct{})}
		f.inflight[u] = call
		f.sites[site]++
		go f.fetch(u, site, call)
	}
	f.mu.Unlock()
	select {
	case <-call.done:
		return call.result, call.result.err
	case <-ctx.Done():
		return jwksCached{}, &Error{Reason: ReasonKeyUnavailable, Message: "the client's keys could not be fetched in time", Cause: ctx.Err()}
	}
}

// fetch runs detached from the request that started it, as others may wait
// for it; the client's timeout bounds it.
func (f *JWKSFetcher) fetch(u, site string, call *jwksCall) {
	keys, err := f.get(u)
	if err != nil {
		err = &Error{Reason: ReasonKeyUnavailable, Message: fmt.Sprintf("the client's keys could not be fetched from %s", u), Cause: err}
	}
	result := jwksCached{keys: keys, err: err, fetched: f.opts.Now()}
	f.mu.Lock()
	if len(f.cache) >= f.opts.EntriesMax {
		f.evictLocked()
	}
	f.cache[u] = result
	delete(f.inflight, u)
	if f.sites[site]--; f.sites[site] == 0 {
		delete(f.sites, site)
	}
	f.mu.Unlock()
	call.result = result
	close(call.done)
}

// evictLocked drops expired sets, or when none is, an arbitrary one.
func (f *JWKSFetcher) evictLocked() {
	now := f.opts.Now()
	for u, c := range f.cache {
		if now.Sub(c.fetched) >= f.opts.TTL {
			delete(f.cache, u)
		}
	}
	for u := range f.cache {
		if len(f.cache) < f.opts.EntriesMax {
			return
		}
		delete(f.cache, u)
	}
}

func (f *JWKSFetcher) get(u string) (map[string]jwksEntry, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, f.opts.BodyBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("reading jwks.json: %w", err)
	}
	if int64(len(data)) > f.opts.BodyBytesMax {
		return nil, fmt.Errorf("jwks.json longer than %d bytes", f.opts.BodyBytesMax)
	}
	return parseJWKS(data)
}

// siteOf is the site a key set's URL is on: its host's registrable domain
// (example.com for a.b.example.com, by the public suffix list), or the
// host itself when it has none (an IP address, localhost). An attacker
// can name hosts without end under one domain, but not domains.
func siteOf(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	host := strings.ToLower(parsed.Hostname())
	if site, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return site
	}
	return host
}
