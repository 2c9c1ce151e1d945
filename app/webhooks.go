package app

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/webhooks"
)

// Webhook deliveries under way at once in a worker, at most how many of
// them one recipient's once its last attempt succeeded, and how many before
// (none yet in this process, or the last one failed). One recipient may
// take hundreds a second (the funded payments workload: three per payment)
// while a saturated machine makes each delivery last tens of
// milliseconds: at 16 under way its events waited 250 ms for a slot.
const (
	webhookSlots                = 64
	webhookPerRecipient         = 32
	webhookPerUnprovenRecipient = 4
	// responseHeaderBytesMax bounds the headers of an answer from a
	// configured endpoint (a recipient, a rates service, a peer), as the
	// dispatcher bounds the body it reads: net/http's own bound is 10 MB,
	// which each delivery under way could hold.
	responseHeaderBytesMax = 64 << 10
)

// RunWebhooks delivers webhook events until ctx ends. Any number of
// workers may: each delivery is leased to one of them at a time.
func (d *Deps) RunWebhooks(ctx context.Context) (*webhooks.Dispatcher, *sync.WaitGroup) {
	// Webhook URLs are the operator's and tenants' own settings, often an
	// address on their private network, like their rates services (see
	// NewConnector), not other wallets' URLs, which package outbound guards.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Tenants without a WEBHOOK_URL of their own share the operator's, one
	// host: a connection kept for every delivery that may be under way, so
	// that none is opened and closed for each.
	transport.MaxIdleConnsPerHost = webhookSlots
	transport.MaxResponseHeaderBytes = responseHeaderBytesMax
	// A redirect is an answer other than 200, so an attempt that failed:
	// followed, it would re-post the signed event to wherever the endpoint
	// names (a 307), or turn it into a GET whose 200 delivers nothing (a
	// 302).
	client := &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	dispatcher := webhooks.New(d.Pool, webhooks.Config{
		OperatorTenantID: d.Config.OperatorTenantID, SendToOperator: d.Config.SendTenantWebhooksToOperator,
		URL: d.Config.WebhookURL, Timeout: d.Config.WebhookTimeout, MaxRetry: d.Config.WebhookMaxRetry,
		SignatureSecret: d.Config.SignatureSecret, SignatureVersion: d.Config.SignatureVersion,
		RetryStep: d.Config.WebhookRetryBackoff, Idle: d.Config.WebhookWorkerIdle,
		// New webhook events wake the dispatcher, wherever the webhooks
		// projection runs, so that a quiet system delivers them at once
		// rather than at its next look (WEBHOOK_WORKER_IDLE).
		Wake:  d.Checkpoints.Advances(ctx, projections.Webhooks{}.Name()),
		Slots: webhookSlots, PerRecipient: webhookPerRecipient, PerUnprovenRecipient: webhookPerUnprovenRecipient,
		Reveal: revealWebhookData(d),
	}, tenantWebhookSettings(d), client, d.Log)
	var wg sync.WaitGroup
	wg.Go(func() { dispatcher.Run(ctx) })
	return dispatcher, &wg
}

// overdueAfter is how long a delivery may be due without being attempted
// before readiness tells of it.
const overdueAfter = time.Minute

// WebhooksCheck fails while the dispatcher is stuck (its sweep or leases
// failing, or its loop not going round, for 10 s), and tells of the
// deliveries due for more than a minute, which does not fail it: they wait
// for slots, which recipients that fail hold few of (see
// docs/ARCHITECTURE.md, Webhooks).
func WebhooksCheck(d *webhooks.Dispatcher, pool *pgxpool.Pool) Check {
	return Check{Name: "webhooks", Run: func(ctx context.Context) error {
		if why := d.Status().Stuck(time.Now()); why != "" {
			return fmt.Errorf("webhook dispatcher is stuck: %s", why)
		}
		var overdue int
		var oldest *time.Time
		if err := pool.QueryRow(ctx, `SELECT count(*), min(process_at) FROM webhook_deliveries WHERE process_at <= now() - $1::bigint * interval '1 millisecond'`,
			overdueAfter.Milliseconds()).Scan(&overdue, &oldest); err != nil {
			return fmt.Errorf("webhook deliveries: %w", err)
		}
		if overdue == 0 {
			return nil
		}
		return Note(fmt.Sprintf("%d webhook deliveries due for more than %s, the oldest since %s", overdue, overdueAfter,
			oldest.UTC().Format(time.RFC3339)))
	}}
}

// tenantWebhookSettings reads a recipient tenant's settings from its
// events, so that a changed WEBHOOK_URL holds from the next lease.
func tenantWebhookSettings(d *Deps) webhooks.Settings {
	cache := handlers.NewStateCache(tenant.Evolve)
	store := handlers.SealSecrets(d.Store, d.Keys)
	return func(ctx context.Context, tenantID string) (map[string]string, error) {
		subject, err := tenant.Subject(tenantID)
		if err != nil {
			return nil, err
		}
		s, _, err := cache.Load(ctx, store, subject)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", tenantID, err)
		}
		return s.Settings, nil
	}
}

// walletAddressMisses records the lookups of wallet addresses that do not
// exist, for the wallet_address.not_found webhook.
func walletAddressMisses(d *Deps) func(ctx context.Context, url string) error {
	misses := walletaddress.NewMisses(d.Store, d.Config.OperatorTenantID)
	return func(ctx context.Context, url string) error {
		_, err := misses.NotFound(ctx, url, time.Now())
		return err
	}
}
