package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

// Checks of existingRefused (a first attempt answers refused creates whose
// ids exist as existing) against the path that looks the ids up first
// (attempt.checkExisting).

var sentinels = []error{
	ledger.ErrAlreadyPosted, ledger.ErrAlreadyVoided, ledger.ErrDifferentAssets,
	ledger.ErrInsufficientBalance, ledger.ErrInsufficientDebitBalance, ledger.ErrInsufficientLiquidity,
	ledger.ErrInvalidAmount, ledger.ErrTransferExists, ledger.ErrTransferExpired, ledger.ErrUnknownTransfer,
	ledger.ErrUnknownSourceAccount, ledger.ErrUnknownDestinationAccount,
}

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "other: " + err.Error()
}

func depositOp(id uuid.UUID, a ledger.Account, amount uint64) *operation {
	s := ledger.SettlementID(a.Ledger)
	return &operation{kind: kindCreate, legs: []leg{{id: id, group: id, debit: s, credit: a.ID, amount: amount,
		ledger: a.Ledger, code: ledger.TypeDeposit}},
		sourceIDs: []uuid.UUID{s}, destinationIDs: []uuid.UUID{a.ID}}
}

func mustTransferOp(t *testing.T, r ledger.TransferRequest) *operation {
	t.Helper()
	op, err := transferOperation(r)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// firstAttempt runs ops the ordinary way (first attempt without lookup,
// reruns as needed) and remembers legs as apply does.
func firstAttempt(t *testing.T, l *Ledger, ops ...*operation) []error {
	t.Helper()
	errs, err := l.run(context.Background(), ops)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	l.legs.remember(ops, errs)
	return errs
}

// lookedUp runs ops once with every id looked up first, from the table.
func lookedUp(t *testing.T, l *Ledger, ops ...*operation) []error {
	t.Helper()
	errs, err := l.runOnce(context.Background(), ops, attempt{checkExisting: true, lockFromTable: true})
	if err != nil {
		t.Fatalf("runOnce: %v", err)
	}
	return errs
}

func wantErrs(t *testing.T, what string, got []error, want ...error) {
	t.Helper()
	for i := range want {
		if errName(got[i]) != errName(want[i]) {
			t.Errorf("%s: op %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// Same-asset world with liquidity: an asset account holding 1,000 of
// liquidity and n peers holding 1,000 each, and a second asset on ledger 2.
type world struct {
	asset, asset2 uuid.UUID
	peers         []ledger.Account
	other         ledger.Account // on ledger 2
}

func newWorld(n int) world {
	w := world{asset: uuid.New(), asset2: uuid.New()}
	for range n {
		w.peers = append(w.peers, ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: w.asset, Ledger: 1})
	}
	w.other = ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: w.asset2, Ledger: 2}
	return w
}

func (w world) build(t *testing.T, l *Ledger) {
	t.Helper()
	ctx := context.Background()
	if err := l.CreateAssetAccounts(ctx, w.asset, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateAssetAccounts(ctx, w.asset2, 2); err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(w.peers), w.other, ledger.Account{ID: w.asset, Ledger: 1})
	for _, a := range all {
		if a.ID != w.asset {
			if err := l.CreateLiquidityAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		// Deposit ids derived from the account, so both databases match.
		if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.NewSHA1(a.ID, []byte("deposit")), Account: a, Amount: 1_000}); err != nil {
			t.Fatal(err)
		}
	}
}

// A transfer of two linked legs, retried for more than is left: existing,
// on the first attempt as on the looked-up path, for every leg shape.
func TestRefusedRetryLinkedLegs(t *testing.T) {
	w := newWorld(2)
	l := openLedger(t)
	w.build(t, l)
	src, dst := w.peers[0], w.peers[1]
	cases := []struct {
		name            string
		first, retry    [2]uint64 // source, destination amounts
		wantRetryReason error     // the retry's refusal with a fresh id
	}{
		{"two legs, retried bigger on the first leg", [2]uint64{10, 8}, [2]uint64{5_000, 4_000}, ledger.ErrInsufficientBalance},
		{"two legs, retried so that the second leg fails", [2]uint64{10, 8}, [2]uint64{990, 10}, ledger.ErrInsufficientBalance},
		{"one leg, retried with two, the second from liquidity", [2]uint64{10, 10}, [2]uint64{10, 5_000}, ledger.ErrInsufficientLiquidity},
		{"two legs, retried as one", [2]uint64{10, 12}, [2]uint64{5_000, 5_000}, ledger.ErrInsufficientBalance},
		{"pending two legs, retried posted bigger", [2]uint64{10, 8}, [2]uint64{5_000, 1}, ledger.ErrInsufficientBalance},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := uuid.New()
			firstOp := mustTransferOp(t, ledger.TransferRequest{ID: id, Source: src, Destination: dst, SourceAmount: c.first[0], DestinationAmount: c.first[1], Timeout: time.Minute})
			wantErrs(t, "first", firstAttempt(t, l, firstOp), nil)
			before := balances(t, l, src.ID, dst.ID, w.asset)
			// The refusal with a fresh id, to be sure the retry is refused on money.
			fresh := mustTransferOp(t, ledger.TransferRequest{ID: uuid.New(), Source: src, Destination: dst, SourceAmount: c.retry[0], DestinationAmount: c.retry[1]})
			wantErrs(t, "fresh id", referenceDecisions(t, l, []*operation{fresh}), c.wantRetryReason)
			retry := mustTransferOp(t, ledger.TransferRequest{ID: id, Source: src, Destination: dst, SourceAmount: c.retry[0], DestinationAmount: c.retry[1]})
			wantErrs(t, "retry, first attempt", firstAttempt(t, l, retry), ledger.ErrTransferExists)
			wantErrs(t, "retry, looked up", referenceDecisions(t, l, []*operation{retry}), ledger.ErrTransferExists)
			if after := balances(t, l, src.ID, dst.ID, w.asset); !slices.Equal(before, after) {
				t.Errorf("balances %v, then %v", before, after)
			}
		})
	}
	wantTotalsMatchTransfers(t, l)
}

// Refusals Rafiki orders before the existence check stand: unknown
// accounts and different assets, for a reused id.
func TestRefusedBeforeExistenceStand(t *testing.T) {
	w := newWorld(2)
	l := openLedger(t)
	w.build(t, l)
	id := uuid.New()
	wantErrs(t, "withdraw", firstAttempt(t, l, withdrawOp(id, w.peers[0], 5, 0)), nil)
	unknown := ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: w.asset, Ledger: 1}
	wrongLedger := w.peers[0]
	wrongLedger.Ledger = 2 // the account is on ledger 1: different assets
	tid := uuid.New()
	wantErrs(t, "transfer", firstAttempt(t, l, mustTransferOp(t, ledger.TransferRequest{ID: tid, Source: w.peers[0], Destination: w.peers[1], SourceAmount: 5})), nil)
	cases := []struct {
		name string
		op   *operation
		want error
	}{
		{"withdraw from an unknown account", withdrawOp(id, unknown, 5_000, 0), ledger.ErrUnknownSourceAccount},
		{"deposit to an unknown account", depositOp(id, unknown, 5), ledger.ErrUnknownDestinationAccount},
		{"withdraw on another ledger", withdrawOp(id, wrongLedger, 5_000, 0), ledger.ErrDifferentAssets},
		{"transfer to an unknown account", mustTransferOp(t, ledger.TransferRequest{ID: tid, Source: w.peers[0], Destination: unknown, SourceAmount: 5_000}), ledger.ErrUnknownDestinationAccount},
		{"transfer with an unknown asset account", mustTransferOp(t, ledger.TransferRequest{ID: tid, Source: w.peers[0], Destination: ledger.Account{ID: w.peers[1].ID, AssetID: uuid.New(), Ledger: 1}, SourceAmount: 5_000}), ledger.ErrUnknownDestinationAccount},
		{"withdraw too much, existing", withdrawOp(id, w.peers[0], 5_000, 0), ledger.ErrTransferExists},
		{"deposit overflowing, existing", depositOp(id, w.peers[0], amountMax), ledger.ErrTransferExists},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErrs(t, "first attempt", firstAttempt(t, l, c.op), c.want)
			wantErrs(t, "looked up", lookedUp(t, l, c.op), c.want)
		})
	}
	wantTotalsMatchTransfers(t, l)
}

// Two creates in one batch reusing each other's id, in every order of
// refusal and success, with and without the id in the table.
func TestRefusedTwoCreatesOneID(t *testing.T) {
	w := newWorld(3)
	l := openLedger(t)
	w.build(t, l)
	a, b := w.peers[0], w.peers[1]
	stored := uuid.New()
	wantErrs(t, "stored", firstAttempt(t, l, withdrawOp(stored, w.peers[2], 1, 0)), nil)
	type spec struct {
		from   ledger.Account
		amount uint64
	}
	for _, inTable := range []bool{false, true} {
		for _, pair := range [][2]spec{
			{{a, 5_000}, {b, 1}},     // refused, then one that fits
			{{a, 1}, {b, 5_000}},     // fits, then refused
			{{a, 5_000}, {b, 5_000}}, // both refused
			{{a, 1}, {a, 5_000}},     // same account
			{{a, 5_000}, {a, 1}},
		} {
			t.Run(fmt.Sprintf("in table %v, %d then %d", inTable, pair[0].amount, pair[1].amount), func(t *testing.T) {
				id := uuid.New()
				if inTable {
					id = stored
				}
				ops := func() []*operation {
					return []*operation{withdrawOp(id, pair[0].from, pair[0].amount, 0), withdrawOp(id, pair[1].from, pair[1].amount, 0),
						withdrawOp(uuid.New(), w.peers[2], 1, 0)}
				}
				// The looked-up path's answers on the same state, rolled back.
				ref := referenceDecisions(t, l, ops())
				got := firstAttempt(t, l, ops()...)
				for i := range got {
					if errName(got[i]) != errName(ref[i]) {
						t.Errorf("op %d: first attempt %v, looked up %v", i, got[i], ref[i])
					}
				}
			})
		}
	}
	wantTotalsMatchTransfers(t, l)
}

// referenceDecisions decides ops with every id looked up first, in a
// transaction that is rolled back: what the looked-up path would answer.
func referenceDecisions(t *testing.T, l *Ledger, ops []*operation) []error {
	t.Helper()
	ctx := context.Background()
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	snap, err := l.lock(ctx, conn.Conn(), ops, attempt{checkExisting: true, lockFromTable: true})
	defer conn.Exec(ctx, "ROLLBACK")
	if err != nil {
		t.Fatal(err)
	}
	_, errs, err := decideAll(snap, nil, false, ops)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

func balances(t *testing.T, l *Ledger, ids ...uuid.UUID) []uint64 {
	t.Helper()
	out := make([]uint64, len(ids))
	for i, id := range ids {
		b, err := l.Balance(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// Differential: random batches of creates (reused ids within and across
// batches, refused and allowed, one or two legs, unknown accounts, other
// ledgers) and settlements, applied to two databases in the same state,
// one the ordinary way (first attempt without lookup), the other with
// every id looked up first. Answers, totals and transfers must match.
func TestRefusedDifferential(t *testing.T) {
	w := newWorld(5)
	l1, l2 := openLedger(t), openLedger(t)
	w.build(t, l1)
	w.build(t, l2)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var used []uuid.UUID // ids tried before
	type pend struct {
		id   uuid.UUID
		legs []uuid.UUID
	}
	var pendings []pend
	unknown := ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: w.asset, Ledger: 1}
	pickID := func() uuid.UUID {
		if len(used) > 0 && rng.IntN(3) == 0 {
			return used[rng.IntN(len(used))]
		}
		id := uuid.New()
		used = append(used, id)
		return id
	}
	amount := func() uint64 {
		switch rng.IntN(6) {
		case 0:
			return uint64(800 + rng.IntN(800)) // often too much
		case 1:
			return amountMax - uint64(rng.IntN(3))
		}
		return uint64(1 + rng.IntN(60))
	}
	peer := func() ledger.Account {
		if rng.IntN(25) == 0 {
			return unknown
		}
		if rng.IntN(30) == 0 {
			return w.other
		}
		if rng.IntN(30) == 0 {
			wrong := w.peers[rng.IntN(len(w.peers))]
			wrong.Ledger = 2 // the account is on ledger 1
			return wrong
		}
		return w.peers[rng.IntN(len(w.peers))]
	}
	mismatches := 0
	answers := map[string]int{}
	for batch := range 600 {
		n := 1 + rng.IntN(10)
		var ops []*operation
		for range n {
			timeout := time.Duration(0)
			if rng.IntN(2) == 0 {
				timeout = time.Minute
			}
			switch k := rng.IntN(10); {
			case k < 2:
				ops = append(ops, withdrawOp(pickID(), peer(), amount(), timeout))
			case k < 3:
				ops = append(ops, depositOp(pickID(), peer(), amount()))
			case k < 8:
				src, dst := peer(), peer()
				if src.ID == dst.ID {
					continue
				}
				sa := amount()
				da := uint64(0)
				if rng.IntN(2) == 0 {
					da = amount()
				}
				id := pickID()
				op, err := transferOperation(ledger.TransferRequest{ID: id, Source: src, Destination: dst, SourceAmount: sa, DestinationAmount: da, Timeout: timeout})
				if err != nil {
					continue
				}
				ops = append(ops, op)
				if timeout > 0 {
					legs := make([]uuid.UUID, len(op.legs))
					for i, lg := range op.legs {
						legs[i] = lg.id
					}
					pendings = append(pendings, pend{id, legs})
				}
			default:
				// Possibly of a transfer this batch creates.
				if len(pendings) == 0 {
					continue
				}
				p := pendings[rng.IntN(len(pendings))]
				k := kindPost
				if rng.IntN(2) == 0 {
					k = kindVoid
				}
				ops = append(ops, &operation{kind: k, ids: p.legs, group: p.id})
			}
		}
		if len(ops) == 0 {
			continue
		}
		got, err1 := l1.run(ctx, ops)
		want, err2 := l2.runOnce(ctx, ops, attempt{checkExisting: true, lockFromTable: true})
		if err1 != nil || err2 != nil {
			t.Fatalf("batch %d: run: %v; runOnce: %v", batch, err1, err2)
		}
		l1.legs.remember(ops, got)
		for i := range ops {
			answers[errName(got[i])]++
			if errName(got[i]) != errName(want[i]) {
				mismatches++
				t.Errorf("batch %d op %d (kind %d): first attempt %q, looked up %q", batch, i, ops[i].kind, errName(got[i]), errName(want[i]))
			}
		}
	}
	t.Logf("answers: %v", answers)
	if mismatches > 0 {
		t.Fatalf("%d answers differ", mismatches)
	}
	// Same totals, same transfers.
	dump := func(l *Ledger) string {
		var s string
		if err := l.pool.QueryRow(ctx, `
SELECT coalesce(string_agg(format('%s %s %s %s %s', id, debits_pending, debits_posted, credits_pending, credits_posted), E'\n' ORDER BY id), '')
FROM ledger_accounts`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		var ts string
		if err := l.pool.QueryRow(ctx, `
SELECT coalesce(string_agg(format('%s %s %s %s %s %s', id, group_id, debit_account_id, credit_account_id, amount, state), E'\n' ORDER BY id), '')
FROM ledger_transfers`).Scan(&ts); err != nil {
			t.Fatal(err)
		}
		return s + "\n--\n" + ts
	}
	if d1, d2 := dump(l1), dump(l2); d1 != d2 {
		t.Errorf("databases differ:\n%s\n====\n%s", d1, d2)
	}
	wantTotalsMatchTransfers(t, l1)
}
