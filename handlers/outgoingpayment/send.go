package outgoingpayment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/ledger"
)

// Payer moves a payment's money to its receiver.
type Payer interface {
	Pay(ctx context.Context, p Transfer) (Outcome, error)
	// Delivered has a receiver of this instance record, before the payment
	// completes, what the ledger holds for it: a local payment's money
	// arrives in one transfer, and a send cut short after it is completed
	// by its next attempt without paying again, which must tell too, or
	// the receiver would wait for its expiry.
	Delivered(ctx context.Context, r quote.Receiver, amount uint64) error
}

// Transfer is one attempt at sending a payment: at most SourceAmount from
// the payment's account, for the receiver to get DeliveryAmount.
type Transfer struct {
	PaymentID       string
	TenantID        string
	WalletAddressID string
	AssetCode       string
	AssetScale      uint8
	Account         ledger.Account
	Receiver        quote.Receiver
	SourceAmount    uint64
	DeliveryAmount  uint64
	// FirstAttempt is true when nothing was sent yet: a local payment is
	// one ledger transfer, made once.
	FirstAttempt bool
	// DataToTransmit goes to a receiver elsewhere with the money, over
	// STREAM; a local payment, one ledger transfer, carries none.
	DataToTransmit string
}

// Outcome is what an attempt moved: source units taken from the payment's
// account and what the receiver got for them. It is exact whatever the
// error.
type Outcome struct {
	Sent      uint64
	Delivered uint64
}

// ErrFinal marks a payment error no retry can mend.
var ErrFinal = errors.New("payment cannot succeed")

// Declined is a receiver's refusal of a payment with a reason for its
// sender (over STREAM, data on the payment's stream as the connection
// closes): the payer reports it so, and the payment fails at once with the
// reason, as Rafiki's does.
type Declined struct {
	Reason []byte
	Err    error // what the payer saw
}

func (d *Declined) Error() string { return d.Err.Error() }
func (d *Declined) Unwrap() error { return d.Err }

// DataToTransmitBytesMax bounds the data a payment carries to its receiver:
// what a STREAM packet holds beside its frames and encryption (the payer's
// STREAM sender keeps to the same bound).
const DataToTransmitBytesMax = 32767 - 256

// attemptTimeout bounds one attempt, well within the command queue's
// ack_wait, so that an attempt ends before its command could be handed to
// another worker.
const attemptTimeout = 20 * time.Second

// retryDelayBase spaces the retries of a payment: Rafiki's backoff, ten
// seconds times the attempts made, at most six.
const retryDelayBase = 10 * time.Second

func retryDelay(attempts int) time.Duration {
	return time.Duration(min(attempts, 6)) * retryDelayBase
}

// step is what an attempt does next, decided from the payment, what its
// account sent and its receiver.
type step struct {
	complete bool
	fail     string
	source   uint64
	delivery uint64
	// delivered is what the receiver got before this attempt.
	delivered uint64
}

// decideStep adjusts a payment's amounts to what it already sent, as
// Rafiki's retries do: what was sent since the last recorded attempt is
// taken to have delivered at the quoted rate, and no more is delivered
// than the receiver still expects. A receiver gone, finished, or already
// paid completes the payment; a quote expired fails it.
func decideStep(s State, sent uint64, r quote.Receiver, found bool, now time.Time) step {
	if !now.Before(s.QuoteExpiresAt) {
		return step{fail: "QuoteExpired"}
	}
	delivered := s.Delivered
	if sent > s.Sent {
		delivered += uint64(math.Ceil(float64(sent-s.Sent) * s.EstimatedExchangeRate))
	}
	if !found || !r.Active {
		return step{complete: true, delivered: delivered}
	}
	if r.AssetCode != s.ReceiveAssetCode || r.AssetScale != s.ReceiveAssetScale {
		// The amounts were quoted in another asset than the receiver's now.
		return step{fail: "DestinationAssetConflict"}
	}
	delivery := s.ReceiveAmount - min(delivered, s.ReceiveAmount)
	source := s.DebitAmountMinusFees - min(sent, s.DebitAmountMinusFees)
	if remaining, expects := receiverRemaining(r); expects && remaining < delivery {
		// Less to deliver takes less at the quoted rate: the rate the
		// attempt must get at least is never below the quote's, whatever
		// the receiver says it still expects.
		delivery = remaining
		source = min(source, sourceFor(delivery, s.DebitAmountMinusFees, s.ReceiveAmount))
	}
	if delivery == 0 || source == 0 {
		return step{complete: true, delivered: delivered}
	}
	return step{source: source, delivery: delivery, delivered: delivered}
}

// sourceFor is what delivers delivery at the quoted rate (receive units
// for debit units), rounded up.
func sourceFor(delivery, debit, receive uint64) uint64 {
	if receive == 0 {
		return 0
	}
	n := new(big.Int).Mul(new(big.Int).SetUint64(delivery), new(big.Int).SetUint64(debit))
	q, r := n.QuoRem(n, new(big.Int).SetUint64(receive), new(big.Int))
	if r.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsUint64() {
		return math.MaxUint64
	}
	return q.Uint64()
}

func receiverRemaining(r quote.Receiver) (uint64, bool) {
	if r.IncomingAmount == nil {
		return 0, false
	}
	return *r.IncomingAmount - min(r.ReceivedAmount, *r.IncomingAmount), true
}

// madeMeanwhile answers a local payment's transfer refused as existing:
// its id is the payment's, so an attempt cut short made it, or another
// send of the payment running at once (a worker still sending when its
// event's ack_wait ran out and another took it). What was sent is in the
// ledger now, and it delivered what this attempt would have: the attempt
// did not fail. Were nothing sent, the refusal stands.
func (h *Handler) madeMeanwhile(ctx context.Context, account uuid.UUID, sentBefore, delivery uint64, refused error) (Outcome, error) {
	sent, err := h.ledger.TotalSent(ctx, account)
	if err != nil || sent <= sentBefore {
		return Outcome{}, refused
	}
	return Outcome{Sent: sent - sentBefore, Delivered: delivery}, nil
}

// SendFunded sends a payment when told of its funding: it handles the
// payments' events from a consumer that any number of workers share
// (worker_outgoing_payments), each event taken by one, and sends on
// outgoing_payment.funded, ignoring the others. Its first attempt makes the
// payment's deposit. A failed attempt is retried by a send command due
// after Rafiki's backoff (Send), and the event is done with.
func (h *Handler) SendFunded(ctx context.Context, data []byte) (time.Duration, error) {
	env, err := events.Unmarshal(data, 0)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", commands.ErrUnprocessable, err)
	}
	if env.Type != (events.OutgoingPaymentFunded{}).EventType() {
		return 0, nil
	}
	retryAfter, err := h.send(ctx, env.TenantID, env.AggregateID)
	if err != nil || retryAfter <= 0 {
		return 0, err
	}
	retry := commands.SendOutgoingPayment{TenantID: env.TenantID, OutgoingPaymentID: env.AggregateID}
	if err := h.enqueue(ctx, commands.SendOutgoingPaymentSubject, "retry:"+env.ID.String(), time.Now().Add(retryAfter), retry); err != nil {
		return 0, fmt.Errorf("enqueue the retry of outgoing payment %s: %w", env.AggregateID, err)
	}
	return 0, nil
}

// Send sends a funded payment again (commands.SendOutgoingPayment), after
// an attempt failed: the work queue hands the command to one worker, and
// comes back with it after Rafiki's backoff while attempts fail, until
// MAX_OUTGOING_PAYMENT_RETRY_ATTEMPTS.
func (h *Handler) Send(ctx context.Context, data []byte) (time.Duration, error) {
	var c commands.SendOutgoingPayment
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, fmt.Errorf("%w: %w", commands.ErrUnprocessable, err)
	}
	return h.send(ctx, c.TenantID, c.OutgoingPaymentID)
}

// send sends a funded payment, once: the payment's ledger account says
// what an earlier attempt, even one cut short by a crash, already sent. A
// failed attempt is recorded, and retryAfter says when to try again; after
// MAX_OUTGOING_PAYMENT_RETRY_ATTEMPTS the payment fails, giving back to its
// grant what it did not send. A payment still waiting for its money, or
// cancelled, is one whose funding check an earlier version scheduled.
func (h *Handler) send(ctx context.Context, tenantID, paymentID string) (retryAfter time.Duration, err error) {
	s, version, err := h.Load(ctx, tenantID, paymentID)
	if err != nil {
		return 0, err
	}
	if !s.Exists {
		return 0, fmt.Errorf("%w: no outgoing payment %s", commands.ErrUnprocessable, paymentID)
	}
	if s.State == Funding {
		funded, err := h.fundedByLedger(ctx, s, version)
		if err != nil || !funded {
			return 0, err
		}
		if s, version, err = h.Load(ctx, tenantID, paymentID); err != nil {
			return 0, err
		}
	}
	if s.State == Cancelled {
		return 0, h.returnDeposit(ctx, s)
	}
	if s.State != Sending {
		return 0, nil
	}
	account, err := Account(s)
	if err != nil {
		return 0, err
	}
	if s.StateAttempts == 0 {
		// Every later attempt follows one that deposited.
		if err := h.deposit(ctx, s, account); errors.Is(err, ledger.ErrInvalidAmount) {
			return 0, h.finish(ctx, s, version, &events.OutgoingPaymentFailed{Error: err.Error()})
		} else if err != nil {
			return 0, err
		}
	}
	r, found, err := h.receivers.Receiver(ctx, s.Receiver)
	if err != nil {
		return 0, fmt.Errorf("receiver of outgoing payment %s: %w", s.ID, err)
	}
	// A local payment's first attempt pays without reading what was sent:
	// its one transfer, made by an attempt cut short, is refused as
	// existing, and what it sent is read then (madeMeanwhile). Ending the
	// payment instead records what was sent, which is read first.
	var sent uint64
	unread := r.Local() && s.StateAttempts == 0 && s.Sent == 0
	if !unread {
		if sent, err = h.sent(ctx, s, account.ID); err != nil {
			return 0, err
		}
	}
	now := time.Now()
	next := decideStep(s, sent, r, found, now)
	if unread && (next.fail != "" || next.complete) {
		if sent, err = h.sent(ctx, s, account.ID); err != nil {
			return 0, err
		}
		next = decideStep(s, sent, r, found, now)
	}
	switch {
	case next.fail != "":
		return 0, h.finish(ctx, s, version, &events.OutgoingPaymentFailed{Error: next.fail, Sent: sent, Delivered: next.delivered})
	case next.complete:
		if err := h.delivered(ctx, r, next.delivered); err != nil {
			return 0, err
		}
		return 0, h.finish(ctx, s, version, &events.OutgoingPaymentCompleted{Sent: sent, Delivered: next.delivered})
	}
	attemptCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
	out, payErr := h.payer.Pay(attemptCtx, Transfer{PaymentID: s.ID, TenantID: s.TenantID, WalletAddressID: s.WalletAddressID,
		AssetCode: s.AssetCode, AssetScale: s.AssetScale, Account: account, Receiver: r,
		SourceAmount: next.source, DeliveryAmount: next.delivery, FirstAttempt: sent == 0, DataToTransmit: s.DataToTransmit})
	cancel()
	if payErr != nil && r.Local() && errors.Is(payErr, ledger.ErrTransferExists) {
		out, payErr = h.madeMeanwhile(ctx, account.ID, sent, next.delivery, payErr)
	}
	sent += out.Sent
	delivered := next.delivered + out.Delivered
	if payErr == nil {
		if err := h.delivered(ctx, r, delivered); err != nil {
			return 0, err
		}
		return 0, h.finish(ctx, s, version, &events.OutgoingPaymentCompleted{Sent: sent, Delivered: delivered})
	}
	attempts := s.StateAttempts + 1
	why, final := decideFailure(payErr, attempts, h.attemptsMax)
	if final {
		return 0, h.finish(ctx, s, version, &events.OutgoingPaymentFailed{Error: why, Sent: sent, Delivered: delivered})
	}
	failed := &events.OutgoingPaymentAttemptFailed{Error: why, Attempts: attempts, Sent: sent, Delivered: delivered}
	if err := h.record(ctx, s, version, failed); err != nil {
		return 0, err
	}
	return retryDelay(attempts), nil
}

// deposit puts the payment's debit amount into its account, made with it,
// once: its id is the payment's first event's, so a deposit made before (by
// an attempt cut short, or by the funder, in an earlier version) is refused
// as existing, which is no error.
func (h *Handler) deposit(ctx context.Context, s State, account ledger.Account) error {
	err := h.ledger.Deposit(ctx, ledger.Deposit{ID: s.CreatedBy, Account: account, Amount: s.DebitAmount, Open: true})
	if err == nil || errors.Is(err, ledger.ErrTransferExists) {
		return nil
	}
	return fmt.Errorf("deposit into outgoing payment %s: %w", s.ID, err)
}

// sent is what the payment's account sent, as the ledger holds it.
func (h *Handler) sent(ctx context.Context, s State, account uuid.UUID) (uint64, error) {
	sent, err := h.ledger.TotalSent(ctx, account)
	if err != nil {
		return 0, fmt.Errorf("sent by outgoing payment %s: %w", s.ID, err)
	}
	return sent, nil
}

// delivered tells a local receiver what it got; a failure to tell leaves
// the payment as it is, and the command is tried again.
func (h *Handler) delivered(ctx context.Context, r quote.Receiver, amount uint64) error {
	if !r.Local() || amount == 0 {
		return nil
	}
	if err := h.payer.Delivered(ctx, r, amount); err != nil {
		return fmt.Errorf("tell receiver %s: %w", r.URL, err)
	}
	return nil
}

// decideFailure is what a failed attempt leaves: the payment's error, and
// whether the payment fails now. A receiver that declined the payment with
// a reason for its sender (STREAM application data) fails it at once with
// the reason, as Rafiki's does; an error no retry mends fails it
// too; any other is retried until the attempts run out.
func decideFailure(payErr error, attempts, attemptsMax int) (string, bool) {
	var declined *Declined
	if errors.As(payErr, &declined) {
		if reason := errorText(string(declined.Reason)); reason != "" {
			return reason, true
		}
		return errorText(payErr.Error()), true
	}
	return errorText(payErr.Error()), errors.Is(payErr, ErrFinal) || attempts >= attemptsMax
}

// errorBytesMax bounds a payment's error.
const errorBytesMax = 2048

// errorText is what others said (a peer's reject, a receiver's reason for
// declining) as a payment's error: valid UTF-8, blanks for line breaks and
// tabs, U+FFFD for the other control characters (Postgres refuses NUL in
// text and JSON, so an event holding one would stay out of the read models
// and their webhooks), trimmed, and at most errorBytesMax bytes.
func errorText(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r):
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.TrimSpace(s)
	if len(s) <= errorBytesMax {
		return s
	}
	cut := errorBytesMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// fundedByLedger moves a payment whose deposit was made but not recorded
// (its funder stopped in between) to SENDING.
func (h *Handler) fundedByLedger(ctx context.Context, s State, version uint64) (bool, error) {
	account, err := Account(s)
	if err != nil {
		return false, err
	}
	balance, err := h.ledger.Balance(ctx, account.ID)
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return false, nil
	}
	if err != nil || balance < s.DebitAmount {
		return false, err
	}
	return true, h.record(ctx, s, version, &events.OutgoingPaymentFunded{Amount: s.DebitAmount})
}

// commandID names what a send of the payment appends for the state it
// found, so that the same step appended twice is one.
func sendCommandID(s State, version uint64) string {
	return fmt.Sprintf("send:%s:%d", s.ID, version)
}

// record appends one event of sending to a payment, expecting the payment
// at the version it was decided on: a payment that moved on meanwhile takes
// nothing, and the command is tried again.
func (h *Handler) record(ctx context.Context, s State, version uint64, ev events.Event) error {
	t, err := handlers.NewTarget(s.TenantID, AggregateType, s.ID)
	if err != nil {
		return err
	}
	res, err := handlers.AppendEvents(ctx, h.store, t.Subject, version, handlers.Meta(t, handlers.CommandInfo{ID: sendCommandID(s, version)}),
		sendCommandID(s, version), ev)
	if err == nil {
		h.payments.Appended(t.Subject, version, res)
	}
	return err
}

// finish ends a payment, and gives back to its grant what the payment took
// and did not use: on completion what it did not deliver, on failure what
// it did not send either. Both go in one atomic append, which first
// expects the payment as the send read it, at version: only a payment that
// moved since is read again.
func (h *Handler) finish(ctx context.Context, s State, version uint64, ev events.Event) error {
	t, err := handlers.NewTarget(s.TenantID, AggregateType, s.ID)
	if err != nil {
		return err
	}
	current, read := s, true
	_, err = handlers.Retry(ctx, func() (handlers.Result, error) {
		if !read {
			if current, version, err = h.payments.Load(ctx, h.store, t.Subject); err != nil {
				return handlers.Result{}, err
			}
		}
		read = false
		if current.Finished() {
			return handlers.Result{}, nil
		}
		commandID := sendCommandID(current, version)
		msgs, appended, err := handlers.Seal(t.Subject, version, handlers.Meta(t, handlers.CommandInfo{ID: commandID}), commandID, 0, ev)
		if err != nil {
			return handlers.Result{}, err
		}
		if s.GrantID != "" {
			release, err := h.release(ctx, current, ev, commandID)
			if err != nil {
				return handlers.Result{}, err
			}
			msgs = append(msgs, release...)
		}
		seqs, err := h.store.Append(ctx, msgs)
		if err != nil {
			return handlers.Result{}, err
		}
		res := handlers.Stored(appended, seqs[:len(appended)])
		h.payments.Appended(t.Subject, version, res)
		return res, nil
	})
	return err
}

// release is what a finished payment gives back to its grant.
func (h *Handler) release(ctx context.Context, s State, ev events.Event, commandID string) ([]eventstore.Message, error) {
	gt, err := handlers.NewTarget(s.TenantID, GrantAggregateType, s.GrantID)
	if err != nil {
		return nil, err
	}
	g, version, err := handlers.Load(ctx, h.store, gt.Subject, EvolveGrant)
	if err != nil {
		return nil, err
	}
	took, ok := g.took(s.ID)
	if !ok {
		return nil, nil
	}
	back := decideRelease(took, ev)
	if back == nil {
		return nil, nil
	}
	back.OutgoingPaymentID = s.ID
	return handlers.Messages(gt.Subject, version, handlers.Meta(gt, handlers.CommandInfo{ID: commandID}), commandID, 1, back)
}

// decideRelease is what a payment that took took gives back as it ends.
func decideRelease(took spend, ev events.Event) *events.OutgoingPaymentGrantReleased {
	var back events.OutgoingPaymentGrantReleased
	switch e := ev.(type) {
	case *events.OutgoingPaymentCompleted:
		back.ReceiveAmount = took.receive - min(took.receive, e.Delivered)
	case *events.OutgoingPaymentFailed:
		back.DebitAmount = took.debit - min(took.debit, e.Sent)
		back.ReceiveAmount = took.receive - min(took.receive, e.Delivered)
	case *events.OutgoingPaymentCancelled:
		back.DebitAmount, back.ReceiveAmount = took.debit, took.receive
	}
	if back.DebitAmount == 0 && back.ReceiveAmount == 0 {
		return nil
	}
	return &back
}
