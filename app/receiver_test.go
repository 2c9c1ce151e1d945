package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

// instance is a backend with its auth service and workers whose public
// URLs are real: Open Payments (OPEN_PAYMENTS_URL, WALLET_ADDRESS_URL), the
// authorization server (AUTH_SERVER_GRANT_URL) and introspection each stand
// behind a proxy started first, since a listener's port is known only once
// it runs. Two of them in one process are two wallets that reach each
// other over HTTP.
type instance struct {
	*system
	opPublic   string
	authPublic string
	tenantID   string
	authAdmin  *adminclient.Client
	// grantRequests counts the grant requests its authorization server got,
	// rotations its token rotations, opRequests the requests its Open
	// Payments listener got for anything but its key sets.
	grantRequests, rotations, opRequests atomic.Int32
}

// startInstance starts an instance; configure, when given, changes its
// configuration.
func startInstance(t *testing.T, configure ...func(*config.Config)) *instance {
	t.Helper()
	in := &instance{}
	var op, auth, introspection atomic.Pointer[httputil.ReverseProxy]
	proxy := func(target *atomic.Pointer[httputil.ReverseProxy], seen func(*http.Request)) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if seen != nil {
				seen(r)
			}
			target.Load().ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	opProxy := proxy(&op, func(r *http.Request) {
		// Key sets are fetched by the other side, when it checks a
		// signature of this one.
		if !strings.HasSuffix(r.URL.Path, "/jwks.json") {
			in.opRequests.Add(1)
		}
	})
	authProxy := proxy(&auth, func(r *http.Request) {
		switch {
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/token/"):
			in.rotations.Add(1)
		case r.Method == http.MethodPost && strings.Count(r.URL.Path, "/") == 1:
			in.grantRequests.Add(1)
		}
	})
	introspectionProxy := proxy(&introspection, nil)
	in.opPublic, in.authPublic = opProxy.URL, authProxy.URL
	s := startServices(t, app.Set{Backend: true, Auth: true, Worker: true}, false, func(c *config.Config) {
		c.UseHTTP = true
		c.OpenPaymentsURL, c.WalletAddressURL = opProxy.URL, opProxy.URL+"/.well-known/pay"
		c.AuthServerGrantURL, c.AuthServerURL = authProxy.URL, authProxy.URL
		c.AuthServerIntrospectionURL = introspectionProxy.URL + "/"
		c.KeyID = "backend-" + uuid.NewString()
		c.CookieKey, c.InteractionExpiry, c.AccessTokenExpiry = "cookie-key-of-the-tests", 10*time.Minute, 10*time.Minute
		in.tenantID = c.OperatorTenantID
		for _, f := range configure {
			f(c)
		}
	})
	for listener, target := range map[string]*atomic.Pointer[httputil.ReverseProxy]{
		app.OpenPaymentsListener: &op, app.AuthListener: &auth, app.IntrospectionListener: &introspection,
	} {
		base, err := s.running.URL(listener)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		target.Store(httputil.NewSingleHostReverseProxy(u))
	}
	authAdminBase, err := s.running.URL(app.AuthAdminListener)
	if err != nil {
		t.Fatal(err)
	}
	in.system = s
	in.authAdmin = &adminclient.Client{URL: authAdminBase + "/graphql", TenantID: s.operator.TenantID, Secret: s.operator.Secret}
	return in
}

type receiverOut struct {
	ID               string     `json:"id"`
	WalletAddressURL string     `json:"walletAddressUrl"`
	Completed        bool       `json:"completed"`
	IncomingAmount   *amountOut `json:"incomingAmount"`
	ReceivedAmount   amountOut  `json:"receivedAmount"`
	ExpiresAt        *string    `json:"expiresAt"`
	Metadata         map[string]any
	CreatedAt        string `json:"createdAt"`
}

const receiverFields = `id walletAddressUrl completed incomingAmount { value assetCode assetScale } receivedAmount { value assetCode assetScale } expiresAt metadata createdAt`

func createReceiver(ctx context.Context, c *adminclient.Client, input map[string]any) (receiverOut, error) {
	var out struct {
		CreateReceiver struct{ Receiver receiverOut } `json:"createReceiver"`
	}
	err := c.Do(ctx, `mutation($input: CreateReceiverInput!) { createReceiver(input: $input) { receiver { `+receiverFields+` } } }`,
		map[string]any{"input": input}, &out)
	return out.CreateReceiver.Receiver, err
}

func getReceiver(ctx context.Context, c *adminclient.Client, id string) (receiverOut, error) {
	var out struct{ Receiver receiverOut }
	err := c.Do(ctx, `query($id: String!) { receiver(id: $id) { `+receiverFields+` } }`, map[string]any{"id": id}, &out)
	return out.Receiver, err
}

func completeReceiver(ctx context.Context, c *adminclient.Client, paymentURL string) (receiverOut, error) {
	var out struct {
		CompleteReceiver struct{ Receiver receiverOut } `json:"completeReceiver"`
	}
	err := c.Do(ctx, `mutation($input: CompleteReceiverInput!) { completeReceiver(input: $input) { receiver { `+receiverFields+` } } }`,
		map[string]any{"input": map[string]any{"incomingPaymentUrl": paymentURL}}, &out)
	return out.CompleteReceiver.Receiver, err
}

// gqlRefusal is the code and message of a GraphQL error, or "" for none.
func gqlRefusal(t *testing.T, err error) (string, string) {
	t.Helper()
	if err == nil {
		return "", ""
	}
	var gqlErrs adminclient.Errors
	if !errors.As(err, &gqlErrs) {
		t.Fatalf("not a GraphQL error: %v", err)
	}
	return gqlErrs[0].Code(), gqlErrs[0].Message
}

// Receivers across two instances: one creates, reads and completes an
// incoming payment of the other over Open Payments, with a grant it
// requested from the other's authorization server, signed with its own key
// that the other fetched from its WALLET_ADDRESS_URL; its own payments it
// answers itself.
func TestReceivers(t *testing.T) {
	sender, remote := startInstance(t), startInstance(t)
	ctx := context.Background()
	for _, in := range []*instance{sender, remote} {
		usd, err := createAsset(ctx, in.operator, "USD", 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := createWalletAddress(ctx, in.operator, map[string]any{"assetId": usd.ID, "address": "wallet"}); err != nil {
			t.Fatal(err)
		}
	}
	local, bob := sender.opPublic+"/wallet", remote.opPublic+"/wallet"
	remotePayments := remote.opPublic + "/" + remote.tenantID + "/incoming-payments/"
	localPayments := sender.opPublic + "/" + sender.tenantID + "/incoming-payments/"
	expiresAt := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)

	t.Run("the client key is served, its document is not", func(t *testing.T) {
		resp, err := http.Get(sender.opPublic + "/.well-known/pay/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		var keys struct {
			Keys []struct{ Kid, Kty, Crv, Alg, X string }
		}
		err = json.NewDecoder(resp.Body).Decode(&keys)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(keys.Keys) != 1 || !strings.HasPrefix(keys.Keys[0].Kid, "backend-") ||
			keys.Keys[0].Kty != "OKP" || keys.Keys[0].Crv != "Ed25519" || keys.Keys[0].Alg != "EdDSA" || keys.Keys[0].X == "" {
			t.Fatalf("jwks.json: %d %+v %v", resp.StatusCode, keys, err)
		}
		resp, err = http.Get(sender.opPublic + "/.well-known/pay")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("client wallet address document: %d", resp.StatusCode)
		}
	})

	var created receiverOut
	t.Run("create remote", func(t *testing.T) {
		var err error
		created, err = createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": bob, "expiresAt": expiresAt.Format(time.RFC3339Nano),
			"incomingAmount": map[string]any{"value": "500", "assetCode": "USD", "assetScale": 2}, "metadata": map[string]any{"order": "42"}})
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimPrefix(created.ID, remotePayments)
		if _, err := uuid.Parse(id); err != nil || created.WalletAddressURL != bob || created.Completed ||
			created.IncomingAmount == nil || created.IncomingAmount.Value != "500" || created.IncomingAmount.AssetCode != "USD" ||
			created.ReceivedAmount.Value != "0" || created.ReceivedAmount.AssetScale != 2 || created.ExpiresAt == nil ||
			*created.ExpiresAt != expiresAt.Format("2006-01-02T15:04:05.000Z") || created.Metadata["order"] != "42" || created.CreatedAt == "" {
			t.Fatalf("created %+v", created)
		}
		var out struct {
			IncomingPayment struct {
				Client *string
				State  string
			} `json:"incomingPayment"`
		}
		// Made over Open Payments, the payment reaches the remote's read
		// model when its projection applies it.
		testkit.Eventually(t, 5*time.Second, func() bool {
			return remote.operator.Do(ctx, `query($id: String!) { incomingPayment(id: $id) { client state } }`, map[string]any{"id": id}, &out) == nil
		}, "incoming payment %s at the remote instance", id)
		if out.IncomingPayment.Client == nil || *out.IncomingPayment.Client != sender.opPublic+"/.well-known/pay" || out.IncomingPayment.State != "PENDING" {
			t.Fatalf("at the remote instance: %+v", out.IncomingPayment)
		}
	})

	t.Run("read remote, one grant for every call", func(t *testing.T) {
		for range 3 {
			got, err := getReceiver(ctx, sender.operator, created.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != created.ID || got.WalletAddressURL != bob || got.Completed || got.IncomingAmount == nil || got.IncomingAmount.Value != "500" ||
				got.CreatedAt != created.CreatedAt || *got.ExpiresAt != *created.ExpiresAt || got.Metadata["order"] != "42" {
				t.Fatalf("read %+v, created %+v", got, created)
			}
		}
		if _, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": bob}); err != nil {
			t.Fatal(err)
		}
		if n := remote.grantRequests.Load(); n != 1 {
			t.Fatalf("%d grant requests, want 1", n)
		}
		if n := sender.grantRequests.Load(); n != 0 {
			t.Fatalf("the sender's own authorization server got %d grant requests", n)
		}
	})

	t.Run("a revoked grant is replaced", func(t *testing.T) {
		var out struct {
			Grants struct {
				Edges []struct{ Node struct{ ID, State string } }
			}
		}
		if err := remote.authAdmin.Do(ctx, `{ grants { edges { node { id state } } } }`, nil, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Grants.Edges) != 1 {
			t.Fatalf("grants at the remote: %+v", out.Grants.Edges)
		}
		if _, err := revokeGrant(ctx, remote.authAdmin, out.Grants.Edges[0].Node.ID); err != nil {
			t.Fatal(err)
		}
		got, err := getReceiver(ctx, sender.operator, created.ID)
		if err != nil || got.ID != created.ID {
			t.Fatalf("read after revocation: %+v %v", got, err)
		}
		if n := remote.grantRequests.Load(); n != 2 {
			t.Fatalf("%d grant requests, want 2", n)
		}
		if _, err := getReceiver(ctx, sender.operator, created.ID); err != nil {
			t.Fatal(err)
		}
		if n := remote.grantRequests.Load(); n != 2 {
			t.Fatalf("%d grant requests after another read, want 2", n)
		}
	})

	t.Run("complete remote", func(t *testing.T) {
		done, err := completeReceiver(ctx, sender.operator, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if done.ID != created.ID || !done.Completed || done.WalletAddressURL != bob {
			t.Fatalf("completed %+v", done)
		}
		got, err := getReceiver(ctx, sender.operator, created.ID)
		if err != nil || !got.Completed {
			t.Fatalf("read after completion: %+v %v", got, err)
		}
		// Completing needs an access the grant held does not cover.
		if n := remote.grantRequests.Load(); n != 3 {
			t.Fatalf("%d grant requests, want 3", n)
		}
	})

	t.Run("a retry under an idempotency key creates nothing more", func(t *testing.T) {
		key := uuid.NewString()
		var ids []string
		for range 2 {
			got, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": bob, "idempotencyKey": key})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, got.ID)
		}
		// The grant that created the first receiver was revoked: a
		// create needs one again, which the retry does not ask for.
		if ids[0] != ids[1] || !strings.HasPrefix(ids[0], remotePayments) || remote.grantRequests.Load() != 4 {
			t.Fatalf("receivers %v, %d grant requests", ids, remote.grantRequests.Load())
		}
	})

	var mine receiverOut
	t.Run("local", func(t *testing.T) {
		before := sender.grantRequests.Load() + remote.grantRequests.Load()
		var err error
		mine, err = createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": local,
			"incomingAmount": map[string]any{"value": "7", "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimPrefix(mine.ID, localPayments)
		if _, err := uuid.Parse(id); err != nil || mine.WalletAddressURL != local || mine.Completed || mine.IncomingAmount.Value != "7" ||
			mine.ReceivedAmount.Value != "0" || mine.ReceivedAmount.AssetCode != "USD" || mine.ExpiresAt == nil || mine.Metadata != nil {
			t.Fatalf("created %+v", mine)
		}
		var out struct {
			IncomingPayments struct {
				Edges []struct{ Node struct{ ID string } }
			} `json:"incomingPayments"`
		}
		if err := sender.operator.Do(ctx, `{ incomingPayments(filter: { initiatedBy: { in: ["ADMIN"] } }) { edges { node { id } } } }`, nil, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.IncomingPayments.Edges) != 1 || out.IncomingPayments.Edges[0].Node.ID != id {
			t.Fatalf("payments initiated by the admin API: %+v", out.IncomingPayments.Edges)
		}
		got, err := getReceiver(ctx, sender.operator, mine.ID)
		if err != nil || got.ID != mine.ID || got.CreatedAt != mine.CreatedAt || got.Completed {
			t.Fatalf("read %+v %v", got, err)
		}
		done, err := completeReceiver(ctx, sender.operator, mine.ID)
		if err != nil || !done.Completed || done.ID != mine.ID {
			t.Fatalf("completed %+v %v", done, err)
		}
		if n := sender.grantRequests.Load() + remote.grantRequests.Load() - before; n != 0 {
			t.Fatalf("local receivers made %d grant requests", n)
		}
	})

	var tenant struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := sender.operator.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"apiSecret": "tenant-secret"}}, &tenant); err != nil {
		t.Fatal(err)
	}
	other := sender.client(tenant.CreateTenant.Tenant.ID, "tenant-secret")
	t.Run("another tenant reads a local receiver", func(t *testing.T) {
		got, err := getReceiver(ctx, other, mine.ID)
		if err != nil || got.ID != mine.ID || !got.Completed {
			t.Fatalf("read %+v %v", got, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		unknownRemote := remotePayments + uuid.NewString()
		for _, tc := range []struct {
			name    string
			call    func() error
			code    string
			message string
		}{
			{"create at an unknown remote wallet address", func() error {
				_, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": remote.opPublic + "/nobody"})
				return err
			}, "NOT_FOUND", "unknown wallet address"},
			{"create at an unreachable wallet address", func() error {
				_, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": "http://127.0.0.1:1/nobody"})
				return err
			}, "NOT_FOUND", "unknown wallet address"},
			{"create at a wallet address that is no URL", func() error {
				_, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": "not a url"})
				return err
			}, "NOT_FOUND", "unknown wallet address"},
			{"create with an expiry that is no date", func() error {
				_, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": local, "expiresAt": "tomorrow"})
				return err
			}, "BAD_USER_INPUT", "invalid expiresAt"},
			{"create local in another asset", func() error {
				_, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": local,
					"incomingAmount": map[string]any{"value": "7", "assetCode": "EUR", "assetScale": 2}})
				return err
			}, "BAD_USER_INPUT", "invalid amount"},
			{"create remote in another asset", func() error {
				_, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": bob,
					"incomingAmount": map[string]any{"value": "7", "assetCode": "EUR", "assetScale": 2}})
				return err
			}, "BAD_USER_INPUT", "invalid remote incoming payment request"},
			{"read a URL that is no payment", func() error {
				_, err := getReceiver(ctx, sender.operator, "not a url")
				return err
			}, "NOT_FOUND", "receiver does not exist"},
			{"read an unknown remote payment", func() error {
				_, err := getReceiver(ctx, sender.operator, unknownRemote)
				return err
			}, "NOT_FOUND", "receiver does not exist"},
			{"complete an unknown remote payment", func() error {
				_, err := completeReceiver(ctx, sender.operator, unknownRemote)
				return err
			}, "NOT_FOUND", "unknown payment"},
			{"another tenant creates at this instance's wallet address", func() error {
				_, err := createReceiver(ctx, other, map[string]any{"walletAddressUrl": local})
				return err
			}, "NOT_FOUND", "unknown wallet address"},
			{"another tenant completes this instance's payment", func() error {
				_, err := completeReceiver(ctx, other, mine.ID)
				return err
			}, "NOT_FOUND", "unknown payment"},
			{"read an unknown payment of this instance", func() error {
				_, err := getReceiver(ctx, sender.operator, localPayments+uuid.NewString())
				return err
			}, "NOT_FOUND", "receiver does not exist"},
			{"complete an unknown payment of this instance", func() error {
				_, err := completeReceiver(ctx, sender.operator, localPayments+uuid.NewString())
				return err
			}, "NOT_FOUND", "unknown payment"},
			{"create at an unknown wallet address of this instance", func() error {
				_, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": sender.opPublic + "/nobody"})
				return err
			}, "NOT_FOUND", "unknown wallet address"},
			{"complete a completed local payment", func() error {
				_, err := completeReceiver(ctx, sender.operator, mine.ID)
				return err
			}, "CONFLICT", "wrong state"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				local := sender.opRequests.Load()
				code, message := gqlRefusal(t, tc.call())
				if code != tc.code || message != tc.message {
					t.Fatalf("%s %q, want %s %q", code, message, tc.code, tc.message)
				}
				// The sender never asks itself over HTTP.
				if n := sender.opRequests.Load() - local; n != 0 {
					t.Fatalf("%d requests to the sender's own Open Payments listener", n)
				}
			})
		}
	})
}

func TestClientKey(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "key.pem"), filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file string
		ok   bool
	}{
		{"the file's key", good, true},
		{"one made when unset", "", true},
		{"a missing file", filepath.Join(dir, "missing.pem"), false},
		{"a file without a key", bad, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := app.ClientKey(config.Config{PrivateKeyFile: tc.file, KeyID: "k"}, testLogger())
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (len(got) != ed25519.PrivateKeySize || (tc.file == good) != got.Equal(key)) {
				t.Fatalf("key %x", got)
			}
		})
	}
}

// A token that expires is rotated at the other instance's authorization
// server, and the grant kept.
func TestReceiversRotateExpiredTokens(t *testing.T) {
	// Tokens of 6 s, which the sender counts as expired 5 s early.
	sender, remote := startInstance(t), startInstance(t, func(c *config.Config) { c.AccessTokenExpiry = 6 * time.Second })
	ctx := context.Background()
	usd, err := createAsset(ctx, remote.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createWalletAddress(ctx, remote.operator, map[string]any{"assetId": usd.ID, "address": "wallet"}); err != nil {
		t.Fatal(err)
	}
	created, err := createReceiver(ctx, sender.operator, map[string]any{"walletAddressUrl": remote.opPublic + "/wallet"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	for range 2 {
		if got, err := getReceiver(ctx, sender.operator, created.ID); err != nil || got.ID != created.ID {
			t.Fatalf("read %+v %v", got, err)
		}
	}
	if requests, rotations := remote.grantRequests.Load(), remote.rotations.Load(); requests != 1 || rotations < 1 {
		t.Fatalf("%d grant requests, %d rotations; want 1 and at least 1", requests, rotations)
	}
}
