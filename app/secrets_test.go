package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// rawMessages is every message of a stream, as stored.
func rawMessages(t *testing.T, js jetstream.JetStream, stream string) [][]byte {
	t.Helper()
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for uint64(len(out)) < info.State.Msgs {
		batch, err := c.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for msg := range batch.Messages() {
			out = append(out, append([]byte(msg.Subject()+" "), msg.Data()...))
			n++
		}
		if n == 0 {
			t.Fatalf("read %d of %d messages of %s", len(out), info.State.Msgs, stream)
		}
	}
	return out
}

// TestSecretsAreSealedInTheLogAndShreddable creates tenants and peers with
// secrets through the admin API: no stored message holds a secret in plain
// text, yet the tenant signs with its secret and the peer's tokens read as
// given. The audit tools print no secret. Once deleted and shredded, a
// replay builds the tenant without a secret (it cannot sign) and the peer
// without tokens.
func TestSecretsAreSealedInTheLogAndShreddable(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	apiSecret, idpSecret := "api-"+uuid.NewString(), "idp-"+uuid.NewString()
	rotated := "rotated-" + uuid.NewString()
	incoming, outgoing, replaced := "in-"+uuid.NewString(), "out-"+uuid.NewString(), "in2-"+uuid.NewString()
	plaintexts := []string{apiSecret, idpSecret, rotated, incoming, outgoing, replaced}

	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"apiSecret": apiSecret, "idpSecret": idpSecret, "idpConsentUrl": "https://idp.test/consent"}}, &created); err != nil {
		t.Fatal(err)
	}
	tenantID := created.CreateTenant.Tenant.ID
	tc := s.client(tenantID, apiSecret)
	if err := tc.Do(ctx, `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"id": tenantID, "apiSecret": rotated}}, nil); err != nil {
		t.Fatalf("the tenant signs with the secret it was created with: %v", err)
	}
	tc = s.client(tenantID, rotated)
	var whoami struct {
		Tenant struct{ APISecret, IdpSecret string } `json:"tenant"`
	}
	if err := tc.Do(ctx, `query($id: String!) { tenant(id: $id) { apiSecret idpSecret } }`, map[string]any{"id": tenantID}, &whoami); err != nil {
		t.Fatalf("the tenant signs with its rotated secret: %v", err)
	}
	if whoami.Tenant.APISecret != rotated || whoami.Tenant.IdpSecret != idpSecret {
		t.Fatalf("the API reads the tenant's secrets as %+v", whoami.Tenant)
	}

	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	var peer struct {
		CreatePeer struct{ Peer struct{ ID string } } `json:"createPeer"`
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "staticIlpAddress": "test.secret-peer",
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{incoming}},
			"outgoing": map[string]any{"authToken": outgoing, "endpoint": "http://peer.test"}}}}, &peer); err != nil {
		t.Fatal(err)
	}
	peerID := peer.CreatePeer.Peer.ID
	if err := op.Do(ctx, `mutation($input: UpdatePeerInput!) { updatePeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"id": peerID, "http": map[string]any{"incoming": map[string]any{"authTokens": []string{incoming, replaced}},
			"outgoing": map[string]any{"authToken": outgoing, "endpoint": "http://peer.test"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	var read struct {
		Peer struct {
			HTTP struct{ Outgoing struct{ AuthToken string } } `json:"http"`
		} `json:"peer"`
	}
	if err := op.Do(ctx, `query($id: String!) { peer(id: $id) { http { outgoing { authToken } } } }`, map[string]any{"id": peerID}, &read); err != nil {
		t.Fatal(err)
	}
	if read.Peer.HTTP.Outgoing.AuthToken != outgoing {
		t.Fatalf("the API reads the peer's outgoing token as %q", read.Peer.HTTP.Outgoing.AuthToken)
	}
	reader := s.running.Deps
	for _, token := range []string{incoming, replaced} {
		var owner string
		if err := reader.Pool.QueryRow(ctx, `SELECT peer_id::text FROM rm_peers.peer_incoming_tokens WHERE token = $1`, token).Scan(&owner); err != nil || owner != peerID {
			t.Fatalf("incoming token %s: %q %v", token, owner, err)
		}
	}

	// Not one stored message holds a secret in plain text.
	stored := rawMessages(t, s.nats.JS, app.EventsStream)
	for _, msg := range stored {
		for _, secret := range plaintexts {
			if strings.Contains(string(msg), secret) {
				t.Errorf("the event log holds a secret in plain text: %s", msg)
			}
		}
	}
	sealedEvents := 0
	for _, msg := range stored {
		if strings.Contains(string(msg), `"enc:v1:`) {
			sealedEvents++
		}
	}
	if sealedEvents < 4 {
		t.Fatalf("%d events hold sealed secrets, want the tenant's two and the peer's two", sealedEvents)
	}

	// The audit tools print no secret, sealed or plain.
	for _, id := range []string{tenantID, peerID} {
		history, err := app.History(ctx, s.nats.JS, id)
		if err != nil || len(history) < 2 {
			t.Fatalf("history of %s: %d events, %v", id, len(history), err)
		}
		for _, env := range history {
			if out := app.RedactedData(env); strings.Contains(out, "enc:v1:") || !strings.Contains(out, app.Redacted) {
				t.Errorf("events of %s print %s", id, out)
			}
		}
	}
	state, err := app.StateAt(mustHistory(t, s, tenantID), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprintf("%+v", state); strings.Contains(out, "enc:v1:") || !strings.Contains(out, app.Redacted) {
		t.Errorf("events --at prints %s", out)
	}

	// A live aggregate's secrets are in use: shredding them is refused.
	if err := reader.Shred(ctx, "tenant", tenantID); err == nil {
		t.Fatal("shredding a live tenant was accepted")
	}
	if err := op.Do(ctx, `mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": tenantID}, nil); err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($id: ID!) { deletePeer(input: {id: $id}) { success } }`, map[string]any{"id": peerID}, nil); err != nil {
		t.Fatal(err)
	}
	for typ, id := range map[string]string{"tenant": tenantID, "peer": peerID} {
		if err := reader.Shred(ctx, typ, id); err != nil {
			t.Fatalf("shred %s: %v", typ, err)
		}
	}
	for _, p := range []projections.Projection{projections.Tenants{Secrets: reader.Keys}, projections.Peers{Secrets: reader.Keys}} {
		consumer, _ := reader.Streams.Consumer(projections.ConsumerName(p))
		if _, err := projections.Replay(ctx, reader.Pool, s.nats.JS, app.EventsStream, p, consumer.FilterSubjects[0], nil); err != nil {
			t.Fatal(err)
		}
	}
	var api, idp *string
	if err := reader.Pool.QueryRow(ctx, `SELECT api_secret, idp_secret FROM rm_tenants.tenants WHERE id = $1`, tenantID).Scan(&api, &idp); err != nil {
		t.Fatal(err)
	}
	if api == nil || *api != "" || idp != nil {
		t.Fatalf("a shredded tenant's secrets after replay: api %v, idp %v", api, idp)
	}
	var outToken string
	var tokens int
	if err := reader.Pool.QueryRow(ctx, `SELECT outgoing_token, (SELECT count(*) FROM rm_peers.peer_incoming_tokens) FROM rm_peers.peers WHERE id = $1`,
		peerID).Scan(&outToken, &tokens); err != nil {
		t.Fatal(err)
	}
	if outToken != "" || tokens != 0 {
		t.Fatalf("a shredded peer after replay: outgoing %q, %d incoming tokens", outToken, tokens)
	}
	// The operator still signs; the shredded tenant never will.
	if err := op.Do(ctx, `query { whoami { id } }`, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"", rotated} {
		if err := s.client(tenantID, secret).Do(ctx, `query { whoami { id } }`, nil, nil); err == nil {
			t.Fatalf("the shredded tenant signed with %q", secret)
		}
	}
}

func mustHistory(t *testing.T, s *system, id string) []events.Envelope {
	t.Helper()
	h, err := app.History(context.Background(), s.nats.JS, id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestDevKeyIsMadeOnceAndKept: without EVENT_SECRETS_KEY, a process on the
// embedded store makes a key in DATA_DIR that only its owner reads and uses
// it from then on; a process on a shared NATS_URL is refused.
func TestDevKeyIsMadeOnceAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := config.Config{DataDir: dir}
	first, err := app.EventSecretsKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, app.DevKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 || len(first) != 32 {
		t.Fatalf("key file mode %v, key of %d bytes", info.Mode().Perm(), len(first))
	}
	again, err := app.EventSecretsKey(cfg)
	if err != nil || string(again) != string(first) {
		t.Fatalf("the key changed on restart: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("DATA_DIR holds %d files, want the key only", len(entries))
	}
	if err := os.Chmod(filepath.Join(dir, app.DevKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := app.EventSecretsKey(cfg); err == nil {
		t.Fatal("a key file others may read was used")
	}
	set := config.Config{DataDir: dir, EventSecretsKey: testkit.EventSecretsKey}
	if got, err := app.EventSecretsKey(set); err != nil || string(got) != string(testkit.EventSecretsKey) {
		t.Fatalf("EVENT_SECRETS_KEY set: %v", err)
	}
	shared := config.Config{DataDir: t.TempDir(), NATSURL: "nats://127.0.0.1:4222"}
	if _, err := app.EventSecretsKey(shared); err == nil || !strings.Contains(err.Error(), "EVENT_SECRETS_KEY") {
		t.Fatalf("a process on NATS_URL without EVENT_SECRETS_KEY: %v", err)
	}
	if _, err := os.Stat(filepath.Join(shared.DataDir, app.DevKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a process on NATS_URL made a key file: %v", err)
	}
}
