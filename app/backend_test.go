package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

type system struct {
	running  *app.Running
	nats     *testkit.NATS
	adminURL string
	opURL    string
	operator *adminclient.Client
}

func start(t *testing.T) *system {
	t.Helper()
	return startSystem(t, false)
}

// startSystem runs the backend and workers in process; syncAlways fsyncs
// every event, as `make run` does. configure, when given, changes the
// configuration before the start.
func startSystem(t testing.TB, syncAlways bool, configure ...func(*config.Config)) *system {
	t.Helper()
	return startServices(t, app.Set{Backend: true, Worker: true}, syncAlways, configure...)
}

// startServices runs set in process, as startSystem.
func startServices(t testing.TB, set app.Set, syncAlways bool, configure ...func(*config.Config)) *system {
	t.Helper()
	n := testkit.StartNATS(t, syncAlways)
	cfg := config.Config{
		OperatorTenantID: uuid.NewString(), AdminAPISecret: "operator-" + uuid.NewString(),
		AdminSignatureVersion: 1, AdminSignatureTTL: 30 * time.Second, ILPAddress: "test.rafiki",
		DatabaseURL: testkit.NewDatabase(t), AuthDatabaseURL: testkit.NewDatabase(t), RedisURL: testkit.RedisURL(), NATSURL: n.URL, NATSStreamReplicas: 1,
		ReadYourWritesTimeout: 5 * time.Second, RequestTimeout: 10 * time.Second, ShutdownTimeout: 5 * time.Second, GraphQLIntrospection: true,
		IncomingPaymentExpiryMax: 30 * 24 * time.Hour, QuoteLifespan: 5 * time.Minute, OutgoingPaymentRetryAttempts: 5, SignatureVersion: 1,
		GraphQLIdempotencyTTL: time.Hour, GraphQLIdempotencyLock: 2 * time.Second,
		StreamSecret: make([]byte, 32), EnableSPSP: true, EventSecretsKey: testkit.EventSecretsKey,
		OpenPaymentsURL: "http://wallet.test", AuthServerGrantURL: "http://auth.test", LocalCacheDuration: 15 * time.Second,
	}
	for _, f := range configure {
		f(&cfg)
	}
	ctx := context.Background()
	r, err := app.Start(ctx, cfg, testLogger(), set, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(stop)
	})
	base, err := r.URL(app.AdminListener)
	if err != nil {
		t.Fatal(err)
	}
	opBase, err := r.URL(app.OpenPaymentsListener)
	if err != nil {
		t.Fatal(err)
	}
	s := &system{running: r, nats: n, adminURL: base + "/graphql", opURL: opBase}
	s.operator = s.client(cfg.OperatorTenantID, cfg.AdminAPISecret)
	return s
}

func (s *system) client(tenantID, secret string) *adminclient.Client {
	return &adminclient.Client{URL: s.adminURL, TenantID: tenantID, Secret: secret}
}

// code is the GraphQL error code of err, or "" when err is nil.
func code(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var gqlErrs adminclient.Errors
	if !errors.As(err, &gqlErrs) {
		t.Fatalf("not a GraphQL error: %v", err)
	}
	return gqlErrs[0].Code()
}

type assetOut struct {
	ID                  string  `json:"id"`
	Code                string  `json:"code"`
	Scale               int     `json:"scale"`
	WithdrawalThreshold *string `json:"withdrawalThreshold"`
	LiquidityThreshold  *string `json:"liquidityThreshold"`
	SendingFee          *struct {
		ID          string `json:"id"`
		Fixed       string `json:"fixed"`
		BasisPoints int    `json:"basisPoints"`
		Type        string `json:"type"`
	} `json:"sendingFee"`
	Tenant *struct {
		ID string `json:"id"`
	} `json:"tenant"`
}

const assetFields = `id code scale withdrawalThreshold liquidityThreshold sendingFee { id fixed basisPoints type } tenant { id }`

func createAsset(ctx context.Context, c *adminclient.Client, code string, scale int, extra map[string]any) (assetOut, error) {
	input := map[string]any{"code": code, "scale": scale}
	for k, v := range extra {
		input[k] = v
	}
	var out struct {
		CreateAsset struct{ Asset assetOut } `json:"createAsset"`
	}
	err := c.Do(ctx, `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { `+assetFields+` } } }`,
		map[string]any{"input": input}, &out)
	return out.CreateAsset.Asset, err
}

func getAsset(ctx context.Context, c *adminclient.Client, id string) (assetOut, error) {
	var out struct{ Asset assetOut }
	err := c.Do(ctx, `query($id: String!) { asset(id: $id) { `+assetFields+` } }`, map[string]any{"id": id}, &out)
	return out.Asset, err
}

func TestAssetLifecycle(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator

	a, err := createAsset(ctx, op, "USD", 2, map[string]any{"withdrawalThreshold": "100", "liquidityThreshold": 5})
	if err != nil {
		t.Fatal(err)
	}
	if a.Code != "USD" || a.Scale != 2 || *a.WithdrawalThreshold != "100" || *a.LiquidityThreshold != "5" {
		t.Fatalf("created %+v", a)
	}
	if _, err := createAsset(ctx, op, "USD", 2, nil); code(t, err) != "DUPLICATE" {
		t.Fatalf("second USD/2: %v, want DUPLICATE", err)
	}

	var upd struct {
		UpdateAsset struct{ Asset assetOut } `json:"updateAsset"`
	}
	if err := op.Do(ctx, `mutation($input: UpdateAssetInput!) { updateAsset(input: $input) { asset { `+assetFields+` } } }`,
		map[string]any{"input": map[string]any{"id": a.ID, "withdrawalThreshold": "18446744073709551615"}}, &upd); err != nil {
		t.Fatal(err)
	}
	if got := upd.UpdateAsset.Asset; *got.WithdrawalThreshold != "18446744073709551615" || got.LiquidityThreshold != nil {
		t.Fatalf("updated thresholds: %+v", got)
	}

	setFee := `mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id fixed basisPoints type } } }`
	if err := op.Do(ctx, setFee, map[string]any{"input": map[string]any{
		"assetId": a.ID, "type": "SENDING", "fee": map[string]any{"fixed": "10", "basisPoints": 200}}}, nil); err != nil {
		t.Fatal(err)
	}
	err = op.Do(ctx, setFee, map[string]any{"input": map[string]any{
		"assetId": a.ID, "type": "SENDING", "fee": map[string]any{"fixed": "10", "basisPoints": 10001}}}, nil)
	if code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("basis points above 10000: %v", err)
	}
	got, err := getAsset(ctx, op, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SendingFee == nil || got.SendingFee.Fixed != "10" || got.SendingFee.BasisPoints != 200 || got.Tenant.ID != op.TenantID {
		t.Fatalf("asset after setFee: %+v", got)
	}

	var del struct {
		DeleteAsset struct{ Asset assetOut } `json:"deleteAsset"`
	}
	if err := op.Do(ctx, `mutation($input: DeleteAssetInput!) { deleteAsset(input: $input) { asset { id } } }`,
		map[string]any{"input": map[string]any{"id": a.ID}}, &del); err != nil || del.DeleteAsset.Asset.ID != a.ID {
		t.Fatalf("delete: %v %+v", err, del)
	}
	if _, err := getAsset(ctx, op, a.ID); code(t, err) != "NOT_FOUND" {
		t.Fatalf("deleted asset: %v, want NOT_FOUND", err)
	}
	again, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil || again.ID != a.ID || again.WithdrawalThreshold == nil {
		t.Fatalf("re-created USD/2: %+v %v, want the same asset %s back with its thresholds", again, err, a.ID)
	}
	if _, err := createAsset(ctx, op, "", 2, nil); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("empty code: %v", err)
	}
	if err := op.Do(ctx, `mutation { createAsset(input: {code: "EUR", scale: 256}) { asset { id } } }`, nil, nil); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("scale 256: %v", err)
	}
}

func TestTenantsAndIsolation(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	opAsset, err := createAsset(ctx, op, "EUR", 2, nil)
	if err != nil {
		t.Fatal(err)
	}

	secret := "tenant-secret-" + uuid.NewString()
	var created struct {
		CreateTenant struct {
			Tenant struct {
				ID       string
				Settings []struct{ Key, Value string }
			}
		} `json:"createTenant"`
	}
	err = op.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id settings { key value } } } }`,
		map[string]any{"input": map[string]any{"apiSecret": secret, "publicName": "Bank B",
			"settings": []map[string]any{{"key": "WEBHOOK_URL", "value": "https://bank-b.example/webhooks"}}}}, &created)
	if err != nil {
		t.Fatal(err)
	}
	tenantID := created.CreateTenant.Tenant.ID
	settings := map[string]string{}
	for _, st := range created.CreateTenant.Tenant.Settings {
		settings[st.Key] = st.Value
	}
	if settings["ILP_ADDRESS"] != "test.rafiki."+tenantID || settings["WEBHOOK_URL"] == "" || settings["WEBHOOK_TIMEOUT"] != "2000" {
		t.Fatalf("settings: %v", settings)
	}

	tc := s.client(tenantID, secret)
	var who struct {
		Whoami struct {
			ID         string
			IsOperator bool
		}
	}
	if err := tc.Do(ctx, `{ whoami { id isOperator } }`, nil, &who); err != nil || who.Whoami.ID != tenantID || who.Whoami.IsOperator {
		t.Fatalf("whoami: %v %+v", err, who)
	}
	tenantAsset, err := createAsset(ctx, tc, "EUR", 2, nil)
	if err != nil || tenantAsset.Tenant.ID != tenantID {
		t.Fatalf("tenant's own EUR/2 (another tenant's code and scale): %+v %v", tenantAsset, err)
	}
	if _, err := getAsset(ctx, tc, opAsset.ID); code(t, err) != "NOT_FOUND" {
		t.Fatalf("tenant reading the operator's asset: %v", err)
	}
	var upd struct {
		UpdateAsset struct{ Asset *assetOut } `json:"updateAsset"`
	}
	err = tc.Do(ctx, `mutation($input: UpdateAssetInput!) { updateAsset(input: $input) { asset { id } } }`,
		map[string]any{"input": map[string]any{"id": opAsset.ID, "liquidityThreshold": "1"}}, &upd)
	if code(t, err) != "NOT_FOUND" {
		t.Fatalf("tenant changing the operator's asset: %v", err)
	}
	if _, err := createAsset(ctx, tc, "GBP", 2, map[string]any{"tenantId": op.TenantID}); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("tenant creating an asset for the operator: %v", err)
	}
	var list struct {
		Assets struct{ Edges []struct{ Node assetOut } } `json:"assets"`
	}
	if err := tc.Do(ctx, `{ assets { edges { node { id tenant { id } } } } }`, nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Assets.Edges) != 1 || list.Assets.Edges[0].Node.ID != tenantAsset.ID {
		t.Fatalf("tenant's asset list: %+v", list)
	}
	if err := op.Do(ctx, `query($t: String) { assets(tenantId: $t) { edges { node { id } } } }`, map[string]any{"t": tenantID}, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Assets.Edges) != 1 || list.Assets.Edges[0].Node.ID != tenantAsset.ID {
		t.Fatalf("operator listing the tenant's assets: %+v", list)
	}
	if err := tc.Do(ctx, `mutation { createTenant(input: {apiSecret: "x"}) { tenant { id } } }`, nil, nil); code(t, err) != "FORBIDDEN" {
		t.Fatalf("tenant creating a tenant: %v", err)
	}
	if err := tc.Do(ctx, `{ tenants { edges { node { id } } } }`, nil, nil); code(t, err) != "FORBIDDEN" {
		t.Fatalf("tenant listing tenants: %v", err)
	}
	if err := tc.Do(ctx, `query($id: String!) { tenant(id: $id) { id } }`, map[string]any{"id": op.TenantID}, nil); code(t, err) != "NOT_FOUND" {
		t.Fatalf("tenant reading the operator tenant: %v", err)
	}
	var renamed struct {
		UpdateTenant struct{ Tenant struct{ PublicName string } } `json:"updateTenant"`
	}
	if err := tc.Do(ctx, `mutation($id: ID!) { updateTenant(input: {id: $id, publicName: "Bank B2"}) { tenant { publicName } } }`,
		map[string]any{"id": tenantID}, &renamed); err != nil || renamed.UpdateTenant.Tenant.PublicName != "Bank B2" {
		t.Fatalf("tenant renaming itself: %v %+v", err, renamed)
	}
	if err := op.Do(ctx, `mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": tenantID}, nil); err != nil {
		t.Fatal(err)
	}
	var status *adminclient.StatusError
	if err := tc.Do(ctx, `{ whoami { id } }`, nil, nil); !errors.As(err, &status) || status.Status != http.StatusUnauthorized {
		t.Fatalf("deleted tenant signing a request: %v, want 401", err)
	}
}

func TestAdminAPIRejectsBadSignatures(t *testing.T) {
	s := start(t)
	refusesBadSignatures(t, s.operator, []byte(`{"query":"{ whoami { id } }"}`), nil,
		"{ tenants { edges { node { id apiSecret } } } }", "apiSecret", s.operator.Secret)
}

func TestReadYourWritesUnderConcurrency(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	const writers = 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			a, err := createAsset(ctx, s.operator, fmt.Sprintf("C%03d", i), 2, nil)
			if err != nil {
				errs <- err
				return
			}
			got, err := getAsset(ctx, s.operator, a.ID)
			if err != nil || got.ID != a.ID {
				errs <- fmt.Errorf("asset %s not readable right after its creation: %v", a.ID, err)
				return
			}
			var upd struct {
				UpdateAsset struct{ Asset assetOut } `json:"updateAsset"`
			}
			err = s.operator.Do(ctx, `mutation($input: UpdateAssetInput!) { updateAsset(input: $input) { asset { liquidityThreshold } } }`,
				map[string]any{"input": map[string]any{"id": a.ID, "liquidityThreshold": fmt.Sprint(i + 1)}}, &upd)
			if err != nil {
				errs <- err
				return
			}
			got, err = getAsset(ctx, s.operator, a.ID)
			if err != nil || got.LiquidityThreshold == nil || *got.LiquidityThreshold != fmt.Sprint(i+1) {
				errs <- fmt.Errorf("update of %s not visible right after it: %+v %v", a.ID, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAssetPagination(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		a, err := createAsset(ctx, s.operator, fmt.Sprintf("P%d", i), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	type page struct {
		Assets struct {
			PageInfo struct {
				StartCursor, EndCursor       string
				HasNextPage, HasPreviousPage bool
			}
			Edges []struct{ Cursor string }
		}
	}
	q := `query($first: Int, $after: String, $last: Int, $before: String, $order: SortOrder) {
		assets(first: $first, after: $after, last: $last, before: $before, sortOrder: $order) {
			pageInfo { startCursor endCursor hasNextPage hasPreviousPage } edges { cursor } } }`
	var p1 page
	if err := s.operator.Do(ctx, q, map[string]any{"first": 2, "order": "ASC"}, &p1); err != nil {
		t.Fatal(err)
	}
	if len(p1.Assets.Edges) != 2 || p1.Assets.Edges[0].Cursor != ids[0] || !p1.Assets.PageInfo.HasNextPage || p1.Assets.PageInfo.HasPreviousPage {
		t.Fatalf("first page: %+v", p1)
	}
	var p2 page
	if err := s.operator.Do(ctx, q, map[string]any{"first": 2, "after": p1.Assets.PageInfo.EndCursor, "order": "ASC"}, &p2); err != nil {
		t.Fatal(err)
	}
	if len(p2.Assets.Edges) != 2 || p2.Assets.Edges[0].Cursor != ids[2] || !p2.Assets.PageInfo.HasPreviousPage {
		t.Fatalf("second page: %+v", p2)
	}
	var back page
	if err := s.operator.Do(ctx, q, map[string]any{"last": 2, "before": p2.Assets.PageInfo.StartCursor, "order": "ASC"}, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Assets.Edges) != 2 || back.Assets.Edges[0].Cursor != ids[0] || back.Assets.Edges[1].Cursor != ids[1] {
		t.Fatalf("backwards page: %+v", back)
	}
	var desc page
	if err := s.operator.Do(ctx, q, map[string]any{"first": 1}, &desc); err != nil || desc.Assets.Edges[0].Cursor != ids[4] {
		t.Fatalf("newest first by default: %+v %v", desc, err)
	}
	if err := s.operator.Do(ctx, q, map[string]any{"first": 101}, nil); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("first: 101: %v", err)
	}
	if err := s.operator.Do(ctx, q, map[string]any{"last": 1}, nil); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("last without before: %v", err)
	}
}

// testLogger shows the services' logs when RAFIKI_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("RAFIKI_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// A tenant id chosen by the operator is kept in its canonical form, however
// it was spelled, so its subjects and rows agree.
func TestTenantIDIsCanonical(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	create := func(id string) (string, error) {
		var out struct {
			CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
		}
		err := s.operator.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
			map[string]any{"input": map[string]any{"id": id, "apiSecret": "s"}}, &out)
		return out.CreateTenant.Tenant.ID, err
	}
	const canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
	got, err := create("urn:uuid:A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")
	if err != nil || got != canonical {
		t.Fatalf("created %q, %v; want %q", got, err, canonical)
	}
	if _, err := create("A0EEBC999C0B4EF8BB6D6BB9BD380A11"); code(t, err) != "DUPLICATE" {
		t.Fatalf("the same id spelled otherwise: %v, want DUPLICATE", err)
	}
	if _, err := create("not-a-uuid"); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("a malformed id: %v, want BAD_USER_INPUT", err)
	}
	var read struct {
		Tenant struct{ ID string } `json:"tenant"`
	}
	if err := s.operator.Do(ctx, `query($id: String!) { tenant(id: $id) { id } }`, map[string]any{"id": canonical}, &read); err != nil || read.Tenant.ID != canonical {
		t.Fatalf("read back: %+v %v", read, err)
	}
}

// The operator's lists of one tenant take a tenant's id: anything else is
// the caller's mistake, told as such, not an internal error.
func TestListsRefuseATenantIDNotAnID(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	for _, list := range []string{"assets", "peers", "walletAddresses", "incomingPayments", "outgoingPayments", "payments", "webhookEvents"} {
		for _, tenantID := range []string{"garbage", "", s.operator.TenantID + "x"} {
			err := s.operator.Do(ctx, fmt.Sprintf(`{ %s(tenantId: %q) { pageInfo { hasNextPage } } }`, list, tenantID), nil, nil)
			if got := code(t, err); got != "BAD_USER_INPUT" {
				t.Errorf("%s(tenantId: %q): %v, want BAD_USER_INPUT", list, tenantID, err)
			}
		}
		if err := s.operator.Do(ctx, fmt.Sprintf(`{ %s(tenantId: %q) { pageInfo { hasNextPage } } }`, list, s.operator.TenantID), nil, nil); err != nil {
			t.Errorf("%s of the operator's tenant: %v", list, err)
		}
	}
}
