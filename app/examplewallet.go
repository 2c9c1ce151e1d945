package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/examplewallet"
)

// aimAtExampleWallet makes the example wallet the recipient of webhooks and
// the exchange rates service, where the configuration names none, and signs
// webhooks with a secret of this process when SIGNATURE_SECRET is unset.
func (r *Running) aimAtExampleWallet() error {
	addr, ok := r.Servers.Addr(ExampleWalletListener)
	if !ok {
		return fmt.Errorf("no listener %q", ExampleWalletListener)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	base := "http://localhost:" + port
	if r.Config.WebhookURL == "" {
		r.Config.WebhookURL = base + "/webhooks"
	}
	if r.Config.ExchangeRatesURL == "" {
		r.Config.ExchangeRatesURL = base + "/rates"
	}
	if r.Config.SignatureSecret == "" {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		r.Config.SignatureSecret = hex.EncodeToString(secret)
	}
	return nil
}

// seedAttempts and seedRetry bound the seeding of the demo accounts, which
// waits for the projections of a store just made.
const (
	seedAttempts = 30
	seedRetry    = time.Second
)

// exampleWalletAdmin is the operator's client of the admin API: this
// process's, or GRAPHQL_URL's, or the one on ADMIN_PORT of this host.
func (r *Running) exampleWalletAdmin() *adminclient.Client {
	admin := &adminclient.Client{URL: "http://localhost:" + strconv.Itoa(r.Config.AdminPort) + "/graphql",
		TenantID: r.Config.OperatorTenantID, Secret: r.Config.AdminAPISecret}
	if addr, ok := r.Servers.Addr(AdminListener); ok {
		admin.URL = "http://" + addr + "/graphql"
	} else if r.Config.GraphQLURL != "" {
		admin.URL = r.Config.GraphQLURL
	}
	return admin
}

// serveExampleWallet serves the example wallet, signing its admin calls as
// the operator.
func (r *Running) serveExampleWallet() *examplewallet.Wallet {
	w := examplewallet.New(examplewallet.Config{Admin: r.exampleWalletAdmin(),
		SignatureSecret: r.Config.SignatureSecret, SignatureVersion: r.Config.SignatureVersion,
		Rates: examplewallet.Demo.Rates, Log: r.log.With("listener", ExampleWalletListener)})
	r.Servers.Handle(ExampleWalletListener, w)
	return w
}

// seedExampleWallet seeds the demo accounts in the background, trying
// again while the backend's read models catch up, until the process stops;
// the wallet then creates wallet addresses not found in USD.
func (r *Running) seedExampleWallet(w *examplewallet.Wallet) {
	ctx, cancel := context.WithCancel(context.Background())
	stop := r.cancelWork
	r.cancelWork = func() {
		cancel()
		if stop != nil {
			stop()
		}
	}
	log := r.log.With("listener", ExampleWalletListener)
	admin := r.exampleWalletAdmin()
	r.background.Go(func() {
		for attempt := 1; ; attempt++ {
			ids, err := examplewallet.Seed(ctx, admin, examplewallet.Demo.Assets, examplewallet.Demo.Accounts)
			if err == nil {
				w.SetAssetID(ids["USD"])
				log.Info("demo accounts ready", "accounts", len(examplewallet.Demo.Accounts))
				return
			}
			if attempt == seedAttempts || ctx.Err() != nil {
				log.Error("demo accounts not seeded", "err", err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(seedRetry):
			}
		}
	})
}
