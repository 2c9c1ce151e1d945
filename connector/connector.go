package connector

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/peers"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/rates"
)

// Rafiki's settings of the pipeline.
const (
	// A packet leaves with at most this long to live, and at least
	// expiryMarginMin less than it arrived with.
	expiryWindowMax = 30 * time.Second
	expiryMarginMin = time.Second
	// Transfers held pending for a packet expire after this
	// (TIGERBEETLE_TWO_PHASE_TIMEOUT_SECONDS), or once the packet sent on
	// has expired, if later (holdTimeout).
	twoPhaseTimeout = 5 * time.Second
)

// Config is the connector's settings.
type Config struct {
	// ILPAddress (ILP_ADDRESS) is the address rejects are triggered by.
	ILPAddress string
	// RatePerMinute is how many packets one incoming peer may send a
	// minute (Rafiki's 10,000).
	RatePerMinute int
	// Stream makes and opens the STREAM credentials this instance hands
	// out; packets to them go to Receivers instead of a peer, what they
	// bring to incoming payments told to Outcomes, and counted per
	// connection in Totals.
	Stream    *stream.Credentials
	Receivers Receivers
	Outcomes  Outcomes
	Totals    Totals
	// Partial, when set (ENABLE_PARTIAL_PAYMENT_DECISION), decides each
	// packet that carries its sender's data into an incoming payment
	// before the money moves.
	Partial PartialPayments
	// Debits, when set, is told of each peer whose packet's money was
	// taken from its liquidity, as Rafiki's ledger calls a peer's onDebit,
	// so that a peer brought to its liquidityThreshold is warned of. It
	// must not block.
	Debits Debits
}

// Debits hears of money taken from a peer's liquidity by its packets.
type Debits interface {
	Debited(from Origin)
}

// Connector runs Prepares through the pipeline.
type Connector struct {
	cfg     Config
	peers   *peers.Table
	rates   *rates.Service
	ledger  ledger.Ledger
	client  *http.Client
	limiter *limiter
	now     func() time.Time
	log     *slog.Logger

	requestsMu sync.RWMutex
	requests   map[string]peerRequest
}

// New builds a connector; client sends packets to peers (outbound, with
// USE_HTTP).
func New(cfg Config, table *peers.Table, r *rates.Service, l ledger.Ledger, client *http.Client, log *slog.Logger) *Connector {
	return &Connector{cfg: cfg, peers: table, rates: r, ledger: l, client: client,
		limiter: newLimiter(cfg.RatePerMinute, time.Minute), now: time.Now, log: log, requests: map[string]peerRequest{}}
}

// ilpError is a refusal with its ILP error code.
type ilpError struct {
	code    string
	message string
	data    []byte
}

func (e *ilpError) Error() string { return e.code + " " + e.message }

func refuse(code, format string, args ...any) *ilpError {
	return &ilpError{code: code, message: fmt.Sprintf(format, args...)}
}

// Origin is where a Prepare comes from: a peer over ILP-over-HTTP, or an
// account of this instance that pays (an outgoing payment's). The money
// leaves Account, in Asset.
type Origin struct {
	// ID names it in routes (a packet is never routed back to it), in
	// the rate limit and in logs: the peer's id, or the account's.
	ID       string
	TenantID string
	Account  ledger.Account
	Asset    peers.Asset
	// Address is its ILP address, named in Rejects for lack of a route.
	Address string
	// Peer limits apply to a peer's packets: its maxPacketAmount and
	// Rafiki's rate per peer. An account of this instance has neither.
	Peer            bool
	MaxPacketAmount *uint64
	// Unfulfillable packets (a rate probe's, as a quote sends them) move
	// no money: nothing is held for them, so the origin needs no
	// liquidity.
	Unfulfillable bool
}

// Handle answers a Prepare from a peer with a Fulfill or a Reject, as Send
// does; IL-DCP requests are answered with the peer's address and asset.
func (c *Connector) Handle(ctx context.Context, from peers.Peer, p ilp.Prepare) ilp.Packet {
	o, err := c.peerOrigin(from)
	if err == nil && ilp.IsILDCPRequest(p) {
		f, err := ilp.ServeILDCP(p, from.StaticILPAddress, o.Asset.Code, o.Asset.Scale)
		if err != nil {
			return c.reject(from.ID, p, refuse(ilp.CodeBadRequest, "%v", err))
		}
		return f
	}
	if err != nil {
		return c.reject(from.ID, p, err)
	}
	return c.Send(ctx, o, p)
}

// Send answers a Prepare from o with a Fulfill or a Reject: to one of this
// instance's STREAM receivers, or forwarded along a route of o's tenant.
// Any failure becomes a Reject triggered by this connector, as Rafiki's
// incoming error handler does (T00 for what is not an ILP error).
func (c *Connector) Send(ctx context.Context, o Origin, p ilp.Prepare) ilp.Packet {
	reply, err := c.handle(ctx, o, p)
	if err != nil {
		return c.reject(o.ID, p, err)
	}
	return reply
}

func (c *Connector) reject(from string, p ilp.Prepare, err error) ilp.Reject {
	var ie *ilpError
	if !errors.As(err, &ie) {
		if errors.Is(err, context.Canceled) {
			// Whoever sent the packet stopped waiting for it (a rate probe
			// that learnt enough from its other packets, a peer that hung
			// up): no fault of this connector's.
			c.log.Debug("packet abandoned by its sender", "from", from, "destination", p.Destination, "err", err)
		} else {
			c.log.Error("packet failed", "from", from, "destination", p.Destination, "err", err)
		}
		ie = &ilpError{code: ilp.CodeInternalError, message: "internal error"}
	}
	return ilp.Reject{Code: ie.code, TriggeredBy: c.cfg.ILPAddress, Message: ie.message, Data: ie.data}
}

// peerOrigin is a peer as the origin of its packets.
func (c *Connector) peerOrigin(p peers.Peer) (Origin, error) {
	asset, ok := c.peers.Asset(p.AssetID)
	if !ok {
		return Origin{}, fmt.Errorf("asset %s of peer %s unknown", p.AssetID, p.ID)
	}
	account, err := account(p, asset)
	if err != nil {
		return Origin{}, err
	}
	return Origin{ID: p.ID, TenantID: p.TenantID, Account: account, Asset: asset, Address: p.StaticILPAddress,
		Peer: true, MaxPacketAmount: p.MaxPacketAmount}, nil
}

func (c *Connector) handle(ctx context.Context, from Origin, p ilp.Prepare) (ilp.Packet, error) {
	if reply, ok, err := c.local(ctx, from, p); ok || err != nil {
		return reply, err
	}
	to, ok := c.peers.Route(from.TenantID, p.Destination, from.ID, "")
	if !ok {
		return nil, refuse(ilp.CodeUnreachable, "no route found. source=%s destination=%s", from.Address, p.Destination)
	}
	if err := c.admit(from, p); err != nil {
		return nil, err
	}
	destination, ok := c.peers.Asset(to.AssetID)
	if !ok {
		return nil, fmt.Errorf("asset %s of peer %s unknown", to.AssetID, to.ID)
	}
	now := c.now()
	expires, err := outgoingExpiry(now, p.ExpiresAt)
	if err != nil {
		return nil, err
	}
	out := p
	pending, held, err := c.hold(ctx, from, to, destination, &out, holdTimeout(now, expires))
	if err != nil {
		return nil, err
	}
	reply, err := c.forward(ctx, to, out, expires)
	if err == nil {
		if f, fulfilled := reply.(ilp.Fulfill); fulfilled && sha256.Sum256(f.Fulfillment[:]) != p.ExecutionCondition {
			err = refuse(ilp.CodeWrongCondition, "fulfillment did not match expected value.")
		}
	}
	if held {
		_, fulfilled := reply.(ilp.Fulfill)
		posted := err == nil && fulfilled
		if err := c.settle(ctx, pending, posted); err != nil {
			return nil, err
		}
		if posted {
			c.debited(from)
		}
	}
	return reply, err
}

// debited tells Debits of money a peer's packet took from it.
func (c *Connector) debited(from Origin) {
	if from.Peer && c.cfg.Debits != nil {
		c.cfg.Debits.Debited(from)
	}
}

// admit applies a peer's limits: its maxPacketAmount (F08 with the
// amounts) and its rate (T05).
func (c *Connector) admit(from Origin, p ilp.Prepare) error {
	if !from.Peer {
		return nil
	}
	if max := from.MaxPacketAmount; max != nil && p.Amount > *max {
		return &ilpError{code: ilp.CodeAmountTooLarge, message: "packet size too large",
			data: ilp.EncodeAmountTooLarge(ilp.AmountTooLarge{ReceivedAmount: p.Amount, MaximumAmount: *max})}
	}
	if !c.limiter.allow(from.ID, c.now()) {
		return refuse(ilp.CodeRateLimited, "too many requests, throttling")
	}
	return nil
}

// hold converts the amount into the destination's asset and holds it in
// the ledger, pending, from the sender's account to the next hop's; a
// zero-amount packet, or one from an unfulfillable origin, moves nothing
// (held is false).
// holdTimeout is how long a packet's money is held: past the expiry of
// the packet sent on, whose Fulfill may come until then, so that no
// Fulfill finds its hold expired (the next hop paid, this one not, and the
// sender, told T00, paying again).
func holdTimeout(now, expires time.Time) time.Duration {
	return max(twoPhaseTimeout, expires.Sub(now)+expiryMarginMin)
}

func (c *Connector) hold(ctx context.Context, from Origin, to peers.Peer, destination peers.Asset, out *ilp.Prepare, timeout time.Duration) (pending ledger.PendingTransfer, held bool, err error) {
	if out.Amount == 0 {
		return pending, false, nil
	}
	converted, err := c.rates.ConvertSource(ctx, to.TenantID, out.Amount,
		rates.Asset{Code: from.Asset.Code, Scale: from.Asset.Scale}, rates.Asset{Code: destination.Code, Scale: destination.Scale})
	if err != nil {
		return pending, false, c.rateError(err)
	}
	if from.Unfulfillable {
		out.Amount = converted.Amount
		return pending, false, nil
	}
	dst, err := account(to, destination)
	if err != nil {
		return pending, false, err
	}
	pending, err = c.transfer(ctx, ledger.TransferRequest{
		ID: newID(), Source: from.Account, Destination: dst,
		SourceAmount: out.Amount, DestinationAmount: converted.Amount, Timeout: timeout,
	}, destination)
	if err != nil {
		return pending, false, fmt.Errorf("hold %d from %s for peer %s: %w", out.Amount, from.ID, to.ID, err)
	}
	out.Amount = converted.Amount
	return pending, true, nil
}

// rateError refuses a packet whose amount could not be converted. The
// reason goes to the peer and everyone upstream, so it says only that:
// the rates service's address, and any key in it, go to the log.
func (c *Connector) rateError(err error) error {
	c.log.Warn("packet refused: exchange rate error", "err", err)
	return refuse(ilp.CodeCannotReceive, "exchange rate error")
}

// transfer holds money in the ledger, pending, opening the destination's
// account when it has none yet (peers' accounts are made when liquidity is
// first deposited, receivers' when they are first paid); a sender without
// an account or without the liquidity is refused T04.
func (c *Connector) transfer(ctx context.Context, t ledger.TransferRequest, destination peers.Asset) (ledger.PendingTransfer, error) {
	pending, err := c.ledger.Transfer(ctx, t)
	if errors.Is(err, ledger.ErrUnknownDestinationAccount) {
		if err := c.openAccount(ctx, t.Destination, destination); err != nil {
			return ledger.PendingTransfer{}, err
		}
		pending, err = c.ledger.Transfer(ctx, t)
	}
	switch {
	case errors.Is(err, ledger.ErrUnknownSourceAccount):
		return ledger.PendingTransfer{}, refuse(ilp.CodeInsufficientLiquidity, "the sender holds no liquidity")
	case errors.Is(err, ledger.ErrInsufficientBalance), errors.Is(err, ledger.ErrInsufficientLiquidity),
		errors.Is(err, ledger.ErrInsufficientDebitBalance):
		return ledger.PendingTransfer{}, refuse(ilp.CodeInsufficientLiquidity, "%v", err)
	case errors.Is(err, ledger.ErrInvalidSourceAmount), errors.Is(err, ledger.ErrInvalidDestinationAmount):
		// More than the ledger holds in one transfer (the Postgres ledger's
		// amounts stop at 2^63 − 1): no retry mends it.
		return ledger.PendingTransfer{}, refuse(ilp.CodeInvalidAmount, "%v", err)
	case err != nil:
		return ledger.PendingTransfer{}, err
	}
	return pending, nil
}

// openAccount makes a liquidity account and its asset's accounts,
// none of which it is an error to make again.
func (c *Connector) openAccount(ctx context.Context, a ledger.Account, asset peers.Asset) error {
	if err := c.ledger.CreateAssetAccounts(ctx, a.AssetID, asset.Ledger); err != nil {
		return fmt.Errorf("asset accounts of %s: %w", asset.ID, err)
	}
	if err := c.ledger.CreateLiquidityAccount(ctx, a); err != nil {
		return fmt.Errorf("liquidity account %s: %w", a.ID, err)
	}
	return nil
}

// settle posts a fulfilled packet's transfer and voids any other's.
func (c *Connector) settle(ctx context.Context, p ledger.PendingTransfer, fulfilled bool) error {
	if fulfilled {
		if err := c.ledger.Post(ctx, p); err != nil {
			return fmt.Errorf("post transfer %s: %w", p.ID, err)
		}
		return nil
	}
	if err := c.ledger.Void(ctx, p); err != nil {
		return fmt.Errorf("void transfer %s: %w", p.ID, err)
	}
	return nil
}

// account is a peer's liquidity account.
func account(p peers.Peer, a peers.Asset) (ledger.Account, error) {
	id, err := uuid.Parse(p.ID)
	if err != nil {
		return ledger.Account{}, fmt.Errorf("peer id %q: %w", p.ID, err)
	}
	assetID, err := uuid.Parse(a.ID)
	if err != nil {
		return ledger.Account{}, fmt.Errorf("asset id %q: %w", a.ID, err)
	}
	return ledger.Account{ID: id, Type: ledger.Peer, AssetID: assetID, Ledger: a.Ledger}, nil
}

// newID is a random (version 4) UUID, as uuid.New makes one, without the
// allocation its reader costs.
func newID() uuid.UUID {
	var id uuid.UUID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}
