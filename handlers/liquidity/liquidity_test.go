package liquidity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/liquidity"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/postgres"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/testkit"
)

const tenantID = "00000000-0000-4000-8000-000000000002"

var operator = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000001", Operator: true}

// queued is a command a handler enqueued.
type queued struct {
	subject, id string
	at          time.Time
	data        []byte
}

// queue records what handlers enqueue; fail, when set, refuses subjects.
type queue struct {
	mu   sync.Mutex
	cmds []queued
	fail func(subject string) error
}

func (q *queue) enqueue(_ context.Context, subject, id string, at time.Time, command any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		if err := q.fail(subject); err != nil {
			return err
		}
	}
	data, err := json.Marshal(command)
	if err != nil {
		return err
	}
	q.cmds = append(q.cmds, queued{subject: subject, id: id, at: at, data: data})
	return nil
}

func (q *queue) of(subject string) []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []queued
	for _, c := range q.cmds {
		if c.subject == subject {
			out = append(out, c)
		}
	}
	return out
}

type fixture struct {
	t      *testing.T
	ctx    context.Context
	nats   *testkit.NATS
	store  *eventstore.Store
	ledger ledger.Ledger
	queue  *queue
	h      *liquidity.Handler
	assets *asset.Handler
	n      int
}

// Windows of the tests' handlers: a request's own handler does its ledger
// step within ownWindow; the command that completes it runs after
// recoverAfter.
const (
	ownWindow    = 3 * time.Second
	recoverAfter = 3 * time.Second
)

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	url := testkit.NewDatabase(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	l, err := postgres.New(ctx, testkit.Pool(t, url), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	f := &fixture{t: t, ctx: ctx, nats: n, store: store, ledger: l, queue: &queue{}, assets: asset.NewHandler(store, notInUse)}
	f.h = f.handler(f.queue.enqueue)
	if _, _, err := tenant.NewHandler(store, operator.TenantID, "test.rafiki", "").Create(ctx, commands.CreateTenant{
		Meta: f.meta(), TenantID: tenantID, APISecret: "secret",
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func notInUse(context.Context, string) (bool, error) { return false, nil }

// handler is a new handler instance, as another process would run.
func (f *fixture) handler(enqueue liquidity.Enqueue) *liquidity.Handler {
	h := liquidity.NewHandler(f.store, f.ledger, enqueue)
	liquidity.SetWindows(h, ownWindow, recoverAfter)
	return h
}

func (f *fixture) meta() commands.Meta {
	f.n++
	return commands.Meta{ID: fmt.Sprintf("cmd-%d", f.n), Actor: operator}
}

func (f *fixture) asset(code string) liquidity.Owner {
	f.t.Helper()
	id, _, err := f.assets.Create(f.ctx, commands.CreateAsset{Meta: f.meta(), TenantID: tenantID, Code: code, Scale: 2})
	if err != nil {
		f.t.Fatal(err)
	}
	o, err := f.h.AssetOwner(f.ctx, operator, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

// liquidityEvents lists the owner's liquidity events, as "type" or
// "type:error" for refusals.
func (f *fixture) liquidityEvents(o liquidity.Owner) []string {
	f.t.Helper()
	envs, _, err := f.store.Load(f.ctx, o.Target.Subject)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, env := range envs {
		if !strings.HasPrefix(env.Type, "liquidity.") {
			continue
		}
		name := strings.TrimPrefix(env.Type, "liquidity.")
		if env.Type == (events.LiquidityRequestFailed{}).EventType() {
			ev, err := events.Decode(env)
			if err != nil {
				f.t.Fatal(err)
			}
			name += ":" + ev.(*events.LiquidityRequestFailed).Error
		}
		out = append(out, name)
	}
	return out
}

func (f *fixture) balance(o liquidity.Owner) uint64 {
	f.t.Helper()
	b, err := f.ledger.Balance(f.ctx, o.Account.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// check runs the liquidity check over the owners' events at now.
func (f *fixture) check(now time.Time, owners ...liquidity.Owner) []liquidity.Discrepancy {
	f.t.Helper()
	var all []events.Envelope
	for _, o := range owners {
		envs, _, err := f.store.Load(f.ctx, o.Target.Subject)
		if err != nil {
			f.t.Fatal(err)
		}
		all = append(all, envs...)
	}
	slices.SortFunc(all, func(a, b events.Envelope) int { return int(a.Sequence) - int(b.Sequence) })
	var history iter.Seq2[events.Envelope, error] = func(yield func(events.Envelope, error) bool) {
		for _, env := range all {
			if !yield(env, nil) {
				return
			}
		}
	}
	out, err := liquidity.Check(f.ctx, f.ledger, history, now)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) agree(owners ...liquidity.Owner) {
	f.t.Helper()
	if d := f.check(time.Now().Add(liquidity.CheckWindow), owners...); len(d) != 0 {
		f.t.Fatalf("the ledger and the events disagree: %v", d)
	}
}

func wantKind(t *testing.T, what string, err error, kind apperr.Kind) {
	t.Helper()
	if apperr.KindOf(err) != kind {
		t.Fatalf("%s: %v, want %s", what, err, kind)
	}
}

func wantEvents(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestDepositsAndWithdrawals(t *testing.T) {
	f := setup(t)
	ctx := f.ctx
	usd := f.asset("USD")
	eur := f.asset("EUR")

	deposit := uuid.NewString()
	m := f.meta()
	if _, err := f.h.Deposit(ctx, m, usd, deposit, 100); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, f.liquidityEvents(usd), "deposit_requested", "deposited")
	// A retry of the command answers as it did; another command with the
	// same transfer id is a duplicate, on any owner, and moves nothing.
	if _, err := f.h.Deposit(ctx, m, usd, deposit, 100); err != nil {
		t.Fatalf("retried deposit: %v", err)
	}
	_, err := f.h.Deposit(ctx, f.meta(), usd, deposit, 100)
	wantKind(t, "deposit id reused", err, apperr.Duplicate)
	_, err = f.h.Deposit(ctx, m, usd, deposit, 99)
	wantKind(t, "deposit id reused for another amount", err, apperr.Duplicate)
	_, err = f.h.Deposit(ctx, f.meta(), eur, deposit, 100)
	wantKind(t, "deposit id reused on another asset", err, apperr.Duplicate)
	_, err = f.h.Deposit(ctx, f.meta(), usd, uuid.NewString(), 0)
	wantKind(t, "zero deposit", err, apperr.InvalidInput)
	if got := f.balance(usd); got != 100 {
		t.Fatalf("balance %d, want 100", got)
	}
	wantEvents(t, f.liquidityEvents(usd), "deposit_requested", "deposited")
	wantEvents(t, f.liquidityEvents(eur))

	// A refused withdrawal is recorded, and its retry is refused the same
	// way even once the money is there.
	refused := uuid.NewString()
	mRefused := f.meta()
	_, err = f.h.Withdraw(ctx, mRefused, usd, refused, 101, 0)
	wantKind(t, "withdrawing more than the balance", err, apperr.Forbidden)
	if !strings.Contains(err.Error(), ledger.ErrInsufficientBalance.Error()) {
		t.Fatalf("refusal %v, want %v", err, ledger.ErrInsufficientBalance)
	}
	if _, err := f.h.Deposit(ctx, f.meta(), usd, uuid.NewString(), 10); err != nil {
		t.Fatal(err)
	}
	for _, retry := range []commands.Meta{mRefused, f.meta()} {
		_, err = f.h.Withdraw(ctx, retry, usd, refused, 101, 0)
		wantKind(t, "retried refused withdrawal", err, apperr.Forbidden)
	}
	_, err = f.h.PostWithdrawal(ctx, f.meta(), refused)
	wantKind(t, "posting a refused withdrawal", err, apperr.NotFound)
	if got := f.balance(usd); got != 110 {
		t.Fatalf("balance %d, want 110", got)
	}

	// A pending withdrawal, posted; its expiry is enqueued before it is
	// requested.
	pending := uuid.NewString()
	if _, err := f.h.Withdraw(ctx, f.meta(), usd, pending, 30, 3600); err != nil {
		t.Fatal(err)
	}
	if expiries := f.queue.of(commands.ExpireWithdrawalSubject); len(expiries) != 1 || !strings.Contains(string(expiries[0].data), pending) {
		t.Fatalf("expiry commands %v", expiries)
	}
	if got := f.balance(usd); got != 80 {
		t.Fatalf("balance with a pending withdrawal %d, want 80", got)
	}
	post := f.meta()
	if _, err := f.h.PostWithdrawal(ctx, post, pending); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.PostWithdrawal(ctx, post, pending); err != nil {
		t.Fatalf("retried post: %v", err)
	}
	_, err = f.h.PostWithdrawal(ctx, f.meta(), pending)
	wantKind(t, "posting again", err, apperr.Conflict)
	_, err = f.h.VoidWithdrawal(ctx, f.meta(), pending)
	wantKind(t, "voiding a posted withdrawal", err, apperr.Conflict)
	_, err = f.h.PostWithdrawal(ctx, f.meta(), uuid.NewString())
	wantKind(t, "posting an unknown withdrawal", err, apperr.NotFound)

	// A pending withdrawal, voided.
	voided := uuid.NewString()
	if _, err := f.h.Withdraw(ctx, f.meta(), usd, voided, 50, 3600); err != nil {
		t.Fatal(err)
	}
	void := f.meta()
	if _, err := f.h.VoidWithdrawal(ctx, void, voided); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.VoidWithdrawal(ctx, void, voided); err != nil {
		t.Fatalf("retried void: %v", err)
	}
	_, err = f.h.PostWithdrawal(ctx, f.meta(), voided)
	wantKind(t, "posting a voided withdrawal", err, apperr.Conflict)
	if got := f.balance(usd); got != 80 {
		t.Fatalf("balance %d, want 80", got)
	}

	// A withdrawal of everything: a retry withdraws what the first did.
	all := uuid.NewString()
	mAll := f.meta()
	for range 2 {
		amount, _, err := f.h.WithdrawAll(ctx, mAll, usd, all, 0)
		if err != nil || amount != 80 {
			t.Fatalf("withdraw all: %d %v", amount, err)
		}
	}
	wantEvents(t, f.liquidityEvents(usd),
		"deposit_requested", "deposited",
		"withdrawal_requested", "request_failed:"+ledger.ErrInsufficientBalance.Error(),
		"deposit_requested", "deposited",
		"withdrawal_requested", "withdrawal_created", "withdrawal_post_requested", "withdrawal_posted",
		"withdrawal_requested", "withdrawal_created", "withdrawal_void_requested", "withdrawal_voided",
		"withdrawal_requested", "withdrawal_created")
	f.agree(usd, eur)
}

func TestWithdrawalExpires(t *testing.T) {
	f := setup(t)
	ctx := f.ctx
	usd := f.asset("USD")
	if _, err := f.h.Deposit(ctx, f.meta(), usd, uuid.NewString(), 50); err != nil {
		t.Fatal(err)
	}
	expiring := uuid.NewString()
	if _, err := f.h.Withdraw(ctx, f.meta(), usd, expiring, 20, 1); err != nil {
		t.Fatal(err)
	}
	expiries := f.queue.of(commands.ExpireWithdrawalSubject)
	if len(expiries) != 1 {
		t.Fatalf("expiry commands %v", expiries)
	}
	// Run by another process's handler, when due.
	other := f.handler(f.queue.enqueue)
	testkit.Eventually(t, 10*time.Second, func() bool {
		wait, err := other.ExpireWithdrawal(ctx, expiries[0].data)
		if err != nil {
			t.Fatal(err)
		}
		return wait == 0
	}, "the expiry never came due")
	if again, err := other.ExpireWithdrawal(ctx, expiries[0].data); again != 0 || err != nil {
		t.Fatalf("expiry run again: %s %v", again, err)
	}
	wantEvents(t, f.liquidityEvents(usd), "deposit_requested", "deposited", "withdrawal_requested", "withdrawal_created", "withdrawal_voided")
	_, err := f.h.PostWithdrawal(ctx, f.meta(), expiring)
	wantKind(t, "posting an expired withdrawal", err, apperr.Forbidden)
	_, err = f.h.VoidWithdrawal(ctx, f.meta(), expiring)
	wantKind(t, "voiding an expired withdrawal", err, apperr.Forbidden)
	if got := f.balance(usd); got != 50 {
		t.Fatalf("balance after the expiry %d, want 50", got)
	}
	f.agree(usd)
}

// An enqueue that fails before a request leaves nothing behind: no event,
// no money moved; a retry then does it all.
func TestFailedEnqueueMovesNothing(t *testing.T) {
	for _, subject := range []string{commands.CompleteTransferSubject, commands.ExpireWithdrawalSubject} {
		t.Run(subject, func(t *testing.T) {
			f := setup(t)
			usd := f.asset("USD")
			if _, err := f.h.Deposit(f.ctx, f.meta(), usd, uuid.NewString(), 50); err != nil {
				t.Fatal(err)
			}
			down := errors.New("queue down")
			f.queue.fail = func(s string) error {
				if s == subject {
					return down
				}
				return nil
			}
			id, m := uuid.NewString(), f.meta()
			if _, err := f.h.Withdraw(f.ctx, m, usd, id, 20, 60); !errors.Is(err, down) {
				t.Fatalf("withdrawal with the queue down: %v", err)
			}
			wantEvents(t, f.liquidityEvents(usd), "deposit_requested", "deposited")
			if got := f.balance(usd); got != 50 {
				t.Fatalf("balance %d, want 50", got)
			}
			f.queue.fail = nil
			if _, err := f.h.Withdraw(f.ctx, m, usd, id, 20, 60); err != nil {
				t.Fatal(err)
			}
			if len(f.queue.of(commands.ExpireWithdrawalSubject)) == 0 {
				t.Fatal("no expiry enqueued")
			}
			f.agree(usd)
		})
	}
}

// errKilled stands for the process dying right after it stored a request.
var errKilled = errors.New("killed after the request")

// A handler that stops right after it stored a request (as a killed process
// does) leaves the work to the command enqueued before the request: a
// worker of another process does the ledger's step and records its outcome,
// and the ledger and the events agree.
func TestKilledAfterRequest(t *testing.T) {
	cases := []struct {
		name string
		// prepare makes what the request needs and returns the owner;
		// request runs it on the given handler.
		prepare func(f *fixture, o liquidity.Owner, id string)
		request func(f *fixture, h *liquidity.Handler, m commands.Meta, o liquidity.Owner, id string) error
		// ledgerDone: the killed process had done the ledger's step too.
		ledgerDone func(f *fixture, o liquidity.Owner, id string)
		balance    uint64
		want       []string
	}{
		{
			name: "deposit",
			request: func(f *fixture, h *liquidity.Handler, m commands.Meta, o liquidity.Owner, id string) error {
				_, err := h.Deposit(f.ctx, m, o, id, 70)
				return err
			},
			balance: 70 + 100,
			want:    []string{"deposit_requested", "deposited"},
		},
		{
			name: "deposit, the ledger's step done before the kill",
			request: func(f *fixture, h *liquidity.Handler, m commands.Meta, o liquidity.Owner, id string) error {
				_, err := h.Deposit(f.ctx, m, o, id, 70)
				return err
			},
			ledgerDone: func(f *fixture, o liquidity.Owner, id string) {
				if err := f.ledger.Deposit(f.ctx, ledger.Deposit{ID: uuid.MustParse(id), Account: o.Account, Amount: 70}); err != nil {
					f.t.Fatal(err)
				}
			},
			balance: 70 + 100,
			want:    []string{"deposit_requested", "deposited"},
		},
		{
			name: "refused withdrawal",
			request: func(f *fixture, h *liquidity.Handler, m commands.Meta, o liquidity.Owner, id string) error {
				_, err := h.Withdraw(f.ctx, m, o, id, 1000, 0)
				return err
			},
			balance: 100,
			want:    []string{"withdrawal_requested", "request_failed:" + ledger.ErrInsufficientBalance.Error()},
		},
		{
			name: "pending withdrawal",
			request: func(f *fixture, h *liquidity.Handler, m commands.Meta, o liquidity.Owner, id string) error {
				_, err := h.Withdraw(f.ctx, m, o, id, 40, 3600)
				return err
			},
			balance: 60,
			want:    []string{"withdrawal_requested", "withdrawal_created"},
		},
		{
			name: "post",
			prepare: func(f *fixture, o liquidity.Owner, id string) {
				if _, err := f.h.Withdraw(f.ctx, f.meta(), o, id, 40, 3600); err != nil {
					f.t.Fatal(err)
				}
			},
			request: func(f *fixture, h *liquidity.Handler, m commands.Meta, _ liquidity.Owner, id string) error {
				_, err := h.PostWithdrawal(f.ctx, m, id)
				return err
			},
			balance: 60,
			want:    []string{"withdrawal_requested", "withdrawal_created", "withdrawal_post_requested", "withdrawal_posted"},
		},
		{
			name: "void",
			prepare: func(f *fixture, o liquidity.Owner, id string) {
				if _, err := f.h.Withdraw(f.ctx, f.meta(), o, id, 40, 3600); err != nil {
					f.t.Fatal(err)
				}
			},
			request: func(f *fixture, h *liquidity.Handler, m commands.Meta, _ liquidity.Owner, id string) error {
				_, err := h.VoidWithdrawal(f.ctx, m, id)
				return err
			},
			balance: 100,
			want:    []string{"withdrawal_requested", "withdrawal_created", "withdrawal_void_requested", "withdrawal_voided"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := setup(t)
			usd := f.asset("USD")
			if _, err := f.h.Deposit(f.ctx, f.meta(), usd, uuid.NewString(), 100); err != nil {
				t.Fatal(err)
			}
			id := uuid.NewString()
			if c.prepare != nil {
				c.prepare(f, usd, id)
			}
			enqueue := func(ctx context.Context, subject, id string, at time.Time, command any) error {
				return commands.EnqueueAt(ctx, f.nats.JS, subject, id, at, command)
			}
			killed := f.handler(enqueue)
			killed.AfterRequest(func() error { return errKilled })
			m := f.meta()
			if err := c.request(f, killed, m, usd, id); !errors.Is(err, errKilled) {
				t.Fatalf("request: %v, want it killed", err)
			}
			if c.ledgerDone != nil {
				c.ledgerDone(f, usd, id)
			}
			restarted := f.handler(enqueue)

			worker := &commands.Worker{JS: f.nats.JS, Stream: "COMMANDS", Consumer: "worker_commands",
				PoisonSubject: commands.PoisonSubject, Log: slog.New(slog.DiscardHandler),
				Handlers: map[string]commands.Handler{
					commands.CompleteTransferSubject: restarted.CompleteTransfer,
					commands.ExpireWithdrawalSubject: restarted.ExpireWithdrawal,
				}}
			ctx, stop := context.WithCancel(f.ctx)
			done := make(chan error, 1)
			go func() { done <- worker.Run(ctx) }()
			t.Cleanup(func() {
				stop()
				if err := <-done; err != nil {
					t.Error(err)
				}
			})
			want := append([]string{"deposit_requested", "deposited"}, c.want...)
			var disagree []liquidity.Discrepancy
			defer func() {
				if t.Failed() {
					t.Logf("events %v, want %v; the check found %v", f.liquidityEvents(usd), want, disagree)
				}
			}()
			testkit.Eventually(t, 30*time.Second, func() bool {
				disagree = f.check(time.Now().Add(liquidity.CheckWindow), usd)
				return slices.Equal(f.liquidityEvents(usd), want) && len(disagree) == 0
			}, "the request was not completed")
			if got := f.balance(usd); got != c.balance {
				t.Fatalf("balance %d, want %d", got, c.balance)
			}
			f.agree(usd)
			// A retry now answers as the request was answered.
			err := c.request(f, restarted, m, usd, id)
			if strings.HasPrefix(c.want[len(c.want)-1], "request_failed") {
				wantKind(t, "retry of a refused request", err, apperr.Forbidden)
			} else if err != nil {
				t.Fatalf("retry: %v", err)
			}
			wantEvents(t, f.liquidityEvents(usd), want...)
		})
	}
}

// While a request waits for its outcome, its retry answers that it is under
// way rather than doing the ledger's step a second time at once.
// Two requests for one transfer id, the second deciding before the first is
// stored: the second's append conflicts, and it is answered as any other
// request for a used id is, whatever it asked, never taken for the first.
func TestRequestThatLosesTheRaceForATransferID(t *testing.T) {
	for _, amount := range []uint64{7, 100} {
		t.Run(fmt.Sprint(amount), func(t *testing.T) {
			f := setup(t)
			usd := f.asset("USD")
			id := uuid.NewString()
			var first error
			var once sync.Once
			// The loser's follow-ups are enqueued after it decided and
			// before it appends: the winner's whole request runs then.
			loser := f.handler(func(ctx context.Context, subject, cid string, at time.Time, command any) error {
				once.Do(func() { _, first = f.h.Deposit(f.ctx, f.meta(), usd, id, 100) })
				return f.queue.enqueue(ctx, subject, cid, at, command)
			})
			_, err := loser.Deposit(f.ctx, f.meta(), usd, id, amount)
			if first != nil {
				t.Fatalf("the winner: %v", first)
			}
			wantKind(t, "the request that lost", err, apperr.Duplicate)
			if got := f.balance(usd); got != 100 {
				t.Fatalf("balance %d, want 100", got)
			}
			wantEvents(t, f.liquidityEvents(usd), "deposit_requested", "deposited")
			f.agree(usd)
		})
	}
}

func TestRetryWhileUnderWay(t *testing.T) {
	f := setup(t)
	usd := f.asset("USD")
	killed := f.handler(f.queue.enqueue)
	killed.AfterRequest(func() error { return errKilled })
	id, m := uuid.NewString(), f.meta()
	if _, err := killed.Deposit(f.ctx, m, usd, id, 5); !errors.Is(err, errKilled) {
		t.Fatal(err)
	}
	for _, retry := range []commands.Meta{m, f.meta()} {
		_, err := f.h.Deposit(f.ctx, retry, usd, id, 5)
		wantKind(t, "retry under way", err, apperr.Unavailable)
	}
	completions := f.queue.of(commands.CompleteTransferSubject)
	if len(completions) != 1 {
		t.Fatalf("completion commands %v", completions)
	}
	// Before it is due the command waits; then it completes the deposit.
	if wait, err := f.h.CompleteTransfer(f.ctx, completions[0].data); err != nil || wait <= 0 {
		t.Fatalf("completion before it is due: %s %v", wait, err)
	}
	if got := f.balance(usd); got != 0 {
		t.Fatalf("balance before completion %d", got)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		wait, err := f.h.CompleteTransfer(f.ctx, completions[0].data)
		if err != nil {
			t.Fatal(err)
		}
		return wait == 0
	}, "the completion never came due")
	if _, err := f.h.Deposit(f.ctx, m, usd, id, 5); err != nil {
		t.Fatalf("retry after completion: %v", err)
	}
	if got := f.balance(usd); got != 5 {
		t.Fatalf("balance %d, want 5", got)
	}
	wantEvents(t, f.liquidityEvents(usd), "deposit_requested", "deposited")
	f.agree(usd)
}

// The check finds a ledger movement that no event explains, as a process
// killed between the ledger and its event left before requests were
// recorded first, and a recorded movement the ledger does not hold.
func TestCheckFindsUnexplainedTransfers(t *testing.T) {
	f := setup(t)
	usd := f.asset("USD")
	if _, err := f.h.Deposit(f.ctx, f.meta(), usd, uuid.NewString(), 100); err != nil {
		t.Fatal(err)
	}
	f.agree(usd)
	stray := uuid.New()
	if err := f.ledger.Deposit(f.ctx, ledger.Deposit{ID: stray, Account: usd.Account, Amount: 5}); err != nil {
		t.Fatal(err)
	}
	got := f.check(time.Now(), usd)
	if len(got) != 1 || got[0].TransferID != stray || !strings.Contains(got[0].Problem, "no liquidity event") {
		t.Fatalf("check found %v, want the stray deposit %s", got, stray)
	}

	// A withdrawal voided in the ledger that its events say is pending is
	// reported; one that expired is not, while its expiry may still be
	// recorded.
	voided, expiring := uuid.New(), uuid.New()
	if _, err := f.h.Withdraw(f.ctx, f.meta(), usd, voided.String(), 10, 3600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.Withdraw(f.ctx, f.meta(), usd, expiring.String(), 10, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.ledger.VoidWithdrawal(f.ctx, voided); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	problems := map[uuid.UUID]string{}
	for _, d := range f.check(time.Now(), usd) {
		problems[d.TransferID] = d.Problem
	}
	if len(problems) != 2 || !strings.Contains(problems[voided], "VOIDED in the ledger, PENDING by its events") || problems[expiring] != "" {
		t.Fatalf("check found %v, want the stray deposit and the voided withdrawal %s", problems, voided)
	}
	for _, d := range f.check(time.Now().Add(liquidity.CheckWindow+2*time.Second), usd) {
		problems[d.TransferID] = d.Problem
	}
	if !strings.Contains(problems[expiring], "VOIDED in the ledger, PENDING by its events") {
		t.Fatalf("check found %v, want the expiry never recorded of %s", problems, expiring)
	}

	// A request whose outcome is missing is reported once it is older than
	// the check's window.
	g := setup(t)
	eur := g.asset("EUR")
	g.h.AfterRequest(func() error { return errKilled })
	if _, err := g.h.Deposit(g.ctx, g.meta(), eur, uuid.NewString(), 5); !errors.Is(err, errKilled) {
		t.Fatal(err)
	}
	if got := g.check(time.Now(), eur); len(got) != 0 {
		t.Fatalf("a fresh request reported: %v", got)
	}
	if got := g.check(time.Now().Add(liquidity.CheckWindow), eur); len(got) != 1 || !strings.Contains(got[0].Problem, "outcome is not recorded") {
		t.Fatalf("check found %v, want the request without its outcome", got)
	}
}

// unreachable is an event store whose reads run out of time.
type unreachable struct{ handlers.Store }

func (unreachable) Last(context.Context, string) ([]byte, uint64, bool, error) {
	return nil, 0, false, fmt.Errorf("last message: %w", context.DeadlineExceeded)
}

// An owner that cannot be looked up is not an unknown one: the caller is
// told the service failed, not that the owner does not exist.
func TestOwnersOutOfReachAreNotUnknown(t *testing.T) {
	f := setup(t)
	h := liquidity.NewHandler(unreachable{f.store}, f.ledger, f.queue.enqueue)
	id := uuid.NewString()
	for name, lookup := range map[string]func() error{
		"asset":            func() error { _, err := h.AssetOwner(f.ctx, operator, id); return err },
		"peer":             func() error { _, err := h.PeerOwner(f.ctx, operator, id); return err },
		"wallet address":   func() error { _, err := h.WalletAddressOwner(f.ctx, operator, id); return err },
		"incoming payment": func() error { _, _, err := h.IncomingPaymentOwner(f.ctx, operator, id); return err },
		"outgoing payment": func() error { _, _, err := h.OutgoingPaymentOwner(f.ctx, operator, id); return err },
	} {
		if kind := apperr.KindOf(lookup()); kind != apperr.Unavailable {
			t.Errorf("%s: %s, want %s", name, kind, apperr.Unavailable)
		}
	}
}

// A cancelled outgoing payment's deposit returned in full under the id
// derived from the deposit's is explained by the cancellation; before the
// payment is cancelled, nothing explains it.
func TestCheckExplainsACancelledPaymentsDepositReturned(t *testing.T) {
	f := setup(t)
	usd := f.asset("USD")
	paymentID := uuid.NewString()
	target, err := handlers.NewTarget(tenantID, outgoingpayment.AggregateType, paymentID)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := handlers.AppendEvents(f.ctx, f.store, target.Subject, 0, handlers.Meta(target, handlers.CommandInfo{ID: "create"}), "create",
		&events.OutgoingPaymentCreated{WalletAddressID: uuid.NewString(), AssetID: usd.Account.AssetID.String(), AssetCode: "USD", AssetScale: 2,
			AssetLedger: usd.Account.Ledger, DebitAmount: 500, DebitAmountMinusFees: 500, ReceiveAmount: 500, QuoteExpiresAt: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	envs, _, err := f.store.Load(f.ctx, target.Subject)
	if err != nil || len(envs) != 1 {
		t.Fatalf("the payment's events: %v %v", envs, err)
	}
	account := ledger.Account{ID: uuid.MustParse(paymentID), AssetID: usd.Account.AssetID, Ledger: usd.Account.Ledger, Type: ledger.Outgoing}
	if err := f.ledger.CreateLiquidityAccount(f.ctx, account); err != nil {
		t.Fatal(err)
	}
	if err := f.ledger.Deposit(f.ctx, ledger.Deposit{ID: envs[0].ID, Account: account, Amount: 500}); err != nil {
		t.Fatal(err)
	}
	returned := outgoingpayment.DepositReturnID(envs[0].ID)
	if err := f.ledger.Withdraw(f.ctx, ledger.Withdrawal{ID: returned, Account: account, Amount: 500}); err != nil {
		t.Fatal(err)
	}
	payment := liquidity.Owner{Target: target, Account: account}
	if got := f.check(time.Now(), usd, payment); len(got) != 1 || got[0].TransferID != returned {
		t.Fatalf("check of a payment not cancelled found %v, want the return %s unexplained", got, returned)
	}
	if _, err := handlers.AppendEvents(f.ctx, f.store, target.Subject, seq.Sequence, handlers.Meta(target, handlers.CommandInfo{ID: "cancel"}), "cancel",
		&events.OutgoingPaymentCancelled{}); err != nil {
		t.Fatal(err)
	}
	if got := f.check(time.Now(), usd, payment); len(got) != 0 {
		t.Fatalf("check of the cancelled payment found %v", got)
	}
}
