package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// TestReplayRebuildsEveryReadModelIdentically fills every read model through
// the admin API, then rebuilds each projection from the first event and
// compares its tables with what the live projection had built.
func TestReplayRebuildsEveryReadModelIdentically(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, map[string]any{"liquidityThreshold": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($id: ID!) { setFee(input: {assetId: $id, type: SENDING, fee: {fixed: "1", basisPoints: 5}}) { fee { id } } }`,
		map[string]any{"id": usd.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := createAsset(ctx, op, "EUR", 2, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": fmt.Sprintf("w%d", i), "publicName": "W",
			"additionalProperties": []map[string]any{{"key": "k", "value": fmt.Sprint(i), "visibleInOpenPayments": i%2 == 0}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Do(ctx, `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`,
			map[string]any{"input": map[string]any{"walletAddressId": wa.ID, "jwk": newJWK(t, "k")}}, nil); err != nil {
			t.Fatal(err)
		}
		payment, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID, "metadata": map[string]any{"i": i},
			"incomingAmount": map[string]any{"value": "100", "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		q, err := createQuote(ctx, op, map[string]any{"walletAddressId": wa.ID, "receiver": payment.URL})
		if err != nil {
			t.Fatal(err)
		}
		// An outgoing payment of the quote, through its life, and what it
		// took of its grant.
		grantID := uuid.NewString()
		appendTo(t, s.running.Deps, outgoingpayment.AggregateType, op.TenantID, q.ID, paymentOf(q, usd.ID, `{"i":1}`, "https://c.test", grantID),
			[]events.Event{&events.OutgoingPaymentFunded{Amount: 1}, &events.OutgoingPaymentCancelled{}}[i%2])
		from, to := time.Now().Truncate(time.Hour), time.Now().Truncate(time.Hour).Add(time.Hour)
		appendTo(t, s.running.Deps, outgoingpayment.GrantAggregateType, op.TenantID, grantID,
			&events.OutgoingPaymentGrantSpent{OutgoingPaymentID: q.ID, DebitAmount: 100, ReceiveAmount: 100, IntervalStart: &from, IntervalEnd: &to},
			&events.OutgoingPaymentGrantReleased{OutgoingPaymentID: q.ID, DebitAmount: uint64(i)})
		if i%2 == 0 {
			if _, err := actOn(ctx, op, []string{"approveIncomingPayment", "cancelIncomingPayment"}[i%4/2], map[string]any{"id": payment.ID}); err != nil {
				t.Fatal(err)
			}
		}
		if i == 3 {
			if err := op.Do(ctx, `mutation($id: ID!) { updateWalletAddress(input: {id: $id, status: INACTIVE, publicName: "gone"}) { walletAddress { id } } }`,
				map[string]any{"id": wa.ID}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "staticIlpAddress": "test.replay-peer", "routes": []string{"test.more"},
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{uuid.NewString()}},
			"outgoing": map[string]any{"authToken": "o", "endpoint": "http://p.test"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	// A lookup of a wallet address that does not exist.
	if _, err := walletaddress.NewMisses(s.running.Deps.Store, s.running.Deps.Config.OperatorTenantID).
		NotFound(ctx, "http://wallet.test/missing", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "r", publicName: "R"}) { tenant { id } } }`, nil, nil); err != nil {
		t.Fatal(err)
	}

	// Grants, whose read model is in the auth database: an interactive one
	// with its subject and interaction, a direct one with its token.
	d := s.running.Deps
	grants := grant.NewHandler(d.Store, grant.DefaultPolicy("https://auth.test"), func(context.Context, string) (grant.Tenant, error) {
		return grant.Tenant{Exists: true, HasIDP: true}, nil
	}, d.Enqueue)
	var last uint64
	for i, interact := range []*events.GrantInteract{{Start: []string{"redirect"}}, nil} {
		typ, subject := grant.TypeOutgoingPayment, []events.GrantSubjectID{{ID: "https://wallet.test/alice", Format: "uri"}}
		if interact == nil {
			typ, subject = grant.TypeIncomingPayment, nil
		}
		req, err := grants.Request(ctx, commands.RequestGrant{Meta: commands.Meta{ID: fmt.Sprintf("replay-grant-%d", i)}, TenantID: op.TenantID,
			Client: events.GrantClient{WalletAddress: "https://wallet.test/alice"}, Interact: interact, Subject: subject,
			Access: []events.GrantAccess{{Type: typ, Actions: []string{grant.ActionCreate}, Identifier: "https://wallet.test/alice"}}})
		if err != nil {
			t.Fatal(err)
		}
		last = req.Sequence
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		var applied int64
		err := d.AuthPool.QueryRow(ctx, `SELECT sequence FROM projection_checkpoints WHERE name = 'grants'`).Scan(&applied)
		return err == nil && uint64(applied) >= last
	}, "grants applied up to %d", last)

	for _, set := range []struct {
		pool  *pgxpool.Pool
		projs []projections.Projection
	}{{d.Pool, app.Projections(d.Keys)}, {d.AuthPool, app.AuthProjections()}} {
		for _, p := range set.projs {
			consumer, _ := d.Streams.Consumer(projections.ConsumerName(p))
			counts := testkit.ReplayMatchesLive(t, set.pool, d.JS, app.EventsStream, p, consumer.FilterSubjects[0])
			for table, n := range counts {
				if n == 0 {
					t.Fatalf("%s.%s is empty: the test did not exercise it", projections.Schema(p), table)
				}
			}
		}
	}
}
