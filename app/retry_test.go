package app_test

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/testkit"
)

// retryFixture creates what the mutations under test act on, with plain
// mutations of their own.
type retryFixture struct {
	t   *testing.T
	s   *system
	ctx context.Context
	usd string // an asset peers and wallet addresses are made in
}

// do runs a mutation as the operator and returns its data.
func (f *retryFixture) do(doc string, vars map[string]any) (map[string]any, error) {
	var out map[string]any
	err := f.s.operator.Do(f.ctx, doc, vars, &out)
	return out, err
}

// must runs a mutation that prepares a row and returns the id at path.
func (f *retryFixture) must(doc string, input map[string]any, path ...string) string {
	f.t.Helper()
	out, err := f.do(doc, map[string]any{"input": input})
	if err != nil {
		f.t.Fatalf("%s: %v", doc, err)
	}
	var v any = out
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	return v.(string)
}

func (f *retryFixture) tenant() string {
	return f.must(`mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"apiSecret": "retry-" + uuid.NewString()}, "createTenant", "tenant", "id")
}

func (f *retryFixture) asset(code string) string {
	return f.must(`mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
		map[string]any{"code": code, "scale": 2}, "createAsset", "asset", "id")
}

func (f *retryFixture) peer(address string, initialLiquidity string) string {
	input := map[string]any{"assetId": f.usd, "staticIlpAddress": address,
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"in-" + address}},
			"outgoing": map[string]any{"authToken": "out", "endpoint": "http://peer.test/ilp"}}}
	if initialLiquidity != "" {
		input["initialLiquidity"] = initialLiquidity
	}
	return f.must(`mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, input, "createPeer", "peer", "id")
}

func (f *retryFixture) walletAddress(path string) string {
	return f.must(`mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id } } }`,
		map[string]any{"assetId": f.usd, "address": path}, "createWalletAddress", "walletAddress", "id")
}

func (f *retryFixture) key(walletAddressID string) string {
	return f.must(`mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`,
		map[string]any{"walletAddressId": walletAddressID, "jwk": newJWK(f.t, uuid.NewString())}, "createWalletAddressKey", "walletAddressKey", "id")
}

// liquidity runs a liquidity mutation that prepares a row.
func (f *retryFixture) liquidity(mutation string, input map[string]any) {
	f.t.Helper()
	input["idempotencyKey"] = uuid.NewString()
	if _, err := f.do(`mutation($input: `+upperFirst(mutation)+`Input!) { `+mutation+`(input: $input) { success } }`,
		map[string]any{"input": input}); err != nil {
		f.t.Fatalf("%s: %v", mutation, err)
	}
}

// pendingWithdrawal holds part of a fresh deposit on the asset for an hour.
func (f *retryFixture) pendingWithdrawal(assetID string) string {
	f.liquidity("depositAssetLiquidity", map[string]any{"assetId": assetID, "amount": "100", "id": uuid.NewString()})
	id := uuid.NewString()
	f.liquidity("createAssetLiquidityWithdrawal", map[string]any{"assetId": assetID, "amount": "60", "id": id, "timeoutSeconds": "3600"})
	return id
}

// fund credits a wallet address's account in the ledger, as incoming
// payments would.
func (f *retryFixture) fund(walletAddressID string, amount uint64) {
	f.t.Helper()
	deps := f.s.running.Deps
	tenantID, _, err := handlers.Locate(f.ctx, deps.Store, asset.AggregateType, f.usd)
	if err != nil {
		f.t.Fatal(err)
	}
	subject, err := asset.Subject(tenantID, f.usd)
	if err != nil {
		f.t.Fatal(err)
	}
	a, _, err := handlers.Load(f.ctx, deps.Store, subject, asset.Evolve)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := deps.Ledger.CreateAssetAccounts(f.ctx, uuid.MustParse(f.usd), a.Ledger); err != nil {
		f.t.Fatal(err)
	}
	account := ledger.Account{ID: uuid.MustParse(walletAddressID), Type: ledger.WebMonetization, AssetID: uuid.MustParse(f.usd), Ledger: a.Ledger}
	if err := deps.Ledger.CreateLiquidityAccount(f.ctx, account); err != nil {
		f.t.Fatal(err)
	}
	if err := deps.Ledger.Deposit(f.ctx, ledger.Deposit{ID: uuid.New(), Account: account, Amount: amount}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *retryFixture) incomingPayment(walletAddressID string) string {
	return f.must(`mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"walletAddressId": walletAddressID}, "createIncomingPayment", "payment", "id")
}

func upperFirst(s string) string { return string(s[0]-'a'+'A') + s[1:] }

// retryRow is a mutation run once, then run again as a retry.
type retryRow struct {
	name string
	// doc is the mutation; it takes $input.
	doc string
	// input prepares what the mutation acts on and returns its input.
	input func(f *retryFixture) any
	// keyless marks a mutation whose input has no idempotencyKey (Rafiki's
	// tenant mutations). A createTenant that names its tenant and a
	// deleteTenant can happen once, so their command id follows from the
	// request and a retry is the same command; an update is a command of
	// its own each time (the same change may be wanted again later), which
	// answers the same and appends its event again.
	keyless bool
	// retryCode is the error a retry answers instead of the first result,
	// for a keyless mutation: its retry is a command of its own.
	retryCode string
	// retryEvents is how many events a retry appends: 0 but for a keyless
	// mutation that changes something.
	retryEvents uint64
}

func retryRows() []retryRow {
	return []retryRow{
		{name: "createTenant", keyless: true,
			doc: `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id apiSecret publicName settings { key value } } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": uuid.NewString(), "apiSecret": "secret-" + uuid.NewString(), "publicName": "Retry"}
			}},
		{name: "updateTenant", keyless: true, retryEvents: 1,
			doc: `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id publicName email } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.tenant(), "publicName": "Renamed", "email": "retry@example.test"}
			}},
		{name: "deleteTenant", keyless: true,
			doc: `mutation($input: String!) { deleteTenant(id: $input) { success } }`,
			input: func(f *retryFixture) any {
				return f.tenant()
			}},
		{name: "createTenantSettings", keyless: true, retryEvents: 1,
			doc: `mutation($input: CreateTenantSettingsInput!) { createTenantSettings(input: $input) { settings { key value } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"settings": []map[string]any{{"key": "EXCHANGE_RATES_URL", "value": "http://rates.test"}}}
			}},

		{name: "createAsset",
			doc: `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id code scale withdrawalThreshold liquidityThreshold createdAt tenant { id } } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"code": "RTA", "scale": 2, "withdrawalThreshold": "10"}
			}},
		{name: "updateAsset",
			doc: `mutation($input: UpdateAssetInput!) { updateAsset(input: $input) { asset { id code withdrawalThreshold liquidityThreshold } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.asset("RTB"), "withdrawalThreshold": "5", "liquidityThreshold": "7"}
			}},
		{name: "deleteAsset",
			doc: `mutation($input: DeleteAssetInput!) { deleteAsset(input: $input) { asset { id code scale createdAt } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.asset("RTC")}
			}},
		{name: "setFee",
			doc: `mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id assetId type fixed basisPoints createdAt } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"assetId": f.asset("RTD"), "type": "SENDING", "fee": map[string]any{"fixed": "1", "basisPoints": 20}}
			}},

		{name: "createPeer",
			doc: `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id staticIlpAddress name liquidity routes createdAt asset { id } http { outgoing { endpoint } } } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"assetId": f.usd, "staticIlpAddress": "test.retry-a", "name": "A", "initialLiquidity": "100",
					"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"retry-token-a"}},
						"outgoing": map[string]any{"authToken": "out", "endpoint": "http://peer.test/ilp"}}}
			}},
		{name: "updatePeer",
			doc: `mutation($input: UpdatePeerInput!) { updatePeer(input: $input) { peer { id staticIlpAddress name maxPacketAmount routes } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.peer("test.retry-b", ""), "name": "B", "maxPacketAmount": "1000"}
			}},
		{name: "deletePeer",
			doc: `mutation($input: DeletePeerInput!) { deletePeer(input: $input) { success } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.peer("test.retry-c", "")}
			}},

		{name: "createWalletAddress",
			doc: `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id address publicName status createdAt asset { id } } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"assetId": f.usd, "address": "retry-a", "publicName": "A"}
			}},
		{name: "updateWalletAddress",
			doc: `mutation($input: UpdateWalletAddressInput!) { updateWalletAddress(input: $input) { walletAddress { id publicName status } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.walletAddress("retry-b"), "publicName": "B", "status": "INACTIVE"}
			}},
		{name: "createWalletAddressKey",
			doc: `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id walletAddressId revoked createdAt jwk { kid x } } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"walletAddressId": f.walletAddress("retry-c"), "jwk": newJWK(f.t, "retry-kid")}
			}},
		{name: "revokeWalletAddressKey",
			doc: `mutation($input: RevokeWalletAddressKeyInput!) { revokeWalletAddressKey(input: $input) { walletAddressKey { id revoked } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.key(f.walletAddress("retry-d"))}
			}},

		{name: "createIncomingPayment",
			doc: `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { ` + incomingPaymentFields + ` } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"walletAddressId": f.walletAddress("retry-ip-a"), "metadata": map[string]any{"n": 1},
					"incomingAmount": map[string]any{"value": "10", "assetCode": "USD", "assetScale": 2}}
			}},
		{name: "updateIncomingPayment", keyless: true,
			doc: `mutation($input: UpdateIncomingPaymentInput!) { updateIncomingPayment(input: $input) { payment { id metadata } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.incomingPayment(f.walletAddress("retry-ip-b")), "metadata": map[string]any{"n": 2}}
			}},
		{name: "approveIncomingPayment", keyless: true,
			doc: `mutation($input: ApproveIncomingPaymentInput!) { approveIncomingPayment(input: $input) { payment { id state cancelledAt } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.incomingPayment(f.walletAddress("retry-ip-c"))}
			}},
		{name: "cancelIncomingPayment", keyless: true,
			doc: `mutation($input: CancelIncomingPaymentInput!) { cancelIncomingPayment(input: $input) { payment { id state cancelledAt cancellationReason } } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"id": f.incomingPayment(f.walletAddress("retry-ip-d")), "cancellationReason": "retry"}
			}},

		{name: "depositAssetLiquidity",
			doc: `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"assetId": f.asset("LQA"), "amount": "100", "id": uuid.NewString()}
			}},
		{name: "createAssetLiquidityWithdrawal",
			doc: `mutation($input: CreateAssetLiquidityWithdrawalInput!) { createAssetLiquidityWithdrawal(input: $input) { success } }`,
			input: func(f *retryFixture) any {
				id := f.asset("LQB")
				f.liquidity("depositAssetLiquidity", map[string]any{"assetId": id, "amount": "100", "id": uuid.NewString()})
				return map[string]any{"assetId": id, "amount": "40", "id": uuid.NewString(), "timeoutSeconds": "0"}
			}},
		{name: "depositPeerLiquidity",
			doc: `mutation($input: DepositPeerLiquidityInput!) { depositPeerLiquidity(input: $input) { success } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"peerId": f.peer("test.retry-d", ""), "amount": "100", "id": uuid.NewString()}
			}},
		{name: "createPeerLiquidityWithdrawal",
			doc: `mutation($input: CreatePeerLiquidityWithdrawalInput!) { createPeerLiquidityWithdrawal(input: $input) { success } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"peerId": f.peer("test.retry-e", "100"), "amount": "40", "id": uuid.NewString(), "timeoutSeconds": "0"}
			}},
		{name: "postLiquidityWithdrawal",
			doc: `mutation($input: PostLiquidityWithdrawalInput!) { postLiquidityWithdrawal(input: $input) { success } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"withdrawalId": f.pendingWithdrawal(f.asset("LQC"))}
			}},
		{name: "voidLiquidityWithdrawal",
			doc: `mutation($input: VoidLiquidityWithdrawalInput!) { voidLiquidityWithdrawal(input: $input) { success } }`,
			input: func(f *retryFixture) any {
				return map[string]any{"withdrawalId": f.pendingWithdrawal(f.asset("LQD"))}
			}},
		// The retry answers the amount the first withdrew, though the
		// account is empty by then.
		{name: "createWalletAddressWithdrawal",
			doc: `mutation($input: CreateWalletAddressWithdrawalInput!) { createWalletAddressWithdrawal(input: $input) { withdrawal { id amount walletAddress { id } } } }`,
			input: func(f *retryFixture) any {
				wa := f.walletAddress("retry-e")
				f.fund(wa, 70)
				return map[string]any{"walletAddressId": wa, "id": uuid.NewString(), "timeoutSeconds": "0"}
			}},
	}
}

// TestRetryAnswersTheFirstResult runs every admin mutation, then retries it
// with the same idempotency key once the key's record in Redis is gone and
// the event stream no longer de-duplicates its message ids: the command
// itself must recognise that it ran, answer what it answered then and store
// nothing new.
func TestRetryAnswersTheFirstResult(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	f := &retryFixture{t: t, s: s, ctx: ctx}
	f.usd = f.asset("USD")

	type first struct {
		vars map[string]any
		key  string
		data map[string]any
	}
	rows := retryRows()
	firsts := make([]first, len(rows))
	for i, row := range rows {
		input := row.input(f)
		if !row.keyless {
			firsts[i].key = uuid.NewString()
			input.(map[string]any)["idempotencyKey"] = firsts[i].key
		}
		vars := map[string]any{"input": input}
		data, err := f.do(row.doc, vars)
		if err != nil {
			t.Fatalf("%s: %v", row.name, err)
		}
		firsts[i].vars, firsts[i].data = vars, data
	}

	// What made a retry harmless so far is gone: the idempotency records,
	// and the stream's memory of message ids (a window of 100 ms, passed).
	rdb := testkit.Redis(t)
	for _, fr := range firsts {
		if fr.key == "" {
			continue
		}
		if n, err := rdb.Del(ctx, "idempotency:"+s.operator.TenantID+":"+fr.key).Result(); err != nil || n != 1 {
			t.Fatalf("deleting the idempotency record of %s: %d %v", fr.key, n, err)
		}
	}
	stream, err := s.nats.JS.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	const window = 100 * time.Millisecond
	cfg.Duplicates = window
	if _, err := s.nats.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * window)

	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			before := lastSequence(t, stream)
			data, err := f.do(row.doc, firsts[i].vars)
			appended := lastSequence(t, stream) - before
			switch {
			case row.retryCode != "":
				if got := code(t, err); got != row.retryCode {
					t.Errorf("retry answered %v %v, want %s", data, err, row.retryCode)
				}
			case err != nil:
				t.Errorf("retry: %v, want the first result %v", err, firsts[i].data)
			case !reflect.DeepEqual(data, firsts[i].data):
				t.Errorf("retry answered\n%s\nwant the first result\n%s", jsonOf(data), jsonOf(firsts[i].data))
			}
			if appended != row.retryEvents {
				t.Errorf("retry appended %d messages, want %d", appended, row.retryEvents)
			}
		})
	}

	// A createTenant naming a tenant that exists, with anything else
	// changed, is another request, refused as a duplicate.
	if rows[0].name != "createTenant" {
		t.Fatalf("row 0 is %s, want createTenant", rows[0].name)
	}
	changed := maps.Clone(firsts[0].vars["input"].(map[string]any))
	changed["publicName"] = "Not a retry"
	if _, err := f.do(rows[0].doc, map[string]any{"input": changed}); code(t, err) != "DUPLICATE" {
		t.Errorf("createTenant of an existing id with other details: %v, want DUPLICATE", err)
	}
}

func jsonOf(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
