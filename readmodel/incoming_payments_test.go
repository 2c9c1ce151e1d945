package readmodel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/testkit"
)

// The payments due are the open ones past their expiry, those expired
// first first, and a look goes on after the one given.
func TestIncomingPaymentsDue(t *testing.T) {
	ctx := context.Background()
	pool := incomingPaymentsModel(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	add := func(state string, expiresIn time.Duration, deleted bool) string {
		t.Helper()
		id := uuid.NewString()
		var deletedAt *time.Time
		if deleted {
			deletedAt = &now
		}
		if _, err := pool.Exec(ctx, `INSERT INTO rm_incoming_payments.incoming_payments (id, tenant_id, wallet_address_id,
				asset_id, asset_code, asset_scale, state, received_amount, expires_at, initiated_by, deleted_at, created_at, updated_at, version)
			VALUES ($1, $2, $2, $2, 'USD', 2, $3, 0, $4, 'ADMIN', $5, $6, $6, 1)`,
			id, uuid.NewString(), state, now.Add(expiresIn), deletedAt, now); err != nil {
			t.Fatal(err)
		}
		return id
	}
	second := add("PROCESSING", -2*time.Minute, false)
	first := add("PENDING", -3*time.Minute, false)
	third := add("PENDING", -time.Minute, false)
	add("PENDING", time.Minute, false)            // not due
	add("COMPLETED", -time.Hour, false)           // finished
	add("EXPIRED", -time.Hour, false)             // finished
	add("PENDING", -time.Hour, true)              // deleted
	sameAt := add("PENDING", -time.Minute, false) // due with third: ordered by id
	want := []string{first, second, third, sameAt}
	if sameAt < third {
		want = []string{first, second, sameAt, third}
	}
	read := readmodel.NewReader(pool, nil)
	var got []string
	var after *readmodel.Due
	for range 4 {
		due, err := read.IncomingPaymentsDue(ctx, now, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range due {
			got = append(got, d.ID)
		}
		if len(due) < 2 {
			break
		}
		after = &due[len(due)-1]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("due %v, want %v", got, want)
	}
}

// incomingPaymentsModel is a new database holding the incoming payments
// read model's tables.
func incomingPaymentsModel(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := testkit.NewDatabase(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, url)
	if err := projections.Prepare(context.Background(), pool, projections.IncomingPayments{}); err != nil {
		t.Fatal(err)
	}
	return pool
}
