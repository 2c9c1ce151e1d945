package readmodel

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Payment is an entry of the combined list of payments of every kind.
type Payment struct {
	ID              string
	Type            string // PaymentIncoming or PaymentOutgoing
	TenantID        string
	WalletAddressID string
	State           string // a state of the payment's kind
	Client          *string
	Metadata        json.RawMessage
	CreatedAt       time.Time
}

// The kinds of payment, as Rafiki's PaymentType.
const (
	PaymentIncoming = "INCOMING"
	PaymentOutgoing = "OUTGOING"
)

// PaymentFilter narrows the combined payments list; empty fields do not.
type PaymentFilter struct {
	TenantScope *string
	// TypeIn and WalletAddressIDIn keep the payments of these kinds and
	// wallet addresses.
	TypeIn, WalletAddressIDIn []string
}

// paymentKinds are the read models the combined list is made of, each a
// SELECT of the list's columns.
var paymentKinds = []string{
	`SELECT id, tenant_id, wallet_address_id, state, client, metadata, created_at, '` + PaymentIncoming + `' AS type
		FROM rm_incoming_payments.incoming_payments WHERE deleted_at IS NULL`,
	`SELECT id, tenant_id, wallet_address_id, state, client, metadata, created_at, '` + PaymentOutgoing + `' AS type
		FROM rm_outgoing_payments.outgoing_payments`,
}

var paymentsTable = "(" + strings.Join(paymentKinds, " UNION ALL ") + ") AS payments"

const paymentColumns = `id::text, type, tenant_id::text, wallet_address_id::text, state, client, metadata, created_at`

func scanPayment(row pgx.Row) (Payment, string, error) {
	var p Payment
	var metadata []byte
	err := row.Scan(&p.ID, &p.Type, &p.TenantID, &p.WalletAddressID, &p.State, &p.Client, &metadata, &p.CreatedAt)
	p.Metadata = metadata
	return p, p.ID, err
}

// Payments lists payments of every kind but deleted ones, as f narrows
// them. A wallet address id that is no UUID matches no payment.
func (r *Reader) Payments(ctx context.Context, f PaymentFilter, p Page) ([]Payment, PageInfo, error) {
	var walletAddressIDs []string
	for _, v := range f.WalletAddressIDIn {
		if id, err := uuid.Parse(v); err == nil {
			walletAddressIDs = append(walletAddressIDs, id.String())
		}
	}
	q := listQuery{table: paymentsTable, columns: paymentColumns,
		where: `($1::uuid IS NULL OR tenant_id = $1::uuid) AND (cardinality($2::text[]) = 0 OR type = ANY($2::text[]))
			AND (NOT $3::boolean OR wallet_address_id = ANY($4::text[]::uuid[]))`,
		owner: `($1::uuid IS NULL OR tenant_id = $1::uuid) AND (NOT $3::boolean OR wallet_address_id = ANY($4::text[]::uuid[]))`,
		args:  []any{f.TenantScope, nonNil(f.TypeIn), len(f.WalletAddressIDIn) > 0, nonNil(walletAddressIDs)}}
	return pageOf(ctx, r.pool, q, p, scanPayment)
}
