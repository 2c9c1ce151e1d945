package rates

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ratesServer answers body to GET ?base=, counting requests; release, when
// set, holds each answer until it is closed.
type ratesServer struct {
	*httptest.Server
	hits    atomic.Int64
	release chan struct{}
}

func newRatesServer(t *testing.T, status int, body func(base string) string) *ratesServer {
	t.Helper()
	s := &ratesServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.release != nil {
			<-s.release
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body(r.URL.Query().Get("base"))))
	}))
	t.Cleanup(s.Close)
	return s
}

func usdRates(base string) string {
	return `{"base":"` + base + `","rates":{"EUR":0.5,"XRP":2,"ZERO":0,"NEG":-1}}`
}

var (
	usd2 = Asset{Code: "USD", Scale: 2}
	usd9 = Asset{Code: "USD", Scale: 9}
	eur2 = Asset{Code: "EUR", Scale: 2}
	xrp6 = Asset{Code: "XRP", Scale: 6}
)

func TestConvert(t *testing.T) {
	srv := newRatesServer(t, http.StatusOK, usdRates)
	s := New(srv.URL, nil, time.Minute, srv.Client())
	ctx := context.Background()
	for _, c := range []struct {
		name        string
		destination bool
		amount      uint64
		from, to    Asset
		want        uint64
		rate        float64
		err         error
	}{
		{"same asset", false, 123, usd2, usd2, 123, 1, nil},
		{"same code, finer scale", false, 123, usd2, usd9, 1_230_000_000, 1e7, nil},
		{"same code, coarser scale, rounded down", false, 1_234_567_891, usd9, usd2, 123, 1e-7, nil},
		{"same code, coarser scale, rounded up", true, 123, usd9, usd2, 1_230_000_000, 1e-7, nil},
		{"source rounded down", false, 101, usd2, eur2, 50, 0.5, nil},
		{"destination rounded up", true, 101, usd2, eur2, 202, 0.5, nil},
		{"scale and rate", false, 3, usd2, xrp6, 60_000, 20_000, nil},
		{"scale and rate, destination", true, 60_001, usd2, xrp6, 4, 20_000, nil},
		{"no price", false, 1, usd2, Asset{Code: "GBP", Scale: 2}, 0, 0, ErrInvalidDestinationPrice},
		{"zero price", false, 1, usd2, Asset{Code: "ZERO", Scale: 2}, 0, 0, ErrInvalidDestinationPrice},
		{"negative price", false, 1, usd2, Asset{Code: "NEG", Scale: 2}, 0, 0, ErrInvalidDestinationPrice},
		{"too large", false, 1 << 63, usd2, usd9, 0, 0, ErrAmountTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			convert := s.ConvertSource
			if c.destination {
				convert = s.ConvertDestination
			}
			got, err := convert(ctx, "t1", c.amount, c.from, c.to)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err == nil && (got.Amount != c.want || got.ScaledExchangeRate != c.rate) {
				t.Fatalf("got %+v, want %d at %g", got, c.want, c.rate)
			}
		})
	}
	if srv.hits.Load() != 1 {
		t.Fatalf("%d requests for one tenant and base within the lifetime, want 1", srv.hits.Load())
	}
}

func TestRatesAreKeptForTheirLifetime(t *testing.T) {
	srv := newRatesServer(t, http.StatusOK, usdRates)
	s := New(srv.URL, nil, 15*time.Second, srv.Client())
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	for _, step := range []struct {
		tenant, base string
		advance      time.Duration
		hits         int64
	}{
		{"t1", "USD", 0, 1},
		{"t1", "USD", 14 * time.Second, 1},
		{"t2", "USD", 0, 2},
		{"t1", "EUR", 0, 3},
		{"t1", "USD", time.Second, 4},
	} {
		now = now.Add(step.advance)
		r, err := s.Rates(ctx, step.tenant, step.base)
		if err != nil || r.Base != step.base || r.Rates["EUR"] != 0.5 {
			t.Fatalf("%+v: %+v %v", step, r, err)
		}
		if got := srv.hits.Load(); got != step.hits {
			t.Fatalf("%+v: %d requests, want %d", step, got, step.hits)
		}
	}
}

func TestConcurrentCallersShareOneRequest(t *testing.T) {
	srv := newRatesServer(t, http.StatusOK, usdRates)
	srv.release = make(chan struct{})
	s := New(srv.URL, nil, time.Minute, srv.Client())
	const callers = 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	gaveUp, giveUp := context.WithCancel(context.Background())
	for i := range callers {
		ctx := context.Background()
		if i == 0 {
			ctx = gaveUp
		}
		wg.Go(func() {
			r, err := s.Rates(ctx, "t1", "USD")
			if i == 0 {
				if !errors.Is(err, context.Canceled) {
					errs <- errors.New("the caller that gave up was answered")
				}
				return
			}
			if err != nil || r.Rates["XRP"] != 2 {
				errs <- err
			}
		})
	}
	for srv.hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	giveUp()
	time.Sleep(20 * time.Millisecond)
	close(srv.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("%d requests for %d concurrent callers, want 1", got, callers)
	}
}

func TestRatesURL(t *testing.T) {
	operator := newRatesServer(t, http.StatusOK, usdRates)
	tenant := newRatesServer(t, http.StatusOK, func(base string) string { return `{"base":"` + base + `","rates":{"EUR":0.25}}` })
	tenantURLs := func(_ context.Context, tenantID string) (string, error) {
		switch tenantID {
		case "own":
			return tenant.URL + "/rates?x=1", nil
		case "broken":
			return "", errors.New("settings unavailable")
		}
		return "", nil
	}
	s := New(operator.URL, tenantURLs, time.Minute, http.DefaultClient)
	ctx := context.Background()
	if r, err := s.Rates(ctx, "own", "USD"); err != nil || r.Rates["EUR"] != 0.25 {
		t.Fatalf("tenant's own URL: %+v %v", r, err)
	}
	if r, err := s.Rates(ctx, "other", "USD"); err != nil || r.Rates["EUR"] != 0.5 {
		t.Fatalf("operator's URL: %+v %v", r, err)
	}
	if _, err := s.Rates(ctx, "broken", "USD"); !errors.Is(err, ErrCouldNotFetch) {
		t.Fatalf("tenant settings failing: %v", err)
	}
	if _, err := New("", nil, time.Minute, http.DefaultClient).Rates(ctx, "t", "USD"); !errors.Is(err, ErrMissingURL) {
		t.Fatalf("no URL at all: %v", err)
	}
}

func TestBadAnswers(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		err    error
	}{
		{"not 200", http.StatusCreated, usdRates("USD"), ErrCouldNotFetch},
		{"server error", http.StatusInternalServerError, `{}`, ErrCouldNotFetch},
		{"not JSON", http.StatusOK, `<html>`, ErrCouldNotFetch},
		{"rates not numbers", http.StatusOK, `{"base":"USD","rates":{"EUR":"0.5"}}`, ErrCouldNotFetch},
		{"no base", http.StatusOK, `{"rates":{"EUR":0.5}}`, ErrMissingBaseAsset},
		{"empty base", http.StatusOK, `{"base":"","rates":{}}`, ErrMissingBaseAsset},
		{"base a number", http.StatusOK, `{"base":1,"rates":{}}`, ErrInvalidBaseAsset},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newRatesServer(t, c.status, func(string) string { return c.body })
			s := New(srv.URL, nil, time.Minute, srv.Client())
			if _, err := s.Rates(context.Background(), "t", "USD"); !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			// A failure is not kept: the next call asks again.
			_, _ = s.Rates(context.Background(), "t", "USD")
			if srv.hits.Load() != 2 {
				t.Fatalf("%d requests, want 2", srv.hits.Load())
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{usdRates("USD"), `{"base":1}`, `{}`, `{"base":"X","rates":{"A":1e308}}`, `null`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r, err := decode(strings.NewReader(body))
		if err == nil && r.Base == "" {
			t.Fatalf("accepted %q without a base", body)
		}
	})
}
