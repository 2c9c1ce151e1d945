package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/testkit"
)

// statementsOnly hides a projection's fold, so that it is built with one
// statement per row change, as the live runner applies events.
type statementsOnly struct{ projections.Projection }

// TestFoldEqualsStatements builds every projection from a generated history
// (creations, updates, deletions, re-activations, replaced children, tokens
// passed from one peer to another, events the projection ignores, events of
// aggregates never created) once with statements and then with its fold,
// holding every row until the end or writing them in small chunks so that
// aggregates span chunks and their later events go back to statements.
// Every table must hold the same rows.
func TestFoldEqualsStatements(t *testing.T) {
	dbURL := testkit.NewDatabase(t)
	if err := migrations.Up(dbURL); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, dbURL)
	ctx := context.Background()
	keys := testkit.Keyring(t, testkit.StartNATS(t, false).JS)
	for _, p := range app.Projections(keys) {
		t.Run(p.Name(), func(t *testing.T) {
			if _, ok := p.(projections.Folder); !ok {
				t.Fatalf("%s has no fold: a replay applies its events one statement at a time", p.Name())
			}
			gen, ok := histories[p.Name()]
			if !ok {
				t.Fatalf("no history generator for %s", p.Name())
			}
			h := newHistory(int64(len(p.Name())), keys)
			gen(h)
			want := "fold_" + p.Name() + "_statements"
			if err := projections.Build(ctx, pool, statementsOnly{p}, want, 0, 100, h.data, h.seqs); err != nil {
				t.Fatal(err)
			}
			counts := tableCounts(t, pool, want)
			for table, n := range counts {
				if n < 10 {
					t.Fatalf("%s.%s has %d rows: the history does not exercise it", want, table, n)
				}
			}
			// A replay's fold, holding at most rowsMax rows, fed batches of
			// batch events; or (live) the runner's batches, each folding the
			// aggregates it creates when it is large enough.
			for _, c := range []struct {
				live           bool
				rowsMax, batch int
			}{{false, 1 << 30, 100}, {false, 1 << 30, 1}, {false, 1, 100}, {false, 5, 7}, {false, 37, 100}, {false, 200, 1000},
				{true, 0, 64}, {true, 0, 150}, {true, 0, 1000}} {
				got := fmt.Sprintf("fold_%s_%d_%d", p.Name(), c.rowsMax, c.batch)
				var err error
				if c.live {
					got = fmt.Sprintf("fold_%s_live_%d", p.Name(), c.batch)
					err = projections.BuildLive(ctx, pool, p, got, c.batch, h.data, h.seqs)
				} else {
					err = projections.Build(ctx, pool, p, got, c.rowsMax, c.batch, h.data, h.seqs)
				}
				if err != nil {
					t.Fatalf("%s: %v", got, err)
				}
				sameTables(t, pool, want, got, counts)
			}
		})
	}
}

// TestPatchEqualsStatements builds every projection from a generated
// history that goes on changing its aggregates long after creating them,
// once with statements and then as the runner applies it: batches large
// enough that most of their events change rows earlier batches wrote, and
// that each changes many aggregates several times (updates, deletions,
// replaced children, tokens freed and taken again), with and without
// redelivered events the checkpoint has passed. A Patcher's batches patch
// those rows; every table must hold the same rows as with statements.
func TestPatchEqualsStatements(t *testing.T) {
	dbURL := testkit.NewDatabase(t)
	if err := migrations.Up(dbURL); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, dbURL)
	ctx := context.Background()
	keys := testkit.Keyring(t, testkit.StartNATS(t, false).JS)
	for _, p := range app.Projections(keys) {
		t.Run(p.Name(), func(t *testing.T) {
			if _, ok := p.(projections.Patcher); !ok && patched[p.Name()] {
				t.Fatalf("%s has no patch: the runner updates its rows one statement at a time", p.Name())
			}
			h := newHistory(int64(len(p.Name()))+100, keys)
			h.more = 3000
			histories[p.Name()](h)
			want := "patch_" + p.Name() + "_statements"
			if err := projections.Build(ctx, pool, statementsOnly{p}, want, 0, 100, h.data, h.seqs); err != nil {
				t.Fatal(err)
			}
			counts := tableCounts(t, pool, want)
			for _, c := range []struct{ batch, back int }{{64, 0}, {250, 0}, {1000, 0}, {100, 40}, {700, 300}} {
				got := fmt.Sprintf("patch_%s_%d_%d", p.Name(), c.batch, c.back)
				if err := projections.BuildRedelivered(ctx, pool, p, got, c.batch, c.back, h.data, h.seqs); err != nil {
					t.Fatalf("%s: %v", got, err)
				}
				sameTables(t, pool, want, got, counts)
			}
		})
	}
}

// patched are the projections that patch rows earlier batches wrote.
var patched = map[string]bool{"tenants": true, "wallet_address_keys": true}

// sameTables compares every table of schema got with the same table of
// schema want, EXCEPT ALL both ways.
func sameTables(t *testing.T, pool interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, want, got string, counts map[string]int) {
	t.Helper()
	for table := range counts {
		var missing, extra int
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM (SELECT * FROM %[1]s.%[3]s EXCEPT ALL SELECT * FROM %[2]s.%[3]s) d),
			(SELECT count(*) FROM (SELECT * FROM %[2]s.%[3]s EXCEPT ALL SELECT * FROM %[1]s.%[3]s) d)`, want, got, table)
		if err := pool.QueryRow(context.Background(), q).Scan(&missing, &extra); err != nil {
			t.Fatal(err)
		}
		if missing != 0 || extra != 0 {
			t.Errorf("%s.%s lacks %d of the statements' rows and has %d others", got, table, missing, extra)
		}
	}
}

// tableCounts counts the rows of every table of a schema.
func tableCounts(t *testing.T, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}, schema string) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		t.Fatalf("tables of %s: %v %v", schema, tables, err)
	}
	counts := map[string]int{}
	for _, table := range tables {
		var n int
		if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s.%s", schema, table)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

// history is a generated stream of stored events: data[i] at sequence
// seqs[i]. Sequences have gaps, as other aggregates' events lie between,
// and times have nanoseconds, which the database rounds. Secrets are
// sealed with keys, as the handlers store them, unless keys is nil.
type history struct {
	keys *secrets.Keyring
	rng  *rand.Rand
	seq  uint64
	at   time.Time
	data [][]byte
	seqs []uint64
	ids  int
	// more is how many steps each history takes beyond its own count.
	more int
}

func newHistory(seed int64, keys *secrets.Keyring) *history {
	return &history{keys: keys, rng: rand.New(rand.NewPCG(uint64(seed), 7)), at: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (h *history) add(aggregateType, id, tenantID string, ev events.Event) {
	h.seq += 1 + uint64(h.rng.IntN(3))
	h.at = h.at.Add(time.Duration(1 + h.rng.IntN(5_000_000)))
	meta := events.Meta{AggregateType: aggregateType, AggregateID: id, TenantID: tenantID, CausationID: "c", Time: h.at}
	if h.keys != nil {
		var err error
		if ev, err = h.keys.SealEvent(context.Background(), aggregateType, id, ev); err != nil {
			panic(err)
		}
	}
	envs, err := events.Seal(meta, fmt.Sprintf("command-%d", h.seq), 0, ev)
	if err != nil {
		panic(err)
	}
	data, err := events.Marshal(envs[0])
	if err != nil {
		panic(err)
	}
	h.data = append(h.data, data)
	h.seqs = append(h.seqs, h.seq)
}

func (h *history) id() string {
	h.ids++
	return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "fold-test-%d", h.ids)).String()
}

func (h *history) chance(percent int) bool { return h.rng.IntN(100) < percent }

// text is an optional string: absent, empty or set.
func (h *history) text(prefix string) *string {
	switch h.rng.IntN(3) {
	case 0:
		return nil
	case 1:
		s := ""
		return &s
	default:
		s := fmt.Sprintf("%s-%d", prefix, h.rng.IntN(1000))
		return &s
	}
}

func (h *history) value(prefix string) string {
	if s := h.text(prefix); s != nil {
		return *s
	}
	return ""
}

func (h *history) amount() *uint64 {
	if h.chance(30) {
		return nil
	}
	n := h.rng.Uint64() >> h.rng.IntN(64)
	return &n
}

// steps runs a history of n steps: each creates an aggregate (while fewer
// than aggregates exist) or changes a random existing one.
func (h *history) steps(n, aggregates int, create func(), change func(i int), count func() int) {
	for range n + h.more {
		if count() < aggregates && (count() == 0 || h.chance(25)) {
			create()
		} else {
			change(h.rng.IntN(count()))
		}
	}
}

var histories = map[string]func(h *history){
	"tenants": func(h *history) {
		const typ = "tenant"
		var ids []string
		settings := func() []events.Setting {
			var out []events.Setting
			for range h.rng.IntN(4) {
				out = append(out, events.Setting{Key: fmt.Sprintf("K%d", h.rng.IntN(4)), Value: h.value("v")})
			}
			return out
		}
		h.steps(600, 60, func() {
			id := h.id()
			ids = append(ids, id)
			h.add(typ, id, id, &events.TenantCreated{Email: h.value("e"), APISecret: h.value("s"), IDPConsentURL: h.value("u"),
				IDPSecret: h.value("i"), PublicName: h.value("n"), Settings: settings()})
		}, func(i int) {
			id := ids[i]
			switch h.rng.IntN(5) {
			case 0, 1:
				h.add(typ, id, id, &events.TenantUpdated{Email: h.text("e"), APISecret: h.text("s"), IDPConsentURL: h.text("u"),
					IDPSecret: h.text("i"), PublicName: h.text("n")})
			case 2:
				h.add(typ, id, id, &events.TenantSettingsSet{Settings: settings()})
			case 3:
				h.add(typ, id, id, &events.TenantDeleted{})
			default:
				// An event of another type on the tenant's subject.
				h.add(typ, id, id, &events.LiquidityLow{Balance: 1, Threshold: 2})
			}
		}, func() int { return len(ids) })
		// A tenant never created.
		ghost := h.id()
		h.add(typ, ghost, ghost, &events.TenantUpdated{PublicName: h.text("n")})
		h.add(typ, ghost, ghost, &events.TenantDeleted{})
	},
	"assets": func(h *history) {
		const typ = "asset"
		tenant := h.id()
		var ids []string
		h.steps(600, 60, func() {
			id := h.id()
			ids = append(ids, id)
			h.add(typ, id, tenant, &events.AssetCreated{Code: fmt.Sprintf("C%d", len(ids)), Scale: uint8(h.rng.IntN(10)),
				Ledger: uint32(len(ids)), WithdrawalThreshold: h.amount(), LiquidityThreshold: h.amount()})
		}, func(i int) {
			id := ids[i]
			switch h.rng.IntN(6) {
			case 0:
				h.add(typ, id, tenant, &events.AssetThresholdsSet{WithdrawalThreshold: h.amount(), LiquidityThreshold: h.amount()})
			case 1:
				h.add(typ, id, tenant, &events.AssetDeleted{})
			case 2:
				h.add(typ, id, tenant, &events.AssetReactivated{})
			case 3, 4:
				h.add(typ, id, tenant, &events.FeeSet{FeeID: h.id(), Type: []string{"SENDING", "RECEIVING"}[h.rng.IntN(2)],
					Fixed: h.rng.Uint64() >> h.rng.IntN(64), BasisPoints: h.rng.IntN(10_000)})
			default:
				h.add(typ, id, tenant, &events.LiquidityDeposited{TransferID: h.id(), Amount: 5})
			}
		}, func() int { return len(ids) })
		ghost := h.id()
		h.add(typ, ghost, tenant, &events.AssetThresholdsSet{})
		h.add(typ, ghost, tenant, &events.FeeSet{FeeID: h.id(), Type: "SENDING", Fixed: 1, BasisPoints: 2})
	},
	"wallet_addresses": func(h *history) {
		const typ = "wallet_address"
		tenant, asset := h.id(), h.id()
		var ids []string
		properties := func() []events.Property {
			var out []events.Property
			for range h.rng.IntN(4) {
				out = append(out, events.Property{Key: h.value("k"), Value: h.value("v"), Visible: h.chance(50)})
			}
			return out
		}
		h.steps(600, 60, func() {
			id := h.id()
			ids = append(ids, id)
			h.add(typ, id, tenant, &events.WalletAddressCreated{AssetID: asset, Address: fmt.Sprintf("https://w.test/%d", len(ids)),
				PublicName: h.value("n"), AdditionalProperties: properties()})
		}, func(i int) {
			id := ids[i]
			switch h.rng.IntN(5) {
			case 0, 1:
				replace := h.chance(60)
				var props []events.Property
				if replace {
					props = properties()
				}
				h.add(typ, id, tenant, &events.WalletAddressUpdated{PublicName: h.text("n"), ReplaceProperties: replace, AdditionalProperties: props})
			case 2:
				h.add(typ, id, tenant, &events.WalletAddressDeactivated{})
			case 3:
				h.add(typ, id, tenant, &events.WalletAddressActivated{})
			default:
				// Money received told: a version, nothing else.
				h.add(typ, id, tenant, &events.WalletAddressWebMonetization{Amount: 5, AssetID: asset, AssetCode: "USD", AssetScale: 2, CreatedAt: h.at})
			}
		}, func() int { return len(ids) })
		ghost := h.id()
		h.add(typ, ghost, tenant, &events.WalletAddressDeactivated{})
	},
	"wallet_address_keys": func(h *history) {
		const typ = "wallet_address_key"
		tenant := h.id()
		wallets := []string{h.id(), h.id(), h.id()}
		var ids []string
		h.steps(300, 80, func() {
			id := h.id()
			ids = append(ids, id)
			h.add(typ, id, tenant, &events.WalletAddressKeyAdded{WalletAddressID: wallets[h.rng.IntN(len(wallets))],
				Kid: fmt.Sprintf("kid-%d", len(ids)), X: h.value("x"), Alg: "EdDSA", Kty: "OKP", Crv: "Ed25519"})
		}, func(i int) {
			h.add(typ, ids[i], tenant, &events.WalletAddressKeyRevoked{})
		}, func() int { return len(ids) })
		ghost := h.id()
		h.add(typ, ghost, tenant, &events.WalletAddressKeyRevoked{})
	},
	"peers": func(h *history) {
		const typ = "peer"
		tenant, asset := h.id(), h.id()
		var ids []string
		owned := map[string][]string{} // tokens by peer
		var free []string              // released tokens, which another peer may take
		tokens := func() []string {
			var out []string
			for range h.rng.IntN(4) {
				if len(free) > 0 && h.chance(50) {
					k := h.rng.IntN(len(free))
					out = append(out, free[k])
					free = slices.Delete(free, k, k+1)
				} else {
					out = append(out, h.id())
				}
			}
			return out
		}
		release := func(id string) {
			free = append(free, owned[id]...)
			delete(owned, id)
		}
		routes := func() []string {
			switch h.rng.IntN(3) {
			case 0:
				return nil
			case 1:
				return []string{}
			default:
				return []string{"test.a", fmt.Sprintf("test.r%d", h.rng.IntN(9))}
			}
		}
		h.steps(600, 60, func() {
			id := h.id()
			ids = append(ids, id)
			owned[id] = tokens()
			h.add(typ, id, tenant, &events.PeerCreated{AssetID: asset, StaticILPAddress: fmt.Sprintf("test.p%d", len(ids)),
				Name: h.text("n"), MaxPacketAmount: h.amount(), LiquidityThreshold: h.amount(), IncomingAuthTokens: owned[id],
				OutgoingAuthToken: h.value("o"), OutgoingEndpoint: h.value("http://p.test/"), Routes: routes()})
		}, func(i int) {
			id := ids[i]
			switch h.rng.IntN(5) {
			case 0, 1, 2:
				e := &events.PeerUpdated{StaticILPAddress: h.text("test.s"), Name: h.text("n"), MaxPacketAmount: h.amount(),
					LiquidityThreshold: h.amount(), OutgoingAuthToken: h.text("o"), OutgoingEndpoint: h.text("http://q.test/")}
				if r := routes(); r != nil {
					e.Routes = &r
				}
				if h.chance(50) {
					release(id)
					t := append([]string{}, tokens()...) // [] replaces, null would not
					owned[id] = t
					e.IncomingAuthTokens = &t
				}
				h.add(typ, id, tenant, e)
			case 3:
				release(id)
				h.add(typ, id, tenant, &events.PeerDeleted{})
			default:
				h.add(typ, id, tenant, &events.LiquidityWithdrawalPosted{TransferID: h.id()})
			}
		}, func() int { return len(ids) })
		ghost := h.id()
		h.add(typ, ghost, tenant, &events.PeerDeleted{})
	},
	"incoming_payments": func(h *history) {
		const typ = "incoming_payment"
		tenant, asset := h.id(), h.id()
		wallets := []string{h.id(), h.id(), h.id()}
		var ids []string
		totals := map[string]uint64{}
		metadata := func() json.RawMessage {
			switch h.rng.IntN(3) {
			case 0:
				return nil
			case 1:
				return json.RawMessage(`{}`)
			default:
				return json.RawMessage(fmt.Sprintf(`{"order":%d,"note":%q}`, h.rng.IntN(1000), h.value("n")))
			}
		}
		initiators := []string{events.InitiatedByAdmin, events.InitiatedByOpenPayments, events.InitiatedByCard}
		h.steps(600, 80, func() {
			id := h.id()
			ids = append(ids, id)
			h.add(typ, id, tenant, &events.IncomingPaymentCreated{WalletAddressID: wallets[h.rng.IntN(len(wallets))], AssetID: asset,
				AssetCode: "USD", AssetScale: 2, IncomingAmount: h.amount(), ExpiresAt: h.at.Add(time.Hour), Metadata: metadata(),
				Client: h.value("https://c.test/"), InitiatedBy: initiators[h.rng.IntN(3)], SenderWalletAddress: h.text("https://s.test/")})
		}, func(i int) {
			id := ids[i]
			switch h.rng.IntN(8) {
			case 0:
				h.add(typ, id, tenant, &events.IncomingPaymentUpdated{Metadata: metadata()})
			case 1:
				h.add(typ, id, tenant, &events.IncomingPaymentApproved{})
			case 2:
				h.add(typ, id, tenant, &events.IncomingPaymentCancelled{Reason: h.text("r")})
			case 3, 4:
				amount := uint64(1 + h.rng.IntN(1000))
				totals[id] += amount
				h.add(typ, id, tenant, &events.IncomingPaymentReceived{Amount: amount, Total: totals[id]})
			case 5:
				h.add(typ, id, tenant, &events.IncomingPaymentCompleted{})
			case 6:
				h.add(typ, id, tenant, &events.IncomingPaymentExpired{})
			default:
				h.add(typ, id, tenant, &events.LiquidityDeposited{TransferID: h.id(), Amount: 5})
			}
		}, func() int { return len(ids) })
		ghost := h.id()
		h.add(typ, ghost, tenant, &events.IncomingPaymentApproved{})
		h.add(typ, ghost, tenant, &events.IncomingPaymentReceived{Amount: 1, Total: 1})
	},
	"quotes": func(h *history) {
		const typ = "quote"
		tenant, asset := h.id(), h.id()
		wallets := []string{h.id(), h.id(), h.id()}
		feeID := h.id()
		fees := []*string{nil, &feeID}
		var ids []string
		// A quote never changes: its later "changes" are events of other
		// kinds, which the projection ignores.
		h.steps(600, 400, func() {
			id := h.id()
			ids = append(ids, id)
			method := events.QuoteLocal
			if h.chance(50) {
				method = events.QuoteILP
			}
			h.add(typ, id, tenant, &events.QuoteCreated{WalletAddressID: wallets[h.rng.IntN(len(wallets))], AssetID: asset,
				AssetCode: "USD", AssetScale: 2, Receiver: "https://r.test/" + h.id(), DebitAmount: uint64(1 + h.rng.IntN(1e6)),
				DebitAmountMinusFees: uint64(h.rng.IntN(1e6)), ReceiveAmount: uint64(1 + h.rng.IntN(1e6)), ReceiveAssetCode: "EUR",
				ReceiveAssetScale: 3, EstimatedExchangeRate: h.rng.Float64(), FeeID: fees[h.rng.IntN(len(fees))], Method: method,
				ExpiresAt: h.at.Add(time.Minute), Client: h.value("https://c.test/")})
		}, func(i int) {
			h.add(typ, ids[i], tenant, &events.LiquidityDeposited{TransferID: h.id(), Amount: 5})
		}, func() int { return len(ids) })
	},
	"outgoing_payments": func(h *history) {
		const typ = "outgoing_payment"
		tenant, asset := h.id(), h.id()
		wallets := []string{h.id(), h.id(), h.id()}
		var ids []string
		metadata := func() json.RawMessage {
			switch h.rng.IntN(4) {
			case 0:
				return nil
			case 1:
				return json.RawMessage(`{}`)
			case 2:
				return json.RawMessage(`{"cancellationReason":"before","n":12345678901234567890}`)
			default:
				return json.RawMessage(fmt.Sprintf(`{"order":%d,"note":%q}`, h.rng.IntN(1000), h.value("n")))
			}
		}
		h.steps(600, 80, func() {
			id := h.id()
			ids = append(ids, id)
			debit := uint64(1 + h.rng.IntN(1e6))
			h.add(typ, id, tenant, &events.OutgoingPaymentCreated{WalletAddressID: wallets[h.rng.IntN(len(wallets))], AssetID: asset,
				AssetCode: "USD", AssetScale: 2, Receiver: "https://r.test/incoming-payments/" + h.id(), DebitAmount: debit,
				DebitAmountMinusFees: debit - uint64(h.rng.IntN(int(debit))), ReceiveAmount: uint64(1 + h.rng.IntN(1e6)),
				ReceiveAssetCode: "EUR", ReceiveAssetScale: 3, Method: events.QuoteILP, QuoteExpiresAt: h.at.Add(time.Minute),
				Metadata: metadata(), Client: h.value("https://c.test/"), GrantID: h.value("grant"),
				InitiatedBy: []string{events.InitiatedByAdmin, events.InitiatedByOpenPayments}[h.rng.IntN(2)]})
		}, func(i int) {
			id := ids[i]
			sent, delivered := uint64(h.rng.IntN(1000)), uint64(h.rng.IntN(1000))
			switch h.rng.IntN(7) {
			case 0:
				h.add(typ, id, tenant, &events.OutgoingPaymentFunded{Amount: 10})
			case 1:
				h.add(typ, id, tenant, &events.OutgoingPaymentCancelled{Reason: h.text("r")})
			case 2, 3:
				h.add(typ, id, tenant, &events.OutgoingPaymentAttemptFailed{Error: h.value("e"), Attempts: 1 + h.rng.IntN(5),
					Sent: sent, Delivered: delivered})
			case 4:
				h.add(typ, id, tenant, &events.OutgoingPaymentCompleted{Sent: sent, Delivered: delivered})
			case 5:
				h.add(typ, id, tenant, &events.OutgoingPaymentFailed{Error: h.value("e"), Sent: sent, Delivered: delivered})
			default:
				h.add(typ, id, tenant, &events.LiquidityDeposited{TransferID: h.id(), Amount: 5})
			}
		}, func() int { return len(ids) })
		ghost := h.id()
		h.add(typ, ghost, tenant, &events.OutgoingPaymentFunded{Amount: 1})
		h.add(typ, ghost, tenant, &events.OutgoingPaymentCancelled{})
	},
	"outgoing_payment_grants": func(h *history) {
		const typ = "outgoing_payment_grant"
		tenant := h.id()
		grants := []string{h.id(), h.id(), h.id(), h.id()}
		var payments []string
		grantOf := map[string]string{}
		start := h.at.Truncate(time.Hour)
		h.steps(600, 150, func() {
			payment, grant := h.id(), grants[h.rng.IntN(len(grants))]
			payments, grantOf[payment] = append(payments, payment), grant
			spent := &events.OutgoingPaymentGrantSpent{OutgoingPaymentID: payment, DebitAmount: uint64(h.rng.IntN(1e6)),
				ReceiveAmount: uint64(h.rng.IntN(1e6))}
			if h.chance(60) {
				from := start.Add(time.Duration(h.rng.IntN(3)) * time.Hour)
				to := from.Add(time.Hour)
				spent.IntervalStart, spent.IntervalEnd = &from, &to
			}
			h.add(typ, grant, tenant, spent)
		}, func(i int) {
			payment := payments[i]
			switch h.rng.IntN(5) {
			case 0, 1, 2:
				h.add(typ, grantOf[payment], tenant, &events.OutgoingPaymentGrantReleased{OutgoingPaymentID: payment,
					DebitAmount: uint64(h.rng.IntN(6e5)), ReceiveAmount: uint64(h.rng.IntN(6e5))})
			case 3:
				// Given back on another grant than the payment's: nothing.
				h.add(typ, grants[h.rng.IntN(len(grants))], tenant, &events.OutgoingPaymentGrantReleased{OutgoingPaymentID: payment,
					DebitAmount: 1, ReceiveAmount: 1})
			default:
				h.add(typ, grantOf[payment], tenant, &events.LiquidityDeposited{TransferID: h.id(), Amount: 5})
			}
		}, func() int { return len(payments) })
		ghost := h.id()
		h.add(typ, grants[0], tenant, &events.OutgoingPaymentGrantReleased{OutgoingPaymentID: ghost, DebitAmount: 1})
	},
}

// The webhooks read model is built from the incoming and outgoing payments'
// events, the low-liquidity events of assets and peers (some written before
// they told their asset, which tell nothing), missed wallet address lookups
// (some of one URL, each its own webhook event) and web monetization told by
// wallet addresses (several by one).
func init() {
	histories["webhooks"] = func(h *history) {
		histories["incoming_payments"](h)
		histories["outgoing_payments"](h)
		tenant := h.id()
		for i := range 60 {
			typ := []string{"asset", "peer", "wallet_address"}[i%3]
			low := &events.LiquidityLow{Balance: uint64(h.rng.IntN(100)), Threshold: 100}
			if i%4 != 0 {
				low.AssetID, low.AssetCode, low.AssetScale = h.id(), "EUR", uint8(h.rng.IntN(10))
			}
			h.add(typ, h.id(), tenant, low)
		}
		wallets := []string{h.id(), h.id()}
		for i := range 10 {
			h.add("wallet_address", wallets[i%len(wallets)], tenant, &events.WalletAddressWebMonetization{Amount: uint64(1 + h.rng.IntN(1000)),
				AssetID: h.id(), AssetCode: "USD", AssetScale: 2, CreatedAt: h.at})
		}
		lookups := []string{h.id(), h.id(), h.id()}
		for i := range 20 {
			id := lookups[i%len(lookups)]
			h.add("wallet_address_lookup", id, tenant, &events.WalletAddressNotFound{WalletAddressURL: "https://wallet.test/" + id})
		}
	}
}
