package tigerbeetle

// Tests of the Ledger's methods against a fake client: which requests they
// send, and what they make of TigerBeetle's replies. The replies are the
// ones TigerBeetle documents; the server itself is not exercised.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	tb "github.com/tigerbeetle/tigerbeetle-go"

	"github.com/rafiki-go/rafiki/ledger"
)

// fakeClient answers with the test's functions and records each request.
// The operations the Ledger never uses stay with the nil embedded Client.
type fakeClient struct {
	tb.Client

	createAccounts      func([]tb.Account) []tb.CreateAccountResult
	createTransfers     func([]tb.Transfer) []tb.CreateTransferResult
	lookupAccounts      func([]tb.Uint128) []tb.Account
	lookupTransfers     func([]tb.Uint128) []tb.Transfer
	getAccountTransfers func(tb.AccountFilter) []tb.Transfer
	queryAccounts       func(tb.QueryFilter) []tb.Account

	mu       sync.Mutex
	requests []any // each request's events or filter, in arrival order
	closed   int
}

func (f *fakeClient) record(request any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, request)
}

func answer[E, R any](f *fakeClient, name string, events E, reply func(E) R) (R, error) {
	f.record(events)
	if reply == nil {
		var zero R
		return zero, fmt.Errorf("fake: unexpected %s", name)
	}
	return reply(events), nil
}

func (f *fakeClient) CreateAccounts(a []tb.Account) ([]tb.CreateAccountResult, error) {
	return answer(f, "create_accounts", a, f.createAccounts)
}

func (f *fakeClient) CreateTransfers(t []tb.Transfer) ([]tb.CreateTransferResult, error) {
	return answer(f, "create_transfers", t, f.createTransfers)
}

func (f *fakeClient) LookupAccounts(ids []tb.Uint128) ([]tb.Account, error) {
	return answer(f, "lookup_accounts", ids, f.lookupAccounts)
}

func (f *fakeClient) LookupTransfers(ids []tb.Uint128) ([]tb.Transfer, error) {
	return answer(f, "lookup_transfers", ids, f.lookupTransfers)
}

func (f *fakeClient) GetAccountTransfers(filter tb.AccountFilter) ([]tb.Transfer, error) {
	return answer(f, "get_account_transfers", filter, f.getAccountTransfers)
}

func (f *fakeClient) QueryAccounts(filter tb.QueryFilter) ([]tb.Account, error) {
	return answer(f, "query_accounts", filter, f.queryAccounts)
}

func (f *fakeClient) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
}

func allCreated(events []tb.Transfer) []tb.CreateTransferResult {
	return results(slices.Repeat([]tb.CreateTransferStatus{tb.TransferCreated}, len(events))...)
}

func TestTransferSendsOneLinkedRequest(t *testing.T) {
	f := &fakeClient{createTransfers: allCreated}
	l := &Ledger{client: f}
	req := ledger.TransferRequest{ID: transferID, Source: alice, Destination: carol, SourceAmount: 100, DestinationAmount: 92, Timeout: time.Minute}
	p, err := l.Transfer(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := pendingLegs(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 1 || !slices.Equal(f.requests[0].([]tb.Transfer), want) {
		t.Fatalf("requests = %+v, want one with %+v", f.requests, want)
	}
	if p.ID != transferID || !slices.Equal(p.Legs, []uuid.UUID{legID(transferID, 0), legID(transferID, 1)}) {
		t.Errorf("pending transfer = %+v", p)
	}
}

func TestTransferErrors(t *testing.T) {
	req := ledger.TransferRequest{ID: transferID, Source: alice, Destination: carol, SourceAmount: 100, DestinationAmount: 92, Timeout: time.Minute}
	tests := []struct {
		name     string
		statuses []tb.CreateTransferStatus
		want     error
	}{
		{"source lacks balance", []tb.CreateTransferStatus{tb.TransferExceedsCredits, tb.TransferLinkedEventFailed}, ledger.ErrInsufficientBalance},
		{"destination asset lacks liquidity", []tb.CreateTransferStatus{tb.TransferLinkedEventFailed, tb.TransferExceedsCredits}, ledger.ErrInsufficientLiquidity},
		{"retried", []tb.CreateTransferStatus{tb.TransferExists, tb.TransferLinkedEventFailed}, ledger.ErrTransferExists},
		{"unknown destination", []tb.CreateTransferStatus{tb.TransferLinkedEventFailed, tb.TransferCreditAccountNotFound}, ledger.ErrUnknownDestinationAccount},
	}
	for _, tt := range tests {
		f := &fakeClient{createTransfers: func([]tb.Transfer) []tb.CreateTransferResult { return results(tt.statuses...) }}
		l := &Ledger{client: f}
		if _, err := l.Transfer(context.Background(), req); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	// Refused before any request.
	f := &fakeClient{}
	l := &Ledger{client: f}
	bad := req
	bad.DestinationAmount = 0
	if _, err := l.Transfer(context.Background(), bad); !errors.Is(err, ledger.ErrInvalidDestinationAmount) || len(f.requests) != 0 {
		t.Errorf("err = %v after %d requests", err, len(f.requests))
	}
}

func TestPostAndVoid(t *testing.T) {
	p := ledger.PendingTransfer{ID: transferID, Legs: []uuid.UUID{legID(transferID, 0), legID(transferID, 1)}}
	tests := []struct {
		name     string
		do       func(*Ledger) error
		phase    phase
		statuses []tb.CreateTransferStatus
		want     error
	}{
		{"post", func(l *Ledger) error { return l.Post(context.Background(), p) }, phasePost, []tb.CreateTransferStatus{tb.TransferCreated, tb.TransferCreated}, nil},
		{"post again", func(l *Ledger) error { return l.Post(context.Background(), p) }, phasePost, []tb.CreateTransferStatus{tb.TransferExists, tb.TransferLinkedEventFailed}, ledger.ErrAlreadyPosted},
		{"post after void", func(l *Ledger) error { return l.Post(context.Background(), p) }, phasePost, []tb.CreateTransferStatus{tb.TransferPendingTransferAlreadyVoided, tb.TransferLinkedEventFailed}, ledger.ErrAlreadyVoided},
		{"void expired", func(l *Ledger) error { return l.Void(context.Background(), p) }, phaseVoid, []tb.CreateTransferStatus{tb.TransferPendingTransferExpired, tb.TransferLinkedEventFailed}, ledger.ErrTransferExpired},
		{"void again", func(l *Ledger) error { return l.Void(context.Background(), p) }, phaseVoid, []tb.CreateTransferStatus{tb.TransferExists, tb.TransferLinkedEventFailed}, ledger.ErrAlreadyVoided},
		{"void after post", func(l *Ledger) error { return l.Void(context.Background(), p) }, phaseVoid, []tb.CreateTransferStatus{tb.TransferPendingTransferAlreadyPosted, tb.TransferLinkedEventFailed}, ledger.ErrAlreadyPosted},
	}
	for _, tt := range tests {
		f := &fakeClient{createTransfers: func([]tb.Transfer) []tb.CreateTransferResult { return results(tt.statuses...) }}
		err := tt.do(&Ledger{client: f})
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		want, _ := resolutions(tt.phase, p.Legs)
		if len(f.requests) != 1 || !slices.Equal(f.requests[0].([]tb.Transfer), want) {
			t.Errorf("%s: requests = %+v, want one with both legs", tt.name, f.requests)
		}
	}
}

func TestWithdrawAndDeposit(t *testing.T) {
	f := &fakeClient{createTransfers: allCreated}
	l := &Ledger{client: f}
	ctx := context.Background()
	depositID, pendingID, postedID := uuid.New(), uuid.New(), uuid.New()
	if err := l.Deposit(ctx, ledger.Deposit{ID: depositID, Account: alice, Amount: 100}); err != nil {
		t.Fatal(err)
	}
	if err := l.Withdraw(ctx, ledger.Withdrawal{ID: pendingID, Account: alice, Amount: 10, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := l.Withdraw(ctx, ledger.Withdrawal{ID: postedID, Account: alice, Amount: 10}); err != nil {
		t.Fatal(err)
	}
	settlement := id(ledger.SettlementID(alice.Ledger))
	want := []tb.Transfer{
		{ID: id(depositID), DebitAccountID: settlement, CreditAccountID: id(alice.ID), Amount: tb.ToUint128(100), UserData32: kindMovement, Ledger: 1, Code: 2},
		{ID: id(pendingID), DebitAccountID: id(alice.ID), CreditAccountID: settlement, Amount: tb.ToUint128(10), UserData32: kindMovement, Timeout: 60, Ledger: 1, Code: 3, Flags: tb.TransferFlags{Pending: true}.ToUint16()},
		{ID: id(postedID), DebitAccountID: id(alice.ID), CreditAccountID: settlement, Amount: tb.ToUint128(10), UserData32: kindMovement, Ledger: 1, Code: 3},
	}
	if len(f.requests) != len(want) {
		t.Fatalf("%d requests, want %d", len(f.requests), len(want))
	}
	for i, w := range want {
		if got := f.requests[i].([]tb.Transfer); len(got) != 1 || got[0] != w {
			t.Errorf("request %d = %+v, want %+v", i, got, w)
		}
	}

	refused := []struct {
		name string
		err  error
		want error
	}{
		{"zero deposit", l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: alice}), ledger.ErrInvalidAmount},
		{"nil deposit id", l.Deposit(ctx, ledger.Deposit{Account: alice, Amount: 1}), ledger.ErrInvalidID},
		{"negative timeout", l.Withdraw(ctx, ledger.Withdrawal{ID: uuid.New(), Account: alice, Amount: 1, Timeout: -1}), ledger.ErrInvalidTimeout},
		{"post nil id", l.PostWithdrawal(ctx, uuid.Nil), ledger.ErrInvalidID},
	}
	for _, r := range refused {
		if !errors.Is(r.err, r.want) {
			t.Errorf("%s: err = %v, want %v", r.name, r.err, r.want)
		}
	}
	if len(f.requests) != len(want) {
		t.Errorf("refused calls sent %d requests", len(f.requests)-len(want))
	}
}

func TestCreateAssetAccountsAgain(t *testing.T) {
	pair := assetAccounts(usd.asset, usd.ledger)
	accountResults := func(statuses ...tb.CreateAccountStatus) func([]tb.Account) []tb.CreateAccountResult {
		return func([]tb.Account) []tb.CreateAccountResult {
			r := make([]tb.CreateAccountResult, len(statuses))
			for i, s := range statuses {
				r[i].Status = s
			}
			return r
		}
	}
	tests := []struct {
		name    string
		results func([]tb.Account) []tb.CreateAccountResult
		found   []tb.Account
		wantErr bool
	}{
		{"new", accountResults(tb.AccountCreated, tb.AccountCreated), nil, false},
		{"again: the settlement account is looked up", accountResults(tb.AccountExists, tb.AccountLinkedEventFailed), pair[1:], false},
		{"settlement account missing", accountResults(tb.AccountExists, tb.AccountLinkedEventFailed), nil, true},
		{"settlement account of another asset", accountResults(tb.AccountExists, tb.AccountLinkedEventFailed), []tb.Account{newAccount(ledger.SettlementID(usd.ledger), usd.ledger, ledger.Settlement, eur.asset, false, true)}, true},
		{"asset account of another kind", accountResults(tb.AccountExistsWithDifferentCode, tb.AccountLinkedEventFailed), nil, true},
	}
	for _, tt := range tests {
		f := &fakeClient{
			createAccounts: tt.results,
			lookupAccounts: func([]tb.Uint128) []tb.Account { return tt.found },
		}
		err := (&Ledger{client: f}).CreateAssetAccounts(context.Background(), usd.asset, usd.ledger)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.name, err)
		}
		if got := f.requests[0].([]tb.Account); !slices.Equal(got, pair) {
			t.Errorf("%s: create_accounts %+v, want %+v", tt.name, got, pair)
		}
	}
	l := &Ledger{client: &fakeClient{}}
	if err := l.CreateLiquidityAccount(context.Background(), ledger.Account{ID: usd.asset, Type: ledger.Asset, AssetID: usd.asset, Ledger: 1}); err == nil {
		t.Error("an asset account was created alone")
	}
	if err := l.CreateLiquidityAccount(context.Background(), ledger.Account{ID: alice.ID, Type: ledger.Peer, Ledger: 1}); err == nil {
		t.Error("an account without an asset was created")
	}
}

func TestTotals(t *testing.T) {
	a, b, missing := alice, bob, uuid.New()
	account := func(u uuid.UUID, sent, received uint64) tb.Account {
		return tb.Account{ID: id(u), DebitsPosted: tb.ToUint128(sent), CreditsPosted: tb.ToUint128(received), Flags: tb.AccountFlags{DebitsMustNotExceedCredits: true}.ToUint16()}
	}
	f := &fakeClient{lookupAccounts: func([]tb.Uint128) []tb.Account {
		// TigerBeetle answers in its own order and skips unknown ids.
		return []tb.Account{account(b.ID, 3, 30), account(a.ID, 1, 10)}
	}}
	l := &Ledger{client: f}
	ctx := context.Background()
	sent, err := l.TotalsSent(ctx, []uuid.UUID{a.ID, b.ID})
	if err != nil || !slices.Equal(sent, []uint64{1, 3}) {
		t.Errorf("TotalsSent = %v, %v", sent, err)
	}
	received, err := l.TotalsReceived(ctx, []uuid.UUID{b.ID, a.ID})
	if err != nil || !slices.Equal(received, []uint64{30, 10}) {
		t.Errorf("TotalsReceived = %v, %v", received, err)
	}
	if _, err := l.TotalsSent(ctx, []uuid.UUID{a.ID, missing}); !errors.Is(err, ledger.ErrUnknownAccount) {
		t.Errorf("unknown account: %v", err)
	}
	if got, err := l.Balance(ctx, a.ID); err != nil || got != 9 {
		t.Errorf("Balance = %d, %v", got, err)
	}
	if len(f.requests) != 4 {
		t.Errorf("%d requests, want one a call", len(f.requests))
	}

	many := make([]uuid.UUID, batchSizeMax+1)
	for i := range many {
		many[i] = uuid.New()
	}
	f.requests = nil
	if _, err := l.TotalsSent(ctx, many); !errors.Is(err, ledger.ErrUnknownAccount) {
		t.Errorf("many unknown accounts: %v", err)
	}
	if len(f.requests) != 2 || len(f.requests[0].([]tb.Uint128)) != batchSizeMax {
		t.Errorf("%d ids: %d requests, want 2 of at most %d", len(many), len(f.requests), batchSizeMax)
	}
}

func TestAccountTransfers(t *testing.T) {
	now := time.Now()
	record := func(u uuid.UUID, debit, credit uuid.UUID, pending bool) tb.Transfer {
		return tb.Transfer{
			ID: id(u), DebitAccountID: id(debit), CreditAccountID: id(credit), Amount: tb.ToUint128(5),
			Ledger: 1, Code: 1, Timeout: 3600, UserData32: kindMovement,
			Flags: tb.TransferFlags{Pending: pending}.ToUint16(), Timestamp: uint64(now.UnixNano()),
		}
	}
	posted, voided, open, deposit := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	f := &fakeClient{
		getAccountTransfers: func(filter tb.AccountFilter) []tb.Transfer {
			if filter.AccountFilterFlags().Debits {
				return []tb.Transfer{record(posted, alice.ID, bob.ID, true), record(voided, alice.ID, bob.ID, true)}
			}
			return []tb.Transfer{record(open, bob.ID, alice.ID, true), record(deposit, ledger.SettlementID(1), alice.ID, false)}
		},
		lookupTransfers: func([]tb.Uint128) []tb.Transfer {
			return []tb.Transfer{{ID: id(postID(posted))}, {ID: id(voidID(voided))}}
		},
	}
	got, err := (&Ledger{client: f}).AccountTransfers(context.Background(), alice.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	states := func(ts []ledger.Transfer) []string {
		var s []string
		for _, t := range ts {
			s = append(s, fmt.Sprintf("%s %s", t.ID, t.State))
		}
		return s
	}
	wantDebits := []string{posted.String() + " POSTED", voided.String() + " VOIDED"}
	wantCredits := []string{open.String() + " PENDING", deposit.String() + " POSTED"}
	if !slices.Equal(states(got.Debits), wantDebits) || !slices.Equal(states(got.Credits), wantCredits) {
		t.Errorf("debits %v, credits %v; want %v, %v", states(got.Debits), states(got.Credits), wantDebits, wantCredits)
	}

	var filters []tb.AccountFilter
	var lookups [][]tb.Uint128
	for _, r := range f.requests {
		switch r := r.(type) {
		case tb.AccountFilter:
			filters = append(filters, r)
		case []tb.Uint128:
			lookups = append(lookups, r)
		}
	}
	if len(filters) != 2 || len(lookups) != 1 {
		t.Fatalf("%d filters, %d lookups; want 2 and 1", len(filters), len(lookups))
	}
	var directions []tb.AccountFilterFlags
	for _, filter := range filters {
		flags := filter.AccountFilterFlags()
		directions = append(directions, flags)
		if filter.AccountID != id(alice.ID) || filter.Limit != accountTransfersLimitDefault || filter.UserData32 != kindMovement || !flags.Reversed || flags.Debits == flags.Credits {
			t.Errorf("filter = %+v", filter)
		}
	}
	if directions[0].Debits == directions[1].Debits {
		t.Errorf("both filters ask for the same direction: %+v", directions)
	}
	// Two ids (post and void) for each of the three pending records.
	if len(lookups[0]) != 6 {
		t.Errorf("looked up %d ids, want 6", len(lookups[0]))
	}
}

func TestCheckPages(t *testing.T) {
	// Ledger 1 fills the first page and balances across both pages.
	page := make([]tb.Account, batchSizeMax)
	for i := range page {
		page[i] = tb.Account{ID: tb.ToUint128(uint64(i + 1)), Ledger: 1, Timestamp: uint64(i + 1)}
		if i%2 == 0 {
			page[i].DebitsPosted = tb.ToUint128(7)
		} else {
			page[i].CreditsPosted = tb.ToUint128(7) // batchSizeMax is odd: one debit is left
		}
	}
	account := func(n uint64, ledgerNumber uint32, debits, credits uint64) tb.Account {
		return tb.Account{ID: tb.ToUint128(n), Ledger: ledgerNumber, DebitsPosted: tb.ToUint128(debits), CreditsPosted: tb.ToUint128(credits), Timestamp: n}
	}
	last := []tb.Account{
		account(1_000_001, 1, 0, 7),
		// Ledger 2 looks unbalanced: a transfer of 5 between the pages
		// (read skew). Read at once, it balances.
		account(1_000_002, 2, 5, 0),
		// Ledger 3 is unbalanced however it is read.
		account(1_000_003, 3, 3, 0),
	}
	byLedger := map[uint32][]tb.Account{
		2: {account(1_000_002, 2, 5, 0), account(1_000_004, 2, 0, 5)},
		3: {account(1_000_003, 3, 3, 0)},
	}
	f := &fakeClient{queryAccounts: func(filter tb.QueryFilter) []tb.Account {
		switch {
		case filter.Ledger != 0:
			return byLedger[filter.Ledger]
		case filter.TimestampMin == 0:
			return page
		}
		return last
	}}
	imbalances, err := (&Ledger{client: f}).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []ledger.Imbalance{{Ledger: 3, Debits: 3, Credits: 0}}
	if !reflect.DeepEqual(imbalances, want) {
		t.Errorf("imbalances = %+v, want %+v", imbalances, want)
	}
	var scans, rereads []tb.QueryFilter
	for _, r := range f.requests {
		filter := r.(tb.QueryFilter)
		if filter.Ledger == 0 {
			scans = append(scans, filter)
		} else {
			rereads = append(rereads, filter)
		}
	}
	if len(scans) != 2 || scans[0].TimestampMin != 0 || scans[1].TimestampMin != batchSizeMax+1 || scans[1].Limit != batchSizeMax || scans[1].Code != 0 {
		t.Errorf("scans = %+v, want 2 pages", scans)
	}
	if len(rereads) != 2 || rereads[0].Ledger != 2 || rereads[1].Ledger != 3 {
		t.Errorf("rereads = %+v, want ledgers 2 and 3", rereads)
	}

	// One page is one snapshot: nothing is read again.
	f.requests = nil
	f.queryAccounts = func(tb.QueryFilter) []tb.Account { return byLedger[3] }
	imbalances, err = (&Ledger{client: f}).Check(context.Background())
	if err != nil || !reflect.DeepEqual(imbalances, want) || len(f.requests) != 1 {
		t.Errorf("one page: %+v, %v after %d requests", imbalances, err, len(f.requests))
	}
}

func TestCallStopsWaitingWithTheContext(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	block := func() (int, error) { <-release; return 1, nil }

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := call(ctx, block); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	ran := false
	if _, err := call(cancelled, func() (int, error) { ran = true; return 1, nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled context: err = %v, request sent: %t", err, ran)
	}
}

func TestCloseOnce(t *testing.T) {
	f := &fakeClient{}
	l := &Ledger{client: f}
	l.Close()
	l.Close()
	if f.closed != 1 {
		t.Errorf("client closed %d times", f.closed)
	}
}

// TestNewWithoutServer runs the real native client: it starts, finds nobody
// at the address, and New gives up with its context instead of hanging.
func TestNewWithoutServer(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	listener.Close() // a free port that nothing listens on

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := New(ctx, Options{Addresses: []string{address}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no server: err = %v, want deadline exceeded", err)
	}
	if _, err := New(context.Background(), Options{}); err == nil {
		t.Error("no addresses accepted")
	}
	if _, err := New(context.Background(), Options{Addresses: []string{"not an address"}}); !errors.Is(err, tb.ErrInvalidAddress) {
		t.Errorf("bad address: err = %v, want %v", err, tb.ErrInvalidAddress)
	}
}
