package tigerbeetle

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	tb "github.com/tigerbeetle/tigerbeetle-go"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/internal/u128"
	"github.com/rafiki-go/rafiki/ledger/ledgertest"
)

// model is an in-memory TigerBeetle, so that the ledger contract suite runs
// through this package where no server can be had. It follows the 0.17
// state machine (src/state_machine.zig: create_account, create_transfer,
// post_or_void_pending_transfer, the linked-chain loop of execute, the
// expiry pulse, the lookups and the two queries), check by check, for the
// fields and flags this package uses, and nothing more (no imported, closing
// or balancing transfers, no overflow checks, no history). It is a reading
// of the server, not the server: passing against it shows that this
// package's requests and its reading of the replies agree with that reading.
type model struct {
	tb.Client // the operations the Ledger never uses

	mu    sync.Mutex
	clock uint64 // the cluster's last timestamp, in nanoseconds
	s     modelState
}

type modelState struct {
	accounts  map[tb.Uint128]tb.Account
	transfers map[tb.Uint128]tb.Transfer
	pending   map[tb.Uint128]pendingStatus // pending transfers by id
	failed    map[tb.Uint128]bool          // ids spent by transient errors
	// Creation order, which is timestamp order.
	accountIDs, transferIDs []tb.Uint128
}

type pendingStatus int

const (
	statusPending pendingStatus = iota
	statusPosted
	statusVoided
	statusExpired
)

func newModel() *model {
	return &model{s: modelState{
		accounts:  map[tb.Uint128]tb.Account{},
		transfers: map[tb.Uint128]tb.Transfer{},
		pending:   map[tb.Uint128]pendingStatus{},
		failed:    map[tb.Uint128]bool{},
	}}
}

func (s modelState) clone() modelState {
	return modelState{
		accounts:    maps.Clone(s.accounts),
		transfers:   maps.Clone(s.transfers),
		pending:     maps.Clone(s.pending),
		failed:      maps.Clone(s.failed),
		accountIDs:  slices.Clone(s.accountIDs),
		transferIDs: slices.Clone(s.transferIDs),
	}
}

// tick is the timestamp of the next event; callers hold mu, and call it
// first thing in every request too. The server expires due pending
// transfers in a pulse every 100 ms or after a commit, and a post or void
// checks the expiry at its own timestamp; expiring them at every tick is
// the same as far as requests can see.
func (m *model) tick() uint64 {
	m.clock = max(m.clock+1, uint64(time.Now().UnixNano()))
	for id, status := range m.s.pending {
		p := m.s.transfers[id]
		if status == statusPending && p.Timeout > 0 && p.Timestamp+uint64(p.Timeout)*uint64(time.Second) <= m.clock {
			m.s.pending[id] = statusExpired
			m.move(p, -1, 0)
		}
	}
	return m.clock
}

var (
	u128Zero = tb.Uint128{}
	u128Max  = tb.AmountMax
)

func tbOf(a u128.U128) tb.Uint128 {
	var b [16]byte
	for i := range 8 {
		b[i], b[8+i] = byte(a.Lo>>(8*i)), byte(a.Hi>>(8*i))
	}
	return tb.BytesToUint128(b)
}

// plus adds (sign 1) or takes (sign -1) an amount; the model's callers
// keep every total within 128 bits.
func plus(v tb.Uint128, sign int, amount tb.Uint128) tb.Uint128 {
	if sign > 0 {
		r, _ := u128Of(v).Add(u128Of(amount))
		return tbOf(r)
	}
	r, _ := u128Of(v).Sub(u128Of(amount))
	return tbOf(r)
}

// move changes the accounts of transfer t: pending by pendingSign, posted
// by postedSign.
func (m *model) move(t tb.Transfer, pendingSign, postedSign int) {
	dr, cr := m.s.accounts[t.DebitAccountID], m.s.accounts[t.CreditAccountID]
	if pendingSign != 0 {
		dr.DebitsPending = plus(dr.DebitsPending, pendingSign, t.Amount)
		cr.CreditsPending = plus(cr.CreditsPending, pendingSign, t.Amount)
	}
	if postedSign != 0 {
		dr.DebitsPosted = plus(dr.DebitsPosted, postedSign, t.Amount)
		cr.CreditsPosted = plus(cr.CreditsPosted, postedSign, t.Amount)
	}
	m.s.accounts[dr.ID], m.s.accounts[cr.ID] = dr, cr
}

// chain runs events as execute does: a linked chain applies all or none,
// its events after the failed one fail unevaluated, and the ones before it
// report linked_event_failed.
func chain[E any, S comparable](m *model, events []E, linked func(E) bool, create func(E) S, created, linkedFailed, chainOpen S) []S {
	statuses := make([]S, len(events))
	start, broken := -1, false
	var saved modelState
	for i, e := range events {
		if linked(e) && start < 0 {
			start, saved = i, m.s.clone()
		}
		switch {
		case linked(e) && i == len(events)-1:
			statuses[i] = chainOpen
		case broken:
			statuses[i] = linkedFailed
		default:
			statuses[i] = create(e)
		}
		if statuses[i] != created && start >= 0 && !broken {
			broken = true
			failed := m.s.failed // ids spent inside the chain stay spent
			m.s = saved
			m.s.failed = failed
			for j := start; j < i; j++ {
				statuses[j] = linkedFailed
			}
		}
		if start >= 0 && (!linked(e) || statuses[i] == chainOpen) {
			start, broken = -1, false
		}
	}
	return statuses
}

func (m *model) CreateAccounts(accounts []tb.Account) ([]tb.CreateAccountResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	statuses := chain(m, accounts, func(a tb.Account) bool { return a.AccountFlags().Linked }, m.createAccount,
		tb.AccountCreated, tb.AccountLinkedEventFailed, tb.AccountLinkedEventChainOpen)
	results := make([]tb.CreateAccountResult, len(statuses))
	for i, s := range statuses {
		results[i] = tb.CreateAccountResult{Timestamp: m.clock, Status: s}
	}
	return results, nil
}

func (m *model) createAccount(a tb.Account) tb.CreateAccountStatus {
	switch {
	case a.ID == u128Zero:
		return tb.AccountIDMustNotBeZero
	case a.ID == u128Max:
		return tb.AccountIDMustNotBeIntMax
	}
	if e, ok := m.s.accounts[a.ID]; ok {
		switch {
		case a.Flags != e.Flags:
			return tb.AccountExistsWithDifferentFlags
		case a.UserData128 != e.UserData128:
			return tb.AccountExistsWithDifferentUserData128
		case a.UserData64 != e.UserData64:
			return tb.AccountExistsWithDifferentUserData64
		case a.UserData32 != e.UserData32:
			return tb.AccountExistsWithDifferentUserData32
		case a.Ledger != e.Ledger:
			return tb.AccountExistsWithDifferentLedger
		case a.Code != e.Code:
			return tb.AccountExistsWithDifferentCode
		}
		return tb.AccountExists
	}
	flags := a.AccountFlags()
	switch {
	case flags.DebitsMustNotExceedCredits && flags.CreditsMustNotExceedDebits:
		return tb.AccountFlagsAreMutuallyExclusive
	case a.Ledger == 0:
		return tb.AccountLedgerMustNotBeZero
	case a.Code == 0:
		return tb.AccountCodeMustNotBeZero
	}
	a.Timestamp = m.tick()
	m.s.accounts[a.ID] = a
	m.s.accountIDs = append(m.s.accountIDs, a.ID)
	return tb.AccountCreated
}

func (m *model) CreateTransfers(transfers []tb.Transfer) ([]tb.CreateTransferResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	create := func(t tb.Transfer) tb.CreateTransferStatus {
		status := m.createTransfer(t)
		switch status {
		case tb.TransferDebitAccountNotFound, tb.TransferCreditAccountNotFound, tb.TransferPendingTransferNotFound,
			tb.TransferExceedsCredits, tb.TransferExceedsDebits:
			m.s.failed[t.ID] = true // transient: the id is spent
		}
		return status
	}
	statuses := chain(m, transfers, func(t tb.Transfer) bool { return t.TransferFlags().Linked }, create,
		tb.TransferCreated, tb.TransferLinkedEventFailed, tb.TransferLinkedEventChainOpen)
	return transferResultsOf(statuses, m.clock), nil
}

func transferResultsOf(statuses []tb.CreateTransferStatus, timestamp uint64) []tb.CreateTransferResult {
	results := make([]tb.CreateTransferResult, len(statuses))
	for i, s := range statuses {
		results[i] = tb.CreateTransferResult{Timestamp: timestamp, Status: s}
	}
	return results
}

func (m *model) createTransfer(t tb.Transfer) tb.CreateTransferStatus {
	switch {
	case t.ID == u128Zero:
		return tb.TransferIDMustNotBeZero
	case t.ID == u128Max:
		return tb.TransferIDMustNotBeIntMax
	}
	flags := t.TransferFlags()
	if e, ok := m.s.transfers[t.ID]; ok {
		return m.transferExists(t, e)
	}
	if m.s.failed[t.ID] {
		return tb.TransferIDAlreadyFailed
	}
	if flags.PostPendingTransfer || flags.VoidPendingTransfer {
		return m.postOrVoid(t)
	}
	switch {
	case t.DebitAccountID == u128Zero:
		return tb.TransferDebitAccountIDMustNotBeZero
	case t.CreditAccountID == u128Zero:
		return tb.TransferCreditAccountIDMustNotBeZero
	case t.DebitAccountID == t.CreditAccountID:
		return tb.TransferAccountsMustBeDifferent
	case t.PendingID != u128Zero:
		return tb.TransferPendingIDMustBeZero
	case !flags.Pending && t.Timeout != 0:
		return tb.TransferTimeoutReservedForPendingTransfer
	case t.Ledger == 0:
		return tb.TransferLedgerMustNotBeZero
	case t.Code == 0:
		return tb.TransferCodeMustNotBeZero
	}
	dr, ok := m.s.accounts[t.DebitAccountID]
	if !ok {
		return tb.TransferDebitAccountNotFound
	}
	cr, ok := m.s.accounts[t.CreditAccountID]
	if !ok {
		return tb.TransferCreditAccountNotFound
	}
	switch {
	case dr.Ledger != cr.Ledger:
		return tb.TransferAccountsMustHaveTheSameLedger
	case t.Ledger != dr.Ledger:
		return tb.TransferTransferMustHaveTheSameLedgerAsAccounts
	}
	drUsed, _ := u128Of(dr.DebitsPending).Add(u128Of(dr.DebitsPosted))
	drUsed, _ = drUsed.Add(u128Of(t.Amount))
	if dr.AccountFlags().DebitsMustNotExceedCredits && u128Of(dr.CreditsPosted).Less(drUsed) {
		return tb.TransferExceedsCredits
	}
	crUsed, _ := u128Of(cr.CreditsPending).Add(u128Of(cr.CreditsPosted))
	crUsed, _ = crUsed.Add(u128Of(t.Amount))
	if cr.AccountFlags().CreditsMustNotExceedDebits && u128Of(cr.DebitsPosted).Less(crUsed) {
		return tb.TransferExceedsDebits
	}
	t.Timestamp = m.tick()
	m.insert(t)
	if flags.Pending {
		m.s.pending[t.ID] = statusPending
		m.move(t, 1, 0)
	} else {
		m.move(t, 0, 1)
	}
	return tb.TransferCreated
}

func (m *model) insert(t tb.Transfer) {
	m.s.transfers[t.ID] = t
	m.s.transferIDs = append(m.s.transferIDs, t.ID)
}

func (m *model) transferExists(t, e tb.Transfer) tb.CreateTransferStatus {
	switch {
	case t.Flags != e.Flags:
		return tb.TransferExistsWithDifferentFlags
	case t.PendingID != e.PendingID:
		return tb.TransferExistsWithDifferentPendingID
	case t.Timeout != e.Timeout:
		return tb.TransferExistsWithDifferentTimeout
	}
	flags := t.TransferFlags()
	if !flags.PostPendingTransfer && !flags.VoidPendingTransfer {
		switch {
		case t.DebitAccountID != e.DebitAccountID:
			return tb.TransferExistsWithDifferentDebitAccountID
		case t.CreditAccountID != e.CreditAccountID:
			return tb.TransferExistsWithDifferentCreditAccountID
		case t.Amount != e.Amount:
			return tb.TransferExistsWithDifferentAmount
		case t.UserData128 != e.UserData128:
			return tb.TransferExistsWithDifferentUserData128
		case t.UserData64 != e.UserData64:
			return tb.TransferExistsWithDifferentUserData64
		case t.UserData32 != e.UserData32:
			return tb.TransferExistsWithDifferentUserData32
		case t.Ledger != e.Ledger:
			return tb.TransferExistsWithDifferentLedger
		case t.Code != e.Code:
			return tb.TransferExistsWithDifferentCode
		}
		return tb.TransferExists
	}
	// post_or_void_pending_transfer_exists: zero fields were filled from
	// the pending transfer.
	p := m.s.transfers[t.PendingID]
	amount := t.Amount
	if (flags.VoidPendingTransfer && amount == u128Zero) || (flags.PostPendingTransfer && amount == u128Max) {
		amount = p.Amount
	}
	filled := func(asked, pending uint64) uint64 {
		if asked == 0 {
			return pending
		}
		return asked
	}
	switch {
	case t.DebitAccountID != u128Zero && t.DebitAccountID != e.DebitAccountID:
		return tb.TransferExistsWithDifferentDebitAccountID
	case t.CreditAccountID != u128Zero && t.CreditAccountID != e.CreditAccountID:
		return tb.TransferExistsWithDifferentCreditAccountID
	case amount != e.Amount:
		return tb.TransferExistsWithDifferentAmount
	case t.UserData128 != u128Zero && t.UserData128 != e.UserData128,
		t.UserData128 == u128Zero && p.UserData128 != e.UserData128:
		return tb.TransferExistsWithDifferentUserData128
	case filled(t.UserData64, p.UserData64) != e.UserData64:
		return tb.TransferExistsWithDifferentUserData64
	case uint32(filled(uint64(t.UserData32), uint64(p.UserData32))) != e.UserData32:
		return tb.TransferExistsWithDifferentUserData32
	}
	return tb.TransferExists
}

func (m *model) postOrVoid(t tb.Transfer) tb.CreateTransferStatus {
	flags := t.TransferFlags()
	switch {
	case flags.PostPendingTransfer && flags.VoidPendingTransfer, flags.Pending:
		return tb.TransferFlagsAreMutuallyExclusive
	case t.PendingID == u128Zero:
		return tb.TransferPendingIDMustNotBeZero
	case t.PendingID == t.ID:
		return tb.TransferPendingIDMustBeDifferent
	case t.Timeout != 0:
		return tb.TransferTimeoutReservedForPendingTransfer
	}
	p, ok := m.s.transfers[t.PendingID]
	if !ok {
		return tb.TransferPendingTransferNotFound
	}
	if !p.TransferFlags().Pending {
		return tb.TransferPendingTransferNotPending
	}
	switch {
	case t.DebitAccountID != u128Zero && t.DebitAccountID != p.DebitAccountID:
		return tb.TransferPendingTransferHasDifferentDebitAccountID
	case t.CreditAccountID != u128Zero && t.CreditAccountID != p.CreditAccountID:
		return tb.TransferPendingTransferHasDifferentCreditAccountID
	case t.Ledger != 0 && t.Ledger != p.Ledger:
		return tb.TransferPendingTransferHasDifferentLedger
	case t.Code != 0 && t.Code != p.Code:
		return tb.TransferPendingTransferHasDifferentCode
	}
	amount := t.Amount
	if (flags.VoidPendingTransfer && amount == u128Zero) || (flags.PostPendingTransfer && amount == u128Max) {
		amount = p.Amount
	}
	switch {
	case u128Of(p.Amount).Less(u128Of(amount)):
		return tb.TransferExceedsPendingTransferAmount
	case flags.VoidPendingTransfer && amount != p.Amount:
		return tb.TransferPendingTransferHasDifferentAmount
	}
	switch m.s.pending[p.ID] {
	case statusPosted:
		return tb.TransferPendingTransferAlreadyPosted
	case statusVoided:
		return tb.TransferPendingTransferAlreadyVoided
	case statusExpired:
		return tb.TransferPendingTransferExpired
	}
	r := tb.Transfer{
		ID: t.ID, DebitAccountID: p.DebitAccountID, CreditAccountID: p.CreditAccountID,
		Amount: amount, PendingID: p.ID, UserData128: t.UserData128, UserData64: t.UserData64,
		UserData32: t.UserData32, Ledger: p.Ledger, Code: p.Code, Flags: t.Flags,
	}
	if r.UserData128 == u128Zero {
		r.UserData128 = p.UserData128
	}
	if r.UserData64 == 0 {
		r.UserData64 = p.UserData64
	}
	if r.UserData32 == 0 {
		r.UserData32 = p.UserData32
	}
	r.Timestamp = m.tick()
	m.insert(r)
	m.move(p, -1, 0)
	if flags.PostPendingTransfer {
		m.s.pending[p.ID] = statusPosted
		m.move(r, 0, 1)
	} else {
		m.s.pending[p.ID] = statusVoided
	}
	return tb.TransferCreated
}

func (m *model) LookupAccounts(ids []tb.Uint128) ([]tb.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	var found []tb.Account
	for _, id := range ids {
		if a, ok := m.s.accounts[id]; ok {
			found = append(found, a)
		}
	}
	return found, nil
}

func (m *model) LookupTransfers(ids []tb.Uint128) ([]tb.Transfer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	var found []tb.Transfer
	for _, id := range ids {
		if t, ok := m.s.transfers[id]; ok {
			found = append(found, t)
		}
	}
	return found, nil
}

// matches is a filter field: zero matches anything.
func matches[T comparable](filter, value T) bool {
	var zero T
	return filter == zero || filter == value
}

// scan lists objects in timestamp order, or reversed, up to limit.
func scan[T any](ids []tb.Uint128, object func(tb.Uint128) T, keep func(T) bool, reversed bool, limit uint32) []T {
	if reversed {
		ids = slices.Clone(ids)
		slices.Reverse(ids)
	}
	var out []T
	for _, id := range ids {
		if uint32(len(out)) == limit {
			break
		}
		if o := object(id); keep(o) {
			out = append(out, o)
		}
	}
	return out
}

func inRange(timestamp, least, most uint64) bool {
	return timestamp >= least && (most == 0 || timestamp <= most)
}

func (m *model) GetAccountTransfers(f tb.AccountFilter) ([]tb.Transfer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	flags := f.AccountFilterFlags()
	if f.AccountID == u128Zero || f.Limit == 0 || (!flags.Debits && !flags.Credits) {
		return nil, nil // an invalid filter answers nothing
	}
	keep := func(t tb.Transfer) bool {
		return ((flags.Debits && t.DebitAccountID == f.AccountID) || (flags.Credits && t.CreditAccountID == f.AccountID)) &&
			matches(f.UserData128, t.UserData128) && matches(f.UserData64, t.UserData64) &&
			matches(f.UserData32, t.UserData32) && matches(f.Code, t.Code) &&
			inRange(t.Timestamp, f.TimestampMin, f.TimestampMax)
	}
	return scan(m.s.transferIDs, func(id tb.Uint128) tb.Transfer { return m.s.transfers[id] }, keep, flags.Reversed, f.Limit), nil
}

func (m *model) QueryAccounts(f tb.QueryFilter) ([]tb.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	if f.Limit == 0 {
		return nil, nil
	}
	keep := func(a tb.Account) bool {
		return matches(f.UserData128, a.UserData128) && matches(f.UserData64, a.UserData64) &&
			matches(f.UserData32, a.UserData32) && matches(f.Ledger, a.Ledger) && matches(f.Code, a.Code) &&
			inRange(a.Timestamp, f.TimestampMin, f.TimestampMax)
	}
	return scan(m.s.accountIDs, func(id tb.Uint128) tb.Account { return m.s.accounts[id] }, keep, f.QueryFilterFlags().Reversed, f.Limit), nil
}

func (m *model) Close() {}

// TestContractOnModel runs the ledger contract suite on the model: every
// subtest's Ledger is a client of one model, as every Ledger of the real
// suite is a client of one cluster.
func TestContractOnModel(t *testing.T) {
	if testing.Short() {
		t.Skip("the contract suite waits for timeouts")
	}
	m := newModel()
	var connect func(t *testing.T) *modelLedger
	connect = func(t *testing.T) *modelLedger {
		l := &Ledger{client: m}
		t.Cleanup(l.Close)
		return &modelLedger{Ledger: l, connect: connect}
	}
	ledgertest.Run(t, func(t *testing.T) ledger.Ledger { return connect(t) })
}

// modelLedger lets the crash subtest restart the process: a new client of
// the same model.
type modelLedger struct {
	*Ledger
	connect func(t *testing.T) *modelLedger
}

func (r *modelLedger) Reopen(t *testing.T) ledger.Ledger { return r.connect(t) }

// TestModelChain checks the model's linked chains against the client's own
// test of them (tb_client_test.go, "can create linked transfers"): a chain
// whose second event repeats the first one's id with other flags fails
// whole.
func TestModelChain(t *testing.T) {
	m := newModel()
	l := &Ledger{client: m}
	ctx := context.Background()
	if err := l.CreateAssetAccounts(ctx, usd.asset, usd.ledger); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateLiquidityAccount(ctx, alice); err != nil {
		t.Fatal(err)
	}
	first := tb.Transfer{ID: tb.ToUint128(77), DebitAccountID: id(ledger.SettlementID(1)), CreditAccountID: id(alice.ID),
		Amount: tb.ToUint128(50), Ledger: 1, Code: 2, Flags: tb.TransferFlags{Linked: true}.ToUint16()}
	second := first
	second.Flags = 0
	results, _ := m.CreateTransfers([]tb.Transfer{first, second})
	if results[0].Status != tb.TransferLinkedEventFailed || results[1].Status != tb.TransferExistsWithDifferentFlags {
		t.Fatalf("results = %+v", results)
	}
	if got, err := l.Balance(ctx, alice.ID); err != nil || got != 0 {
		t.Errorf("balance after a failed chain = %d, %v", got, err)
	}
}
