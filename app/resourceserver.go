package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/introspection"
	"github.com/rafiki-go/rafiki/openpayments"
	"github.com/rafiki-go/rafiki/outbound"
	"github.com/rafiki-go/rafiki/projections"
)

// OpenPaymentsHandler is the Open Payments listener: the resource server's
// routes (incoming payments, quotes, outgoing payments), each request's token introspected at
// AUTH_SERVER_INTROSPECTION_URL and its signature checked with its client's
// key, and wallet address documents for every other path. The introspection
// cache follows the grant events until ctx ends.
func (b *Backend) OpenPaymentsHandler(ctx context.Context, d *Deps) (http.Handler, error) {
	cfg := d.Config
	base, err := url.Parse(cfg.OpenPaymentsURL)
	if err != nil {
		return nil, fmt.Errorf("OPEN_PAYMENTS_URL: %w", err)
	}
	answers := introspection.NewCache[introspection.Info]()
	if err := answers.Follow(ctx, d.NC); err != nil {
		return nil, err
	}
	client := outbound.NewClient(outbound.Options{UseHTTP: cfg.UseHTTP})
	guard := openpayments.NewGuard(
		introspection.NewClient(cfg.AuthServerIntrospectionURL, &http.Client{Timeout: cfg.RequestTimeout}, answers),
		httpsig.NewJWKSFetcher(httpsig.FetcherOptions{Client: client}),
		httpsig.Options{PublicBaseURL: base, AlsoHTTP: cfg.UseHTTP, Replay: httpsig.RedisReplayGuard{Redis: d.Redis, Prefix: "op:signature:"}},
		cfg.AuthServerGrantURL)
	r := chi.NewRouter()
	opCfg := openpayments.Config{OpenPaymentsURL: cfg.OpenPaymentsURL, AuthServerGrantURL: cfg.AuthServerGrantURL, ILPAddress: cfg.ILPAddress,
		IncomingPaymentVisible: func(ctx context.Context, sequence uint64) error {
			return b.Waiter.Wait(ctx, projections.IncomingPayments{}.Name(), sequence, cfg.ReadYourWritesTimeout)
		}}
	openpayments.NewIncomingPayments(guard, b.IncomingPayments, b.Read, d.StreamCredentials, opCfg, d.Log).Mount(r)
	openpayments.NewQuotes(guard, b.Quotes, b.Read, opCfg, d.Log).Mount(r)
	openpayments.NewOutgoingPayments(guard, b.OutgoingPayments, b.Read, opCfg, d.Log).Mount(r)
	r.NotFound(b.WalletServer.ServeHTTP)
	r.MethodNotAllowed(b.WalletServer.ServeHTTP)
	return r, nil
}
