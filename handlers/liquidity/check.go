package liquidity

import (
	"context"
	"fmt"
	"iter"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/ledger"
)

// Discrepancy is a deposit or withdrawal in the ledger that no liquidity
// event explains, or one the events and the ledger disagree on.
type Discrepancy struct {
	TransferID uuid.UUID
	Ledger     uint32
	Problem    string
}

func (d Discrepancy) String() string {
	return fmt.Sprintf("ledger %d, transfer %s: %s", d.Ledger, d.TransferID, d.Problem)
}

// settlementTransfersMax is how many of its newest debits and credits the
// check reads of each asset's settlement account, the ledger's listing
// limit.
const settlementTransfersMax = 1000

// CheckWindow is how long a request may be without its outcome, or an
// expired withdrawal without its expiry's event, before the check reports
// it: longer than the command that completes it waits.
const CheckWindow = 5 * time.Minute

// createdPaymentsMax bounds the outgoing payments whose deposit (its id
// and amount) the check keeps to explain the return of a cancelled one's.
const createdPaymentsMax = 1_000_000

// Check compares the deposits and withdrawals in the ledger with the
// liquidity events of history (every event of assets, peers, wallet
// addresses, incoming and outgoing payments, in order), and the funding of
// outgoing payments with their creation. Every movement through an asset's settlement
// account must have been requested by an event on its owner's stream, with
// the same account, amount and kind, and be in the state the events
// recorded; every movement the events recorded must be in the ledger. It
// reads the newest settlementTransfersMax debits and credits of each
// settlement account, and checks the events' side only for accounts it read
// completely.
func Check(ctx context.Context, l ledger.Ledger, history iter.Seq2[events.Envelope, error], now time.Time) ([]Discrepancy, error) {
	transfers := map[string]*transfer{}
	// Each outgoing payment's deposit: its id (the payment's first
	// event's) and amount.
	deposits := map[string]ledger.Deposit{}
	var ledgers []uint32
	for env, err := range history {
		if err != nil {
			return nil, err
		}
		if env.Type == (events.AssetCreated{}).EventType() {
			ev, err := events.Decode(env)
			if err != nil {
				return nil, err
			}
			ledgers = append(ledgers, ev.(*events.AssetCreated).Ledger)
			continue
		}
		if env.Type == (events.OutgoingPaymentCreated{}).EventType() {
			// An outgoing payment is funded with its debit amount under the
			// id of its first event: the payment explains that deposit.
			ev, err := events.Decode(env)
			if err != nil {
				return nil, err
			}
			amount := ev.(*events.OutgoingPaymentCreated).DebitAmount
			funding := &transfer{}
			funding.apply(env, &events.LiquidityDeposited{TransferID: env.ID.String(), Amount: amount})
			transfers[env.ID.String()] = funding
			if len(deposits) < createdPaymentsMax {
				deposits[env.AggregateID] = ledger.Deposit{ID: env.ID, Amount: amount}
			}
			continue
		}
		if env.Type == (events.OutgoingPaymentCancelled{}).EventType() {
			// A deposit that landed as the payment was cancelled goes back
			// in full under an id derived from the deposit's: the
			// cancellation explains that withdrawal, made or not.
			deposit, ok := deposits[env.AggregateID]
			if !ok {
				continue
			}
			back := &transfer{}
			back.apply(env, &events.LiquidityWithdrawalCreated{Amount: deposit.Amount})
			transfers[outgoingpayment.DepositReturnID(deposit.ID).String()] = back
			continue
		}
		if !strings.HasPrefix(env.Type, "liquidity.") {
			continue
		}
		ev, err := events.Decode(env)
		if err != nil {
			return nil, err
		}
		if tid := transferIDOf(ev); tid != "" {
			t := transfers[tid]
			if t == nil {
				t = &transfer{}
				transfers[tid] = t
			}
			t.apply(env, ev)
		}
	}
	sort.Slice(ledgers, func(i, j int) bool { return ledgers[i] < ledgers[j] })
	var out []Discrepancy
	seen := map[string]bool{}
	for _, number := range ledgers {
		listed, err := l.AccountTransfers(ctx, ledger.SettlementID(number), settlementTransfersMax)
		if err != nil {
			return nil, fmt.Errorf("check ledger %d: %w", number, err)
		}
		for _, x := range append(listed.Debits, listed.Credits...) {
			if x.Type != ledger.TypeDeposit && x.Type != ledger.TypeWithdrawal {
				continue
			}
			seen[x.ID.String()] = true
			if problem := explain(transfers[x.ID.String()], x, now); problem != "" {
				out = append(out, Discrepancy{TransferID: x.ID, Ledger: number, Problem: problem})
			}
		}
		if len(listed.Debits) >= settlementTransfersMax || len(listed.Credits) >= settlementTransfersMax {
			continue
		}
		for tid, t := range transfers {
			c, _ := t.creation()
			if seen[tid] || ledgerOf(c) != number {
				continue
			}
			if problem := missing(*t, now); problem != "" {
				out = append(out, Discrepancy{TransferID: uuid.MustParse(tid), Ledger: number, Problem: problem})
			}
		}
	}
	return out, nil
}

// ledgerOf is the ledger a creation step asked for; 0 for one recorded with
// no request, which does not say.
func ledgerOf(c step) uint32 {
	switch r := c.request.(type) {
	case *events.LiquidityDepositRequested:
		return r.Ledger
	case *events.LiquidityWithdrawalRequested:
		return r.Ledger
	}
	return 0
}

// explain tells what is wrong with a ledger transfer given its events, ""
// when they explain it.
func explain(t *transfer, x ledger.Transfer, now time.Time) string {
	if t == nil {
		return "no liquidity event explains it"
	}
	c, _ := t.creation()
	owner := c.env.AggregateID
	amount, timeout, isWithdrawal := c.withdrawal()
	switch {
	case c.outcome == nil && now.Sub(c.env.Time) < CheckWindow:
		return ""
	case c.outcome == nil:
		return fmt.Sprintf("requested at %s, its outcome is not recorded", c.env.Time.Format(time.RFC3339))
	case c.failure() != "":
		return fmt.Sprintf("recorded as refused (%s), yet in the ledger", c.failure())
	case isWithdrawal && (x.Type != ledger.TypeWithdrawal || x.DebitAccountID.String() != owner || x.Amount != amount):
		return fmt.Sprintf("the ledger's %d from %s is not the withdrawal of %d from %s the events record", x.Amount, x.DebitAccountID, amount, owner)
	case !isWithdrawal && (x.Type != ledger.TypeDeposit || x.CreditAccountID.String() != owner || x.Amount != depositAmount(c)):
		return fmt.Sprintf("the ledger's %d to %s is not the deposit of %d to %s the events record", x.Amount, x.CreditAccountID, depositAmount(c), owner)
	}
	want := ledger.Posted
	if isWithdrawal && timeout > 0 {
		want = settledState(*t)
	}
	if x.State == want {
		return ""
	}
	if last := t.steps[len(t.steps)-1]; t.pending() {
		if now.Sub(last.env.Time) < CheckWindow {
			return "" // being settled
		}
		return fmt.Sprintf("%s at %s, its outcome is not recorded", last.request.EventType(), last.env.Time.Format(time.RFC3339))
	}
	if want == ledger.Pending && x.State == ledger.Voided && x.ExpiresAt != nil &&
		!now.Before(*x.ExpiresAt) && now.Sub(*x.ExpiresAt) < CheckWindow {
		return "" // expired; its expiry is recorded soon
	}
	return fmt.Sprintf("%s in the ledger, %s by its events", x.State, want)
}

// missing tells what is wrong with a transfer the events record and the
// ledger does not hold, "" when nothing is.
func missing(t transfer, now time.Time) string {
	c, _ := t.creation()
	switch {
	case c.outcome == nil && now.Sub(c.env.Time) < CheckWindow:
		return ""
	case c.outcome == nil:
		return fmt.Sprintf("requested at %s, its outcome is not recorded", c.env.Time.Format(time.RFC3339))
	case c.failure() != "":
		return ""
	}
	return fmt.Sprintf("recorded as %s, not in the ledger", c.outcome.EventType())
}

func depositAmount(c step) uint64 {
	switch e := c.request.(type) {
	case *events.LiquidityDepositRequested:
		return e.Amount
	case nil:
		if d, ok := c.outcome.(*events.LiquidityDeposited); ok {
			return d.Amount
		}
	}
	return 0
}

// settledState is the state a pending withdrawal's events give it.
func settledState(t transfer) ledger.TransferState {
	for _, s := range t.steps[1:] {
		switch s.outcome.(type) {
		case *events.LiquidityWithdrawalPosted:
			return ledger.Posted
		case *events.LiquidityWithdrawalVoided:
			return ledger.Voided
		}
	}
	return ledger.Pending
}
