package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/internal/u128"
)

// Account flags, TigerBeetle's bits.
const (
	flagDebitsMustNotExceedCredits uint16 = 1 << 1
	flagCreditsMustNotExceedDebits uint16 = 1 << 2
)

// Transfer states as stored. Expired reads as ledger.Voided.
const (
	statePending = "PENDING"
	statePosted  = "POSTED"
	stateVoided  = "VOIDED"
	stateExpired = "EXPIRED"
)

// errInvariant marks a state the ledger should never reach: the batch
// that finds one is rolled back and nothing of it is applied.
var errInvariant = errors.New("ledger/postgres: invariant violated")

// kind is what an operation does.
type kind uint8

const (
	kindCreate kind = iota + 1 // insert linked transfers
	kindPost                   // post a group's pending transfers
	kindVoid                   // void a group's pending transfers
	kindExpire                 // void pending transfers whose timeout passed (the sweep)
)

// operation is one caller's request, validated and turned into legs or
// transfer ids before it reaches a batch.
type operation struct {
	kind kind
	legs []leg // kindCreate: applied all or none, in order

	// kindCreate: accounts that must exist, on each side (Rafiki checks the
	// asset accounts of a transfer too, even when no leg touches them).
	sourceIDs      []uuid.UUID
	destinationIDs []uuid.UUID
	// kindCreate: a leg debiting this account (the destination's asset
	// liquidity account) fails with ErrInsufficientLiquidity.
	liquidityID uuid.UUID
	// kindCreate: liquidity accounts the batch creates before it locks,
	// those that do not exist yet (Deposit.Open, OpenDestination).
	opens []accountRow

	ids   []uuid.UUID // kindPost, kindVoid, kindExpire
	group uuid.UUID   // kindPost, kindVoid: the group every id must belong to
}

// leg is a transfer to create.
type leg struct {
	id      uuid.UUID
	group   uuid.UUID
	debit   uuid.UUID
	credit  uuid.UUID
	amount  uint64
	ledger  uint32
	code    ledger.TransferType
	timeout time.Duration // 0: posted at once
}

// account is a locked account row, with this batch's changes applied.
type account struct {
	id     uuid.UUID
	ledger uint32
	flags  uint16

	// Lifetime totals: 128 bits, as TigerBeetle's (migration 0009).
	debitsPending  u128.U128
	debitsPosted   u128.U128
	creditsPending u128.U128
	creditsPosted  u128.U128
	// The parts of debitsPending and creditsPending that belong to expired
	// transfers the sweep has not voided yet: decisions treat them as void.
	expiredDebits  u128.U128
	expiredCredits u128.U128

	dirty bool
}

// debitsHeld is what the account's debits take from it: posted, and pending
// but not expired. ok is false past 128 bits.
func (a *account) debitsHeld() (u128.U128, bool) {
	pending, ok := a.debitsPending.Sub(a.expiredDebits)
	if !ok {
		return u128.U128{}, false
	}
	return a.debitsPosted.Add(pending)
}

// creditsHeld is debitsHeld's counterpart.
func (a *account) creditsHeld() (u128.U128, bool) {
	pending, ok := a.creditsPending.Sub(a.expiredCredits)
	if !ok {
		return u128.U128{}, false
	}
	return a.creditsPosted.Add(pending)
}

// within tells whether held plus amount stays within limit.
func within(held u128.U128, ok bool, amount, limit u128.U128) bool {
	if !ok {
		return false
	}
	total, ok := held.Add(amount)
	return ok && !limit.Less(total)
}

// transfer is a transfer row read under its accounts' locks, or one this
// batch creates.
type transfer struct {
	id        uuid.UUID
	group     uuid.UUID
	debit     uuid.UUID
	credit    uuid.UUID
	amount    uint64
	ledger    uint32
	code      ledger.TransferType
	state     string
	timeout   time.Duration
	createdAt time.Time
	expiresAt time.Time // zero when not two-phase

	created bool // inserted by this batch
	dirty   bool // state changed by this batch
	expired bool // counted in its accounts' expired totals
}

// snapshot is what a batch transaction read once its locks were held.
type snapshot struct {
	now       time.Time
	accounts  []account          // locked: the batch's legs and settled transfers touch them
	transfers []transfer         // to settle or expire, read under the locks
	known     map[uuid.UUID]bool // accounts that exist but are not locked
	existing  map[uuid.UUID]bool // ids of new transfers that exist already
	// opened: accounts the batch opens, which exist only if it commits;
	// others: those of them that existed as other accounts.
	opened map[uuid.UUID]bool
	others map[uuid.UUID]bool
	// unlocked: transfers read to settle whose accounts the batch did not
	// both lock; operations on them are left for another batch.
	unlocked map[uuid.UUID]bool
}

// batchState is a batch's decisions so far: its methods decide operations
// one at a time, in arrival order, and keep the changed rows in memory for
// the batch to write.
type batchState struct {
	now       time.Time
	accounts  map[uuid.UUID]*account
	known     map[uuid.UUID]bool
	transfers map[uuid.UUID]*transfer // read under the locks, or created by this batch
	existing  map[uuid.UUID]bool
	others    map[uuid.UUID]bool

	// expiredKnown: every expired pending transfer is counted in its
	// accounts' expired totals. Until it is, a balance check that fails on
	// an account with pending amounts sets short: expired transfers might
	// have released enough, so the batch looks them up and decides again.
	expiredKnown bool
	short        bool
}

// decideAll decides the operations in order against the snapshot. expired
// are the pending transfers past their timeout and not yet voided; nil when
// not looked up, complete when they are all there.
func decideAll(snap *snapshot, expired []transfer, complete bool, ops []*operation) (*batchState, []error, error) {
	s := &batchState{
		now:          snap.now,
		accounts:     make(map[uuid.UUID]*account, len(snap.accounts)),
		known:        snap.known,
		transfers:    make(map[uuid.UUID]*transfer, len(snap.transfers)),
		existing:     snap.existing,
		others:       snap.others,
		expiredKnown: complete,
	}
	for _, a := range snap.accounts {
		s.accounts[a.id] = &a
	}
	for _, t := range snap.transfers {
		s.transfers[t.id] = &t
	}
	for _, t := range expired {
		if err := s.countExpired(t); err != nil {
			return nil, nil, err
		}
	}
	errs := make([]error, len(ops))
	for i, op := range ops {
		if snap.touchesUnlocked(op) {
			errs[i] = errLegsNotLocked
			continue
		}
		err := s.decide(op)
		if errors.Is(err, errInvariant) {
			return nil, nil, err
		}
		errs[i] = err
	}
	return s, errs, nil
}

// touchesUnlocked tells whether op settles a transfer whose accounts the
// batch did not lock.
func (snap *snapshot) touchesUnlocked(op *operation) bool {
	if op.kind == kindCreate {
		return false
	}
	for _, id := range op.ids {
		if snap.unlocked[id] {
			return true
		}
	}
	return false
}

// countExpired records a pending transfer whose timeout has passed but which
// is not voided yet, so its amounts no longer count.
func (s *batchState) countExpired(t transfer) error {
	if t.state != statePending || t.expiresAt.IsZero() || s.now.Before(t.expiresAt) {
		return fmt.Errorf("%w: transfer %s counted as expired", errInvariant, t.id)
	}
	amount := u128.From(t.amount)
	if d := s.accounts[t.debit]; d != nil {
		var ok bool
		if d.expiredDebits, ok = d.expiredDebits.Add(amount); !ok || d.debitsPending.Less(d.expiredDebits) {
			return fmt.Errorf("%w: account %s expired debits exceed pending", errInvariant, d.id)
		}
	}
	if c := s.accounts[t.credit]; c != nil {
		var ok bool
		if c.expiredCredits, ok = c.expiredCredits.Add(amount); !ok || c.creditsPending.Less(c.expiredCredits) {
			return fmt.Errorf("%w: account %s expired credits exceed pending", errInvariant, c.id)
		}
	}
	if read := s.transfers[t.id]; read != nil {
		read.expired = true
	}
	return nil
}

// decide applies one operation to the batch state, or leaves the state as
// it was and returns why not. Errors wrapping errInvariant abort the batch.
func (s *batchState) decide(op *operation) error {
	switch op.kind {
	case kindCreate:
		return s.create(op)
	case kindPost, kindVoid:
		return s.settle(op)
	case kindExpire:
		return s.expire(op)
	}
	return fmt.Errorf("%w: operation kind %d", errInvariant, op.kind)
}

func (s *batchState) create(op *operation) error {
	if err := s.createCheck(op); err != nil {
		return err
	}
	saved := make([]account, 0, 2*len(op.legs))
	for _, l := range op.legs {
		saved = append(saved, *s.accounts[l.debit], *s.accounts[l.credit])
	}
	for _, l := range op.legs {
		if err := s.applyLeg(l); err != nil {
			// Linked legs: undo the ones before. Every copy was
			// taken before the first leg, so their order does not matter.
			for _, a := range saved {
				*s.accounts[a.id] = a
			}
			if errors.Is(err, ledger.ErrInsufficientBalance) && l.debit == op.liquidityID {
				return ledger.ErrInsufficientLiquidity
			}
			return err
		}
	}
	for _, l := range op.legs {
		t := &transfer{
			id: l.id, group: l.group, debit: l.debit, credit: l.credit,
			amount: l.amount, ledger: l.ledger, code: l.code,
			state: statePosted, timeout: l.timeout, createdAt: s.now, created: true,
		}
		if l.timeout > 0 {
			t.state = statePending
			t.expiresAt = s.now.Add(l.timeout)
		}
		s.transfers[l.id] = t
	}
	return nil
}

// createCheck is everything about a create that does not move money, in
// Rafiki's order: unknown accounts, different assets, existing ids.
func (s *batchState) createCheck(op *operation) error {
	for _, a := range op.opens {
		if s.others[a.id] {
			return fmt.Errorf("ledger/postgres: account %s exists as another account than the %d of asset %s", a.id, a.code, a.assetID)
		}
	}
	for _, id := range op.sourceIDs {
		if !s.exists(id) {
			return ledger.ErrUnknownSourceAccount
		}
	}
	for _, id := range op.destinationIDs {
		if !s.exists(id) {
			return ledger.ErrUnknownDestinationAccount
		}
	}
	for _, l := range op.legs {
		debit, credit := s.accounts[l.debit], s.accounts[l.credit]
		if debit == nil {
			return ledger.ErrUnknownSourceAccount
		}
		if credit == nil {
			return ledger.ErrUnknownDestinationAccount
		}
		if debit.ledger != l.ledger || credit.ledger != l.ledger {
			return ledger.ErrDifferentAssets
		}
	}
	for _, l := range op.legs {
		if s.transfers[l.id] != nil || s.existing[l.id] {
			return ledger.ErrTransferExists
		}
	}
	return nil
}

func (s *batchState) exists(id uuid.UUID) bool {
	return s.accounts[id] != nil || s.known[id]
}

// applyLeg moves one leg's amount, pending or posted, if the accounts'
// flags allow it and no total overflows.
func (s *batchState) applyLeg(l leg) error {
	debit, credit := s.accounts[l.debit], s.accounts[l.credit]
	amount := u128.From(l.amount)
	if debit.flags&flagDebitsMustNotExceedCredits != 0 {
		held, ok := debit.debitsHeld()
		if !within(held, ok, amount, debit.creditsPosted) {
			s.short = s.short || (!s.expiredKnown && !debit.debitsPending.IsZero())
			return ledger.ErrInsufficientBalance
		}
	}
	if credit.flags&flagCreditsMustNotExceedDebits != 0 {
		held, ok := credit.creditsHeld()
		if !within(held, ok, amount, credit.debitsPosted) {
			s.short = s.short || (!s.expiredKnown && !credit.creditsPending.IsZero())
			return ledger.ErrInsufficientDebitBalance
		}
	}
	// Posting moves pending to posted later, so pending plus posted must
	// fit: then every total below does.
	if total, ok := debit.debitsPosted.Add(debit.debitsPending); !within(total, ok, amount, u128.Max) {
		return fmt.Errorf("%w: account %s debits would overflow", ledger.ErrInvalidAmount, debit.id)
	}
	if total, ok := credit.creditsPosted.Add(credit.creditsPending); !within(total, ok, amount, u128.Max) {
		return fmt.Errorf("%w: account %s credits would overflow", ledger.ErrInvalidAmount, credit.id)
	}
	if l.timeout > 0 {
		debit.debitsPending, _ = debit.debitsPending.Add(amount)
		credit.creditsPending, _ = credit.creditsPending.Add(amount)
	} else {
		debit.debitsPosted, _ = debit.debitsPosted.Add(amount)
		credit.creditsPosted, _ = credit.creditsPosted.Add(amount)
	}
	debit.dirty, credit.dirty = true, true
	return nil
}

// settle posts or voids every transfer of a group, or none.
func (s *batchState) settle(op *operation) error {
	for _, id := range op.ids {
		t := s.transfers[id]
		if t == nil || t.group != op.group {
			return ledger.ErrUnknownTransfer
		}
		switch {
		case t.state == statePosted:
			return ledger.ErrAlreadyPosted
		case t.state == stateVoided:
			return ledger.ErrAlreadyVoided
		case t.state == stateExpired:
			return ledger.ErrTransferExpired
		case t.state != statePending:
			return fmt.Errorf("%w: transfer %s state %q", errInvariant, t.id, t.state)
		case !s.now.Before(t.expiresAt):
			return ledger.ErrTransferExpired
		case t.expired:
			return fmt.Errorf("%w: unexpired transfer %s counted as expired", errInvariant, t.id)
		}
	}
	for _, id := range op.ids {
		if err := s.release(s.transfers[id], op.kind == kindPost); err != nil {
			return err
		}
	}
	return nil
}

// expire voids the sweep's transfers that are still pending and expired;
// the others were posted, voided or expired since the sweep looked.
func (s *batchState) expire(op *operation) error {
	for _, id := range op.ids {
		t := s.transfers[id]
		if t == nil || t.state != statePending || s.now.Before(t.expiresAt) {
			continue
		}
		if s.expiredKnown && !t.expired {
			return fmt.Errorf("%w: expired transfer %s not counted", errInvariant, t.id)
		}
		if err := s.release(t, false); err != nil {
			return err
		}
		if t.expired {
			debit, credit := s.accounts[t.debit], s.accounts[t.credit]
			var debitOK, creditOK bool
			debit.expiredDebits, debitOK = debit.expiredDebits.Sub(u128.From(t.amount))
			credit.expiredCredits, creditOK = credit.expiredCredits.Sub(u128.From(t.amount))
			if !debitOK || !creditOK {
				return fmt.Errorf("%w: expired transfer %s exceeds its accounts' expired totals", errInvariant, t.id)
			}
		}
		t.state, t.expired = stateExpired, false
	}
	return nil
}

// release takes a pending transfer's amount out of its accounts' pending
// totals and, when posting, into their posted totals.
func (s *batchState) release(t *transfer, post bool) error {
	debit, credit := s.accounts[t.debit], s.accounts[t.credit]
	if debit == nil || credit == nil {
		return fmt.Errorf("%w: transfer %s accounts not locked", errInvariant, t.id)
	}
	amount := u128.From(t.amount)
	debitsPending, debitOK := debit.debitsPending.Sub(amount)
	creditsPending, creditOK := credit.creditsPending.Sub(amount)
	if !debitOK || !creditOK {
		return fmt.Errorf("%w: transfer %s exceeds its accounts' pending totals", errInvariant, t.id)
	}
	debit.debitsPending, credit.creditsPending = debitsPending, creditsPending
	t.state = stateVoided
	if post {
		// Pending and posted together fit (applyLeg), so this does.
		debit.debitsPosted, _ = debit.debitsPosted.Add(amount)
		credit.creditsPosted, _ = credit.creditsPosted.Add(amount)
		t.state = statePosted
	}
	debit.dirty, credit.dirty, t.dirty = true, true, true
	return nil
}

// assertRows checks every row the batch is about to write: what the
// decisions above must never produce. The tables hold no CHECKs (see
// migration 0004); these are their rules, run once per batch in Go.
func (s *batchState) assertRows() error {
	for _, a := range s.accounts {
		if !a.dirty {
			continue
		}
		if err := s.assertLimits(a); err != nil {
			return err
		}
		if a.ledger == 0 {
			return fmt.Errorf("%w: account %s has no ledger", errInvariant, a.id)
		}
	}
	for _, t := range s.transfers {
		if !t.created && !t.dirty {
			continue
		}
		if err := t.valid(t.created); err != nil {
			return fmt.Errorf("%w: transfer %s: %v", errInvariant, t.id, err)
		}
	}
	return nil
}

// assertLimits checks an account against its flags. Posted amounts never
// pass them. Pending ones count too when every expired transfer is known:
// otherwise the pending total may hold expired transfers whose money a
// batch that knew them gave to others.
func (s *batchState) assertLimits(a *account) error {
	held := func(posted u128.U128, heldAll func() (u128.U128, bool)) (u128.U128, bool) {
		if s.expiredKnown {
			return heldAll()
		}
		return posted, true
	}
	if a.flags&flagDebitsMustNotExceedCredits != 0 {
		if debits, ok := held(a.debitsPosted, a.debitsHeld); !within(debits, ok, u128.U128{}, a.creditsPosted) {
			return fmt.Errorf("%w: account %s debits exceed its credits", errInvariant, a.id)
		}
	}
	if a.flags&flagCreditsMustNotExceedDebits != 0 {
		if credits, ok := held(a.creditsPosted, a.creditsHeld); !within(credits, ok, u128.U128{}, a.debitsPosted) {
			return fmt.Errorf("%w: account %s credits exceed its debits", errInvariant, a.id)
		}
	}
	return nil
}

// valid is a stored transfer's shape. A new one is pending or posted, or,
// when the batch that creates it also settles it, posted or voided; only
// the sweep expires, and never a transfer of its own batch.
func (t *transfer) valid(created bool) error {
	switch {
	case t.amount == 0 || t.amount > amountMax:
		return fmt.Errorf("amount %d", t.amount)
	case t.ledger == 0:
		return errors.New("no ledger")
	case t.debit == t.credit:
		return errors.New("debits and credits one account")
	case t.timeout < 0 || (t.timeout == 0) != t.expiresAt.IsZero():
		return fmt.Errorf("timeout %s with expiry %s", t.timeout, t.expiresAt)
	}
	switch t.state {
	case statePending, statePosted:
	case stateVoided:
		if created && t.timeout == 0 {
			return errors.New("created voided without a timeout")
		}
	case stateExpired:
		if created {
			return fmt.Errorf("created %s", t.state)
		}
	default:
		return fmt.Errorf("state %q", t.state)
	}
	if t.state == statePending && t.expiresAt.IsZero() {
		return errors.New("pending without expiry")
	}
	return nil
}
