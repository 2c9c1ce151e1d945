package tigerbeetle

// Tests that need no TigerBeetle server: conversions, the legs and requests
// this package builds, how replies map to errors, and the balance formulas.

import (
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	tb "github.com/tigerbeetle/tigerbeetle-go"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/internal/u128"
)

func TestIDRoundTrip(t *testing.T) {
	for range 100 {
		u := uuid.New()
		if got := uuidOf(id(u)); got != u {
			t.Fatalf("uuidOf(id(%s)) = %s", u, got)
		}
		// Rafiki reads the UUID's hex digits as one number.
		want, err := tb.HexStringToUint128(hex.EncodeToString(u[:]))
		if err != nil {
			t.Fatal(err)
		}
		if id(u) != want {
			t.Fatalf("id(%s) = %s, want %s", u, id(u), want)
		}
	}
}

func TestSettlementIDIsTheLedgerNumber(t *testing.T) {
	for _, n := range []uint32{1, 2, 255, 256, 65_536, math.MaxUint32} {
		if got := id(ledger.SettlementID(n)); got != tb.ToUint128(uint64(n)) {
			t.Errorf("id(SettlementID(%d)) = %s", n, got)
		}
		if got := uuidOf(tb.ToUint128(uint64(n))); got != ledger.SettlementID(n) {
			t.Errorf("uuidOf(%d) = %s", n, got)
		}
	}
}

var (
	usd = struct {
		asset  uuid.UUID
		ledger uint32
	}{uuid.MustParse("00000000-0000-4000-8000-0000000000a1"), 1}
	eur = struct {
		asset  uuid.UUID
		ledger uint32
	}{uuid.MustParse("00000000-0000-4000-8000-0000000000a2"), 2}

	alice = ledger.Account{ID: uuid.MustParse("00000000-0000-4000-8000-000000000001"), Type: ledger.Peer, AssetID: usd.asset, Ledger: usd.ledger}
	bob   = ledger.Account{ID: uuid.MustParse("00000000-0000-4000-8000-000000000002"), Type: ledger.Incoming, AssetID: usd.asset, Ledger: usd.ledger}
	carol = ledger.Account{ID: uuid.MustParse("00000000-0000-4000-8000-000000000003"), Type: ledger.Incoming, AssetID: eur.asset, Ledger: eur.ledger}

	transferID = uuid.MustParse("00000000-0000-4000-8000-0000000000f1")
)

func TestLegs(t *testing.T) {
	tests := []struct {
		name string
		req  ledger.TransferRequest
		want []leg
	}{{
		name: "same asset, same amounts",
		req:  ledger.TransferRequest{Source: alice, Destination: bob, SourceAmount: 100, DestinationAmount: 100},
		want: []leg{{debit: alice.ID, credit: bob.ID, amount: 100, ledger: 1}},
	}, {
		name: "same asset, destination amount 0 means the same",
		req:  ledger.TransferRequest{Source: alice, Destination: bob, SourceAmount: 100},
		want: []leg{{debit: alice.ID, credit: bob.ID, amount: 100, ledger: 1}},
	}, {
		name: "same asset, smaller destination amount: the asset takes the excess",
		req:  ledger.TransferRequest{Source: alice, Destination: bob, SourceAmount: 100, DestinationAmount: 90},
		want: []leg{
			{debit: alice.ID, credit: bob.ID, amount: 90, ledger: 1},
			{debit: alice.ID, credit: usd.asset, amount: 10, ledger: 1},
		},
	}, {
		name: "same asset, larger destination amount: the asset pays the difference",
		req:  ledger.TransferRequest{Source: alice, Destination: bob, SourceAmount: 100, DestinationAmount: 110},
		want: []leg{
			{debit: alice.ID, credit: bob.ID, amount: 100, ledger: 1},
			{debit: usd.asset, credit: bob.ID, amount: 10, ledger: 1},
		},
	}, {
		name: "cross asset",
		req:  ledger.TransferRequest{Source: alice, Destination: carol, SourceAmount: 100, DestinationAmount: 92},
		want: []leg{
			{debit: alice.ID, credit: usd.asset, amount: 100, ledger: 1},
			{debit: eur.asset, credit: carol.ID, amount: 92, ledger: 2},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.ID = transferID
			got, err := legs(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("legs = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				tt.want[i].id = legID(transferID, i)
				if got[i] != tt.want[i] {
					t.Errorf("leg %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestLegsRefused(t *testing.T) {
	tests := []struct {
		name string
		req  ledger.TransferRequest
		want error
	}{
		{"same accounts", ledger.TransferRequest{Source: alice, Destination: alice, SourceAmount: 1}, ledger.ErrSameAccounts},
		{"no source amount", ledger.TransferRequest{Source: alice, Destination: bob}, ledger.ErrInvalidSourceAmount},
		{"cross asset without destination amount", ledger.TransferRequest{Source: alice, Destination: carol, SourceAmount: 1}, ledger.ErrInvalidDestinationAmount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.ID = transferID
			if _, err := legs(tt.req); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLegIDs(t *testing.T) {
	a, b := legID(transferID, 0), legID(transferID, 1)
	if a == b || a == transferID || legID(transferID, 0) != a {
		t.Fatalf("leg ids %s, %s of %s: want distinct and stable", a, b, transferID)
	}
	if postID(a) == voidID(a) || postID(a) == postID(b) {
		t.Fatal("post and void ids collide")
	}
}

func TestPendingLegs(t *testing.T) {
	req := ledger.TransferRequest{
		ID: transferID, Source: alice, Destination: bob,
		SourceAmount: 100, DestinationAmount: 90, Timeout: 1500 * time.Millisecond,
	}
	transfers, ls, err := pendingLegs(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(transfers) != 2 || len(ls) != 2 {
		t.Fatalf("%d transfers, %d legs, want 2", len(transfers), len(ls))
	}
	for i, tr := range transfers {
		flags := tr.TransferFlags()
		if flags.Linked != (i == 0) || !flags.Pending || flags.PostPendingTransfer || flags.VoidPendingTransfer {
			t.Errorf("transfer %d flags = %+v, want pending, linked but the last", i, flags)
		}
		if tr.ID != id(ls[i].id) || tr.DebitAccountID != id(ls[i].debit) || tr.CreditAccountID != id(ls[i].credit) ||
			tr.Amount != tb.ToUint128(ls[i].amount) || tr.Ledger != ls[i].ledger {
			t.Errorf("transfer %d = %+v, does not match leg %+v", i, tr, ls[i])
		}
		if tr.Timeout != 2 || tr.Code != uint16(ledger.TypeTransfer) || tr.UserData128 != id(transferID) || tr.UserData32 != kindMovement {
			t.Errorf("transfer %d: timeout %d code %d user data %s/%d", i, tr.Timeout, tr.Code, tr.UserData128, tr.UserData32)
		}
	}

	req.Timeout, req.Type = 0, ledger.TypeDeposit
	transfers, _, err = pendingLegs(req)
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range transfers {
		if tr.TransferFlags().Pending || tr.Timeout != 0 || tr.Code != uint16(ledger.TypeDeposit) {
			t.Errorf("timeout 0: transfer %d = %+v, want posted at once with code 2", i, tr)
		}
	}
}

func TestPendingLegsRefused(t *testing.T) {
	ok := ledger.TransferRequest{ID: transferID, Source: alice, Destination: bob, SourceAmount: 1}
	tests := []struct {
		name   string
		change func(*ledger.TransferRequest)
		want   error
	}{
		{"nil id", func(r *ledger.TransferRequest) { r.ID = uuid.Nil }, ledger.ErrInvalidID},
		{"negative timeout", func(r *ledger.TransferRequest) { r.Timeout = -time.Second }, ledger.ErrInvalidTimeout},
		{"timeout beyond u32 seconds", func(r *ledger.TransferRequest) { r.Timeout = (math.MaxUint32 + 1) * time.Second }, ledger.ErrInvalidTimeout},
		{"same accounts", func(r *ledger.TransferRequest) { r.Destination = alice }, ledger.ErrSameAccounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ok
			tt.change(&req)
			if _, _, err := pendingLegs(req); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	req := ok
	req.Type = 7
	if _, _, err := pendingLegs(req); err == nil {
		t.Fatal("unknown type accepted")
	}
}

func TestTimeoutSeconds(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want uint32
	}{
		{0, 0},
		{time.Nanosecond, 1},
		{time.Second, 1},
		{time.Second + 1, 2},
		{60 * time.Second, 60},
		{math.MaxUint32 * time.Second, math.MaxUint32},
	}
	for _, tt := range tests {
		got, err := timeoutSeconds(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("timeoutSeconds(%v) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestResolutions(t *testing.T) {
	pending := []uuid.UUID{legID(transferID, 0), legID(transferID, 1)}
	for _, p := range []phase{phasePost, phaseVoid} {
		transfers, err := resolutions(p, pending)
		if err != nil {
			t.Fatal(err)
		}
		for i, tr := range transfers {
			flags := tr.TransferFlags()
			wantID, wantAmount := voidID(pending[i]), tb.ToUint128(0)
			if p == phasePost {
				wantID, wantAmount = postID(pending[i]), tb.AmountMax
			}
			if tr.ID != id(wantID) || tr.PendingID != id(pending[i]) || tr.Amount != wantAmount ||
				flags.PostPendingTransfer != (p == phasePost) || flags.VoidPendingTransfer != (p == phaseVoid) ||
				flags.Linked != (i == 0) || flags.Pending || tr.UserData32 != kindResolution {
				t.Errorf("phase %d transfer %d = %+v", p, i, tr)
			}
			// Zero fields are filled from the pending transfer.
			if tr.DebitAccountID != (tb.Uint128{}) || tr.CreditAccountID != (tb.Uint128{}) || tr.Ledger != 0 || tr.Code != 0 || tr.UserData128 != (tb.Uint128{}) {
				t.Errorf("phase %d transfer %d sets fields the pending transfer fills: %+v", p, i, tr)
			}
		}
	}
	if _, err := resolutions(phasePost, nil); !errors.Is(err, ledger.ErrUnknownTransfer) {
		t.Errorf("no legs: err = %v", err)
	}
	if _, err := resolutions(phaseVoid, []uuid.UUID{uuid.Nil}); !errors.Is(err, ledger.ErrInvalidID) {
		t.Errorf("nil leg: err = %v", err)
	}
}

func TestTransferError(t *testing.T) {
	all := []phase{phaseCreate, phasePost, phaseVoid}
	tests := []struct {
		status tb.CreateTransferStatus
		phases []phase
		want   error
	}{
		{tb.TransferExists, []phase{phaseCreate}, ledger.ErrTransferExists},
		{tb.TransferExistsWithDifferentAmount, []phase{phaseCreate}, ledger.ErrTransferExists},
		{tb.TransferExistsWithDifferentFlags, []phase{phaseCreate}, ledger.ErrTransferExists},
		{tb.TransferExists, []phase{phasePost}, ledger.ErrAlreadyPosted},
		{tb.TransferExistsWithDifferentFlags, []phase{phasePost}, ledger.ErrAlreadyPosted},
		{tb.TransferExists, []phase{phaseVoid}, ledger.ErrAlreadyVoided},
		{tb.TransferIDAlreadyFailed, []phase{phaseCreate}, ledger.ErrTransferExists},
		{tb.TransferIDAlreadyFailed, []phase{phasePost, phaseVoid}, ledger.ErrUnknownTransfer},
		{tb.TransferIDMustNotBeZero, all, ledger.ErrInvalidID},
		{tb.TransferAccountsMustBeDifferent, all, ledger.ErrSameAccounts},
		{tb.TransferDebitAccountNotFound, all, ledger.ErrUnknownSourceAccount},
		{tb.TransferDebitAccountIDMustNotBeZero, all, ledger.ErrUnknownSourceAccount},
		{tb.TransferCreditAccountNotFound, all, ledger.ErrUnknownDestinationAccount},
		{tb.TransferCreditAccountIDMustNotBeZero, all, ledger.ErrUnknownDestinationAccount},
		{tb.TransferAccountsMustHaveTheSameLedger, all, ledger.ErrDifferentAssets},
		{tb.TransferTransferMustHaveTheSameLedgerAsAccounts, all, ledger.ErrDifferentAssets},
		{tb.TransferExceedsCredits, all, ledger.ErrInsufficientBalance},
		{tb.TransferExceedsDebits, all, ledger.ErrInsufficientDebitBalance},
		{tb.TransferOverflowsTimeout, all, ledger.ErrInvalidTimeout},
		{tb.TransferPendingTransferNotFound, all, ledger.ErrUnknownTransfer},
		{tb.TransferPendingTransferNotPending, all, ledger.ErrAlreadyPosted},
		{tb.TransferPendingTransferAlreadyPosted, all, ledger.ErrAlreadyPosted},
		{tb.TransferPendingTransferAlreadyVoided, all, ledger.ErrAlreadyVoided},
		{tb.TransferPendingTransferExpired, all, ledger.ErrTransferExpired},
	}
	for _, tt := range tests {
		for _, p := range tt.phases {
			if got := transferError(p, tt.status); !errors.Is(got, tt.want) {
				t.Errorf("transferError(%d, %s) = %v, want %v", p, tt.status, got, tt.want)
			}
		}
	}
	// Statuses only a bug here can cause are plain errors naming the status.
	got := transferError(phaseCreate, tb.TransferLinkedEventChainOpen)
	for _, sentinel := range []error{ledger.ErrTransferExists, ledger.ErrUnknownTransfer, ledger.ErrInvalidAmount} {
		if errors.Is(got, sentinel) {
			t.Errorf("linked_event_chain_open maps to %v", sentinel)
		}
	}
	if got == nil || got.Error() != "tigerbeetle: TransferLinkedEventChainOpen" {
		t.Errorf("linked_event_chain_open: %v", got)
	}
}

func results(statuses ...tb.CreateTransferStatus) []tb.CreateTransferResult {
	r := make([]tb.CreateTransferResult, len(statuses))
	for i, s := range statuses {
		r[i] = tb.CreateTransferResult{Timestamp: uint64(i + 1), Status: s}
	}
	return r
}

func TestFailedTransfer(t *testing.T) {
	tests := []struct {
		name       string
		results    []tb.CreateTransferResult
		wantIndex  int
		wantStatus tb.CreateTransferStatus
	}{
		{"all created", results(tb.TransferCreated, tb.TransferCreated), -1, 0},
		{"second leg fails the chain", results(tb.TransferLinkedEventFailed, tb.TransferExceedsCredits), 1, tb.TransferExceedsCredits},
		{"first leg fails the chain", results(tb.TransferExists, tb.TransferLinkedEventFailed), 0, tb.TransferExists},
		{"a chain failed without a culprit", results(tb.TransferLinkedEventFailed, tb.TransferLinkedEventFailed), 0, tb.TransferLinkedEventFailed},
	}
	for _, tt := range tests {
		index, status, err := failedTransfer(tt.results, len(tt.results))
		if err != nil || index != tt.wantIndex || status != tt.wantStatus {
			t.Errorf("%s: %d, %s, %v; want %d, %s", tt.name, index, status, err, tt.wantIndex, tt.wantStatus)
		}
	}
	if _, _, err := failedTransfer(results(tb.TransferCreated), 2); err == nil {
		t.Error("a short reply passed")
	}
}

func TestLegErrorLiquidity(t *testing.T) {
	req := ledger.TransferRequest{ID: transferID, Source: alice, Destination: bob, SourceAmount: 100, DestinationAmount: 110}
	ls, err := legs(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := legError(req, ls[0], tb.TransferExceedsCredits); !errors.Is(err, ledger.ErrInsufficientBalance) {
		t.Errorf("source leg: %v, want insufficient balance", err)
	}
	if err := legError(req, ls[1], tb.TransferExceedsCredits); !errors.Is(err, ledger.ErrInsufficientLiquidity) {
		t.Errorf("asset leg: %v, want insufficient liquidity", err)
	}
	if err := legError(req, ls[1], tb.TransferDebitAccountNotFound); !errors.Is(err, ledger.ErrUnknownSourceAccount) {
		t.Errorf("asset leg, unknown account: %v", err)
	}
}

// u128Val builds a Uint128 from its two halves.
func u128Val(hi, lo uint64) tb.Uint128 {
	var b [16]byte
	for i := range 8 {
		b[i] = byte(lo >> (8 * i))
		b[8+i] = byte(hi >> (8 * i))
	}
	return tb.BytesToUint128(b)
}

func TestBalance(t *testing.T) {
	liquidity := newAccount(alice.ID, 1, ledger.Peer, usd.asset, false, false)
	settlement := newAccount(ledger.SettlementID(1), 1, ledger.Settlement, usd.asset, false, true)
	tests := []struct {
		name                                       string
		account                                    tb.Account
		debitsPosted, debitsPending, creditsPosted uint64
		want                                       uint64
	}{
		// credits posted - debits posted - debits pending
		{"liquidity", liquidity, 30, 20, 100, 50},
		{"liquidity, all reserved", liquidity, 0, 100, 100, 0},
		// debits posted - credits posted + debits pending
		{"settlement", settlement, 100, 20, 30, 90},
		{"settlement, only pending withdrawals", settlement, 0, 20, 0, 20},
	}
	for _, tt := range tests {
		a := tt.account
		a.DebitsPosted, a.DebitsPending, a.CreditsPosted = tb.ToUint128(tt.debitsPosted), tb.ToUint128(tt.debitsPending), tb.ToUint128(tt.creditsPosted)
		a.CreditsPending = tb.ToUint128(1_000) // never part of a balance
		got, err := balance(a)
		if err != nil || got != tt.want {
			t.Errorf("%s: balance = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}

	broken := liquidity
	broken.DebitsPosted, broken.CreditsPosted = tb.ToUint128(2), tb.ToUint128(1)
	if _, err := balance(broken); err == nil {
		t.Error("negative balance passed")
	}
	huge := liquidity
	huge.CreditsPosted = u128Val(1, 0)
	if _, err := balance(huge); err == nil {
		t.Error("balance beyond 64 bits passed")
	}
	// 2^64 + 5 credits, 2^64 debits: the balance fits though the totals do not.
	wide := liquidity
	wide.CreditsPosted, wide.DebitsPosted = u128Val(1, 5), u128Val(1, 0)
	if got, err := balance(wide); err != nil || got != 5 {
		t.Errorf("wide totals: balance = %d, %v; want 5", got, err)
	}
}

func TestAccountFlags(t *testing.T) {
	pair := assetAccounts(usd.asset, usd.ledger)
	asset, settlement := pair[0].AccountFlags(), pair[1].AccountFlags()
	if !asset.Linked || !asset.History || !asset.DebitsMustNotExceedCredits || asset.CreditsMustNotExceedDebits {
		t.Errorf("asset account flags = %+v", asset)
	}
	if settlement.Linked || !settlement.History || settlement.DebitsMustNotExceedCredits || !settlement.CreditsMustNotExceedDebits {
		t.Errorf("settlement account flags = %+v", settlement)
	}
	if pair[0].ID != id(usd.asset) || pair[1].ID != tb.ToUint128(uint64(usd.ledger)) ||
		pair[0].Code != uint16(ledger.Asset) || pair[1].Code != uint16(ledger.Settlement) ||
		pair[0].UserData128 != id(usd.asset) || pair[1].UserData128 != id(usd.asset) ||
		pair[0].Ledger != usd.ledger || pair[1].Ledger != usd.ledger {
		t.Errorf("asset accounts = %+v", pair)
	}
	peer := newAccount(alice.ID, alice.Ledger, alice.Type, alice.AssetID, false, false).AccountFlags()
	if peer != (tb.AccountFlags{DebitsMustNotExceedCredits: true}) {
		t.Errorf("liquidity account flags = %+v", peer)
	}
}

func TestTransferOf(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	pendingID := uuid.MustParse("00000000-0000-4000-8000-0000000000e1")
	record := func(pending bool, timeout uint32) tb.Transfer {
		return tb.Transfer{
			ID: id(pendingID), DebitAccountID: id(alice.ID), CreditAccountID: id(ledger.SettlementID(1)),
			Amount: tb.ToUint128(42), Ledger: 1, Code: uint16(ledger.TypeWithdrawal), Timeout: timeout,
			Flags: tb.TransferFlags{Pending: pending}.ToUint16(), Timestamp: uint64(created.UnixNano()),
		}
	}
	before, after := created.Add(time.Second), created.Add(time.Minute)
	tests := []struct {
		name     string
		record   tb.Transfer
		resolved map[uuid.UUID]bool
		now      time.Time
		want     ledger.TransferState
	}{
		{"single-phase", record(false, 0), nil, after, ledger.Posted},
		{"pending", record(true, 30), nil, before, ledger.Pending},
		{"pending without timeout", record(true, 0), nil, after, ledger.Pending},
		{"posted", record(true, 30), map[uuid.UUID]bool{postID(pendingID): true}, after, ledger.Posted},
		{"voided", record(true, 30), map[uuid.UUID]bool{voidID(pendingID): true}, before, ledger.Voided},
		{"expired", record(true, 30), nil, after, ledger.Voided},
	}
	for _, tt := range tests {
		got, err := transferOf(tt.record, tt.resolved, tt.now)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.State != tt.want {
			t.Errorf("%s: state %s, want %s", tt.name, got.State, tt.want)
		}
		if got.ID != pendingID || got.DebitAccountID != alice.ID || got.CreditAccountID != ledger.SettlementID(1) ||
			got.Amount != 42 || got.Ledger != 1 || got.Type != ledger.TypeWithdrawal || !got.CreatedAt.Equal(created) {
			t.Errorf("%s: %+v", tt.name, got)
		}
		timeout := time.Duration(tt.record.Timeout) * time.Second
		if got.Timeout != timeout || (got.ExpiresAt != nil) != (timeout > 0 && tt.record.TransferFlags().Pending) {
			t.Errorf("%s: timeout %v, expires %v", tt.name, got.Timeout, got.ExpiresAt)
		}
		if got.ExpiresAt != nil && !got.ExpiresAt.Equal(created.Add(timeout)) {
			t.Errorf("%s: expires %v, want %v", tt.name, got.ExpiresAt, created.Add(timeout))
		}
	}
}

func TestImbalance(t *testing.T) {
	var s sums
	for _, a := range []tb.Account{
		{Ledger: 3, DebitsPosted: tb.ToUint128(10), CreditsPending: tb.ToUint128(4)},
		{Ledger: 3, CreditsPosted: tb.ToUint128(10), DebitsPending: tb.ToUint128(4)},
	} {
		if err := s.add(a); err != nil {
			t.Fatal(err)
		}
	}
	if !s.balanced() {
		t.Fatalf("balanced sums reported: %+v", s)
	}

	posted := s
	posted.creditsPosted = u128.U128{Lo: 9}
	if posted.balanced() || !reflect.DeepEqual(posted.imbalance(3), ledger.Imbalance{Ledger: 3, Debits: 10, Credits: 9}) {
		t.Errorf("posted imbalance: %+v", posted.imbalance(3))
	}
	// Imbalance carries posted sums only, as ledger/postgres reports it.
	pending := s
	pending.debitsPending = u128.U128{Lo: 5}
	if pending.balanced() || !reflect.DeepEqual(pending.imbalance(3), ledger.Imbalance{Ledger: 3, Debits: 10, Credits: 10}) {
		t.Errorf("pending imbalance: %+v", pending.imbalance(3))
	}
	wide := s
	wide.debitsPosted = u128.U128{Hi: 1}
	if wide.balanced() || wide.imbalance(3).Debits != math.MaxUint64 {
		t.Errorf("wide imbalance: %+v", wide.imbalance(3))
	}

	overflow := sums{debitsPosted: u128.U128{Hi: math.MaxUint64, Lo: math.MaxUint64}}
	if err := overflow.add(tb.Account{DebitsPosted: tb.ToUint128(1)}); err == nil {
		t.Error("128-bit overflow passed")
	}
}
