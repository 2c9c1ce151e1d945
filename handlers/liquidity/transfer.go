package liquidity

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/ledger"
)

// step is one request on a transfer and its outcome, as the owner's events
// tell them.
type step struct {
	request events.Event    // nil for an outcome that no request preceded
	env     events.Envelope // the request's envelope, or the outcome's when request is nil
	outcome events.Event    // nil while the ledger's step is not recorded
	at      time.Time       // when the outcome was recorded
}

// failure is the ledger's error of a failed outcome, "" otherwise.
func (s step) failure() string {
	if f, ok := s.outcome.(*events.LiquidityRequestFailed); ok {
		return f.Error
	}
	return ""
}

// transfer is what the owner's events say of one transfer id: its creation
// (a deposit or a withdrawal) and, for a withdrawal, its settlement.
type transfer struct {
	steps []step
}

// stepsMax bounds the requests one transfer may take: its creation, then
// settlements that the ledger refused and one that it did, and its expiry.
const stepsMax = 64

// transferIDOf is the transfer a liquidity event is about, "" for other
// events.
func transferIDOf(ev events.Event) string {
	switch e := ev.(type) {
	case *events.LiquidityDepositRequested:
		return e.TransferID
	case *events.LiquidityWithdrawalRequested:
		return e.TransferID
	case *events.LiquidityWithdrawalPostRequested:
		return e.TransferID
	case *events.LiquidityWithdrawalVoidRequested:
		return e.TransferID
	case *events.LiquidityRequestFailed:
		return e.TransferID
	case *events.LiquidityDeposited:
		return e.TransferID
	case *events.LiquidityWithdrawalCreated:
		return e.TransferID
	case *events.LiquidityWithdrawalPosted:
		return e.TransferID
	case *events.LiquidityWithdrawalVoided:
		return e.TransferID
	}
	return ""
}

func isRequest(ev events.Event) bool {
	switch ev.(type) {
	case *events.LiquidityDepositRequested, *events.LiquidityWithdrawalRequested,
		*events.LiquidityWithdrawalPostRequested, *events.LiquidityWithdrawalVoidRequested:
		return true
	}
	return false
}

// foldTransfers folds the liquidity events of an owner's stream by transfer
// id.
func foldTransfers(envs []events.Envelope) (map[string]*transfer, error) {
	out := map[string]*transfer{}
	for _, env := range envs {
		if !strings.HasPrefix(env.Type, "liquidity.") {
			continue
		}
		ev, err := events.Decode(env)
		if err != nil {
			return nil, err
		}
		tid := transferIDOf(ev)
		if tid == "" {
			continue
		}
		t := out[tid]
		if t == nil {
			t = &transfer{}
			out[tid] = t
		}
		t.apply(env, ev)
	}
	return out, nil
}

// foldTransfer folds the events of one transfer.
func foldTransfer(envs []events.Envelope, tid uuid.UUID) (transfer, error) {
	all, err := foldTransfers(envs)
	if err != nil {
		return transfer{}, err
	}
	if t := all[tid.String()]; t != nil {
		return *t, nil
	}
	return transfer{}, nil
}

func (t *transfer) apply(env events.Envelope, ev events.Event) {
	if isRequest(ev) {
		t.steps = append(t.steps, step{request: ev, env: env})
		return
	}
	if n := len(t.steps); n > 0 && t.steps[n-1].request != nil && t.steps[n-1].outcome == nil {
		t.steps[n-1].outcome, t.steps[n-1].at = ev, env.Time
		return
	}
	// An outcome with no request: recorded before requests were, or a
	// withdrawal's expiry, which the ledger does by itself.
	t.steps = append(t.steps, step{env: env, outcome: ev, at: env.Time})
}

// step finds the request with this event id.
func (t transfer) step(requestID uuid.UUID) (step, bool) {
	for _, s := range t.steps {
		if s.request != nil && s.env.ID == requestID {
			return s, true
		}
	}
	return step{}, false
}

// creation is the transfer's first step, its deposit or withdrawal.
func (t transfer) creation() (step, bool) {
	if len(t.steps) == 0 {
		return step{}, false
	}
	return t.steps[0], true
}

// pending is the request still waiting for its outcome, if any.
func (t transfer) pending() bool {
	n := len(t.steps)
	return n > 0 && t.steps[n-1].request != nil && t.steps[n-1].outcome == nil
}

// withdrawal is the amount and timeout of a withdrawal's creation step.
func (s step) withdrawal() (amount, timeoutSeconds uint64, ok bool) {
	switch e := s.request.(type) {
	case *events.LiquidityWithdrawalRequested:
		return e.Amount, e.TimeoutSeconds, true
	case nil:
		if c, isCreated := s.outcome.(*events.LiquidityWithdrawalCreated); isCreated {
			return c.Amount, c.TimeoutSeconds, true
		}
	}
	return 0, 0, false
}

// sameCreation tells whether a creation step asked for what want asks.
func sameCreation(s step, want events.Event) bool {
	switch w := want.(type) {
	case *events.LiquidityDepositRequested:
		switch e := s.request.(type) {
		case *events.LiquidityDepositRequested:
			return e.Amount == w.Amount
		case nil:
			d, ok := s.outcome.(*events.LiquidityDeposited)
			return ok && d.Amount == w.Amount
		}
	case *events.LiquidityWithdrawalRequested:
		amount, timeout, ok := s.withdrawal()
		return ok && amount == w.Amount && timeout == w.TimeoutSeconds
	}
	return false
}

// expiryCommandPrefix starts the command id of a withdrawal's expiry, which
// its voided event records as its cause.
const expiryCommandPrefix = "expire:"

// expired tells whether a step is a withdrawal's expiry: voided by the
// ledger at its timeout, recorded by the expiry command.
func expired(s step) bool {
	_, voided := s.outcome.(*events.LiquidityWithdrawalVoided)
	return voided && s.request == nil && strings.HasPrefix(s.env.CausationID, expiryCommandPrefix)
}

func inProgress() error {
	return apperr.E(apperr.Unavailable, "The transfer is being processed; try again")
}

// decideCreate decides a deposit or withdrawal request (want) on a transfer
// id: a new id is requested; a used one answers as its first request was
// answered: the same error when the ledger refused it, success to a retry
// of the same command, and "Transfer already exists" to any other.
func decideCreate(t transfer, want events.Event, commandID string) (events.Event, error) {
	c, found := t.creation()
	switch {
	case !found:
		return want, nil
	case !sameCreation(c, want):
		return nil, mapError(ledger.ErrTransferExists)
	case c.outcome == nil:
		return nil, inProgress()
	case c.failure() != "":
		return nil, mapError(ledgerError(c.failure()))
	case c.env.CausationID == commandID:
		return nil, nil
	}
	return nil, mapError(ledger.ErrTransferExists)
}

// decideSettle decides a request to post (or void) a withdrawal, answering
// from the events what the ledger would answer when the withdrawal is
// settled already.
func decideSettle(t transfer, post bool, commandID string) (events.Event, error) {
	c, found := t.creation()
	if _, _, isWithdrawal := c.withdrawal(); !found || !isWithdrawal || (c.outcome != nil && c.failure() != "") {
		return nil, apperr.E(apperr.NotFound, "Unknown transfer")
	}
	if t.pending() {
		return nil, inProgress()
	}
	if _, timeout, _ := c.withdrawal(); timeout == 0 {
		// A withdrawal without a timeout is a single-phase transfer,
		// posted when it was made.
		return nil, mapError(ledger.ErrAlreadyPosted)
	}
	var refused string
	for _, s := range t.steps[1:] {
		switch s.outcome.(type) {
		case *events.LiquidityWithdrawalPosted:
			if _, asked := s.request.(*events.LiquidityWithdrawalPostRequested); asked && post && s.env.CausationID == commandID {
				return nil, nil
			}
			return nil, mapError(ledger.ErrAlreadyPosted)
		case *events.LiquidityWithdrawalVoided:
			switch s.request.(type) {
			case nil:
				if expired(s) {
					return nil, mapError(ledger.ErrTransferExpired)
				}
			case *events.LiquidityWithdrawalVoidRequested:
				if !post && s.env.CausationID == commandID {
					return nil, nil
				}
			}
			return nil, mapError(ledger.ErrAlreadyVoided)
		case *events.LiquidityRequestFailed:
			refused = s.failure()
		}
	}
	tid := transferIDOf(c.outcome)
	if c.request != nil {
		tid = transferIDOf(c.request)
	}
	if refused != "" {
		// What refused a settlement (an expiry, an unknown transfer) does
		// not pass.
		return nil, mapError(ledgerError(refused))
	}
	if post {
		return &events.LiquidityWithdrawalPostRequested{TransferID: tid}, nil
	}
	return &events.LiquidityWithdrawalVoidRequested{TransferID: tid}, nil
}

// expiry is what the expiry of a pending withdrawal needs now: nothing
// (done), to wait (retryAfter), or the ledger's voiding recorded (due).
type expiry struct {
	done       bool
	retryAfter time.Duration
}

// decideExpiry decides what the expiry command of a withdrawal does at now.
// A withdrawal's expiry is due once the ledger's timeout, counted from when
// its creation was recorded (after the ledger created it), has passed, and
// grace after that.
func decideExpiry(t transfer, now time.Time, grace, wait time.Duration) expiry {
	c, found := t.creation()
	if !found {
		return expiry{done: true}
	}
	if c.outcome == nil || t.pending() {
		return expiry{retryAfter: wait}
	}
	_, timeout, isWithdrawal := c.withdrawal()
	if !isWithdrawal || timeout == 0 || c.failure() != "" {
		return expiry{done: true}
	}
	for _, s := range t.steps[1:] {
		switch s.outcome.(type) {
		case *events.LiquidityWithdrawalPosted, *events.LiquidityWithdrawalVoided:
			return expiry{done: true}
		}
	}
	if until := c.at.Add(time.Duration(timeout)*time.Second + grace).Sub(now); until > 0 {
		return expiry{retryAfter: until}
	}
	return expiry{}
}
