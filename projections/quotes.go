package projections

import (
	"github.com/jackc/pgx/v5"

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
