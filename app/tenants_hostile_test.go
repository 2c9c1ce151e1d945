package app_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
)

// A tenant other than the operator, turned hostile: it names what another
// tenant holds by id, URL, transfer id or idempotency key, calls the
// operator's own surface, and claims settings that reach into other
// tenants' or the operator's space. Rafiki answers another tenant's objects
// as unknown, the operator's surface as forbidden, and never acts on them.

// thVictim is a tenant holding one of everything another tenant may name.
type thVictim struct {
	payingTenant
	secret              string
	peerID, peerAddress string
	wallet              walletAddressOut
	keyID               string
	incoming            incomingPaymentOut
	withdrawalID        string
	deposit             map[string]any // the input of a keyed deposit it made
	webhookEventID      string
}

// thSecret is a tenant's API secret, as the operator reads it.
func thSecret(t *testing.T, s *system, id string) string {
	t.Helper()
	var out struct {
		Tenant struct{ APISecret string } `json:"tenant"`
	}
	if err := s.operator.Do(context.Background(), `query($id: String!) { tenant(id: $id) { apiSecret } }`, map[string]any{"id": id}, &out); err != nil {
		t.Fatal(err)
	}
	return out.Tenant.APISecret
}

const thSetSettingQ = `mutation($k: TenantSettingKey!, $v: String!) { createTenantSettings(input: {settings: [{key: $k, value: $v}]}) { settings { key value } } }`

func thSetSetting(c *adminclient.Client, key, value string) error {
	return c.Do(context.Background(), thSetSettingQ, map[string]any{"k": key, "v": value}, nil)
}

func newTHVictim(t *testing.T, s *system, name string) thVictim {
	t.Helper()
	ctx := context.Background()
	v := thVictim{payingTenant: newPayingTenant(t, s, name)}
	v.secret = thSecret(t, s, v.id)
	usd := v.assets["USD"].ID
	v.peerAddress = "test." + name + "-peer"
	var peer struct {
		CreatePeer struct{ Peer struct{ ID string } } `json:"createPeer"`
	}
	if err := v.c.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd, "staticIlpAddress": v.peerAddress, "name": name + " peer",
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"in-" + uuid.NewString()}},
			"outgoing": map[string]any{"authToken": "out-" + name, "endpoint": "http://peer.test/" + name}},
	}}, &peer); err != nil {
		t.Fatal(err)
	}
	v.peerID = peer.CreatePeer.Peer.ID
	v.wallet = v.payingTenant.wallet(t, "alice")
	var key struct {
		CreateWalletAddressKey struct{ WalletAddressKey struct{ ID string } } `json:"createWalletAddressKey"`
	}
	if err := v.c.Do(ctx, `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": v.wallet.ID, "jwk": newJWK(t, "k-"+name)}}, &key); err != nil {
		t.Fatal(err)
	}
	v.keyID = key.CreateWalletAddressKey.WalletAddressKey.ID
	v.incoming = v.payingTenant.incoming(t, v.wallet.ID, "")
	v.deposit = map[string]any{"assetId": usd, "amount": "1000", "id": uuid.NewString(), "idempotencyKey": uuid.NewString()}
	if err := v.c.Do(ctx, `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
		map[string]any{"input": v.deposit}, nil); err != nil {
		t.Fatal(err)
	}
	if err := v.c.Do(ctx, `mutation($input: DepositPeerLiquidityInput!) { depositPeerLiquidity(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"peerId": v.peerID, "amount": "500", "id": uuid.NewString(), "idempotencyKey": uuid.NewString()}}, nil); err != nil {
		t.Fatal(err)
	}
	v.withdrawalID = uuid.NewString()
	if err := v.c.Do(ctx, `mutation($input: CreateAssetLiquidityWithdrawalInput!) { createAssetLiquidityWithdrawal(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"assetId": usd, "amount": "100", "id": v.withdrawalID, "idempotencyKey": uuid.NewString(),
			"timeoutSeconds": "3600"}}, nil); err != nil {
		t.Fatal(err)
	}
	var evs webhookEventsPage
	if err := v.c.Do(ctx, `{ webhookEvents { edges { node { id } } } }`, nil, &evs); err != nil {
		t.Fatal(err)
	}
	if ids := evs.ids(); len(ids) > 0 {
		v.webhookEventID = ids[0]
	} else {
		t.Fatal("the victim has no webhook event to name")
	}
	return v
}

// liquidity is an account's balance as its owner reads it.
func (v thVictim) liquidity(t *testing.T, object, id string) string {
	t.Helper()
	var out map[string]struct{ Liquidity *string }
	if err := v.c.Do(context.Background(), `query($id: String!) { `+object+`(id: $id) { liquidity } }`, map[string]any{"id": id}, &out); err != nil {
		t.Fatal(err)
	}
	if l := out[object].Liquidity; l != nil {
		return *l
	}
	return ""
}

// thSubjectMessages counts the messages on a tenant's subjects.
func thSubjectMessages(t *testing.T, stream jetstream.Stream, tenantID string) uint64 {
	t.Helper()
	info, err := stream.Info(context.Background(), jetstream.WithSubjectFilter("events."+tenantID+".>"))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// Tenant B names tenant A's objects in every query and mutation that takes
// an id, a URL, a transfer id, an idempotency key or a tenant id: each is
// unknown to B (or refused as input), B's lists hold none of A's, and
// nothing of A's moves.
func TestATenantAgainstAnotherTenantsObjects(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	stream, err := s.nats.JS.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	a := newTHVictim(t, s, "bank-a")
	b := newPayingTenant(t, s, "bank-b")
	bUSD, aUSD := b.assets["USD"].ID, a.assets["USD"].ID
	aBefore := thSubjectMessages(t, stream, a.id)
	assetLiquidity, peerLiquidity := a.liquidity(t, "asset", aUSD), a.liquidity(t, "peer", a.peerID)

	notFound := []string{"NOT_FOUND"}
	refusedInput := []string{"BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN"}
	taken := []string{"DUPLICATE", "BAD_USER_INPUT", "CONFLICT"}
	key := uuid.NewString
	transfers := `query($id: String!) { accountingTransfers(id: $id) { debits { id } credits { id } } }`
	updateTenant := `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id apiSecret } } }`
	createWA := `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id } } }`
	addKey := `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		codes []string
	}{
		// Reads.
		{"read A's asset", `query($id: String!) { asset(id: $id) { id } }`, map[string]any{"id": aUSD}, notFound},
		{"read A's peer", `query($id: String!) { peer(id: $id) { id http { outgoing { authToken } } } }`, map[string]any{"id": a.peerID}, notFound},
		{"read A's wallet address", `query($id: String!) { walletAddress(id: $id) { id } }`, map[string]any{"id": a.wallet.ID}, notFound},
		{"read A's incoming payment", `query($id: String!) { incomingPayment(id: $id) { id } }`, map[string]any{"id": a.incoming.ID}, notFound},
		{"read A's asset's transfers", transfers, map[string]any{"id": aUSD}, notFound},
		{"read A's peer's transfers", transfers, map[string]any{"id": a.peerID}, notFound},
		{"read A's wallet address's transfers", transfers, map[string]any{"id": a.wallet.ID}, notFound},
		{"read A's incoming payment's transfers", transfers, map[string]any{"id": a.incoming.ID}, notFound},
		{"read A's withdrawal's transfers", transfers, map[string]any{"id": a.withdrawalID}, notFound},
		{"read a settlement account's transfers", transfers, map[string]any{"id": "1"}, refusedInput},
		{"read A", `query($id: String!) { tenant(id: $id) { id apiSecret } }`, map[string]any{"id": a.id}, notFound},
		{"read A, its id in upper case", `query($id: String!) { tenant(id: $id) { id apiSecret } }`, map[string]any{"id": strings.ToUpper(a.id)}, notFound},

		// Tenants: the operator's, or each its own.
		{"rename A", updateTenant, map[string]any{"input": map[string]any{"id": a.id, "publicName": "owned"}}, notFound},
		{"set A's API secret", updateTenant, map[string]any{"input": map[string]any{"id": a.id, "apiSecret": "mine-now"}}, notFound},
		{"set A's API secret, its id in upper case", updateTenant, map[string]any{"input": map[string]any{"id": strings.ToUpper(a.id), "apiSecret": "mine-now"}}, notFound},
		{"set A's identity provider", updateTenant, map[string]any{"input": map[string]any{"id": a.id, "idpConsentUrl": "http://evil.test/consent", "idpSecret": "x"}}, notFound},
		{"delete A", `mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": a.id}, []string{"FORBIDDEN", "NOT_FOUND"}},
		{"create a tenant with A's id", `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
			map[string]any{"input": map[string]any{"id": a.id, "apiSecret": "x"}}, []string{"FORBIDDEN"}},

		// Assets and fees.
		{"create an asset for A", `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
			map[string]any{"input": map[string]any{"code": "EUR", "scale": 2, "tenantId": a.id}}, refusedInput},
		{"update A's asset", `mutation($input: UpdateAssetInput!) { updateAsset(input: $input) { asset { id } } }`,
			map[string]any{"input": map[string]any{"id": aUSD, "liquidityThreshold": "1"}}, notFound},
		{"delete A's asset", `mutation($input: DeleteAssetInput!) { deleteAsset(input: $input) { asset { id } } }`,
			map[string]any{"input": map[string]any{"id": aUSD}}, notFound},
		{"set a fee on A's asset", `mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id } } }`,
			map[string]any{"input": map[string]any{"assetId": aUSD, "type": "SENDING", "fee": map[string]any{"fixed": "0", "basisPoints": 10000}}}, notFound},

		// Peers.
		{"create a peer on A's asset", `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`,
			map[string]any{"input": map[string]any{"assetId": aUSD, "staticIlpAddress": "test.b-peer",
				"http": map[string]any{"outgoing": map[string]any{"authToken": "o", "endpoint": "http://peer.test/b"}}}}, refusedInput},
		{"point A's peer elsewhere", `mutation($input: UpdatePeerInput!) { updatePeer(input: $input) { peer { id } } }`,
			map[string]any{"input": map[string]any{"id": a.peerID, "http": map[string]any{"outgoing": map[string]any{"authToken": "stolen", "endpoint": "http://evil.test"}}}}, notFound},
		{"delete A's peer", `mutation($input: DeletePeerInput!) { deletePeer(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"id": a.peerID}}, notFound},

		// Liquidity.
		{"deposit into A's asset", `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"assetId": aUSD, "amount": "5", "id": uuid.NewString(), "idempotencyKey": key()}}, notFound},
		{"A's keyed deposit, sent again by B under A's key", `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
			map[string]any{"input": a.deposit}, notFound},
		{"withdraw from A's asset", `mutation($input: CreateAssetLiquidityWithdrawalInput!) { createAssetLiquidityWithdrawal(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"assetId": aUSD, "amount": "5", "id": uuid.NewString(), "idempotencyKey": key(), "timeoutSeconds": "0"}}, notFound},
		{"deposit into A's peer", `mutation($input: DepositPeerLiquidityInput!) { depositPeerLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"peerId": a.peerID, "amount": "5", "id": uuid.NewString(), "idempotencyKey": key()}}, notFound},
		{"withdraw from A's peer", `mutation($input: CreatePeerLiquidityWithdrawalInput!) { createPeerLiquidityWithdrawal(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"peerId": a.peerID, "amount": "5", "id": uuid.NewString(), "idempotencyKey": key(), "timeoutSeconds": "0"}}, notFound},
		{"post A's pending withdrawal", `mutation($input: PostLiquidityWithdrawalInput!) { postLiquidityWithdrawal(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"withdrawalId": a.withdrawalID, "idempotencyKey": key()}}, notFound},
		{"void A's pending withdrawal", `mutation($input: VoidLiquidityWithdrawalInput!) { voidLiquidityWithdrawal(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"withdrawalId": a.withdrawalID, "idempotencyKey": key()}}, notFound},
		{"post A's deposit as a withdrawal", `mutation($input: PostLiquidityWithdrawalInput!) { postLiquidityWithdrawal(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"withdrawalId": a.deposit["id"], "idempotencyKey": key()}}, notFound},
		{"withdraw from A's wallet address", `mutation($input: CreateWalletAddressWithdrawalInput!) { createWalletAddressWithdrawal(input: $input) { withdrawal { id } } }`,
			map[string]any{"input": map[string]any{"walletAddressId": a.wallet.ID, "id": uuid.NewString(), "idempotencyKey": key(), "timeoutSeconds": "0"}}, notFound},
		{"withdraw from A's incoming payment", `mutation($input: CreateIncomingPaymentWithdrawalInput!) { createIncomingPaymentWithdrawal(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"incomingPaymentId": a.incoming.ID, "idempotencyKey": key(), "timeoutSeconds": "0"}}, notFound},
		{"deposit into B's asset under A's pending withdrawal's id", `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"assetId": bUSD, "amount": "5", "id": a.withdrawalID, "idempotencyKey": key()}}, taken},
		{"withdraw from B's asset under A's deposit's id", `mutation($input: CreateAssetLiquidityWithdrawalInput!) { createAssetLiquidityWithdrawal(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"assetId": bUSD, "amount": "5", "id": a.deposit["id"], "idempotencyKey": key(), "timeoutSeconds": "0"}}, taken},

		// Wallet addresses and keys.
		{"create a wallet address for A", createWA, map[string]any{"input": map[string]any{"tenantId": a.id, "assetId": aUSD, "address": "eve"}}, refusedInput},
		{"create a wallet address for A on B's asset", createWA, map[string]any{"input": map[string]any{"tenantId": a.id, "assetId": bUSD, "address": "eve"}}, refusedInput},
		{"create a wallet address in A's space", createWA, map[string]any{"input": map[string]any{"assetId": bUSD, "address": a.url + "/eve"}}, refusedInput},
		{"create a wallet address in A's space, in upper case over https", createWA, map[string]any{"input": map[string]any{"assetId": bUSD,
			"address": strings.ToUpper(strings.Replace(a.url, "http:", "https:", 1)) + "/eve"}}, refusedInput},
		{"create a wallet address below A's", createWA, map[string]any{"input": map[string]any{"assetId": bUSD, "address": a.wallet.Address + "/tips"}}, refusedInput},
		{"create A's wallet address again", createWA, map[string]any{"input": map[string]any{"assetId": bUSD, "address": a.wallet.Address}}, taken},
		{"deactivate A's wallet address", `mutation($input: UpdateWalletAddressInput!) { updateWalletAddress(input: $input) { walletAddress { id } } }`,
			map[string]any{"input": map[string]any{"id": a.wallet.ID, "status": "INACTIVE"}}, notFound},
		{"rename A's wallet address", `mutation($input: UpdateWalletAddressInput!) { updateWalletAddress(input: $input) { walletAddress { id } } }`,
			map[string]any{"input": map[string]any{"id": a.wallet.ID, "publicName": "Pay here", "additionalProperties": []map[string]any{
				{"key": "iban", "value": "evil", "visibleInOpenPayments": true}}}}, notFound},
		{"add a key to A's wallet address", addKey, map[string]any{"input": map[string]any{"walletAddressId": a.wallet.ID, "jwk": newJWK(t, "evil")}}, notFound},
		{"add a key under A's kid to A's wallet address", addKey, map[string]any{"input": map[string]any{"walletAddressId": a.wallet.ID, "jwk": newJWK(t, "k-bank-a")}}, notFound},
		{"revoke A's key", `mutation($input: RevokeWalletAddressKeyInput!) { revokeWalletAddressKey(input: $input) { walletAddressKey { id } } }`,
			map[string]any{"input": map[string]any{"id": a.keyID}}, notFound},

		// Incoming payments.
		{"create an incoming payment on A's wallet address", `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
			map[string]any{"input": map[string]any{"walletAddressId": a.wallet.ID}}, notFound},
		{"update A's incoming payment", `mutation($input: UpdateIncomingPaymentInput!) { updateIncomingPayment(input: $input) { payment { id } } }`,
			map[string]any{"input": map[string]any{"id": a.incoming.ID, "metadata": map[string]any{"owned": true}}}, notFound},
		{"approve A's incoming payment", `mutation($input: ApproveIncomingPaymentInput!) { approveIncomingPayment(input: $input) { payment { id } } }`,
			map[string]any{"input": map[string]any{"id": a.incoming.ID}}, notFound},
		{"cancel A's incoming payment", `mutation($input: CancelIncomingPaymentInput!) { cancelIncomingPayment(input: $input) { payment { id } } }`,
			map[string]any{"input": map[string]any{"id": a.incoming.ID, "cancellationReason": "owned"}}, notFound},

		// Webhook events.
		{"deposit for A's webhook event", `mutation($input: DepositEventLiquidityInput!) { depositEventLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"eventId": a.webhookEventID, "idempotencyKey": key()}}, refusedInput},
		{"withdraw for A's webhook event", `mutation($input: WithdrawEventLiquidityInput!) { withdrawEventLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"eventId": a.webhookEventID, "idempotencyKey": key()}}, refusedInput},
	} {
		var out map[string]any
		if err := b.c.Do(ctx, tc.query, tc.vars, &out); !refused(err, tc.codes...) {
			t.Errorf("tenant B: %s: err %v, answer %v; want one of %v", tc.name, err, out, tc.codes)
		}
	}

	// Look-ups that answer null for what is unknown.
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"A's wallet address by URL", `query($url: String!) { walletAddressByUrl(url: $url) { id } }`, map[string]any{"url": a.wallet.Address}},
		{"A's wallet address by URL in upper case", `query($url: String!) { walletAddressByUrl(url: $url) { id } }`, map[string]any{"url": strings.ToUpper(a.wallet.Address)}},
		{"A's peer by address and asset", `query($a: String!, $id: String!) { peerByAddressAndAsset(staticIlpAddress: $a, assetId: $id) { id } }`,
			map[string]any{"a": a.peerAddress, "id": aUSD}},
		{"A's asset by code and scale", `{ assetByCodeAndScale(code: "USD", scale: 2) { id } }`, nil},
	} {
		var out map[string]any
		if err := b.c.Do(ctx, tc.query, tc.vars, &out); err != nil && !refused(err, "NOT_FOUND") {
			t.Errorf("tenant B: %s: %v", tc.name, err)
		}
		if answer := jsonOf(out); strings.Contains(answer, aUSD) || strings.Contains(answer, a.wallet.ID) || strings.Contains(answer, a.peerID) {
			t.Errorf("tenant B: %s answers A's object: %s", tc.name, answer)
		}
	}

	// Lists naming A as their tenant, filtering on A's wallet address or
	// starting after A's row hold none of A's objects.
	aIDs := []string{aUSD, a.peerID, a.wallet.ID, a.incoming.ID, a.webhookEventID, a.id}
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"assets", `query($t: String) { assets(tenantId: $t) { edges { node { id tenant { id } } } } }`, map[string]any{"t": a.id}},
		{"peers", `query($t: ID) { peers(tenantId: $t) { edges { node { id } } } }`, map[string]any{"t": a.id}},
		{"wallet addresses", `query($t: String) { walletAddresses(tenantId: $t) { edges { node { id } } } }`, map[string]any{"t": a.id}},
		{"incoming payments", `query($t: String) { incomingPayments(tenantId: $t) { edges { node { id } } } }`, map[string]any{"t": a.id}},
		{"outgoing payments", `query($t: String) { outgoingPayments(tenantId: $t) { edges { node { id } } } }`, map[string]any{"t": a.id}},
		{"payments", `query($t: String) { payments(tenantId: $t) { edges { node { id } } } }`, map[string]any{"t": a.id}},
		{"payments of A's wallet address", `query($w: [String!]) { payments(filter: {walletAddressId: {in: $w}}) { edges { node { id } } } }`,
			map[string]any{"w": []string{a.wallet.ID}}},
		{"webhook events", `query($t: String) { webhookEvents(tenantId: $t) { edges { node { id } } } }`, map[string]any{"t": a.id}},
		{"webhook events after A's", `query($c: String) { webhookEvents(after: $c) { edges { node { id } } } }`, map[string]any{"c": a.webhookEventID}},
		{"tenants", `{ tenants { edges { node { id apiSecret } } } }`, nil},
	} {
		var out map[string]any
		err := b.c.Do(ctx, tc.query, tc.vars, &out)
		if err != nil && !refused(err, "BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN") {
			t.Errorf("tenant B: list %s: %v", tc.name, err)
		}
		answer := jsonOf(out)
		for _, id := range aIDs {
			if strings.Contains(answer, id) {
				t.Errorf("tenant B: list %s shows %s of tenant A: %s", tc.name, id, answer)
			}
		}
	}
	if err := b.c.Do(ctx, `mutation { triggerWalletAddressEvents(input: {limit: 100, idempotencyKey: "t"}) { count } }`, nil, nil); err != nil {
		t.Errorf("tenant B triggering its own wallet address events: %v", err)
	}

	// Nothing of A's moved: no event on A's subjects, its balances as they
	// were, its key unrevoked, its pending withdrawal still A's to post, its
	// secret still its own.
	if after := thSubjectMessages(t, stream, a.id); after != aBefore {
		t.Errorf("tenant A's subjects went from %d to %d messages under B's attempts", aBefore, after)
	}
	if got := a.liquidity(t, "asset", aUSD); got != assetLiquidity {
		t.Errorf("A's asset liquidity %s, was %s", got, assetLiquidity)
	}
	if got := a.liquidity(t, "peer", a.peerID); got != peerLiquidity {
		t.Errorf("A's peer liquidity %s, was %s", got, peerLiquidity)
	}
	var wa struct {
		WalletAddress walletAddressOut `json:"walletAddress"`
	}
	if err := a.c.Do(ctx, `query($id: String!) { walletAddress(id: $id) { `+walletAddressFields+` } }`, map[string]any{"id": a.wallet.ID}, &wa); err != nil {
		t.Fatal(err)
	}
	if w := wa.WalletAddress; w.Status != "ACTIVE" || w.PublicName != nil || len(w.AdditionalProperties) != 0 ||
		len(w.WalletAddressKeys.Edges) != 1 || w.WalletAddressKeys.Edges[0].Node.Revoked {
		t.Errorf("A's wallet address after B's attempts: %+v", w)
	}
	if err := a.c.Do(ctx, `mutation($input: PostLiquidityWithdrawalInput!) { postLiquidityWithdrawal(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"withdrawalId": a.withdrawalID, "idempotencyKey": uuid.NewString()}}, nil); err != nil {
		t.Errorf("A posting its own withdrawal after B's attempts: %v", err)
	}
	if err := s.client(a.id, a.secret).Do(ctx, `{ whoami { id } }`, nil, nil); err != nil {
		t.Errorf("A signing with its own secret after B's attempts on it: %v", err)
	}
}

// Nothing a tenant controls makes it the operator: not its name, its email,
// a tenant-id header naming another tenant or the operator, nor deleting
// itself; its settings are its own, and a secret it replaced signs nothing
// on either admin API.
func TestATenantCannotActAsTheOperator(t *testing.T) {
	as := startAuthAdmin(t)
	ctx := context.Background()
	op := as.backend
	backend := func(id, secret string) *adminclient.Client {
		return &adminclient.Client{URL: op.URL, TenantID: id, Secret: secret}
	}
	aID := newTenant(t, op, "a-secret", map[string]string{"WALLET_ADDRESS_URL": "http://wallet.test/bank-a", "WEBHOOK_URL": "http://a.test/hooks"})
	bID := newTenant(t, op, "b-secret", map[string]string{"WALLET_ADDRESS_URL": "http://wallet.test/bank-b"})
	b := backend(bID, "b-secret")

	// Dressed as the operator.
	if err := b.Do(ctx, `mutation($id: ID!) { updateTenant(input: {id: $id, publicName: "operator", email: "operator@rafiki.test"}) { tenant { id } } }`,
		map[string]any{"id": bID}, nil); err != nil {
		t.Fatal(err)
	}
	var who struct {
		Whoami struct {
			ID         string
			IsOperator bool
		}
	}
	if err := b.Do(ctx, `{ whoami { id isOperator } }`, nil, &who); err != nil || who.Whoami.ID != bID || who.Whoami.IsOperator {
		t.Fatalf("whoami of a tenant named operator: %+v %v", who, err)
	}
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		code        string
	}{
		{"list tenants", `{ tenants { edges { node { id apiSecret } } } }`, nil, "FORBIDDEN"},
		{"create a tenant", `mutation { createTenant(input: {apiSecret: "x"}) { tenant { id } } }`, nil, "FORBIDDEN"},
		{"read the operator", `query($id: String!) { tenant(id: $id) { apiSecret } }`, map[string]any{"id": op.TenantID}, "NOT_FOUND"},
		{"rename the operator", `mutation($id: ID!) { updateTenant(input: {id: $id, publicName: "x"}) { tenant { id } } }`, map[string]any{"id": op.TenantID}, "NOT_FOUND"},
		{"set the operator's identity provider", `mutation($id: ID!) { updateTenant(input: {id: $id, idpSecret: "x", idpConsentUrl: "http://evil.test"}) { tenant { id } } }`,
			map[string]any{"id": op.TenantID}, "NOT_FOUND"},
		{"delete the operator", `mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": op.TenantID}, "FORBIDDEN"},
		{"delete itself", `mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": bID}, "FORBIDDEN"},
	} {
		if err := b.Do(ctx, tc.query, tc.vars, nil); refusalCode(err) != tc.code {
			t.Errorf("tenant B: %s: %v, want %s", tc.name, err, tc.code)
		}
	}
	// Its settings are its own: A's stay as they were.
	if err := thSetSetting(b, "WEBHOOK_URL", "http://b.test/hooks"); err != nil {
		t.Fatal(err)
	}
	var settings struct {
		Tenant struct{ Settings []struct{ Key, Value string } } `json:"tenant"`
	}
	if err := op.Do(ctx, `query($id: String!) { tenant(id: $id) { settings { key value } } }`, map[string]any{"id": aID}, &settings); err != nil {
		t.Fatal(err)
	}
	for _, st := range settings.Tenant.Settings {
		if st.Key == "WEBHOOK_URL" && st.Value != "http://a.test/hooks" {
			t.Errorf("A's webhook URL after B set its own: %s", st.Value)
		}
	}

	// Headers and secrets that do not go together, on both admin APIs.
	for name, c := range map[string]*adminclient.Client{
		"A's tenant id with B's secret":            backend(aID, "b-secret"),
		"the operator's tenant id with B's secret": backend(op.TenantID, "b-secret"),
		"B's tenant id with A's secret":            backend(bID, "a-secret"),
		"auth: A's tenant id with B's secret":      as.client(aID, "b-secret"),
		"auth: the operator's id with B's secret":  as.client(op.TenantID, "b-secret"),
		"auth: B's tenant id with A's secret":      as.client(bID, "a-secret"),
	} {
		if err := c.Do(ctx, `{ __typename }`, nil, nil); !thUnauthorized(err) {
			t.Errorf("%s: %v, want 401", name, err)
		}
	}

	// B replaces its secret: the old one signs nothing more on either API,
	// the new one works on both, and B is no more the operator than before.
	if err := b.Do(ctx, `mutation($id: ID!) { updateTenant(input: {id: $id, apiSecret: "b-secret-2"}) { tenant { id } } }`,
		map[string]any{"id": bID}, nil); err != nil {
		t.Fatal(err)
	}
	// The change is stored before updateTenant answers, and the auth
	// service reads tenants from their events: no window remains.
	if err := as.client(bID, "b-secret").Do(ctx, `{ grants { edges { node { id } } } }`, nil, nil); !thUnauthorized(err) {
		t.Errorf("auth admin API, B's replaced secret: %v, want 401", err)
	}
	if err := b.Do(ctx, `{ whoami { id } }`, nil, nil); !thUnauthorized(err) {
		t.Errorf("backend admin API, B's replaced secret: %v, want 401", err)
	}
	if err := backend(bID, "b-secret-2").Do(ctx, `{ whoami { id isOperator } }`, nil, &who); err != nil || who.Whoami.IsOperator {
		t.Errorf("backend admin API, B's new secret: %+v %v", who, err)
	}
	if _, err := listGrants(ctx, as.client(bID, "b-secret-2"), map[string]any{"tenantId": aID}); err != nil {
		t.Errorf("auth admin API, B's new secret: %v", err)
	}
}

func thUnauthorized(err error) bool {
	var status *adminclient.StatusError
	return errors.As(err, &status) && status.Status == http.StatusUnauthorized
}

// A tenant's settings claim no space that another tenant holds or the
// instance gives out: another tenant's ILP address or the one it gets by
// default, the operator's, a deleted tenant's wallet address URL, however
// spelled.
func TestATenantsSettingsStayInItsOwnSpace(t *testing.T) {
	s := startSystem(t, false)
	op := s.operator
	a := newPayingTenant(t, s, "bank-a")
	if err := thSetSetting(a.c, "ILP_ADDRESS", "test.bank-a"); err != nil {
		t.Fatal(err)
	}
	gone := newPayingTenant(t, s, "bank-gone")
	if err := op.Do(context.Background(), `mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": gone.id}, nil); err != nil {
		t.Fatal(err)
	}
	b := newPayingTenant(t, s, "bank-b")
	for _, tc := range []struct{ key, value string }{
		{"ILP_ADDRESS", "test.rafiki"},
		{"ILP_ADDRESS", "test"},
		{"ILP_ADDRESS", "test.rafiki." + a.id},
		{"ILP_ADDRESS", "test.rafiki." + strings.ToUpper(a.id)},
		{"ILP_ADDRESS", "test.rafiki." + a.id + ".x"},
		{"ILP_ADDRESS", "test.rafiki." + op.TenantID},
		{"ILP_ADDRESS", "test.bank-a"},
		{"ILP_ADDRESS", "TEST.BANK-A.sub"},
		{"WALLET_ADDRESS_URL", a.url},
		{"WALLET_ADDRESS_URL", "http://wallet.test:80/bank-a/x"},
		{"WALLET_ADDRESS_URL", "https://WALLET.TEST:443/Bank-A"},
		{"WALLET_ADDRESS_URL", gone.url},
		{"WALLET_ADDRESS_URL", gone.url + "/again"},
	} {
		if err := thSetSetting(b.c, tc.key, tc.value); refusalCode(err) != "BAD_USER_INPUT" {
			t.Errorf("tenant B setting %s to %s: %v, want BAD_USER_INPUT", tc.key, tc.value, err)
		}
	}
	// Within its own spaces it moves freely.
	for _, tc := range []struct{ key, value string }{
		{"ILP_ADDRESS", "test.rafiki." + b.id + ".sub"},
		{"WALLET_ADDRESS_URL", b.url + "/sub"},
	} {
		if err := thSetSetting(b.c, tc.key, tc.value); err != nil {
			t.Errorf("tenant B setting %s to %s in its own space: %v", tc.key, tc.value, err)
		}
	}
}

// A tenant may not take the operator's whole wallet address base: the
// operator, which has no WALLET_ADDRESS_URL, makes its wallet addresses
// under OPEN_PAYMENTS_URL, and a tenant's space holding it would refuse
// every address the operator makes from then on (for good: a tenant keeps
// its spaces, deleted too) and receive the operator's wallet_address.not_found
// events.
func TestATenantCannotTakeTheOperatorsWalletAddressBase(t *testing.T) {
	s := startSystem(t, false, func(c *config.Config) {
		c.WalletAddressNotFoundPolling, c.WalletAddressLookupTimeout, c.WalletAddressPollingFrequency = true, 100*time.Millisecond, 50*time.Millisecond
	})
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "op-alice"}); err != nil {
		t.Fatal(err)
	}
	b := newPayingTenant(t, s, "bank-b")
	// The last spelling is the one B's addresses would resolve against.
	for _, base := range []string{"https://WALLET.test:443/", "http://wallet.test"} {
		if err := thSetSetting(b.c, "WALLET_ADDRESS_URL", base); refusalCode(err) != "BAD_USER_INPUT" {
			t.Errorf("tenant B taking OPEN_PAYMENTS_URL (%s) as its WALLET_ADDRESS_URL: %v, want BAD_USER_INPUT", base, err)
		}
	}
	if _, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "op-carol"}); err != nil {
		t.Errorf("the operator making a wallet address under OPEN_PAYMENTS_URL after B's claim: %v", err)
	}
	if _, err := createWalletAddress(ctx, b.c, map[string]any{"assetId": b.assets["USD"].ID, "address": "http://wallet.test/op-dave"}); err == nil {
		t.Errorf("tenant B made a wallet address among the operator's, outside its space")
	}
	// A look-up of an unknown address among the operator's is told to the
	// operator, not to B.
	if status, _ := s.getOP(t, "/op-nobody"); status != http.StatusNotFound {
		t.Fatalf("unknown wallet address: %d", status)
	}
	const url = "http://wallet.test/op-nobody"
	told := func(c *adminclient.Client, vars map[string]any) bool {
		var out map[string]any
		if err := c.Do(ctx, `query($t: String) { webhookEvents(tenantId: $t, filter: {type: {in: ["wallet_address.not_found"]}}) { edges { node { data } } } }`, vars, &out); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(jsonOf(out), url)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !told(op, nil) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if told(b.c, nil) {
		t.Errorf("tenant B was told of a look-up of %s among the operator's addresses", url)
	}
	if !told(op, map[string]any{"t": op.TenantID}) {
		t.Errorf("the operator was not told of the look-up of %s", url)
	}
}

// Spaces are compared as URLs: a port written with leading zeros or left
// empty is the scheme's default port (a WHATWG URL parser, as browsers and
// Node's Open Payments clients use, reads http://wallet.test:080/x and
// http://wallet.test:/x as http://wallet.test/x, and Go's client sends the
// latter's Host without the colon), so another tenant's space spelled so is
// that tenant's, not a new one, and no second tenant publishes wallet
// addresses there that name the first one's.
func TestTenantSpacesCompareHostsAsURLsDo(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	a := newPayingTenant(t, s, "bank-a")
	ceo := a.wallet(t, "ceo")
	for _, space := range []string{"http://wallet.test:080/bank-a", "http://wallet.test:0080/bank-a", "http://wallet.test:/bank-a"} {
		b := newPayingTenant(t, s, "bank-"+uuid.NewString()[:8])
		if err := thSetSetting(b.c, "WALLET_ADDRESS_URL", space); refusalCode(err) != "BAD_USER_INPUT" {
			t.Errorf("tenant B taking %s, tenant A's %s: %v, want BAD_USER_INPUT", space, a.url, err)
			w, err := createWalletAddress(ctx, b.c, map[string]any{"assetId": b.assets["USD"].ID, "address": space + "/ceo"})
			if err == nil {
				t.Errorf("tenant B then made %s beside tenant A's %s", w.Address, ceo.Address)
			}
		}
	}
}

// A key added to a wallet address is an Ed25519 public key and nothing
// else; what Open Payments shows of a wallet address is what its tenant
// marked visible, as JSON.
func TestWalletAddressKeysArePublicEd25519Keys(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	b := newPayingTenant(t, s, "bank-b")
	w := b.wallet(t, "bob")
	good := newJWK(t, "good")
	x := good["x"].(string)
	jwk := func(change map[string]any) map[string]any {
		out := map[string]any{"kid": "k", "x": x, "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519"}
		for k, v := range change {
			out[k] = v
		}
		return out
	}
	for name, k := range map[string]map[string]any{
		"with its private part d":     jwk(map[string]any{"d": x}),
		"an X25519 key":               jwk(map[string]any{"crv": "X25519"}),
		"an EC key":                   jwk(map[string]any{"kty": "EC", "crv": "P-256", "alg": "ES256", "y": x}),
		"an RSA key":                  jwk(map[string]any{"kty": "RSA", "alg": "RS256", "n": x, "e": "AQAB"}),
		"x of 31 bytes":               jwk(map[string]any{"x": base64.RawURLEncoding.EncodeToString(make([]byte, 31))}),
		"x of 33 bytes":               jwk(map[string]any{"x": base64.RawURLEncoding.EncodeToString(make([]byte, 33))}),
		"x of 64 bytes":               jwk(map[string]any{"x": x + x}),
		"x padded":                    jwk(map[string]any{"x": x + "="}),
		"x in the standard alphabet":  jwk(map[string]any{"x": "+/" + x[2:]}),
		"x of 1 MiB":                  jwk(map[string]any{"x": strings.Repeat("A", 1<<20)}),
		"a kid of 10,000 characters":  jwk(map[string]any{"kid": strings.Repeat("k", 10_000)}),
		"an empty kid":                jwk(map[string]any{"kid": ""}),
		"a kid with a line break":     jwk(map[string]any{"kid": "a\nb"}),
		"x missing":                   {"kid": "k", "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519"},
		"alg in lower case":           jwk(map[string]any{"alg": "eddsa"}),
		"the key as a string of JSON": {"kid": "k", "x": `{"d":"` + x + `"}`, "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519"},
	} {
		err := b.c.Do(ctx, `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`,
			map[string]any{"input": map[string]any{"walletAddressId": w.ID, "jwk": k}}, nil)
		if code := refusalCode(err); code != "BAD_USER_INPUT" && code != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("key %s: %v, want it refused", name, err)
		}
	}
	if err := b.c.Do(ctx, `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": w.ID, "jwk": good}}, nil); err != nil {
		t.Fatal(err)
	}
	if status, body := s.getOP(t, "/bank-b/bob/jwks.json"); status != http.StatusOK || strings.Count(string(body), `"kid"`) != 1 ||
		!strings.Contains(string(body), x) || strings.Contains(string(body), `"d"`) {
		t.Errorf("key set: %d %s, want the one good key", status, body)
	}

	// Properties marked hidden stay hidden once updated, and a public name
	// of markup reaches Open Payments as JSON text.
	if err := b.c.Do(ctx, `mutation($input: UpdateWalletAddressInput!) { updateWalletAddress(input: $input) { walletAddress { id } } }`,
		map[string]any{"input": map[string]any{"id": w.ID, "publicName": "<script>alert(1)</script>", "additionalProperties": []map[string]any{
			{"key": "iban", "value": "NL91-hidden", "visibleInOpenPayments": false}, {"key": "nick", "value": "<b>bob</b>", "visibleInOpenPayments": true}}}}, nil); err != nil {
		t.Fatal(err)
	}
	status, header, body := s.getOPAnswer(t, "/bank-b/bob")
	if status != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "application/json") || strings.Contains(string(body), "NL91-hidden") ||
		strings.Contains(string(body), "<script>") || !strings.Contains(string(body), "nick") {
		t.Errorf("wallet address document: %d %s %s", status, header.Get("Content-Type"), body)
	}
}
