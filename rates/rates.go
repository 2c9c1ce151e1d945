// Package rates is the connector's and quotes' exchange rates: fetched from
// the tenant's EXCHANGE_RATES_URL setting, or the operator's
// EXCHANGE_RATES_URL, as `GET <url>?base=<asset code>` answering
// `{"base": "USD", "rates": {"EUR": 0.9, …}}`; kept per tenant and base for
// EXCHANGE_RATES_LIFETIME; one request at a time for each, however many
// callers wait for it.
package rates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Rafiki's rate service's limits: a request's timeout, and what an answer
// may weigh.
const (
	requestTimeout = 5 * time.Second
	answerBytesMax = 1 << 20
	// entriesMax bounds the rates kept (tenants × base assets); a full
	// cache is emptied and fills again.
	entriesMax = 10_000
)

// Errors, as Rafiki's rates service names them.
var (
	ErrCouldNotFetch    = errors.New("Could not fetch exchange rates")
	ErrMissingURL       = errors.New("Exchange rate conversion currently not supported")
	ErrMissingBaseAsset = errors.New("Missing base asset")
	ErrInvalidBaseAsset = errors.New("Base asset should be a string")
)

// Rates are the prices of other assets in one base asset.
type Rates struct {
	Base  string             `json:"base"`
	Rates map[string]float64 `json:"rates"`
}

// TenantURL answers a tenant's EXCHANGE_RATES_URL setting, "" when it has
// none.
type TenantURL func(ctx context.Context, tenantID string) (string, error)

// Service fetches and keeps rates.
type Service struct {
	operatorURL string
	tenantURL   TenantURL
	lifetime    time.Duration
	client      *http.Client
	now         func() time.Time

	mu       sync.Mutex
	cached   map[ratesKey]cachedRates
	inFlight map[ratesKey]*call
}

// ratesKey names one tenant's rates in one base asset.
type ratesKey struct{ tenantID, base string }

type cachedRates struct {
	rates Rates
	until time.Time
}

// call is one fetch that every caller asking for the same rates meanwhile
// waits for.
type call struct {
	done  chan struct{}
	rates Rates
	err   error
}

// New makes a service: operatorURL is EXCHANGE_RATES_URL (may be empty),
// lifetime EXCHANGE_RATES_LIFETIME, client the HTTP client rates are
// fetched with (its own timeout bounded by Rafiki's 5 s).
func New(operatorURL string, tenantURL TenantURL, lifetime time.Duration, client *http.Client) *Service {
	return &Service{operatorURL: operatorURL, tenantURL: tenantURL, lifetime: lifetime, client: client, now: time.Now,
		cached: map[ratesKey]cachedRates{}, inFlight: map[ratesKey]*call{}}
}

// Rates answers the prices in base for a tenant, from the cache while they
// are younger than the lifetime.
func (s *Service) Rates(ctx context.Context, tenantID, base string) (Rates, error) {
	key := ratesKey{tenantID: tenantID, base: base}
	s.mu.Lock()
	if c, ok := s.cached[key]; ok && s.now().Before(c.until) {
		s.mu.Unlock()
		return c.rates, nil
	}
	c, running := s.inFlight[key]
	if !running {
		c = &call{done: make(chan struct{})}
		s.inFlight[key] = c
	}
	s.mu.Unlock()
	if !running {
		// The fetch belongs to no caller: one that gives up must not
		// cancel it for the others.
		go s.fetch(context.WithoutCancel(ctx), key, c)
	}
	select {
	case <-c.done:
		return c.rates, c.err
	case <-ctx.Done():
		return Rates{}, fmt.Errorf("exchange rates for %s: %w", base, ctx.Err())
	}
}

func (s *Service) fetch(ctx context.Context, key ratesKey, c *call) {
	c.rates, c.err = s.get(ctx, key.tenantID, key.base)
	s.mu.Lock()
	delete(s.inFlight, key)
	if c.err == nil {
		if len(s.cached) >= entriesMax {
			clear(s.cached)
		}
		s.cached[key] = cachedRates{rates: c.rates, until: s.now().Add(s.lifetime)}
	}
	s.mu.Unlock()
	close(c.done)
}

func (s *Service) get(ctx context.Context, tenantID, base string) (Rates, error) {
	endpoint, err := s.url(ctx, tenantID)
	if err != nil {
		return Rates{}, err
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return Rates{}, fmt.Errorf("%w: exchange rates URL %q: %v", ErrCouldNotFetch, endpoint, err)
	}
	q := u.Query()
	q.Set("base", base)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Rates{}, fmt.Errorf("%w: %v", ErrCouldNotFetch, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return Rates{}, fmt.Errorf("%w: %v", ErrCouldNotFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Rates{}, fmt.Errorf("%w: %s answered %d", ErrCouldNotFetch, u.Redacted(), resp.StatusCode)
	}
	return decode(io.LimitReader(resp.Body, answerBytesMax))
}

// decode reads an answer: its base must be a string, its rates a map of
// numbers (a price that is not positive is refused when it is used).
func decode(r io.Reader) (Rates, error) {
	var raw struct {
		Base  json.RawMessage    `json:"base"`
		Rates map[string]float64 `json:"rates"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return Rates{}, fmt.Errorf("%w: %v", ErrCouldNotFetch, err)
	}
	if len(raw.Base) == 0 || string(raw.Base) == "null" || string(raw.Base) == `""` {
		return Rates{}, ErrMissingBaseAsset
	}
	var base string
	if err := json.Unmarshal(raw.Base, &base); err != nil {
		return Rates{}, ErrInvalidBaseAsset
	}
	return Rates{Base: base, Rates: raw.Rates}, nil
}

// url is the tenant's rates URL, else the operator's.
func (s *Service) url(ctx context.Context, tenantID string) (string, error) {
	if s.tenantURL != nil {
		u, err := s.tenantURL(ctx, tenantID)
		if err != nil {
			return "", fmt.Errorf("%w: tenant %s: %v", ErrCouldNotFetch, tenantID, err)
		}
		if u != "" {
			return u, nil
		}
	}
	if s.operatorURL == "" {
		return "", ErrMissingURL
	}
	return s.operatorURL, nil
}
