package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/testkit"
)

// `rafiki auth` alone opens NATS, Redis, the keyring (tenants' secrets are
// sealed in their events) and the auth database, which it
// creates and migrates, and nothing of the backend's (its database is
// unreachable here); its listeners are ready on those. A worker beside it
// runs the grants projection into the auth database, and the auth process
// finds a grant the moment it was requested.
func TestAuthAloneOpensTheAuthDatabase(t *testing.T) {
	n := testkit.StartNATS(t, false)
	ctx := context.Background()
	name := fmt.Sprintf("rafiki_auth_test_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	t.Cleanup(func() {
		admin, err := pgx.Connect(context.Background(), testkit.PostgresURL())
		if err != nil {
			return
		}
		defer admin.Close(context.Background())
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	base, query, _ := strings.Cut(testkit.PostgresURL(), "?")
	authURL := base[:strings.LastIndex(base, "/")+1] + name + "?" + query

	cfg := serviceConfig(t, n.URL, 0)
	cfg.DatabaseURL = closedURL(t, "postgres") + "/none?sslmode=disable"
	cfg.AuthDatabaseURL = authURL
	auth, err := app.Start(ctx, cfg, testLogger(), app.Set{Auth: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		auth.Stop(stop)
	})
	d := auth.Deps
	if d.Pool != nil || d.Ledger != nil || d.Keys == nil || d.AuthPool == nil || d.Redis == nil || d.Store == nil || auth.Auth == nil || auth.Backend != nil {
		t.Fatalf("auth opened %+v", d)
	}
	if err := migrations.CheckAuth(ctx, authURL); err != nil {
		t.Fatalf("auth database: %v", err)
	}
	var tables int
	if err := d.AuthPool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'rm_grants'`).Scan(&tables); err != nil || tables != 5 {
		t.Fatalf("rm_grants holds %d tables: %v", tables, err)
	}

	url, err := auth.URL(app.AuthListener)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	testkit.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	}, "auth ready: %s", body)
	for _, check := range []string{`"auth_postgres":"ok"`, `"nats":"ok"`, `"redis":"ok"`, `"checkpoint_listener":"ok"`, `"projections":"ok"`} {
		if !strings.Contains(body, check) {
			t.Fatalf("auth readiness %s lacks %s", body, check)
		}
	}
	if strings.Contains(body, `"postgres"`) {
		t.Fatalf("auth readiness checks the backend's database: %s", body)
	}

	workerCfg := serviceConfig(t, n.URL, 0)
	workerCfg.AuthDatabaseURL = authURL
	worker, err := app.Start(ctx, workerCfg, testLogger(), app.Set{Worker: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		worker.Stop(stop)
	})
	tenantID := "00000000-0000-4000-8000-0000000000b1"
	grants := grant.NewHandler(d.Store, grant.DefaultPolicy("https://auth.test"), func(_ context.Context, id string) (grant.Tenant, error) {
		return grant.Tenant{Exists: id == tenantID}, nil
	}, d.Enqueue)
	req, err := grants.Request(ctx, commands.RequestGrant{Meta: commands.Meta{ID: "auth-alone-1"}, TenantID: tenantID,
		Client: events.GrantClient{WalletAddress: "https://wallet.test/alice"},
		Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate}}}})
	if err != nil {
		t.Fatal(err)
	}
	ref, found, err := auth.Auth.Store.ByContinueID(ctx, req.ContinueID)
	if err != nil || !found || ref.GrantID != req.GrantID || ref.TenantID != tenantID {
		t.Fatalf("grant by its continuation id: %+v %t %v", ref, found, err)
	}
}

// The auth service's read models and checkpoints are its own: a process
// that would share the backend's database refuses to start.
func TestAuthRefusesTheBackendDatabase(t *testing.T) {
	n := testkit.StartNATS(t, false)
	cfg := serviceConfig(t, n.URL, 0)
	cfg.AuthDatabaseURL = cfg.DatabaseURL + "&pool_max_conns=3"
	for _, set := range []app.Set{{Auth: true}, {Worker: true}} {
		r, err := app.Start(context.Background(), cfg, testLogger(), set, false)
		if err == nil {
			r.Stop(context.Background())
			t.Fatalf("%+v started on one database", set)
		}
		if !strings.Contains(err.Error(), "AUTH_DATABASE_URL names the database of DATABASE_URL") {
			t.Fatalf("%+v: %v", set, err)
		}
	}
}
