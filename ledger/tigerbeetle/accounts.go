package tigerbeetle

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"
	tb "github.com/tigerbeetle/tigerbeetle-go"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/internal/u128"
)

// checkPagesMax bounds Check's scan: this many pages of batchSizeMax accounts
// (about 8.4 million accounts).
const checkPagesMax = 1024

// newAccount is an account as Rafiki creates it: a settlement account may not
// have more credits than debits (nothing leaves the asset that was not
// deposited), any other account may not have more debits than credits (it
// never goes negative).
func newAccount(accountID uuid.UUID, ledgerNumber uint32, code ledger.AccountType, assetID uuid.UUID, linked, history bool) tb.Account {
	return tb.Account{
		ID:          id(accountID),
		UserData128: id(assetID),
		Ledger:      ledgerNumber,
		Code:        uint16(code),
		Flags: tb.AccountFlags{
			Linked:                     linked,
			DebitsMustNotExceedCredits: code != ledger.Settlement,
			CreditsMustNotExceedDebits: code == ledger.Settlement,
			History:                    history,
		}.ToUint16(),
	}
}

// assetAccounts are an asset's liquidity and settlement accounts: one linked
// pair, both keeping balance history, as Rafiki's
// createLiquidityAndLinkedSettlementAccount makes them.
func assetAccounts(assetID uuid.UUID, ledgerNumber uint32) []tb.Account {
	return []tb.Account{
		newAccount(assetID, ledgerNumber, ledger.Asset, assetID, true, true),
		newAccount(ledger.SettlementID(ledgerNumber), ledgerNumber, ledger.Settlement, assetID, false, true),
	}
}

func (l *Ledger) CreateAssetAccounts(ctx context.Context, assetID uuid.UUID, ledgerNumber uint32) error {
	if err := l.createAccounts(ctx, assetAccounts(assetID, ledgerNumber)); err != nil {
		return fmt.Errorf("create accounts of asset %s on ledger %d: %w", assetID, ledgerNumber, err)
	}
	return nil
}

func (l *Ledger) CreateLiquidityAccount(ctx context.Context, a ledger.Account) error {
	switch a.Type {
	case ledger.WebMonetization, ledger.Peer, ledger.Incoming, ledger.Outgoing:
	default: // asset accounts come in pairs with their settlement account
		return fmt.Errorf("create account %s: type %d is not a liquidity account type", a.ID, a.Type)
	}
	// TigerBeetle refuses a zero id or ledger itself, but not a zero
	// user_data_128.
	if a.AssetID == uuid.Nil {
		return fmt.Errorf("create account %s: no asset id", a.ID)
	}
	if err := l.createAccounts(ctx, []tb.Account{newAccount(a.ID, a.Ledger, a.Type, a.AssetID, false, false)}); err != nil {
		return fmt.Errorf("create account %s: %w", a.ID, err)
	}
	return nil
}

// createAccounts creates accounts in one request. One that already exists
// with the same fields counts as created. In a linked chain, though, that
// existing account fails the others with linked_event_failed without saying
// whether they exist too, so those are looked up.
func (l *Ledger) createAccounts(ctx context.Context, accounts []tb.Account) error {
	results, err := call(ctx, func() ([]tb.CreateAccountResult, error) { return l.client.CreateAccounts(accounts) })
	if err != nil {
		return err
	}
	if len(results) != len(accounts) {
		return fmt.Errorf("tigerbeetle: %d results for %d accounts", len(results), len(accounts))
	}
	var unsure []tb.Account
	for i, r := range results {
		switch r.Status {
		case tb.AccountCreated, tb.AccountExists:
		case tb.AccountLinkedEventFailed:
			unsure = append(unsure, accounts[i])
		default:
			return fmt.Errorf("account %s: %s", uuidOf(accounts[i].ID), r.Status)
		}
	}
	if len(unsure) == 0 {
		return nil
	}
	found, err := l.lookupAccounts(ctx, accountIDs(unsure))
	if err != nil {
		return err
	}
	for _, want := range unsure {
		got, ok := found[uuidOf(want.ID)]
		if !ok {
			return fmt.Errorf("account %s: not created, because another account linked with it exists", uuidOf(want.ID))
		}
		if !sameAccount(got, want) {
			return fmt.Errorf("account %s: exists with other fields", uuidOf(want.ID))
		}
	}
	return nil
}

// sameAccount is TigerBeetle's test for "exists": the same id and fields
// other than the balances and timestamp.
func sameAccount(a, b tb.Account) bool {
	return a.ID == b.ID && a.Flags == b.Flags && a.UserData128 == b.UserData128 &&
		a.UserData64 == b.UserData64 && a.UserData32 == b.UserData32 &&
		a.Ledger == b.Ledger && a.Code == b.Code
}

func accountIDs(accounts []tb.Account) []uuid.UUID {
	ids := make([]uuid.UUID, len(accounts))
	for i, a := range accounts {
		ids[i] = uuidOf(a.ID)
	}
	return ids
}

// lookupAccounts finds accounts by id, batchSizeMax a request. Missing ones
// are absent from the map: TigerBeetle skips them in its reply.
func (l *Ledger) lookupAccounts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]tb.Account, error) {
	found := make(map[uuid.UUID]tb.Account, len(ids))
	for batch := range slices.Chunk(ids, batchSizeMax) {
		request := make([]tb.Uint128, len(batch))
		for i, u := range batch {
			request[i] = id(u)
		}
		accounts, err := call(ctx, func() ([]tb.Account, error) { return l.client.LookupAccounts(request) })
		if err != nil {
			return nil, fmt.Errorf("look up accounts: %w", err)
		}
		for _, a := range accounts {
			found[uuidOf(a.ID)] = a
		}
	}
	return found, nil
}

// account is one account, or ErrUnknownAccount.
func (l *Ledger) account(ctx context.Context, accountID uuid.UUID) (tb.Account, error) {
	found, err := l.lookupAccounts(ctx, []uuid.UUID{accountID})
	if err != nil {
		return tb.Account{}, err
	}
	a, ok := found[accountID]
	if !ok {
		return tb.Account{}, fmt.Errorf("account %s: %w", accountID, ledger.ErrUnknownAccount)
	}
	return a, nil
}

func (l *Ledger) Balance(ctx context.Context, accountID uuid.UUID) (uint64, error) {
	a, err := l.account(ctx, accountID)
	if err != nil {
		return 0, err
	}
	return balance(a)
}

func (l *Ledger) SettlementBalance(ctx context.Context, ledgerNumber uint32) (uint64, error) {
	return l.Balance(ctx, ledger.SettlementID(ledgerNumber))
}

func (l *Ledger) TotalSent(ctx context.Context, accountID uuid.UUID) (uint64, error) {
	a, err := l.account(ctx, accountID)
	if err != nil {
		return 0, err
	}
	return total(a, "debits posted", a.DebitsPosted)
}

func (l *Ledger) TotalReceived(ctx context.Context, accountID uuid.UUID) (uint64, error) {
	a, err := l.account(ctx, accountID)
	if err != nil {
		return 0, err
	}
	return total(a, "credits posted", a.CreditsPosted)
}

func (l *Ledger) TotalsSent(ctx context.Context, ids []uuid.UUID) ([]uint64, error) {
	return l.totals(ctx, ids, "debits posted", func(a tb.Account) tb.Uint128 { return a.DebitsPosted })
}

func (l *Ledger) TotalsReceived(ctx context.Context, ids []uuid.UUID) ([]uint64, error) {
	return l.totals(ctx, ids, "credits posted", func(a tb.Account) tb.Uint128 { return a.CreditsPosted })
}

// totals reads one sum of many accounts with one lookup, in the ids' order.
func (l *Ledger) totals(ctx context.Context, ids []uuid.UUID, name string, field func(tb.Account) tb.Uint128) ([]uint64, error) {
	found, err := l.lookupAccounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	totals := make([]uint64, len(ids))
	for i, u := range ids {
		a, ok := found[u]
		if !ok {
			return nil, fmt.Errorf("account %s: %w", u, ledger.ErrUnknownAccount)
		}
		if totals[i], err = total(a, name, field(a)); err != nil {
			return nil, err
		}
	}
	return totals, nil
}

// sums are a ledger's four totals over its accounts.
type sums struct {
	debitsPosted, creditsPosted, debitsPending, creditsPending u128.U128
}

func (s *sums) add(a tb.Account) error {
	var ok [4]bool
	s.debitsPosted, ok[0] = s.debitsPosted.Add(u128Of(a.DebitsPosted))
	s.creditsPosted, ok[1] = s.creditsPosted.Add(u128Of(a.CreditsPosted))
	s.debitsPending, ok[2] = s.debitsPending.Add(u128Of(a.DebitsPending))
	s.creditsPending, ok[3] = s.creditsPending.Add(u128Of(a.CreditsPending))
	if ok != [4]bool{true, true, true, true} {
		return fmt.Errorf("ledger %d: sums overflow 128 bits", a.Ledger)
	}
	return nil
}

func (s sums) balanced() bool {
	return s.debitsPosted == s.creditsPosted && s.debitsPending == s.creditsPending
}

// imbalance reports a ledger whose posted or pending sums differ, with its
// posted sums (Imbalance has no pending fields; ledger/postgres does the
// same).
func (s sums) imbalance(ledgerNumber uint32) ledger.Imbalance {
	return ledger.Imbalance{Ledger: ledgerNumber, Debits: s.debitsPosted.Clamp(), Credits: s.creditsPosted.Clamp()}
}

// addAll adds accounts to their ledgers' sums.
func addAll(byLedger map[uint32]*sums, accounts []tb.Account) error {
	for _, a := range accounts {
		s := byLedger[a.Ledger]
		if s == nil {
			s = &sums{}
			byLedger[a.Ledger] = s
		}
		if err := s.add(a); err != nil {
			return err
		}
	}
	return nil
}

// Check sums every account of the cluster per ledger. TigerBeetle keeps no
// list of ledgers, but query_accounts without field filters scans all
// accounts by timestamp, so the Ledger needs no list of its own either, and
// an account created by anyone else is checked too. TigerBeetle applies both
// sides of every transfer at once, so a lasting imbalance means corruption.
//
// One request reads one snapshot, but a scan of more than one page of
// batchSizeMax accounts does not: a transfer that runs between two pages
// can show as an imbalance (read skew). So when the scan took several pages,
// a ledger that looks unbalanced is read again with one query by ledger,
// one snapshot, and reported only if it is still unbalanced. A ledger with
// a full page of accounts or more cannot be read at once; its scanned sums
// stand.
func (l *Ledger) Check(ctx context.Context) ([]ledger.Imbalance, error) {
	byLedger := make(map[uint32]*sums)
	filter := tb.QueryFilter{Limit: batchSizeMax}
	pages := 0
	for {
		if pages == checkPagesMax {
			return nil, fmt.Errorf("check: more than %d accounts", checkPagesMax*batchSizeMax)
		}
		accounts, err := call(ctx, func() ([]tb.Account, error) { return l.client.QueryAccounts(filter) })
		if err != nil {
			return nil, fmt.Errorf("check: query accounts: %w", err)
		}
		pages++
		if err := addAll(byLedger, accounts); err != nil {
			return nil, fmt.Errorf("check: %w", err)
		}
		if len(accounts) < batchSizeMax {
			break
		}
		filter.TimestampMin = accounts[len(accounts)-1].Timestamp + 1
	}
	var imbalances []ledger.Imbalance
	for _, n := range slices.Sorted(maps.Keys(byLedger)) {
		s := *byLedger[n]
		if !s.balanced() && pages > 1 {
			reread, whole, err := l.ledgerSums(ctx, n)
			if err != nil {
				return nil, fmt.Errorf("check: ledger %d: %w", n, err)
			}
			if whole {
				s = reread
			}
		}
		if !s.balanced() {
			imbalances = append(imbalances, s.imbalance(n))
		}
	}
	return imbalances, nil
}

// ledgerSums are one ledger's sums read from one snapshot; whole is false
// when its accounts do not fit in one request.
func (l *Ledger) ledgerSums(ctx context.Context, ledgerNumber uint32) (s sums, whole bool, err error) {
	accounts, err := call(ctx, func() ([]tb.Account, error) {
		return l.client.QueryAccounts(tb.QueryFilter{Ledger: ledgerNumber, Limit: batchSizeMax})
	})
	if err != nil {
		return sums{}, false, fmt.Errorf("query accounts: %w", err)
	}
	if len(accounts) == batchSizeMax {
		return sums{}, false, nil
	}
	for _, a := range accounts {
		if err := s.add(a); err != nil {
			return sums{}, false, err
		}
	}
	return s, true, nil
}
