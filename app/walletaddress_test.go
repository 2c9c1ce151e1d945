package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
)

// getOP fetches a wallet address path from the Open Payments listener as
// the host wallet.test, which OPEN_PAYMENTS_URL names.
func (s *system) getOP(t *testing.T, path string) (int, []byte) {
	t.Helper()
	status, _, body := s.getOPAnswer(t, path)
	return status, body
}

// getOPAnswer is getOP with the answer's headers.
func (s *system) getOPAnswer(t *testing.T, path string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.opURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "wallet.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

type walletAddressOut struct {
	ID                   string
	Address              string
	PublicName           *string
	Status               string
	Asset                struct{ ID, Code string }
	AdditionalProperties []struct {
		Key, Value            string
		VisibleInOpenPayments bool
	}
	WalletAddressKeys struct {
		Edges []struct {
			Node struct {
				ID      string
				Revoked bool
				Jwk     struct{ Kid string }
			}
		}
	}
}

const walletAddressFields = `id address publicName status asset { id code } additionalProperties { key value visibleInOpenPayments }
	walletAddressKeys { edges { node { id revoked jwk { kid } } } }`

func createWalletAddress(ctx context.Context, c *adminclient.Client, input map[string]any) (walletAddressOut, error) {
	var out struct {
		CreateWalletAddress struct{ WalletAddress walletAddressOut } `json:"createWalletAddress"`
	}
	err := c.Do(ctx, `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { `+walletAddressFields+` } } }`,
		map[string]any{"input": input}, &out)
	return out.CreateWalletAddress.WalletAddress, err
}

func newJWK(t *testing.T, kid string) map[string]any {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"kid": kid, "x": base64.RawURLEncoding.EncodeToString(pub), "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519"}
}

func TestWalletAddressesEndToEnd(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	spec := openPaymentsSpec(t, "wallet-address-server.yaml")
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "/Alice", "publicName": "Alice",
		"additionalProperties": []map[string]any{
			{"key": "iban", "value": "NL91", "visibleInOpenPayments": false},
			{"key": "nickname", "value": " ally ", "visibleInOpenPayments": true},
			{"key": " ", "value": "blank key is dropped", "visibleInOpenPayments": true},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if wa.Address != "http://wallet.test/alice" || wa.Status != "ACTIVE" || wa.Asset.ID != usd.ID || len(wa.AdditionalProperties) != 2 {
		t.Fatalf("created %+v", wa)
	}
	for _, bad := range []map[string]any{
		{"assetId": usd.ID, "address": "alice"},                      // taken, compared in lower case
		{"assetId": usd.ID, "address": "http://wallet.test/ALICE"},   // the same URL in full
		{"assetId": usd.ID, "address": "https://elsewhere.test/bob"}, // not under the base URL
		{"assetId": usd.ID, "address": "bob/incoming-payments"},      // an Open Payments path
		{"assetId": uuid.NewString(), "address": "carol"},            // unknown asset
	} {
		if _, err := createWalletAddress(ctx, op, bad); err == nil {
			t.Fatalf("created %v", bad)
		}
	}
	if _, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "alice"}); code(t, err) != "DUPLICATE" {
		t.Fatalf("duplicate: %v", err)
	}

	status, header, body := s.getOPAnswer(t, "/alice")
	if status != 200 {
		t.Fatalf("GET /alice: %d %s", status, body)
	}
	matchesSpec(t, spec, specAnswer{Method: http.MethodGet, Path: "/", Status: status, Header: header, Body: body})
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	if doc["id"] != "http://wallet.test/alice" || doc["assetCode"] != "USD" || doc["assetScale"] != float64(2) ||
		doc["authServer"] != "http://auth.test/"+op.TenantID || doc["resourceServer"] != "http://wallet.test/"+op.TenantID {
		t.Fatalf("document %s", body)
	}
	if props, _ := doc["additionalProperties"].(map[string]any); len(props) != 1 || props["nickname"] != "ally" {
		t.Fatalf("only visible properties are shown: %s", body)
	}
	if status, _ := s.getOP(t, "/ALICE"); status != 200 {
		t.Fatalf("addresses are compared in lower case: %d", status)
	}
	status, header, body = s.getOPAnswer(t, "/nobody")
	if status != 404 {
		t.Fatalf("unknown address: %d %s", status, body)
	}
	matchesSpec(t, spec, specAnswer{Method: http.MethodGet, Path: "/", Status: status, Header: header, Body: body})
	// No wallet address has a control character in its URL.
	for _, path := range []string{"/alice%00", "/alice%0a", "/%ff"} {
		if status, _, body := s.getOPAnswer(t, path); status != 404 {
			t.Fatalf("%s: %d %s", path, status, body)
		}
	}

	// SPSP: STREAM credentials this receiver recognises, with receipts on request.
	spsp := func(headers map[string]string) (int, string, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, s.opURL+"/alice", nil)
		req.Host = "wallet.test"
		req.Header.Set("Accept", "application/spsp4+json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, resp.Header.Get("Content-Type"), out
	}
	status, contentType, creds := spsp(nil)
	if status != 200 || contentType != "application/spsp4+json" || creds["receipts_enabled"] != false {
		t.Fatalf("SPSP: %d %s %v", status, contentType, creds)
	}
	tag, secret, err := s.running.Deps.StreamCredentials.Open("test.rafiki."+op.TenantID, creds["destination_account"].(string))
	if err != nil || tag.ID.String() != wa.ID || base64.RawURLEncoding.EncodeToString(secret) != creds["shared_secret"] {
		t.Fatalf("SPSP credentials do not open to the wallet address: %v %v", tag, err)
	}
	nonce, receiptSecret := make([]byte, 16), make([]byte, 32)
	status, _, creds = spsp(map[string]string{"Receipt-Nonce": base64.StdEncoding.EncodeToString(nonce), "Receipt-Secret": base64.StdEncoding.EncodeToString(receiptSecret)})
	if status != 200 || creds["receipts_enabled"] != true {
		t.Fatalf("SPSP with receipts: %d %v", status, creds)
	}
	if status, _, _ := spsp(map[string]string{"Receipt-Nonce": base64.StdEncoding.EncodeToString(nonce)}); status != 400 {
		t.Fatalf("SPSP with a nonce and no secret: %d", status)
	}

	// Keys: add two, revoke one; the key set shows the active one.
	var key struct {
		CreateWalletAddressKey struct{ WalletAddressKey struct{ ID string } } `json:"createWalletAddressKey"`
	}
	addKey := `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`
	if err := op.Do(ctx, addKey, map[string]any{"input": map[string]any{"walletAddressId": wa.ID, "jwk": newJWK(t, "k1")}}, &key); err != nil {
		t.Fatal(err)
	}
	first := key.CreateWalletAddressKey.WalletAddressKey.ID
	if err := op.Do(ctx, addKey, map[string]any{"input": map[string]any{"walletAddressId": wa.ID, "jwk": newJWK(t, "k2")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, addKey, map[string]any{"input": map[string]any{"walletAddressId": wa.ID, "jwk": newJWK(t, "k1")}}, nil); code(t, err) != "DUPLICATE" {
		t.Fatalf("duplicate kid: %v", err)
	}
	short := newJWK(t, "k3")
	short["x"] = "c2hvcnQ"
	if err := op.Do(ctx, addKey, map[string]any{"input": map[string]any{"walletAddressId": wa.ID, "jwk": short}}, nil); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("a key that is not 32 bytes: %v", err)
	}
	var revoked struct {
		RevokeWalletAddressKey struct{ WalletAddressKey struct{ Revoked bool } } `json:"revokeWalletAddressKey"`
	}
	if err := op.Do(ctx, `mutation($id: String!) { revokeWalletAddressKey(input: {id: $id}) { walletAddressKey { revoked } } }`,
		map[string]any{"id": first}, &revoked); err != nil || !revoked.RevokeWalletAddressKey.WalletAddressKey.Revoked {
		t.Fatalf("revoke: %v %+v", err, revoked)
	}
	status, header, body = s.getOPAnswer(t, "/alice/jwks.json")
	matchesSpec(t, spec, specAnswer{Method: http.MethodGet, Path: "/jwks.json", Status: status, Header: header, Body: body})
	var set struct{ Keys []struct{ Kid string } }
	_ = json.Unmarshal(body, &set)
	if status != 200 || len(set.Keys) != 1 || set.Keys[0].Kid != "k2" {
		t.Fatalf("key set: %d %s", status, body)
	}

	// Deactivation: the document goes away at once, cache or not; it comes back on reactivation.
	update := `mutation($input: UpdateWalletAddressInput!) { updateWalletAddress(input: $input) { walletAddress { ` + walletAddressFields + ` } } }`
	var updated struct {
		UpdateWalletAddress struct{ WalletAddress walletAddressOut } `json:"updateWalletAddress"`
	}
	if err := op.Do(ctx, update, map[string]any{"input": map[string]any{"id": wa.ID, "status": "INACTIVE", "publicName": "Alice B"}}, &updated); err != nil {
		t.Fatal(err)
	}
	if got := updated.UpdateWalletAddress.WalletAddress; got.Status != "INACTIVE" || *got.PublicName != "Alice B" || len(got.WalletAddressKeys.Edges) != 2 {
		t.Fatalf("updated %+v", got)
	}
	if status, _ := s.getOP(t, "/alice"); status != 404 {
		t.Fatalf("inactive address served: %d", status)
	}
	if status, _ := s.getOP(t, "/alice/jwks.json"); status != 404 {
		t.Fatalf("inactive address keys served: %d", status)
	}
	if err := op.Do(ctx, update, map[string]any{"input": map[string]any{"id": wa.ID, "status": "ACTIVE", "additionalProperties": []map[string]any{}}}, nil); err != nil {
		t.Fatal(err)
	}
	status, body = s.getOP(t, "/alice")
	doc = map[string]any{}
	_ = json.Unmarshal(body, &doc)
	if status != 200 || doc["publicName"] != "Alice B" || doc["additionalProperties"] != nil {
		t.Fatalf("after reactivation: %d %s", status, body)
	}
}

// The cache must follow updates made while readers hammer the document.
func TestWalletAddressCacheFollowsUpdates(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	wa, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "dave", "publicName": "v0"})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					s.getOP(t, "/dave")
				}
			}
		})
	}
	for i := 1; i <= 20; i++ {
		name := fmt.Sprintf("v%d", i)
		if err := s.operator.Do(ctx, `mutation($id: ID!, $n: String) { updateWalletAddress(input: {id: $id, publicName: $n}) { walletAddress { id } } }`,
			map[string]any{"id": wa.ID, "n": name}, nil); err != nil {
			t.Fatal(err)
		}
		_, body := s.getOP(t, "/dave")
		var doc struct{ PublicName string }
		_ = json.Unmarshal(body, &doc)
		if doc.PublicName != name {
			close(stop)
			wg.Wait()
			t.Fatalf("after update %d the document says %q", i, doc.PublicName)
		}
	}
	close(stop)
	wg.Wait()
}

// Payments' commands use a wallet address they read a moment before without
// reading it again, until the read models apply a change of it: a
// deactivation answered to its caller is refused by the next payment,
// quote and outgoing payment at once.
func TestWalletAddressDeactivationStopsPayments(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	alice, first := aliceAndBob(t, s)
	bob := first.WalletAddressID
	amount := map[string]any{"value": "500", "assetCode": "USD", "assetScale": 2}
	second, err := createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": bob})
	if err != nil {
		t.Fatal(err)
	}
	q, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": alice.ID, "receiver": first.URL, "debitAmount": amount})
	if err != nil {
		t.Fatal(err)
	}
	// Both wallet addresses were read by these commands just now.
	for _, id := range []string{alice.ID, bob} {
		if err := s.operator.Do(ctx, `mutation($id: ID!) { updateWalletAddress(input: {id: $id, status: INACTIVE}) { walletAddress { id } } }`,
			map[string]any{"id": id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"incoming payment", func() error {
			_, err := createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": bob})
			return err
		}},
		{"quote", func() error {
			_, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": alice.ID, "receiver": second.URL, "debitAmount": amount})
			return err
		}},
		{"outgoing payment", func() error {
			return s.operator.Do(ctx, `mutation($input: CreateOutgoingPaymentInput!) { createOutgoingPayment(input: $input) { payment { id } } }`,
				map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "quoteId": q.ID}}, nil)
		}},
	} {
		code, message := gqlRefusal(t, tc.call())
		if code == "" || message != "inactive wallet address" {
			t.Errorf("%s after the deactivation: %s %q, want the inactive wallet address refused", tc.name, code, message)
		}
	}
}

func TestWalletAddressTenantIsolation(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	opWA, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "operator-owned"})
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "b-secret", settings: [{key: WALLET_ADDRESS_URL, value: "http://wallet.test/bank-b"}]}) { tenant { id } } }`, nil, &created); err != nil {
		t.Fatal(err)
	}
	tc := s.client(created.CreateTenant.Tenant.ID, "b-secret")
	eur, err := createAsset(ctx, tc, "EUR", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createWalletAddress(ctx, tc, map[string]any{"assetId": usd.ID, "address": "x"}); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("tenant using the operator's asset: %v", err)
	}
	mine, err := createWalletAddress(ctx, tc, map[string]any{"assetId": eur.ID, "address": "erin"})
	if err != nil || mine.Address != "http://wallet.test/bank-b/erin" {
		t.Fatalf("tenant's own wallet address: %+v %v", mine, err)
	}
	// The operator's base holds the tenant's space, but the operator's
	// addresses may not lie in it.
	if _, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "bank-b/ERIN"}); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("the tenant's address again, under the operator: %v", err)
	}
	if err := tc.Do(ctx, `query($id: String!) { walletAddress(id: $id) { id } }`, map[string]any{"id": opWA.ID}, nil); code(t, err) != "NOT_FOUND" {
		t.Fatalf("tenant reading the operator's wallet address: %v", err)
	}
	if err := tc.Do(ctx, `mutation($id: ID!) { updateWalletAddress(input: {id: $id, status: INACTIVE}) { walletAddress { id } } }`,
		map[string]any{"id": opWA.ID}, nil); code(t, err) != "NOT_FOUND" {
		t.Fatalf("tenant deactivating the operator's wallet address: %v", err)
	}
	var list struct {
		WalletAddresses struct {
			Edges []struct{ Node struct{ ID string } }
		} `json:"walletAddresses"`
	}
	if err := tc.Do(ctx, `{ walletAddresses { edges { node { id } } } }`, nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.WalletAddresses.Edges) != 1 || list.WalletAddresses.Edges[0].Node.ID != mine.ID {
		t.Fatalf("tenant's list: %+v", list)
	}
	var byURL struct {
		WalletAddressByURL *struct{ ID string } `json:"walletAddressByUrl"`
	}
	if err := tc.Do(ctx, `{ walletAddressByUrl(url: "http://wallet.test/operator-owned") { id } }`, nil, &byURL); err != nil || byURL.WalletAddressByURL != nil {
		t.Fatalf("tenant finding the operator's wallet address by URL: %v %+v", err, byURL)
	}
}

// The asset field of a wallet address is read with the wallet address; it
// must show what the asset query shows, changes included, wherever a wallet
// address is answered.
func TestWalletAddressAsset(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, map[string]any{"withdrawalThreshold": "100", "liquidityThreshold": 5})
	if err != nil {
		t.Fatal(err)
	}
	const fields = `asset { ` + assetFields + ` }`
	var created struct {
		CreateWalletAddress struct {
			WalletAddress struct {
				ID    string
				Asset assetOut
			}
		} `json:"createWalletAddress"`
	}
	if err := op.Do(ctx, `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id `+fields+` } } }`,
		map[string]any{"input": map[string]any{"assetId": usd.ID, "address": "dora"}}, &created); err != nil {
		t.Fatal(err)
	}
	wa := created.CreateWalletAddress.WalletAddress
	// As the asset query shows it now: the asset's tenant may have reached
	// its read model only after createAsset answered.
	asQueried, err := getAsset(ctx, op, usd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmpJSON(t, wa.Asset, asQueried); diff != "" {
		t.Fatalf("createWalletAddress: asset %s", diff)
	}

	var updated struct {
		UpdateAsset struct{ Asset assetOut } `json:"updateAsset"`
	}
	if err := op.Do(ctx, `mutation($id: String!) { updateAsset(input: {id: $id, withdrawalThreshold: "7"}) { asset { `+assetFields+` } } }`,
		map[string]any{"id": usd.ID}, &updated); err != nil {
		t.Fatal(err)
	}
	want := updated.UpdateAsset.Asset
	if want.WithdrawalThreshold == nil || *want.WithdrawalThreshold != "7" || want.LiquidityThreshold != nil {
		t.Fatalf("updated asset %+v", want)
	}
	var one struct {
		WalletAddress struct{ Asset assetOut } `json:"walletAddress"`
	}
	if err := op.Do(ctx, `query($id: String!) { walletAddress(id: $id) { `+fields+` } }`, map[string]any{"id": wa.ID}, &one); err != nil {
		t.Fatal(err)
	}
	if diff := cmpJSON(t, one.WalletAddress.Asset, want); diff != "" {
		t.Fatalf("walletAddress after updateAsset: asset %s", diff)
	}
	var byURL struct {
		WalletAddressByURL struct{ Asset assetOut } `json:"walletAddressByUrl"`
	}
	if err := op.Do(ctx, `{ walletAddressByUrl(url: "http://wallet.test/dora") { `+fields+` } }`, nil, &byURL); err != nil {
		t.Fatal(err)
	}
	if diff := cmpJSON(t, byURL.WalletAddressByURL.Asset, want); diff != "" {
		t.Fatalf("walletAddressByUrl: asset %s", diff)
	}
	var list struct {
		WalletAddresses struct {
			Edges []struct{ Node struct{ Asset assetOut } }
		} `json:"walletAddresses"`
	}
	if err := op.Do(ctx, `{ walletAddresses { edges { node { `+fields+` } } } }`, nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.WalletAddresses.Edges) != 1 {
		t.Fatalf("list %+v", list)
	}
	if diff := cmpJSON(t, list.WalletAddresses.Edges[0].Node.Asset, want); diff != "" {
		t.Fatalf("walletAddresses: asset %s", diff)
	}
}

// cmpJSON compares two values by their JSON and describes the difference.
func cmpJSON(t *testing.T, got, want any) string {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		return fmt.Sprintf("%s, want %s", g, w)
	}
	return ""
}
