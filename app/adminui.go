package app

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/rafiki-go/rafiki/adminui"
	"github.com/rafiki-go/rafiki/events"
)

// adminUIGraphQLURL is the admin API the UI calls: GRAPHQL_URL when set,
// else the backend of this process when it runs one (dev), else the
// backend's admin port on this host.
func (r *Running) adminUIGraphQLURL(backend bool) (string, error) {
	if r.Config.GraphQLURL != "" {
		return r.Config.GraphQLURL, nil
	}
	if backend {
		base, err := r.URL(AdminListener)
		if err != nil {
			return "", err
		}
		return base + "/graphql", nil
	}
	return fmt.Sprintf("http://localhost:%d/graphql", r.Config.AdminPort), nil
}

// serveAdminUI sets the admin UI on its listener. Its history tabs read
// the event log: through this process's NATS connection, or, for an
// admin UI alone, one it opens when NATS_URL is set. Its sign-outs are
// kept in the process's Redis, shared by every UI on that Redis; an admin
// UI alone has no Redis and keeps its own.
func (r *Running) serveAdminUI(ctx context.Context, backend bool) error {
	url, err := r.adminUIGraphQLURL(backend)
	if err != nil {
		return err
	}
	if r.Deps == nil && r.Config.NATSURL != "" {
		if r.Deps, err = OpenTool(ctx, r.Config, r.log, ToolNeeds{NATS: true}, false); err != nil {
			return fmt.Errorf("admin UI: %w", err)
		}
	}
	if r.Config.AdminUISessionKey == nil {
		r.log.Info("ADMIN_UI_SESSION_KEY is not set: the admin UI's sign-ins last as long as this process")
	}
	var audit adminui.Audit
	if r.Deps != nil && r.Deps.JS != nil {
		audit = uiAudit{js: r.Deps.JS}
	}
	var signOuts adminui.SignOuts
	if r.Deps != nil && r.Deps.Redis != nil {
		signOuts = redisSignOuts{rdb: r.Deps.Redis}
	}
	authURL := r.Config.AuthGraphQLURL
	if base, err := r.URL(AuthAdminListener); authURL == "" && err == nil {
		authURL = base + "/graphql"
	}
	ui, err := adminui.New(adminui.Config{GraphQLURL: url, AuthGraphQLURL: authURL, SessionKey: r.Config.AdminUISessionKey,
		SecureCookies: r.Config.Production, Log: r.log.With("listener", AdminUIListener), Audit: audit, SignOuts: signOuts})
	if err != nil {
		return fmt.Errorf("admin UI: %w", err)
	}
	r.Servers.Handle(AdminUIListener, ui)
	return nil
}

// uiAudit gives the admin UI what `rafiki events` prints.
type uiAudit struct{ js jetstream.JetStream }

func (a uiAudit) History(ctx context.Context, id string) ([]events.Envelope, error) {
	return History(ctx, a.js, id)
}

func (uiAudit) Redacted(env events.Envelope) string { return RedactedData(env) }

func (uiAudit) StateAt(history []events.Envelope, at time.Time) (any, error) {
	return StateAt(history, at)
}

// redisSignOuts keeps the admin UI's sign-outs in Redis, each until its
// session would have expired.
type redisSignOuts struct{ rdb *redis.Client }

func signOutKey(id string) string { return "adminui:signed_out:" + id }

func (s redisSignOuts) End(ctx context.Context, id string, until time.Time) error {
	if err := s.rdb.SetArgs(ctx, signOutKey(id), 1, redis.SetArgs{ExpireAt: until}).Err(); err != nil {
		return fmt.Errorf("record the sign-out in redis: %w", err)
	}
	return nil
}

func (s redisSignOuts) Ended(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, signOutKey(id)).Result()
	if err != nil {
		return false, fmt.Errorf("read the sign-out from redis: %w", err)
	}
	return n > 0, nil
}
