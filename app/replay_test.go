package app_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/projections"
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
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "r", publicName: "R"}) { tenant { id } } }`, nil, nil); err != nil {
		t.Fatal(err)
	}

	pool := s.running.Deps.Pool
	for _, p := range app.Projections() {
		schema := projections.Schema(p)
		tables := tablesOf(t, pool, schema)
		if len(tables) == 0 {
			t.Fatalf("%s has no tables", schema)
		}
		snapshot := "snap_" + p.Name()
		if _, err := pool.Exec(ctx, "CREATE SCHEMA "+snapshot); err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			if _, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE %s.%s AS SELECT * FROM %s.%s", snapshot, table, schema, table)); err != nil {
				t.Fatal(err)
			}
		}
		consumer, _ := s.running.Deps.Streams.Consumer(projections.ConsumerName(p))
		if _, err := projections.Replay(ctx, pool, s.running.Deps.JS, app.EventsStream, p, consumer.FilterSubjects[0], nil); err != nil {
			t.Fatalf("replay %s: %v", p.Name(), err)
		}
		for _, table := range tables {
			var live, fresh, diff int
			q := fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s.%[3]s), (SELECT count(*) FROM %[2]s.%[3]s),
				(SELECT count(*) FROM ((SELECT * FROM %[1]s.%[3]s EXCEPT ALL SELECT * FROM %[2]s.%[3]s)
				UNION ALL (SELECT * FROM %[2]s.%[3]s EXCEPT ALL SELECT * FROM %[1]s.%[3]s)) d)`, snapshot, schema, table)
			if err := pool.QueryRow(ctx, q).Scan(&live, &fresh, &diff); err != nil {
				t.Fatal(err)
			}
			if live == 0 || live != fresh || diff != 0 {
				t.Fatalf("%s.%s: live %d rows, replayed %d, %d differ", schema, table, live, fresh, diff)
			}
		}
	}
}

func tablesOf(t *testing.T, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, schema string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}
