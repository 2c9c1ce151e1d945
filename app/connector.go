package app

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/outcomes"
	"github.com/rafiki-go/rafiki/connector/peers"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/rates"
	"github.com/rafiki-go/rafiki/readmodel"
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
// every peer stored before it was called. Money for this instance's STREAM
// credentials goes to the incoming payments and wallet addresses of b; what
// it brings to incoming payments is told to the workers by the publisher
// returned, which the caller runs.
func NewConnector(ctx context.Context, d *Deps, b *Backend) (*connector.Connector, *outcomes.Publisher, error) {
	table := peers.NewTable()
	last := func(ctx context.Context, subject string) (uint64, error) {
		_, seq, _, err := d.Store.Last(ctx, subject)
		return seq, err
	}
	if err := table.Follow(ctx, d.JS, EventsStream, d.Keys, last, d.Log); err != nil {
		return nil, nil, err
	}
	published, err := outcomes.NewPublisher(d.NC, d.Log)
	if err != nil {
		return nil, nil, err
	}
	locals := &receivers{read: b.Read, assets: table, cached: map[uuid.UUID]cachedReceiver{}}
	cfg := connector.Config{ILPAddress: d.Config.ILPAddress, RatePerMinute: packetsPerMinute,
		Stream: d.StreamCredentials, Receivers: locals, Outcomes: creditedOutcomes{published, locals}, Totals: streamTotals{d.Redis},
		Debits: newPeerDebits(ctx, b.Liquidity, d.Log)}
	if d.Config.PartialPaymentDecision {
		cfg.Partial = newPartialDecisions(d)
	}
	conn := connector.New(cfg, table, b.Rates, d.Ledger, b.settingsClient, d.Log)
	b.probes.conn.Store(conn)
	b.payer.route.Store(&paymentRoute{conn: conn, locals: locals})
	return conn, published, nil
}

// settingsClient is the HTTP client for what the operator and tenants
// configure: rates services and peers, often on a private network (a rates
// service, a connector in the same cluster), unlike the wallet addresses
// the outbound guard is for.
func settingsClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = peerConnectionsIdleMax
	transport.MaxResponseHeaderBytes = responseHeaderBytesMax
	return &http.Client{Timeout: peerTimeout, Transport: transport}
}

// receiverHold is how long a receiver found is used without reading it
// again, and receiversMax how many are kept: a stream sends many packets to
// one receiver. A payment closed meanwhile still refuses the money itself
// (its handler decides); a wallet address deactivated meanwhile may receive
// for this long.
const (
	receiverHold = time.Second
	receiversMax = 10_000
)

// receivers finds the incoming payment or wallet address a STREAM tag
// names in the read models, keeping what it found for a moment.
type receivers struct {
	read   *readmodel.Reader
	assets *peers.Table
	mu     sync.Mutex
	cached map[uuid.UUID]cachedReceiver
}

type cachedReceiver struct {
	local connector.Local
	until time.Time
	// incomingAmount is an incoming payment's amount, 0 when it has none;
	// received what the ledger held as received when it was read, and what
	// packets brought since.
	incomingAmount, received uint64
}

// creditedOutcomes tells the workers what a packet brought to an incoming
// payment, and the receivers: a payment whose amount is reached refuses
// the next packet at once, rather than once its record caught up (a
// moment later, off the packet's path), when the money would stay in its
// account with nobody told.
type creditedOutcomes struct {
	*outcomes.Publisher
	locals *receivers
}

func (c creditedOutcomes) Received(tenantID, incomingPaymentID string, amount uint64) {
	c.locals.credited(incomingPaymentID, amount)
	c.Publisher.Received(tenantID, incomingPaymentID, amount)
}

// credited counts what a packet brought to a receiver kept, and closes an
// incoming payment whose amount it reached.
func (l *receivers) credited(incomingPaymentID string, amount uint64) {
	id, err := uuid.Parse(incomingPaymentID)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cached[id]
	if !ok {
		return
	}
	c.received = satAdd(c.received, amount)
	if c.incomingAmount > 0 && c.received >= c.incomingAmount {
		c.local.Closed = true
	}
	l.cached[id] = c
}

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func (l *receivers) Receiver(ctx context.Context, id uuid.UUID) (connector.Local, bool, error) {
	now := time.Now()
	l.mu.Lock()
	c, ok := l.cached[id]
	l.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.local, true, nil
	}
	c, found, err := l.find(ctx, id)
	if err != nil || !found {
		return c.local, found, err
	}
	c.until = now.Add(receiverHold)
	l.mu.Lock()
	if len(l.cached) >= receiversMax {
		clear(l.cached)
	}
	l.cached[id] = c
	l.mu.Unlock()
	return c.local, true, nil
}

// find reads a receiver. An incoming payment whose amount the ledger holds
// already is closed, though its record may not say COMPLETED yet.
func (l *receivers) find(ctx context.Context, id uuid.UUID) (cachedReceiver, bool, error) {
	ip, err := l.read.IncomingPayment(ctx, id.String(), nil)
	if err != nil {
		return cachedReceiver{}, false, err
	}
	if ip != nil {
		c := cachedReceiver{received: ip.ReceivedAmount}
		if ip.IncomingAmount != nil {
			c.incomingAmount = *ip.IncomingAmount
		}
		// A cancelled payment takes no more money: no one would withdraw it.
		closed := ip.State == incomingpayment.StateCompleted || ip.State == incomingpayment.StateExpired ||
			ip.CancelledAt != nil || (c.incomingAmount > 0 && c.received >= c.incomingAmount)
		local, found, err := l.local(id, ledger.Incoming, ip.TenantID, ip.AssetID, ip.ID, closed)
		local.ExpiresAt = ip.ExpiresAt
		c.local = local
		return c, found, err
	}
	wa, err := l.read.WalletAddress(ctx, id.String(), nil)
	if err != nil || wa == nil {
		return cachedReceiver{}, false, err
	}
	local, found, err := l.local(id, ledger.WebMonetization, wa.TenantID, wa.AssetID, "", !wa.Active())
	return cachedReceiver{local: local}, found, err
}

// payment is the receiver a local outgoing payment pays, as the send read
// it from the incoming payment's events. A receiver that names no payment
// is final; an asset not known yet is not.
func (l *receivers) payment(r quote.Receiver) (connector.Local, error) {
	id, err := uuid.Parse(r.LocalPaymentID)
	if err != nil {
		return connector.Local{}, fmt.Errorf("%w: receiver %q names no incoming payment", outgoingpayment.ErrFinal, r.URL)
	}
	local, _, err := l.local(id, ledger.Incoming, r.LocalTenantID, r.LocalAssetID, r.LocalPaymentID, !r.Active)
	return local, err
}

func (l *receivers) local(id uuid.UUID, kind ledger.AccountType, tenantID, assetID, incomingPaymentID string, closed bool) (connector.Local, bool, error) {
	a, ok := l.assets.Asset(assetID)
	if !ok {
		return connector.Local{}, false, fmt.Errorf("asset %s of receiver %s unknown", assetID, id)
	}
	assetUUID, err := uuid.Parse(assetID)
	if err != nil {
		return connector.Local{}, false, fmt.Errorf("asset id %q: %w", assetID, err)
	}
	return connector.Local{Account: ledger.Account{ID: id, Type: kind, AssetID: assetUUID, Ledger: a.Ledger}, Asset: a,
		TenantID: tenantID, IncomingPaymentID: incomingPaymentID, Closed: closed}, true, nil
}

// streamTotalsTTL is how long a connection's total is kept after its last
// packet, as Rafiki keeps it.
const streamTotalsTTL = 10 * time.Minute

// streamTotals keeps each STREAM connection's total received in Redis
// (stream_received:<connection id>), shared by every backend.
type streamTotals struct{ redis *redis.Client }

func (s streamTotals) Add(ctx context.Context, connectionID string, amount uint64) (uint64, error) {
	key := "stream_received:" + connectionID
	pipe := s.redis.TxPipeline()
	total := pipe.IncrBy(ctx, key, int64(min(amount, math.MaxInt64)))
	pipe.Expire(ctx, key, streamTotalsTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("stream total %s: %w", connectionID, err)
	}
	return uint64(max(total.Val(), 0)), nil
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
