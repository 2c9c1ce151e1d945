package projections

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rafiki-go/rafiki/events"
)

// Quotes is the read model of quotes. A quote never changes once made.
type Quotes struct{}

func (Quotes) Name() string { return "quotes" }

func (Quotes) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS quotes (
			id                      uuid PRIMARY KEY,
			tenant_id               uuid NOT NULL,
			wallet_address_id       uuid NOT NULL,
			asset_id                uuid NOT NULL,
			asset_code              text NOT NULL,
			asset_scale             smallint NOT NULL,
			receiver                text NOT NULL,
			debit_amount            numeric(20) NOT NULL,
			debit_amount_minus_fees numeric(20) NOT NULL,
			receive_amount          numeric(20) NOT NULL,
			receive_asset_code      text NOT NULL,
			receive_asset_scale     smallint NOT NULL,
			estimated_exchange_rate double precision NOT NULL,
			fee_id                  uuid,
			method                  text NOT NULL,
			client                  text,
			expires_at              timestamptz NOT NULL,
			created_at              timestamptz NOT NULL,
			version                 bigint NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS quotes_page ON quotes (created_at, id)`,
		`CREATE INDEX IF NOT EXISTS quotes_wallet_address ON quotes (wallet_address_id, created_at, id)`,
	}
}

func (Quotes) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	if e, ok := ev.(*events.QuoteCreated); ok {
		b.Queue(`INSERT INTO quotes (id, tenant_id, wallet_address_id, asset_id, asset_code, asset_scale, receiver, debit_amount,
				debit_amount_minus_fees, receive_amount, receive_asset_code, receive_asset_scale, estimated_exchange_rate, fee_id,
				method, client, expires_at, created_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT (id) DO NOTHING`,
			env.AggregateID, env.TenantID, e.WalletAddressID, e.AssetID, e.AssetCode, int16(e.AssetScale), e.Receiver, e.DebitAmount,
			e.DebitAmountMinusFees, e.ReceiveAmount, e.ReceiveAssetCode, int16(e.ReceiveAssetScale), e.EstimatedExchangeRate, e.FeeID,
			e.Method, nullable(e.Client), e.ExpiresAt, env.Time, int64(env.Sequence))
	}
	return nil
}

// NewFold folds quotes in memory for a replay.
func (Quotes) NewFold() Fold { return &quotesFold{} }

type quoteRow struct {
	id, tenantID, walletAddressID, assetID pgtype.UUID
	assetCode                              string
	assetScale                             int16
	receiver                               string
	debitAmount, debitAmountMinusFees      uint64
	receiveAmount                          uint64
	receiveAssetCode                       string
	receiveAssetScale                      int16
	estimatedExchangeRate                  float64
	feeID                                  *pgtype.UUID
	method                                 string
	client                                 *string
	expiresAt, createdAt                   time.Time
	version                                int64
}

type quotesFold struct {
	quotes held[quoteRow]
}

func (f *quotesFold) Rows() int { return len(f.quotes.order) }

func (f *quotesFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	e, ok := ev.(*events.QuoteCreated)
	if !ok {
		return true, nil
	}
	q := &quoteRow{assetCode: e.AssetCode, assetScale: int16(e.AssetScale), receiver: e.Receiver, debitAmount: e.DebitAmount,
		debitAmountMinusFees: e.DebitAmountMinusFees, receiveAmount: e.ReceiveAmount, receiveAssetCode: e.ReceiveAssetCode,
		receiveAssetScale: int16(e.ReceiveAssetScale), estimatedExchangeRate: e.EstimatedExchangeRate, method: e.Method,
		client: nullable(e.Client), expiresAt: e.ExpiresAt, createdAt: env.Time, version: int64(env.Sequence)}
	var err error
	for _, u := range []struct {
		to   *pgtype.UUID
		from string
	}{{&q.id, env.AggregateID}, {&q.tenantID, env.TenantID}, {&q.walletAddressID, e.WalletAddressID}, {&q.assetID, e.AssetID}} {
		if *u.to, err = pgUUID(u.from); err != nil {
			return false, err
		}
	}
	if e.FeeID != nil {
		fee, err := pgUUID(*e.FeeID)
		if err != nil {
			return false, err
		}
		q.feeID = &fee
	}
	f.quotes.add(env.AggregateID, q)
	return true, nil
}

func (f *quotesFold) Flush() []CopyRows {
	qs := f.quotes.take()
	return []CopyRows{
		copyRows("quotes", []string{"id", "tenant_id", "wallet_address_id", "asset_id", "asset_code", "asset_scale", "receiver",
			"debit_amount", "debit_amount_minus_fees", "receive_amount", "receive_asset_code", "receive_asset_scale",
			"estimated_exchange_rate", "fee_id", "method", "client", "expires_at", "created_at", "version"}, qs, func(q *quoteRow, v []any) {
			v[0], v[1], v[2], v[3], v[4], v[5], v[6] = &q.id, &q.tenantID, &q.walletAddressID, &q.assetID, &q.assetCode, &q.assetScale, &q.receiver
			v[7], v[8], v[9], v[10], v[11] = &q.debitAmount, &q.debitAmountMinusFees, &q.receiveAmount, &q.receiveAssetCode, &q.receiveAssetScale
			v[12], v[13], v[14], v[15], v[16], v[17], v[18] = &q.estimatedExchangeRate, q.feeID, &q.method, q.client, &q.expiresAt, &q.createdAt, &q.version
		}),
	}
}
