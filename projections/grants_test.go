package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

const (
	grantsFilter = "events.*.grant.>"
	grantsTenant = "00000000-0000-4000-8000-0000000000a1"
	grantsWallet = "https://wallet.example/alice"
)

// grantsEnv runs the grants projection on an auth database, fed by the
// grant handler's real events.
type grantsEnv struct {
	t      *testing.T
	js     jetstream.JetStream
	store  *eventstore.Store
	pool   *pgxpool.Pool
	waiter *projections.Waiter
	grants *grant.Handler
	policy grant.Policy
	cmds   int
	last   uint64
}

func grantsSetup(t *testing.T) *grantsEnv {
	t.Helper()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	dbURL := testkit.NewDatabase(t)
	if err := migrations.UpAuth(dbURL); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, dbURL)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	if err := projections.Prepare(ctx, pool, projections.Grants{}); err != nil {
		t.Fatal(err)
	}
	waiter := projections.NewWaiter(pool, log)
	go waiter.Run(ctx)
	go projections.NewRunner(pool, n.JS, "EVENTS", projections.Grants{}, log).Run(ctx)
	p := grant.DefaultPolicy("https://auth.example")
	p.Wait = 0
	p.InteractionExpiry = time.Second
	tenants := func(_ context.Context, id string) (grant.Tenant, error) {
		return grant.Tenant{Exists: id == grantsTenant, HasIDP: true}, nil
	}
	return &grantsEnv{t: t, js: n.JS, store: store, pool: pool, waiter: waiter, grants: grant.NewHandler(store, p, tenants, func(ctx context.Context, subject, id string, at time.Time, c any) error {
		return commands.EnqueueAt(ctx, n.JS, subject, id, at, c)
	}), policy: p}
}

func (e *grantsEnv) meta() commands.Meta {
	e.cmds++
	return commands.Meta{ID: fmt.Sprintf("grants-test-%d", e.cmds)}
}

// wrote records a command's result and waits until the projection applied
// it.
func (e *grantsEnv) wrote(res handlers.Result, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	e.last = max(e.last, res.Sequence)
	if err := e.waiter.Wait(context.Background(), projections.Grants{}.Name(), e.last, 10*time.Second); err != nil {
		e.t.Fatal(err)
	}
}

// text is the first column of the first row a query answers, as text, or
// "none".
func (e *grantsEnv) text(sql string, args ...any) string {
	e.t.Helper()
	var out string
	err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&out)
	if err == pgx.ErrNoRows {
		return "none"
	}
	if err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func outgoingAccess() []events.GrantAccess {
	return []events.GrantAccess{{Type: grant.TypeOutgoingPayment, Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: grantsWallet,
		Limits: &events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "500", AssetCode: "USD", AssetScale: 2}, Interval: "R/2026-01-01T00:00:00Z/P1M"}}}
}

// interactive requests an interactive grant with a subject and a finish
// redirect.
func (e *grantsEnv) interactive() grant.Requested {
	e.t.Helper()
	req, err := e.grants.Request(context.Background(), commands.RequestGrant{
		Meta: e.meta(), TenantID: grantsTenant, Client: events.GrantClient{WalletAddress: grantsWallet},
		Access:  outgoingAccess(),
		Subject: []events.GrantSubjectID{{ID: grantsWallet, Format: "uri"}},
		Interact: &events.GrantInteract{Start: []string{"redirect"},
			Finish: &events.GrantFinish{Method: "redirect", URI: "https://client.example/done", Nonce: "CLIENT-NONCE"}},
	})
	e.wrote(req.Result, err)
	return req
}

func (e *grantsEnv) choose(req grant.Requested, accept bool) {
	e.t.Helper()
	c := commands.InteractionChoice{Meta: e.meta(), GrantID: req.GrantID, InteractionID: req.InteractionID, Nonce: req.InteractNonce}
	choose := e.grants.Reject
	if accept {
		choose = e.grants.Accept
	}
	e.wrote(choose(context.Background(), c))
}

func (e *grantsEnv) finish(req grant.Requested) grant.Finished {
	e.t.Helper()
	fin, res, err := e.grants.Finish(context.Background(), commands.FinishInteraction{Meta: e.meta(), GrantID: req.GrantID,
		InteractionID: req.InteractionID, Nonce: req.InteractNonce})
	e.wrote(res, err)
	return fin
}

// TestGrantsProjectionAppliesEveryEvent drives grants through every event
// type with the grant handler and checks the rows after each step.
func TestGrantsProjectionAppliesEveryEvent(t *testing.T) {
	e := grantsSetup(t)
	ctx := context.Background()
	var (
		direct, approved, rejected, expiring grant.Requested
		token, rotated                       *grant.AccessToken
	)
	grantRow := `SELECT concat_ws(' ', state, coalesce(finalization_reason, '-'), coalesce(client_wallet_address, '-'),
		coalesce(client_jwk->>'kty', '-'), continue_id) FROM rm_grants.grants WHERE id = $1`
	tokens := `SELECT coalesce(string_agg(concat_ws(' ', id, value_hash, expires_in_seconds, revoked_at IS NOT NULL), ', ' ORDER BY created_at, id), '')
		FROM rm_grants.access_tokens WHERE grant_id = $1`
	interaction := `SELECT concat_ws(' ', id, nonce, state, expired, expires_at - created_at) FROM rm_grants.interactions WHERE grant_id = $1`
	for _, step := range []struct {
		name  string
		do    func()
		query func() (string, []any)
		want  func() string
	}{
		{"non-interactive request", func() {
			req, err := e.grants.Request(ctx, commands.RequestGrant{Meta: e.meta(), TenantID: grantsTenant,
				Client: events.GrantClient{JWK: []byte(`{"kid":"k1","kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA"}`)},
				Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate, grant.ActionReadAll}}}})
			e.wrote(req.Result, err)
			direct, token = req, req.AccessToken
		}, func() (string, []any) { return grantRow, []any{direct.GrantID} },
			func() string { return "APPROVED - - OKP " + direct.ContinueID }},
		{"its access item", nil, func() (string, []any) {
			return `SELECT concat_ws(' ', id, position, type, array_to_string(actions, ','), coalesce(identifier, '-'), coalesce(limits::text, '-'))
				FROM rm_grants.grant_access WHERE grant_id = $1`, []any{direct.GrantID}
		}, func() string {
			return projections.GrantAccessID(direct.GrantID, 0) + " 0 incoming-payment create,read-all - -"
		}},
		{"its token", nil, func() (string, []any) { return tokens, []any{direct.GrantID} },
			func() string { return token.ID + " " + grant.TokenHash(token.Value) + " 600 f" }},
		{"rotated token", func() {
			var res handlers.Result
			var err error
			rotated, res, err = e.grants.Rotate(ctx, commands.RotateToken{Meta: e.meta(), GrantID: direct.GrantID, TokenID: token.ID, TokenValue: token.Value})
			e.wrote(res, err)
		}, func() (string, []any) { return tokens, []any{direct.GrantID} },
			func() string {
				return token.ID + " " + grant.TokenHash(token.Value) + " 600 t, " + rotated.ID + " " + grant.TokenHash(rotated.Value) + " 600 f"
			}},
		{"revoked token", func() {
			e.wrote(e.grants.RevokeToken(ctx, commands.RevokeToken{Meta: e.meta(), GrantID: direct.GrantID, TokenID: rotated.ID, TokenValue: rotated.Value}))
		}, func() (string, []any) {
			return `SELECT count(*) FILTER (WHERE revoked_at IS NULL) || '/' || count(*) FROM rm_grants.access_tokens WHERE grant_id = $1`, []any{direct.GrantID}
		}, func() string { return "0/2" }},
		{"interactive request", func() { approved = e.interactive() },
			func() (string, []any) { return grantRow, []any{approved.GrantID} },
			func() string { return "PENDING - " + grantsWallet + " - " + approved.ContinueID }},
		{"its interaction", nil, func() (string, []any) { return interaction, []any{approved.GrantID} },
			func() string { return approved.InteractionID + " " + approved.InteractNonce + " PENDING f 00:00:01" }},
		{"its subject, access limits and interact", nil, func() (string, []any) {
			return `SELECT concat_ws(' ', s.id, s.sub_id, s.format, a.limits->'debitAmount'->>'value', a.limits->>'interval', g.interact->'finish'->>'uri')
				FROM rm_grants.grant_subjects s JOIN rm_grants.grant_access a USING (grant_id) JOIN rm_grants.grants g ON g.id = s.grant_id
				WHERE s.grant_id = $1`, []any{approved.GrantID}
		}, func() string {
			return projections.GrantSubjectID(approved.GrantID, 0) + " " + grantsWallet + " uri 500 R/2026-01-01T00:00:00Z/P1M https://client.example/done"
		}},
		{"interaction approved", func() { e.choose(approved, true) },
			func() (string, []any) { return interaction, []any{approved.GrantID} },
			func() string { return approved.InteractionID + " " + approved.InteractNonce + " APPROVED f 00:00:01" }},
		{"grant approved on finish", func() { e.finish(approved) },
			func() (string, []any) { return grantRow, []any{approved.GrantID} },
			func() string { return "APPROVED - " + grantsWallet + " - " + approved.ContinueID }},
		{"grant finalized on continuation", func() {
			// The interact_ref comes back with the finish redirect.
			fin := e.finish(approved)
			cont, err := e.grants.Continue(ctx, commands.ContinueGrant{Meta: e.meta(), GrantID: approved.GrantID,
				ContinueID: approved.ContinueID, ContinueToken: approved.ContinueToken, InteractRef: fin.InteractRef})
			e.wrote(cont.Result, err)
			token = cont.AccessToken
		}, func() (string, []any) {
			return grantRow + ` AND EXISTS (SELECT FROM rm_grants.access_tokens WHERE id = $2 AND revoked_at IS NULL)`, []any{approved.GrantID, token.ID}
		},
			func() string { return "FINALIZED ISSUED " + grantsWallet + " - " + approved.ContinueID }},
		{"grant revoked with its tokens", func() {
			e.wrote(e.grants.Revoke(ctx, commands.RevokeGrant{Meta: e.meta(), GrantID: approved.GrantID, ContinueID: approved.ContinueID, ContinueToken: approved.ContinueToken}))
		}, func() (string, []any) {
			return `SELECT g.state || ' ' || g.finalization_reason || ' ' || bool_and(t.revoked_at IS NOT NULL)
				FROM rm_grants.grants g JOIN rm_grants.access_tokens t ON t.grant_id = g.id WHERE g.id = $1 GROUP BY g.id`, []any{approved.GrantID}
		}, func() string { return "FINALIZED REVOKED true" }},
		{"interaction rejected", func() {
			rejected = e.interactive()
			e.choose(rejected, false)
		}, func() (string, []any) { return interaction, []any{rejected.GrantID} },
			func() string { return rejected.InteractionID + " " + rejected.InteractNonce + " DENIED f 00:00:01" }},
		{"grant rejected on finish", func() { e.finish(rejected) },
			func() (string, []any) { return grantRow, []any{rejected.GrantID} },
			func() string { return "FINALIZED REJECTED " + grantsWallet + " - " + rejected.ContinueID }},
		{"polled", func() {
			req, err := e.grants.Request(ctx, commands.RequestGrant{Meta: e.meta(), TenantID: grantsTenant,
				Client: events.GrantClient{WalletAddress: grantsWallet}, Access: outgoingAccess(),
				Interact: &events.GrantInteract{Start: []string{"redirect"}}})
			e.wrote(req.Result, err)
			expiring = req
			cont, err := e.grants.Continue(ctx, commands.ContinueGrant{Meta: e.meta(), GrantID: req.GrantID,
				ContinueID: req.ContinueID, ContinueToken: req.ContinueToken})
			e.wrote(cont.Result, err)
		}, func() (string, []any) {
			return `SELECT state || ' ' || (updated_at > created_at) || ' ' || (version = $2) FROM rm_grants.grants WHERE id = $1`, []any{expiring.GrantID, int64(e.last)}
		}, func() string { return "PENDING true true" }},
		{"interaction expired", func() {
			time.Sleep(e.policy.InteractionExpiry + 100*time.Millisecond)
			e.wrote(e.grants.Expire(ctx, commands.ExpireInteraction{Meta: e.meta(), GrantID: expiring.GrantID}))
		}, func() (string, []any) { return interaction, []any{expiring.GrantID} },
			func() string { return expiring.InteractionID + " " + expiring.InteractNonce + " PENDING t 00:00:01" }},
	} {
		if step.do != nil {
			step.do()
		}
		sql, args := step.query()
		if got, want := e.text(sql, args...), step.want(); got != want {
			t.Fatalf("%s:\n got %s\nwant %s", step.name, got, want)
		}
	}
	if got := e.text(`SELECT count(*)::text FROM projection_set_aside`); got != "0" {
		t.Fatalf("%s events set aside", got)
	}

	// Every event applied a second time, as a consumer redelivers it past a
	// lost checkpoint, and the creations stored a second time after the
	// grant changed (a retry past the duplicate window), change nothing;
	// and a replay builds the same tables as the runner did.
	data, seqs := grantEvents(t, e.js)
	seen := map[string]bool{}
	for i, d := range data {
		env, err := events.Unmarshal(d, seqs[i])
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range carried(t, env) {
			seen[typ] = true
		}
	}
	for _, ev := range []events.Event{events.GrantRequested{}, events.GrantPolled{}, events.GrantApproved{}, events.GrantDenied{},
		events.GrantFinalized{}, events.GrantRevoked{}, events.InteractionStarted{}, events.InteractionApproved{},
		events.InteractionRejected{}, events.InteractionExpired{}, events.AccessTokenIssued{}, events.AccessTokenRotated{},
		events.AccessTokenRevoked{}} {
		if !seen[ev.EventType()] {
			t.Errorf("no %s in the history", ev.EventType())
		}
	}
	once := "grants_once"
	if err := projections.BuildLive(ctx, e.pool, projections.Grants{}, once, 5, data, seqs); err != nil {
		t.Fatal(err)
	}
	counts := tableCounts(t, e.pool, once)
	sameTables(t, e.pool, "rm_grants", once, counts)
	if err := projections.BuildRedelivered(ctx, e.pool, projections.Grants{}, "grants_redelivered", 4, 3, data, seqs); err != nil {
		t.Fatal(err)
	}
	sameTables(t, e.pool, once, "grants_redelivered", counts)
	twiceData, twiceSeqs := withCreationsAgain(t, data, seqs)
	if err := projections.BuildLive(ctx, e.pool, projections.Grants{}, "grants_twice", 3, twiceData, twiceSeqs); err != nil {
		t.Fatal(err)
	}
	sameTables(t, e.pool, once, "grants_twice", counts)
	consumer := testkit.ReplayMatchesLive(t, e.pool, e.js, "EVENTS", projections.Grants{}, grantsFilter)
	for table, n := range consumer {
		if n == 0 {
			t.Fatalf("rm_grants.%s is empty: the test did not exercise it", table)
		}
	}
}

// carried are the types of what a stored grant event records: a grant
// request also records its interaction's start or its token.
func carried(t *testing.T, env events.Envelope) []string {
	t.Helper()
	ev, err := events.Decode(env)
	if err != nil {
		t.Fatal(err)
	}
	types := []string{env.Type}
	if r, ok := ev.(*events.GrantRequested); ok {
		if r.Interaction != nil {
			types = append(types, r.Interaction.EventType())
		}
		if r.AccessToken != nil {
			types = append(types, r.AccessToken.EventType())
		}
	}
	return types
}

// grantEvents reads every stored grant event with its sequence.
func grantEvents(t *testing.T, js jetstream.JetStream) ([][]byte, []uint64) {
	t.Helper()
	ctx := context.Background()
	stream, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	last := stream.CachedInfo().State.LastSeq
	var data [][]byte
	var seqs []uint64
	for seq := uint64(1); seq <= last; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if parts := strings.Split(msg.Subject, "."); len(parts) == 4 && parts[0] == "events" && parts[2] == grant.AggregateType {
			data, seqs = append(data, msg.Data), append(seqs, seq)
		}
	}
	return data, seqs
}

// withCreationsAgain appends a copy of every event that inserts rows (a
// grant's request, its interaction's start, a token's issue or rotation, an
// incoming payment's creation)
// after the whole history, byte for byte, at new sequences.
func withCreationsAgain(t *testing.T, data [][]byte, seqs []uint64) ([][]byte, []uint64) {
	t.Helper()
	outData, outSeqs := append([][]byte{}, data...), append([]uint64{}, seqs...)
	next := seqs[len(seqs)-1]
	creations := map[string]bool{
		events.GrantRequested{}.EventType(): true, events.InteractionStarted{}.EventType(): true,
		events.AccessTokenIssued{}.EventType(): true, events.AccessTokenRotated{}.EventType(): true,
		events.IncomingPaymentCreated{}.EventType(): true,
	}
	copies := 0
	for i, d := range data {
		env, err := events.Unmarshal(d, seqs[i])
		if err != nil {
			t.Fatal(err)
		}
		if creations[env.Type] {
			next++
			outData, outSeqs = append(outData, d), append(outSeqs, next)
			copies += len(carried(t, env))
		}
	}
	if copies < 8 {
		t.Fatalf("%d creations copied: the test proves little", copies)
	}
	return outData, outSeqs
}
