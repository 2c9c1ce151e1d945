package app

import (
	"context"
	"fmt"

	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/peers"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/outbound"
	"github.com/rafiki-go/rafiki/rates"
)

// packetsPerMinute is how many packets one incoming peer may send a minute,
// as Rafiki's connector allows.
const packetsPerMinute = 10_000

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
	client := outbound.NewClient(outbound.Options{UseHTTP: d.Config.UseHTTP})
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
