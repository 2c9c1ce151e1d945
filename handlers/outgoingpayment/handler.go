package outgoingpayment

import (
	"context"
	"hash/fnv"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/valid"
)

// Enqueue puts work that can wait on the command queue, to run at at, not
// before; id makes a second enqueue of the same work a duplicate.
type Enqueue func(ctx context.Context, subject, id string, at time.Time, command any) error

// Ledger is what payments need of the ledger: the deposit that funds them
// and makes their account (and its return, when an earlier version left
// one in a payment cancelled as it came), and what they sent.
type Ledger interface {
	Deposit(ctx context.Context, d ledger.Deposit) error
	Withdraw(ctx context.Context, w ledger.Withdrawal) error
	Balance(ctx context.Context, id uuid.UUID) (uint64, error)
	TotalSent(ctx context.Context, id uuid.UUID) (uint64, error)
}

// Receivers finds the incoming payments paid: all of a receiver to send
// to it, whether it can still be paid to make a payment.
type Receivers interface {
	quote.Receivers
	Active(ctx context.Context, url string) (bool, error)
}

// Handler runs outgoing payment commands against the event store.
type Handler struct {
	store       handlers.Store
	locator     *handlers.Locator
	ledger      Ledger
	receivers   Receivers
	quotes      Quoter
	payer       Payer
	enqueue     Enqueue
	attemptsMax int
	// amountMax is the most the ledger moves in one transfer.
	amountMax uint64
	// The wallet address paying and its asset, read as quotes read them.
	walletAddresses *walletaddress.WithAsset
	// payments keeps the payments this process made, funded, cancelled or read,
	// folded: a payment's send, in the process that funded it, reads only
	// its last sequence.
	payments *handlers.StateCache[State]
	// grantLocks serialise, in this process, the payments that spend one
	// grant (by a hash of its id): they would otherwise all race for the
	// grant's subject and lose to each other until their retries ran out.
	// Across processes the append's expectation still decides.
	grantLocks [grantLockStripes]sync.Mutex
}

// grantLockStripes is how many locks the grants of this process share.
const grantLockStripes = 64

func (h *Handler) grantLock(grantID string) *sync.Mutex {
	f := fnv.New32a()
	f.Write([]byte(grantID))
	return &h.grantLocks[f.Sum32()%grantLockStripes]
}

// NewHandler builds a handler; receivers finds the incoming payments paid,
// quotes quotes payments from incoming payments, payer sends, attemptsMax
// is MAX_OUTGOING_PAYMENT_RETRY_ATTEMPTS.
func NewHandler(store handlers.Store, l Ledger, receivers Receivers, quotes Quoter, payer Payer, enqueue Enqueue, attemptsMax int) *Handler {
	if store == nil || l == nil || receivers == nil || quotes == nil || payer == nil || enqueue == nil || attemptsMax <= 0 {
		panic("outgoingpayment: NewHandler needs a store, the ledger, receivers, quotes, a payer, a command queue and a retry limit")
	}
	amountMax := uint64(math.MaxUint64)
	if b, ok := l.(amountBound); ok {
		amountMax = b.AmountMax()
	}
	return &Handler{store: store, locator: handlers.NewLocator(store), ledger: l, receivers: receivers, quotes: quotes, payer: payer, enqueue: enqueue, attemptsMax: attemptsMax,
		amountMax: amountMax, walletAddresses: walletaddress.NewWithAsset(store), payments: handlers.NewStateCache(evolveKept)}
}

// amountBound is a ledger that moves less than Rafiki's amounts reach
// (2^64 - 1) in one transfer: the Postgres ledger, whose amounts are
// bigints. A funding it could never deposit is refused.
type amountBound interface {
	AmountMax() uint64
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.Info(m)
}

// Errors, with Rafiki's messages (open_payments/payment/outgoing/errors.ts).
func errUnknownWalletAddress() error  { return apperr.E(apperr.NotFound, "unknown wallet address") }
func errUnknownPayment() error        { return apperr.E(apperr.NotFound, "unknown payment") }
func errUnknownQuote() error          { return apperr.E(apperr.NotFound, "unknown quote") }
func errWrongState() error            { return apperr.E(apperr.Conflict, "wrong state") }
func errInvalidQuote() error          { return apperr.E(apperr.InvalidInput, "invalid quote") }
func errInactiveWalletAddress() error { return apperr.E(apperr.Inactive, "inactive wallet address") }
func errInvalidReceiver() error       { return apperr.E(apperr.InvalidInput, "invalid receiver") }

// Account is a payment's ledger account: its id is the payment's.
func Account(s State) (ledger.Account, error) {
	id, err := uuid.Parse(s.ID)
	if err != nil {
		return ledger.Account{}, err
	}
	assetID, err := uuid.Parse(s.AssetID)
	if err != nil {
		return ledger.Account{}, err
	}
	return ledger.Account{ID: id, Type: ledger.Outgoing, AssetID: assetID, Ledger: s.AssetLedger}, nil
}

// Load reads a payment of a known tenant: as this process last folded it,
// with what was stored since (one request for its last sequence when
// nothing was), or, when its funding gave data to transmit, from its
// events, which keep the data sealed.
func (h *Handler) Load(ctx context.Context, tenantID, id string) (State, uint64, error) {
	subject, err := Subject(tenantID, id)
	if err != nil {
		return State{}, 0, err
	}
	s, version, err := h.payments.Load(ctx, h.store, subject)
	if err != nil || !s.HasData {
		return s, version, err
	}
	// Its data is read with its events, unsealed or, shredded, gone.
	return handlers.Load(ctx, h.store, subject, Evolve)
}

// locate finds a payment the actor may see, by id alone.
func (h *Handler) locate(ctx context.Context, actor commands.Actor, id string) (handlers.Target, error) {
	tenantID, found, err := h.locator.Locate(ctx, AggregateType, id)
	if err != nil {
		return handlers.Target{}, err
	}
	if !found || !actor.CanActFor(tenantID) {
		return handlers.Target{}, errUnknownPayment()
	}
	return handlers.NewTarget(tenantID, AggregateType, id)
}

// Find reads a payment known by id alone; found is false when it has no
// events.
func (h *Handler) Find(ctx context.Context, id string) (s State, found bool, err error) {
	id, ok := valid.ID(id)
	if !ok {
		return State{}, false, nil
	}
	tenantID, found, err := h.locator.Locate(ctx, AggregateType, id)
	if err != nil || !found {
		return State{}, false, err
	}
	s, _, err = h.Load(ctx, tenantID, id)
	return s, err == nil && s.Exists, err
}

// GrantSpent is what a grant's payments took of its limits in the period
// the payment paymentID was counted in (all of them when the limits do not
// repeat), as of that payment: with it, without payments counted after it,
// which concurrent requests may have made before this read; took is false
// when that payment took nothing.
func (h *Handler) GrantSpent(ctx context.Context, tenantID, grantID, paymentID string) (debit, receive uint64, took bool, err error) {
	subject, err := handlers.Subject(tenantID, GrantAggregateType, grantID)
	if err != nil {
		return 0, 0, false, err
	}
	counted := false
	g, _, err := handlers.Load(ctx, h.store, subject, func(g GrantState, env events.Envelope, ev events.Event) GrantState {
		if counted {
			return g
		}
		if e, ok := ev.(*events.OutgoingPaymentGrantSpent); ok && e.OutgoingPaymentID == paymentID {
			counted = true
		}
		return EvolveGrant(g, env, ev)
	})
	if err != nil {
		return 0, 0, false, err
	}
	sp, took := g.took(paymentID)
	if !took {
		return 0, 0, false, nil
	}
	debit, receive = g.spent(sp.period)
	return debit, receive, true, nil
}

// TrustWalletAddresses lets the handler use a wallet address and its asset
// read less than ttl ago while changes shows no change of them
// (walletaddress.WithAsset.Trust).
func (h *Handler) TrustWalletAddresses(changes func() (walletaddress.Progress, bool), ttl time.Duration) {
	h.walletAddresses.Trust(changes, ttl)
}
