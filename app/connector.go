package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/peers"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/rates"
)

// packetsPerMinute is how many packets one incoming peer may send a minute,
// as Rafiki's connector allows; peerTimeout bounds a request to a peer or
// a rates service, as Rafiki's (a packet's own expiry is shorter).
const (
	packetsPerMinute = 10_000
	peerTimeout      = 30 * time.Second
	// Packets to one peer keep this many connections open between them.
	peerConnectionsIdleMax = 64
)

// NewConnector builds the ILP connector on open connections, its peers and
// assets followed from their events until ctx ends; it returns once it knows
// every peer stored before it was called.
func NewConnector(ctx context.Context, d *Deps) (*connector.Connector, error) {
	table := peers.NewTable()
	last := func(ctx context.Context, subject string) (uint64, error) {
		_, seq, _, err := d.Store.Last(ctx, subject)
		return seq, err
	}
	if err := table.Follow(ctx, d.JS, EventsStream, d.Keys, last, d.Log); err != nil {
		return nil, err
	}
	// Rates and peers are the operator's and tenants' own settings, often
	// on a private network (a rates service, a connector in the same
	// cluster), unlike the wallet addresses the outbound guard is for.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = peerConnectionsIdleMax
	client := &http.Client{Timeout: peerTimeout, Transport: transport}
	r := rates.New(d.Config.ExchangeRatesURL, tenantRatesURL(d), d.Config.ExchangeRatesLifetime, client)
	return connector.New(connector.Config{ILPAddress: d.Config.ILPAddress, RatePerMinute: packetsPerMinute},
		table, r, d.Ledger, client, d.Log), nil
}

// tenantRatesURL reads a tenant's EXCHANGE_RATES_URL setting from its
// events; the rates service keeps what it fetched, so this runs once a
// rates lifetime for each tenant and base.
func tenantRatesURL(d *Deps) rates.TenantURL {
	cache := handlers.NewStateCache(tenant.Evolve)
	store := handlers.SealSecrets(d.Store, d.Keys)
	return func(ctx context.Context, tenantID string) (string, error) {
		subject, err := tenant.Subject(tenantID)
		if err != nil {
			return "", err
		}
		s, _, err := cache.Load(ctx, store, subject)
		if err != nil {
			return "", fmt.Errorf("tenant %s: %w", tenantID, err)
		}
		return s.Settings[tenant.SettingExchangeRatesURL], nil
	}
}
