// Package receiver resolves receivers, as Rafiki's receiver service does:
// an incoming payment named by its Open Payments URL, wherever it is. One of
// this instance's payments is read and acted on here directly; any other is
// reached over Open Payments (package opclient) with a grant the backend
// holds at the payment's authorization server.
package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/opclient"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/valid"
)

// Amount is an amount of a receiver's asset.
type Amount struct {
	Value      uint64
	AssetCode  string
	AssetScale uint8
}

// Receiver is an incoming payment as a sender sees it.
type Receiver struct {
	// ID is the payment's Open Payments URL.
	ID               string
	WalletAddressURL string
	Completed        bool
	IncomingAmount   *Amount
	ReceivedAmount   Amount
	ExpiresAt        *time.Time
	Metadata         json.RawMessage
	CreatedAt        time.Time
	// Methods are how to pay a payment elsewhere (STREAM credentials);
	// none once it completed or expired, and none in a completion's
	// answer. A payment of this instance has none: a ledger transfer pays
	// it.
	Methods []opclient.Method
	// LocalPaymentID is the id of one of this instance's payments; empty
	// for a payment elsewhere. LocalTenantID and LocalAssetID are its
	// tenant and asset, which never change: a ledger transfer pays it.
	LocalPaymentID string
	LocalTenantID  string
	LocalAssetID   string
	// Payable is a payment that takes money: one of this instance's still
	// open, or one elsewhere with a payment method.
	Payable bool
	// Written is what a creation or completion of a local payment stored,
	// for the caller to wait until the read models show it; zero
	// otherwise.
	Written handlers.Result
}

// Local tells whether it is one of this instance's payments.
func (r *Receiver) Local() bool { return r.LocalPaymentID != "" }

// Active is a receiver that can still be paid.
func (r *Receiver) Active(now time.Time) bool {
	return !r.Completed && (r.ExpiresAt == nil || r.ExpiresAt.After(now)) && r.Payable
}

// Errors of remote incoming payments, with Rafiki's codes and messages.
func errUnknownWalletAddress() error { return apperr.E(apperr.NotFound, "unknown wallet address") }
func errRemoteNotFound() error       { return apperr.E(apperr.NotFound, "unknown incoming payment") }
func errInvalidRequest() error {
	return apperr.E(apperr.InvalidInput, "invalid remote incoming payment request")
}
func errInvalidGrant() error {
	return apperr.E(apperr.Forbidden, "invalid grant for remote incoming payment")
}

// errUnknownPayment is completeReceiver's answer for a URL that is no
// payment, as Rafiki's.
func errUnknownPayment() error { return apperr.E(apperr.NotFound, "unknown payment") }

// Config is what the service needs to know of the instance.
type Config struct {
	OpenPaymentsURL string // OPEN_PAYMENTS_URL
	// WalletAddressTTL is how long a wallet address of this instance
	// found by its URL is used again without a read
	// (LOCAL_CACHE_DURATION_MS, as Rafiki caches wallet addresses); 0
	// reads it every time.
	WalletAddressTTL time.Duration
}

// Service resolves, creates and completes receivers.
type Service struct {
	payments *incomingpayment.Handler
	read     *readmodel.Reader
	client   *opclient.Client
	grants   *opclient.Grants
	cfg      Config
	log      *slog.Logger
	now      func() time.Time

	// findWalletAddress reads a wallet address of this instance by URL:
	// the read model's.
	findWalletAddress func(ctx context.Context, url string) (*readmodel.WalletAddress, error)
	mu                sync.Mutex
	byURL             map[string]cachedWalletAddress
}

// cachedWalletAddress is a wallet address found by its URL, until expires.
type cachedWalletAddress struct {
	wa      *readmodel.WalletAddress
	expires time.Time
}

// walletAddressesCachedMax bounds the wallet addresses kept by URL; past it
// the cache starts again empty.
const walletAddressesCachedMax = 10_000

// New builds the service.
func New(payments *incomingpayment.Handler, read *readmodel.Reader, client *opclient.Client, grants *opclient.Grants, cfg Config, log *slog.Logger) *Service {
	s := &Service{payments: payments, read: read, client: client, grants: grants,
		cfg: cfg, log: log, now: time.Now, byURL: map[string]cachedWalletAddress{}}
	s.findWalletAddress = func(ctx context.Context, url string) (*readmodel.WalletAddress, error) {
		return read.WalletAddressByURL(ctx, url, nil)
	}
	return s
}

// walletAddress is this instance's wallet address at url, nil when it has
// none. One found is kept for WalletAddressTTL: its id, tenant and URL never
// change, and whether it can take a payment is the payment's handler's to
// decide, from its events. One not found is not kept, since it may be made
// the next moment.
func (s *Service) walletAddress(ctx context.Context, url string) (*readmodel.WalletAddress, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := s.byURL[url]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.wa, nil
	}
	wa, err := s.findWalletAddress(ctx, url)
	if err != nil || wa == nil || s.cfg.WalletAddressTTL <= 0 {
		return wa, err
	}
	s.mu.Lock()
	if len(s.byURL) >= walletAddressesCachedMax {
		clear(s.byURL)
	}
	s.byURL[url] = cachedWalletAddress{wa: wa, expires: now.Add(s.cfg.WalletAddressTTL)}
	s.mu.Unlock()
	return wa, nil
}

// paymentURL matches an incoming payment URL: its resource server and id.
var paymentURL = regexp.MustCompile(`^(.+)/incoming-payments/(.{36})$`)

// Create makes an incoming payment into the wallet address at
// walletAddressURL: here when it is one of this instance's, initiated by
// the admin API, or at its resource server otherwise.
func (s *Service) Create(ctx context.Context, m commands.Meta, walletAddressURL string, expiresAt *time.Time, incomingAmount *commands.Amount, metadata json.RawMessage) (*Receiver, error) {
	wa, err := s.walletAddress(ctx, walletAddressURL)
	if err != nil {
		return nil, err
	}
	var r *Receiver
	switch {
	case wa != nil:
		r, err = s.createLocal(ctx, m, wa, expiresAt, incomingAmount, metadata)
	case s.ours(walletAddressURL):
		err = errUnknownWalletAddress()
	default:
		r, err = s.createRemote(ctx, walletAddressURL, expiresAt, incomingAmount, metadata)
	}
	if err != nil {
		return nil, err
	}
	if !r.Active(s.now()) {
		return nil, fmt.Errorf("could not create receiver from incoming payment %s: it is not active", r.ID)
	}
	return r, nil
}

func (s *Service) createLocal(ctx context.Context, m commands.Meta, wa *readmodel.WalletAddress, expiresAt *time.Time, incomingAmount *commands.Amount, metadata json.RawMessage) (*Receiver, error) {
	id, res, err := s.payments.Create(ctx, commands.CreateIncomingPayment{Meta: m, WalletAddressID: wa.ID,
		ExpiresAt: expiresAt, IncomingAmount: incomingAmount, Metadata: metadata, InitiatedBy: events.InitiatedByAdmin})
	if err != nil {
		return nil, err
	}
	p, found, err := s.payments.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("incoming payment %s not found after it was stored", id)
	}
	// The answer is the payment as its events have it, as a created
	// incoming payment's is, with no read of the ledger: a payment just made
	// received nothing (only this answer tells how to pay it), and one an
	// earlier try of the same command made is answered with what its events
	// recorded, which a read of the receiver brings up to the ledger's.
	r := s.receiverOf(p, p.Received)
	r.WalletAddressURL, r.Written = wa.Address, res
	return r, nil
}

func (s *Service) createRemote(ctx context.Context, walletAddressURL string, expiresAt *time.Time, incomingAmount *commands.Amount, metadata json.RawMessage) (*Receiver, error) {
	wa, err := s.client.WalletAddress(ctx, walletAddressURL)
	if err != nil {
		s.log.Warn("could not get wallet address", "walletAddressUrl", walletAddressURL, "err", err)
		return nil, errUnknownWalletAddress()
	}
	resourceServer := wa.ResourceServer
	if resourceServer == "" {
		u, err := url.Parse(wa.ID)
		if err != nil {
			return nil, errUnknownWalletAddress()
		}
		resourceServer = u.Scheme + "://" + u.Host
	}
	in := opclient.CreateIncomingPayment{WalletAddress: wa.ID, ExpiresAt: expiresAt, Metadata: metadata}
	if incomingAmount != nil {
		in.IncomingAmount = &opclient.Amount{Value: strconv.FormatUint(incomingAmount.Value, 10),
			AssetCode: incomingAmount.AssetCode, AssetScale: incomingAmount.AssetScale}
	}
	p, err := withGrant(ctx, s, wa.AuthServer, []string{grant.ActionCreate, grant.ActionReadAll}, func(token string) (opclient.IncomingPayment, error) {
		return s.client.CreateIncomingPayment(ctx, resourceServer, token, in)
	})
	if err != nil {
		return nil, err
	}
	if p.Completed || p.ReceivedAmount.Value != "0" {
		return nil, errors.Join(errInvalidRequest(), fmt.Errorf("created incoming payment %s already received %q (completed %t)",
			p.ID, p.ReceivedAmount.Value, p.Completed))
	}
	r, err := remote(p)
	if err != nil {
		return nil, errors.Join(errInvalidRequest(), err)
	}
	return r, nil
}

// Get resolves the receiver at url; nil when there is none, or the remote
// side did not answer it (Rafiki's answer is then the same).
func (s *Service) Get(ctx context.Context, url string) (*Receiver, error) {
	p, ok, err := s.findLocal(ctx, url)
	if err != nil {
		return nil, err
	}
	if ok {
		return s.local(ctx, p)
	}
	if s.ours(url) {
		return nil, nil
	}
	r, _, err := s.getRemote(ctx, url)
	if err != nil {
		s.log.Warn("could not get remote incoming payment", "url", url, "err", err)
		return nil, nil
	}
	return r, nil
}

// ForPayment resolves the receiver at url as an outgoing payment or a
// quote needs it: as Get does, but a payment of this instance, paid by a
// ledger transfer, comes without its STREAM credentials or its wallet
// address's URL.
func (s *Service) ForPayment(ctx context.Context, url string) (*Receiver, error) {
	p, ok, err := s.findLocal(ctx, url)
	if err != nil {
		return nil, err
	}
	if ok {
		return s.payable(ctx, p)
	}
	return s.Get(ctx, url)
}

// Active tells whether the receiver at url can still be paid, reading a
// payment of this instance from its events alone.
func (s *Service) Active(ctx context.Context, url string) (bool, error) {
	p, ok, err := s.findLocal(ctx, url)
	if err != nil {
		return false, err
	}
	if ok {
		return p.Open() && p.ExpiresAt.After(s.now()), nil
	}
	r, err := s.Get(ctx, url)
	return r != nil && r.Active(s.now()), err
}

// getRemote reads the payment at url from its resource server, and
// returns it with its authorization server.
func (s *Service) getRemote(ctx context.Context, url string) (*Receiver, string, error) {
	if !paymentURL.MatchString(url) {
		return nil, "", errInvalidRequest()
	}
	public, err := s.client.PublicIncomingPayment(ctx, url)
	if err != nil {
		return nil, "", errors.Join(errInvalidRequest(), err)
	}
	p, err := withGrant(ctx, s, public.AuthServer, []string{grant.ActionReadAll}, func(token string) (opclient.IncomingPayment, error) {
		return s.client.IncomingPayment(ctx, url, token)
	})
	if err != nil {
		return nil, "", err
	}
	if !sameURL(p.ID, url) {
		return nil, "", errors.Join(errInvalidRequest(), fmt.Errorf("asked for %s, answered %s", url, p.ID))
	}
	r, err := remote(p)
	if err != nil {
		return nil, "", errors.Join(errInvalidRequest(), err)
	}
	return r, public.AuthServer, nil
}

// sameURL tells whether two URLs name one resource: equal but for the case
// of scheme and host and a trailing slash.
func sameURL(a, b string) bool {
	ua, err := url.Parse(strings.TrimSuffix(a, "/"))
	if err != nil {
		return false
	}
	ub, err := url.Parse(strings.TrimSuffix(b, "/"))
	if err != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		ua.EscapedPath() == ub.EscapedPath() && ua.RawQuery == ub.RawQuery && ua.User == nil && ub.User == nil
}

// Complete completes the payment at url, here or at its resource server.
func (s *Service) Complete(ctx context.Context, m commands.Meta, url string) (*Receiver, error) {
	p, ok, err := s.findLocal(ctx, url)
	if err != nil {
		return nil, err
	}
	if ok {
		res, err := s.payments.Complete(ctx, commands.CompleteIncomingPayment{Meta: m, IncomingPaymentID: p.ID})
		if err != nil {
			return nil, err
		}
		if p, _, err = s.payments.Load(ctx, p.ID); err != nil {
			return nil, err
		}
		r, err := s.local(ctx, p)
		if err != nil {
			return nil, err
		}
		r.Written = res
		return r, nil
	}
	if s.ours(url) {
		return nil, errUnknownPayment()
	}
	_, authServer, err := s.getRemote(ctx, url)
	if err != nil {
		s.log.Warn("no incoming payment found", "url", url, "err", err)
		return nil, errUnknownPayment()
	}
	done, err := withGrant(ctx, s, authServer, []string{grant.ActionReadAll, grant.ActionComplete}, func(token string) (opclient.IncomingPayment, error) {
		return s.client.CompleteIncomingPayment(ctx, url, token)
	})
	if err != nil {
		return nil, err
	}
	if !sameURL(done.ID, url) || !done.Completed {
		return nil, errors.Join(errInvalidRequest(), fmt.Errorf("completion of %s answered %s, completed %t", url, done.ID, done.Completed))
	}
	done.Methods = nil
	r, err := remote(done)
	if err != nil {
		return nil, errors.Join(errInvalidRequest(), err)
	}
	return r, nil
}

// findLocal finds the payment at url among this instance's: a payment
// whose own URL url is.
func (s *Service) findLocal(ctx context.Context, url string) (incomingpayment.State, bool, error) {
	// Only a URL ending in /incoming-payments/<canonical id> can be one;
	// whether it is, the comparison with the payment's own URL says.
	var path, id string
	if n := len(url) - 36; n > 0 {
		path, id = url[:n], url[n:]
	}
	if !strings.HasSuffix(path, "/incoming-payments/") || !valid.IsID(id) {
		return incomingpayment.State{}, false, nil
	}
	p, found, err := s.payments.Load(ctx, id)
	if err != nil || !found || !p.Live() {
		return incomingpayment.State{}, false, err
	}
	return p, url == s.localURL(p), nil
}

// ours reports whether url lies under OPEN_PAYMENTS_URL: whatever this
// instance does not hold there, no other instance does, so it is not asked
// for over HTTP.
func (s *Service) ours(url string) bool {
	return strings.HasPrefix(strings.ToLower(url), strings.ToLower(strings.TrimRight(s.cfg.OpenPaymentsURL, "/"))+"/")
}

func (s *Service) localURL(p incomingpayment.State) string {
	return strings.TrimRight(s.cfg.OpenPaymentsURL, "/") + "/" + p.TenantID + "/incoming-payments/" + p.ID
}

// local is a payment of this instance as a receiver, with its wallet
// address's URL. It comes without STREAM credentials: a payment from here
// pays it by a ledger transfer, and the admin API does not show them.
func (s *Service) local(ctx context.Context, p incomingpayment.State) (*Receiver, error) {
	r, err := s.payable(ctx, p)
	if err != nil {
		return nil, err
	}
	wa, err := s.read.WalletAddress(ctx, p.WalletAddressID, nil)
	if err != nil {
		return nil, err
	}
	if wa == nil {
		return nil, fmt.Errorf("wallet address %s of incoming payment %s not found", p.WalletAddressID, p.ID)
	}
	r.WalletAddressURL = wa.Address
	return r, nil
}

// payable is a payment of this instance as a payment to it needs it: what
// it expects and received (the ledger's), when it expires, whether it is
// open.
func (s *Service) payable(ctx context.Context, p incomingpayment.State) (*Receiver, error) {
	received, err := s.read.Received(ctx, p.ID, p.Received)
	if err != nil {
		return nil, err
	}
	return s.receiverOf(p, received), nil
}

// receiverOf is payment p of this instance as a receiver that received what
// received says.
func (s *Service) receiverOf(p incomingpayment.State, received uint64) *Receiver {
	expiresAt := p.ExpiresAt
	r := &Receiver{ID: s.localURL(p), Completed: p.State == incomingpayment.StateCompleted,
		ReceivedAmount: Amount{Value: received, AssetCode: p.AssetCode, AssetScale: p.AssetScale},
		ExpiresAt:      &expiresAt, Metadata: p.Metadata, CreatedAt: p.CreatedAt, LocalPaymentID: p.ID,
		LocalTenantID: p.TenantID, LocalAssetID: p.AssetID, Payable: p.Open()}
	if p.IncomingAmount != nil {
		r.IncomingAmount = &Amount{Value: *p.IncomingAmount, AssetCode: p.AssetCode, AssetScale: p.AssetScale}
	}
	return r
}

// remote is a payment a resource server answered as a receiver. A payment
// the Open Payments SDK would refuse is refused: amounts in two assets, more
// received than expected, metadata that is no object, a method's ILP
// address that is none.
func remote(p opclient.IncomingPayment) (*Receiver, error) {
	received, err := strconv.ParseUint(p.ReceivedAmount.Value, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("incoming payment %s: receivedAmount %q: %w", p.ID, p.ReceivedAmount.Value, err)
	}
	if p.ReceivedAmount.AssetCode == "" {
		return nil, fmt.Errorf("incoming payment %s: receivedAmount has no asset", p.ID)
	}
	if m := strings.TrimSpace(string(p.Metadata)); m != "" && m != "null" && !strings.HasPrefix(m, "{") {
		return nil, fmt.Errorf("incoming payment %s: metadata is not an object", p.ID)
	}
	for _, m := range p.Methods {
		if m.Type == "ilp" && !valid.ILPAddress(m.ILPAddress) {
			return nil, fmt.Errorf("incoming payment %s: %q is no ILP address", p.ID, m.ILPAddress)
		}
	}
	r := &Receiver{ID: p.ID, WalletAddressURL: p.WalletAddress, Completed: p.Completed,
		ReceivedAmount: Amount{Value: received, AssetCode: p.ReceivedAmount.AssetCode, AssetScale: p.ReceivedAmount.AssetScale},
		ExpiresAt:      p.ExpiresAt, Metadata: p.Metadata, CreatedAt: p.CreatedAt, Methods: p.Methods, Payable: len(p.Methods) > 0}
	if p.IncomingAmount != nil {
		value, err := strconv.ParseUint(p.IncomingAmount.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("incoming payment %s: incomingAmount %q: %w", p.ID, p.IncomingAmount.Value, err)
		}
		if p.IncomingAmount.AssetCode != p.ReceivedAmount.AssetCode || p.IncomingAmount.AssetScale != p.ReceivedAmount.AssetScale {
			return nil, fmt.Errorf("incoming payment %s: incomingAmount and receivedAmount in different assets", p.ID)
		}
		if received > value {
			return nil, fmt.Errorf("incoming payment %s: received %d of %d", p.ID, received, value)
		}
		r.IncomingAmount = &Amount{Value: value, AssetCode: r.ReceivedAmount.AssetCode, AssetScale: r.ReceivedAmount.AssetScale}
	}
	return r, nil
}

// withGrant calls the resource server with the token of a grant of actions
// on incoming payments at authServer; a token it refuses (401, 403) is
// given up and the call made once more with a new grant, as Rafiki does.
func withGrant(ctx context.Context, s *Service, authServer string, actions []string, call func(token string) (opclient.IncomingPayment, error)) (opclient.IncomingPayment, error) {
	for attempt := 0; ; attempt++ {
		g, err := s.grants.Get(ctx, authServer, grant.TypeIncomingPayment, actions...)
		if err != nil {
			s.log.Warn("could not get a grant for remote incoming payments", "authServer", authServer, "err", err)
			return opclient.IncomingPayment{}, errInvalidGrant()
		}
		p, err := call(g.Token)
		if err == nil {
			return p, nil
		}
		status := opclient.Status(err)
		if (status == http.StatusUnauthorized || status == http.StatusForbidden) && attempt == 0 {
			s.log.Info("resource server refused the grant's token; requesting another", "authServer", authServer, "status", status)
			s.grants.Forget(g)
			continue
		}
		s.log.Warn("remote incoming payment request failed", "authServer", authServer, "err", err)
		if status == http.StatusNotFound {
			return opclient.IncomingPayment{}, errRemoteNotFound()
		}
		return opclient.IncomingPayment{}, errInvalidRequest()
	}
}
