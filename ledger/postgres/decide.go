package postgres

import (
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
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

	debitsPending  uint64
	debitsPosted   uint64
	creditsPending uint64
	creditsPosted  uint64
	// The parts of debitsPending and creditsPending that belong to expired
	// transfers the sweep has not voided yet: decisions treat them as void.
	expiredDebits  uint64
	expiredCredits uint64

	dirty bool
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
	if d := s.accounts[t.debit]; d != nil {
		d.expiredDebits += t.amount
		if d.expiredDebits > d.debitsPending {
			return fmt.Errorf("%w: account %s expired debits exceed pending", errInvariant, d.id)
		}
	}
	if c := s.accounts[t.credit]; c != nil {
		c.expiredCredits += t.amount
		if c.expiredCredits > c.creditsPending {
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
	if debit.flags&flagDebitsMustNotExceedCredits != 0 {
		used, over := sum(debit.debitsPosted, debit.debitsPending-debit.expiredDebits, l.amount)
		if over || used > debit.creditsPosted {
			s.short = s.short || (!s.expiredKnown && debit.debitsPending > 0)
			return ledger.ErrInsufficientBalance
		}
	}
	if credit.flags&flagCreditsMustNotExceedDebits != 0 {
		used, over := sum(credit.creditsPosted, credit.creditsPending-credit.expiredCredits, l.amount)
		if over || used > credit.debitsPosted {
			s.short = s.short || (!s.expiredKnown && credit.creditsPending > 0)
			return ledger.ErrInsufficientDebitBalance
		}
	}
	// Posting moves pending to posted later, so pending plus posted must fit.
	if total, over := sum(debit.debitsPosted, debit.debitsPending, l.amount); over || total > amountMax {
		return fmt.Errorf("%w: account %s debits would overflow", ledger.ErrInvalidAmount, debit.id)
	}
	if total, over := sum(credit.creditsPosted, credit.creditsPending, l.amount); over || total > amountMax {
		return fmt.Errorf("%w: account %s credits would overflow", ledger.ErrInvalidAmount, credit.id)
	}
	if l.timeout > 0 {
		debit.debitsPending += l.amount
		credit.creditsPending += l.amount
	} else {
		debit.debitsPosted += l.amount
		credit.creditsPosted += l.amount
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
			debit.expiredDebits -= t.amount
			credit.expiredCredits -= t.amount
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
	if debit.debitsPending < t.amount || credit.creditsPending < t.amount {
		return fmt.Errorf("%w: transfer %s exceeds its accounts' pending totals", errInvariant, t.id)
	}
	debit.debitsPending -= t.amount
	credit.creditsPending -= t.amount
	t.state = stateVoided
	if post {
		debit.debitsPosted += t.amount
		credit.creditsPosted += t.amount
		t.state = statePosted
	}
	debit.dirty, credit.dirty, t.dirty = true, true, true
	return nil
}

// sum adds three totals; over reports a uint64 overflow.
func sum(a, b, c uint64) (total uint64, over bool) {
	ab, carry1 := bits.Add64(a, b, 0)
	total, carry2 := bits.Add64(ab, c, 0)
	return total, carry1+carry2 != 0
}

// assertRows checks every row the batch is about to write: what the
// decisions above must never produce. The tables hold no CHECKs (see
// migration 0004); these are their rules, run once per batch in Go.
func (s *batchState) assertRows() error {
	for _, a := range s.accounts {
		if !a.dirty {
			continue
		}
		if a.debitsPending > amountMax || a.debitsPosted > amountMax ||
			a.creditsPending > amountMax || a.creditsPosted > amountMax {
			return fmt.Errorf("%w: account %s totals out of range", errInvariant, a.id)
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
