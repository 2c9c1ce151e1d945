package app_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

// hostileStrings are values no id, URL, address or name should let through
// to a subject or a read model unchecked.
var hostileStrings = []string{
	"*", ">", ".", "a.b", "", " ", "*.>", "events.>", "a b", "\x00", "nul\x00inside", "line\nbreak", "\r\n\r\nHTTP/1.1 200",
	"\u202e\u0000", "ü", "日本語", "😀", strings.Repeat("x", 300), strings.Repeat("é", 5000), strings.Repeat("a.", 600) + "a",
	"-1", "18446744073709551616", "99999999999999999999999", "1e3", "NaN", "javascript:alert(1)", "http://", "https://",
	"https://a..example/x", "http://[::1", "ftp://a.example/x", "https://a.example/x?q=1#f", "https://a.example/../b",
	"https://a.example/%2e%2e/b", "https://user:pw@a.example/x", "test.", "test..x", "g", "test.a b", "{", `{"a":`, "null",
	"00000000-0000-0000-0000-00000000000G", "00000000-0000-4000-8000-000000000001.x", "{00000000-0000-4000-8000-000000000001}",
	"urn:uuid:00000000-0000-4000-8000-000000000001",
}

// hostileNumbers are values for the numeric arguments, of the wrong type
// among them.
var hostileNumbers = []any{"-1", -1, "18446744073709551616", 1e30, "1.5", 1.5, "", "x", true, []any{1}, map[string]any{"a": 1}, nil, "0", "10001", 10001, -5}

// subjectPattern is every subject a command may write.
var subjectPattern = regexp.MustCompile(`^(events\.` + uuidRE + `\.[a-z_]+\.` + uuidRE + `|claims\.(_|` + uuidRE + `)\.[a-z_]+(\.[0-9a-f]+)?)$`)

const uuidRE = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`

// Every admin mutation, driven through the signed GraphQL API with hostile
// values in every argument: whatever is refused appends nothing, whatever is
// taken is stored under well-formed subjects, and every projection still
// follows the stream afterwards.
func TestHostileMutationInput(t *testing.T) {
	var databaseURL string
	s := startSystem(t, false, func(c *config.Config) { databaseURL = c.DatabaseURL })
	ctx := context.Background()
	op := s.operator
	stream, err := s.nats.JS.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	f := newHostileFixture(t, s)
	rng := rand.New(rand.NewPCG(20240601, 1))
	mutations := hostileMutations(f)

	// The reported case first: an operator updating tenant "*".
	f.try(t, stream, op, `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"id": "*", "publicName": "x"}})
	const rounds = 12
	for round := range rounds {
		for _, m := range mutations {
			query, vars := m(rng, round)
			f.try(t, stream, op, query, vars)
		}
	}
	t.Logf("%d mutations, %d refused", f.calls, f.refused)
	checkSubjects(t, stream)
	projectionsFollow(t, s, stream, databaseURL)
}

type hostileFixture struct {
	tenantID, assetID, peerID, walletAddressID, keyID, incomingPaymentID string
	calls, refused                                                       int
}

func newHostileFixture(t *testing.T, s *system) *hostileFixture {
	t.Helper()
	ctx := context.Background()
	op := s.operator
	f := &hostileFixture{}
	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "h-secret", settings: [{key: WALLET_ADDRESS_URL, value: "http://wallet.test/hostile"}]}) { tenant { id } } }`, nil, &created); err != nil {
		t.Fatal(err)
	}
	f.tenantID = created.CreateTenant.Tenant.ID
	a, err := createAsset(ctx, op, "HST", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.assetID = a.ID
	var peer struct {
		CreatePeer struct{ Peer struct{ ID string } } `json:"createPeer"`
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": a.ID, "staticIlpAddress": "test.hostile", "http": map[string]any{"outgoing": map[string]any{"authToken": "o", "endpoint": "http://peer.test"}},
	}}, &peer); err != nil {
		t.Fatal(err)
	}
	f.peerID = peer.CreatePeer.Peer.ID
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": a.ID, "address": "hostile-wa"})
	if err != nil {
		t.Fatal(err)
	}
	f.walletAddressID = wa.ID
	var key struct {
		CreateWalletAddressKey struct{ WalletAddressKey struct{ ID string } } `json:"createWalletAddressKey"`
	}
	if err := op.Do(ctx, `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": wa.ID, "jwk": map[string]any{
			"kid": "k1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519"}}}, &key); err != nil {
		t.Fatal(err)
	}
	f.keyID = key.CreateWalletAddressKey.WalletAddressKey.ID
	payment, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID})
	if err != nil {
		t.Fatal(err)
	}
	f.incomingPaymentID = payment.ID
	return f
}

// refusedCodes are the answers a hostile request may get.
var refusedCodes = map[string]bool{"BAD_USER_INPUT": true, "NOT_FOUND": true, "FORBIDDEN": true, "DUPLICATE": true, "GRAPHQL_VALIDATION_FAILED": true}

// try sends one mutation; a refusal must leave the stream as it was, but
// for a liquidity movement the ledger refused: its request and its failure
// are recorded, as every movement's are.
func (f *hostileFixture) try(t *testing.T, stream jetstream.Stream, c *adminclient.Client, query string, vars map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	before := lastSequence(t, stream)
	err := c.Do(ctx, query, vars, nil)
	f.calls++
	if err == nil {
		return
	}
	f.refused++
	if !refusal(err) {
		t.Fatalf("%s %v: %v, want a refusal", query, vars, err)
	}
	after := lastSequence(t, stream)
	if after == before {
		return
	}
	var gqlErrs adminclient.Errors
	inputRefused := !errors.As(err, &gqlErrs) || gqlErrs[0].Code() == "BAD_USER_INPUT"
	if inputRefused || !recordsRefusedMovement(t, stream, before, after) {
		t.Fatalf("%s %v refused (%v) but the stream moved from %d to %d", query, vars, err, before, after)
	}
}

// recordsRefusedMovement tells whether the messages after before up to
// after record a liquidity movement the ledger refused.
func recordsRefusedMovement(t *testing.T, stream jetstream.Stream, before, after uint64) bool {
	t.Helper()
	for seq := before + 1; seq <= after; seq++ {
		msg, err := stream.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(msg.Data), `"liquidity.request_failed"`) {
			return true
		}
	}
	return false
}

// refusal is an answer that rejects the request's input: a GraphQL error
// with one of refusedCodes, or a request the executor did not run (HTTP 422).
func refusal(err error) bool {
	var gqlErrs adminclient.Errors
	if errors.As(err, &gqlErrs) {
		return refusedCodes[gqlErrs[0].Code()]
	}
	var status *adminclient.StatusError
	return errors.As(err, &status) && status.Status == 422 && strings.Contains(status.Body, `"GRAPHQL_VALIDATION_FAILED"`)
}

func lastSequence(t *testing.T, stream jetstream.Stream) uint64 {
	t.Helper()
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// checkSubjects reads every subject of the stream.
func checkSubjects(t *testing.T, stream jetstream.Stream) {
	t.Helper()
	info, err := stream.Info(context.Background(), jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	for subject := range info.State.Subjects {
		if !subjectPattern.MatchString(subject) && subject != "claims._.asset_ledger" {
			t.Errorf("malformed subject %q in the stream", subject)
		}
	}
}

// projectionsFollow waits until every projection's checkpoint reaches the
// last message its consumer selects.
func projectionsFollow(t *testing.T, s *system, stream jetstream.Stream, databaseURL string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, name := range []string{"tenants", "assets", "peers", "wallet_addresses", "wallet_address_keys", "incoming_payments"} {
		consumer, err := s.nats.JS.Consumer(ctx, app.EventsStream, "projection_"+name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := consumer.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		filters := info.Config.FilterSubjects
		if info.Config.FilterSubject != "" {
			filters = append(filters, info.Config.FilterSubject)
		}
		var want uint64
		for _, filter := range filters {
			msg, err := stream.GetLastMsgForSubject(ctx, filter)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			want = max(want, msg.Sequence)
		}
		var got int64
		testkit.Eventually(t, 10*time.Second, func() bool {
			err := conn.QueryRow(ctx, `SELECT sequence FROM projection_checkpoints WHERE name = $1`, name).Scan(&got)
			return err == nil && uint64(got) >= want
		}, "projection %s at %d, want %d", name, got, want)
	}
}

// pick is a hostile value most of the time and a valid one otherwise, so
// that checks behind the first are reached too.
func pick(rng *rand.Rand, valid ...string) string {
	if len(valid) > 0 && rng.IntN(3) == 0 {
		return valid[rng.IntN(len(valid))]
	}
	return hostileStrings[rng.IntN(len(hostileStrings))]
}

func pickNumber(rng *rand.Rand, valid ...any) any {
	if len(valid) > 0 && rng.IntN(3) == 0 {
		return valid[rng.IntN(len(valid))]
	}
	return hostileNumbers[rng.IntN(len(hostileNumbers))]
}

// maybe leaves an optional field out now and then.
func maybe(rng *rand.Rand, input map[string]any, key string, value any) {
	if rng.IntN(4) != 0 {
		input[key] = value
	}
}

type hostileMutation func(rng *rand.Rand, round int) (string, map[string]any)

func mutation(name, inputType string, build func(rng *rand.Rand, round int) map[string]any) hostileMutation {
	return func(rng *rand.Rand, round int) (string, map[string]any) {
		return fmt.Sprintf(`mutation($input: %s!) { %s(input: $input) { __typename } }`, inputType, name),
			map[string]any{"input": build(rng, round)}
	}
}

func hostileMutations(f *hostileFixture) []hostileMutation {
	settings := func(rng *rand.Rand) []any {
		keys := []string{"EXCHANGE_RATES_URL", "WEBHOOK_URL", "WEBHOOK_TIMEOUT", "WEBHOOK_MAX_RETRY", "WALLET_ADDRESS_URL", "ILP_ADDRESS"}
		var out []any
		for range 1 + rng.IntN(3) {
			out = append(out, map[string]any{"key": keys[rng.IntN(len(keys))], "value": pick(rng)})
		}
		return out
	}
	jwk := func(rng *rand.Rand) map[string]any {
		return map[string]any{"kid": pick(rng, "k2"), "x": pick(rng, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
			"alg": "EdDSA", "kty": "OKP", "crv": "Ed25519"}
	}
	httpInput := func(rng *rand.Rand) map[string]any {
		return map[string]any{"incoming": map[string]any{"authTokens": []any{pick(rng, "in-"+uuid.NewString())}},
			"outgoing": map[string]any{"authToken": pick(rng, "out"), "endpoint": pick(rng, "http://peer.test/x")}}
	}
	return []hostileMutation{
		mutation("createTenant", "CreateTenantInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"apiSecret": pick(rng, "s")}
			maybe(rng, in, "id", pick(rng))
			maybe(rng, in, "email", pick(rng))
			maybe(rng, in, "idpConsentUrl", pick(rng))
			maybe(rng, in, "idpSecret", pick(rng))
			maybe(rng, in, "publicName", pick(rng))
			maybe(rng, in, "settings", settings(rng))
			return in
		}),
		mutation("updateTenant", "UpdateTenantInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"id": pick(rng, f.tenantID)}
			maybe(rng, in, "email", pick(rng))
			maybe(rng, in, "idpConsentUrl", pick(rng))
			maybe(rng, in, "idpSecret", pick(rng))
			maybe(rng, in, "publicName", pick(rng))
			return in
		}),
		func(rng *rand.Rand, _ int) (string, map[string]any) {
			return `mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": pick(rng)}
		},
		mutation("createTenantSettings", "CreateTenantSettingsInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"settings": settings(rng)}
		}),
		mutation("createAsset", "CreateAssetInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"code": pick(rng), "scale": pickNumber(rng, 2)}
			maybe(rng, in, "withdrawalThreshold", pickNumber(rng))
			maybe(rng, in, "liquidityThreshold", pickNumber(rng))
			maybe(rng, in, "tenantId", pick(rng, f.tenantID))
			return in
		}),
		mutation("updateAsset", "UpdateAssetInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"id": pick(rng, f.assetID)}
			maybe(rng, in, "withdrawalThreshold", pickNumber(rng, "5"))
			maybe(rng, in, "liquidityThreshold", pickNumber(rng, "5"))
			return in
		}),
		mutation("deleteAsset", "DeleteAssetInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"id": pick(rng)}
		}),
		mutation("setFee", "SetFeeInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"assetId": pick(rng, f.assetID), "type": pick(rng, "SENDING", "RECEIVING"),
				"fee": map[string]any{"fixed": pickNumber(rng, "1"), "basisPoints": pickNumber(rng, 5)}}
		}),
		mutation("createPeer", "CreatePeerInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"assetId": pick(rng, f.assetID), "staticIlpAddress": pick(rng, "test.peer-"+uuid.NewString()), "http": httpInput(rng)}
			maybe(rng, in, "name", pick(rng))
			maybe(rng, in, "maxPacketAmount", pickNumber(rng))
			maybe(rng, in, "liquidityThreshold", pickNumber(rng))
			maybe(rng, in, "routes", []any{pick(rng, "test.route")})
			return in
		}),
		mutation("updatePeer", "UpdatePeerInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"id": pick(rng, f.peerID)}
			maybe(rng, in, "staticIlpAddress", pick(rng))
			maybe(rng, in, "http", httpInput(rng))
			maybe(rng, in, "name", pick(rng))
			maybe(rng, in, "routes", []any{pick(rng)})
			return in
		}),
		mutation("deletePeer", "DeletePeerInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"id": pick(rng)}
		}),
		mutation("createWalletAddress", "CreateWalletAddressInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"assetId": pick(rng, f.assetID), "address": pick(rng, "http://wallet.test/w-"+uuid.NewString())}
			maybe(rng, in, "tenantId", pick(rng))
			maybe(rng, in, "publicName", pick(rng))
			maybe(rng, in, "additionalProperties", []any{map[string]any{"key": pick(rng), "value": pick(rng), "visibleInOpenPayments": true}})
			return in
		}),
		mutation("updateWalletAddress", "UpdateWalletAddressInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"id": pick(rng, f.walletAddressID)}
			maybe(rng, in, "publicName", pick(rng))
			maybe(rng, in, "status", pick(rng, "ACTIVE"))
			maybe(rng, in, "additionalProperties", []any{map[string]any{"key": pick(rng), "value": pick(rng), "visibleInOpenPayments": false}})
			return in
		}),
		mutation("createWalletAddressKey", "CreateWalletAddressKeyInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"walletAddressId": pick(rng, f.walletAddressID), "jwk": jwk(rng)}
		}),
		mutation("revokeWalletAddressKey", "RevokeWalletAddressKeyInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"id": pick(rng)}
		}),
		mutation("createIncomingPayment", "CreateIncomingPaymentInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"walletAddressId": pick(rng, f.walletAddressID), "idempotencyKey": pick(rng, uuid.NewString())}
			maybe(rng, in, "expiresAt", pick(rng, time.Now().Add(time.Hour).Format(time.RFC3339)))
			maybe(rng, in, "metadata", map[string]any{pick(rng, "k"): pick(rng, "v")})
			maybe(rng, in, "incomingAmount", map[string]any{"value": pickNumber(rng, "10"), "assetCode": pick(rng, "HST"), "assetScale": pickNumber(rng, 2)})
			maybe(rng, in, "senderWalletAddress", pick(rng, "https://sender.test/a"))
			maybe(rng, in, "isCardPayment", rng.IntN(2) == 0)
			return in
		}),
		mutation("updateIncomingPayment", "UpdateIncomingPaymentInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"id": pick(rng, f.incomingPaymentID), "metadata": map[string]any{pick(rng, "k"): pick(rng, "v")}}
		}),
		mutation("approveIncomingPayment", "ApproveIncomingPaymentInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"id": pick(rng, f.incomingPaymentID)}
		}),
		mutation("cancelIncomingPayment", "CancelIncomingPaymentInput", func(rng *rand.Rand, _ int) map[string]any {
			in := map[string]any{"id": pick(rng, f.incomingPaymentID)}
			maybe(rng, in, "cancellationReason", pick(rng, "no"))
			return in
		}),
		mutation("depositAssetLiquidity", "DepositAssetLiquidityInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"assetId": pick(rng, f.assetID), "amount": pickNumber(rng, "10"), "id": pick(rng, uuid.NewString()), "idempotencyKey": pick(rng, uuid.NewString())}
		}),
		mutation("createAssetLiquidityWithdrawal", "CreateAssetLiquidityWithdrawalInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"assetId": pick(rng, f.assetID), "amount": pickNumber(rng), "id": pick(rng, uuid.NewString()),
				"idempotencyKey": pick(rng, uuid.NewString()), "timeoutSeconds": pickNumber(rng, "0")}
		}),
		mutation("depositPeerLiquidity", "DepositPeerLiquidityInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"peerId": pick(rng, f.peerID), "amount": pickNumber(rng, "10"), "id": pick(rng, uuid.NewString()), "idempotencyKey": pick(rng, uuid.NewString())}
		}),
		mutation("createPeerLiquidityWithdrawal", "CreatePeerLiquidityWithdrawalInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"peerId": pick(rng, f.peerID), "amount": pickNumber(rng), "id": pick(rng, uuid.NewString()),
				"idempotencyKey": pick(rng, uuid.NewString()), "timeoutSeconds": pickNumber(rng, "0")}
		}),
		mutation("postLiquidityWithdrawal", "PostLiquidityWithdrawalInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"withdrawalId": pick(rng), "idempotencyKey": pick(rng, uuid.NewString())}
		}),
		mutation("voidLiquidityWithdrawal", "VoidLiquidityWithdrawalInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"withdrawalId": pick(rng), "idempotencyKey": pick(rng, uuid.NewString())}
		}),
		mutation("createWalletAddressWithdrawal", "CreateWalletAddressWithdrawalInput", func(rng *rand.Rand, _ int) map[string]any {
			return map[string]any{"walletAddressId": pick(rng, f.walletAddressID), "id": pick(rng, uuid.NewString()),
				"idempotencyKey": pick(rng, uuid.NewString()), "timeoutSeconds": pickNumber(rng, "0")}
		}),
	}
}
