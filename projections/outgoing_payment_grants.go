package projections

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rafiki-go/rafiki/events"
)

// OutgoingPaymentGrants is the read model of what outgoing payments took of
// their grants' limits: one row per payment, what it holds of its grant
// (what it took less what it gave back), in the interval it was made in
// when the limits repeat. A projection of its own, apart from
// OutgoingPayments, since a projection reads one subject filter and the
// grants' spending has subjects of its own.
type OutgoingPaymentGrants struct{}

func (OutgoingPaymentGrants) Name() string { return "outgoing_payment_grants" }

func (OutgoingPaymentGrants) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS grant_spends (
			outgoing_payment_id uuid PRIMARY KEY,
			grant_id            text NOT NULL,
			tenant_id           uuid NOT NULL,
			debit_amount        numeric(20) NOT NULL,
			receive_amount      numeric(20) NOT NULL,
			interval_start      timestamptz,
			interval_end        timestamptz,
			created_at          timestamptz NOT NULL,
			created_version     bigint NOT NULL,
			version             bigint NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS grant_spends_grant ON grant_spends (grant_id, created_version)`,
	}
}

func (OutgoingPaymentGrants) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	seq := int64(env.Sequence)
	switch e := ev.(type) {
	case *events.OutgoingPaymentGrantSpent:
		b.Queue(`INSERT INTO grant_spends (outgoing_payment_id, grant_id, tenant_id, debit_amount, receive_amount, interval_start,
				interval_end, created_at, created_version, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (outgoing_payment_id) DO NOTHING`,
			e.OutgoingPaymentID, env.AggregateID, env.TenantID, e.DebitAmount, e.ReceiveAmount, e.IntervalStart, e.IntervalEnd,
			env.Time, seq)
	case *events.OutgoingPaymentGrantReleased:
		// What is given back never takes a spend below nothing, as the
		// grant's own state counts it.
		b.Queue(`UPDATE grant_spends SET debit_amount = debit_amount - LEAST(debit_amount, $3),
				receive_amount = receive_amount - LEAST(receive_amount, $4), version = $5
			WHERE outgoing_payment_id = $1 AND grant_id = $2`,
			e.OutgoingPaymentID, env.AggregateID, e.DebitAmount, e.ReceiveAmount, seq)
	}
	return nil
}

// NewFold folds grants' spending in memory for a replay.
func (OutgoingPaymentGrants) NewFold() Fold { return &grantSpendsFold{} }

type grantSpendRow struct {
	paymentID, tenantID        pgtype.UUID
	grantID                    string
	debitAmount, receiveAmount uint64
	intervalStart, intervalEnd *time.Time
	createdAt                  time.Time
	createdVersion, version    int64
}

// grantSpendsFold holds each payment's spend, from the event that records
// it: a spend is the fold's aggregate, though its events are its grant's.
type grantSpendsFold struct {
	spends held[grantSpendRow]
}

func (f *grantSpendsFold) Rows() int { return len(f.spends.order) }

func (f *grantSpendsFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	seq := int64(env.Sequence)
	switch e := ev.(type) {
	case *events.OutgoingPaymentGrantSpent:
		s := &grantSpendRow{grantID: env.AggregateID, debitAmount: e.DebitAmount, receiveAmount: e.ReceiveAmount,
			intervalStart: e.IntervalStart, intervalEnd: e.IntervalEnd, createdAt: env.Time, createdVersion: seq, version: seq}
		var err error
		if s.paymentID, err = pgUUID(e.OutgoingPaymentID); err != nil {
			return false, err
		}
		if s.tenantID, err = pgUUID(env.TenantID); err != nil {
			return false, err
		}
		f.spends.add(e.OutgoingPaymentID, s)
	case *events.OutgoingPaymentGrantReleased:
		s, ok := f.spends.get(e.OutgoingPaymentID)
		if !ok || s.grantID != env.AggregateID {
			return false, nil
		}
		s.debitAmount -= min(s.debitAmount, e.DebitAmount)
		s.receiveAmount -= min(s.receiveAmount, e.ReceiveAmount)
		s.version = seq
	}
	return true, nil
}

func (f *grantSpendsFold) Flush() []CopyRows {
	ss := f.spends.take()
	return []CopyRows{
		copyRows("grant_spends", []string{"outgoing_payment_id", "grant_id", "tenant_id", "debit_amount", "receive_amount",
			"interval_start", "interval_end", "created_at", "created_version", "version"}, ss, func(s *grantSpendRow, v []any) {
			v[0], v[1], v[2], v[3], v[4] = &s.paymentID, &s.grantID, &s.tenantID, &s.debitAmount, &s.receiveAmount
			v[5], v[6], v[7], v[8], v[9] = s.intervalStart, s.intervalEnd, &s.createdAt, &s.createdVersion, &s.version
		}),
	}
}
