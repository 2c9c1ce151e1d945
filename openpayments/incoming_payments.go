package openpayments

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/readmodel"
)

// requestBytesMax bounds an Open Payments request body.
const requestBytesMax = 64 << 10

// IncomingPayments serves the incoming payment routes of the resource
// server, under OPEN_PAYMENTS_URL/<tenant id>: create, read (the public view
// without a token), complete.
type IncomingPayments struct {
	guard    *Guard
	payments *incomingpayment.Handler
	read     *readmodel.Reader
	stream   *stream.Credentials
	cfg      Config
	log      *slog.Logger
}

// NewIncomingPayments builds the routes.
func NewIncomingPayments(guard *Guard, payments *incomingpayment.Handler, read *readmodel.Reader, credentials *stream.Credentials, cfg Config, log *slog.Logger) *IncomingPayments {
	return &IncomingPayments{guard: guard, payments: payments, read: read, stream: credentials, cfg: cfg, log: log}
}

// Mount adds the routes to r.
func (s *IncomingPayments) Mount(r chi.Router) {
	r.Post("/{tenantID}/incoming-payments", s.create)
	r.Get("/{tenantID}/incoming-payments", s.list)
	r.Get("/{tenantID}/incoming-payments/{id}", s.get)
	r.Post("/{tenantID}/incoming-payments/{id}/complete", s.complete)
}

type amountJSON struct {
	Value      string `json:"value"`
	AssetCode  string `json:"assetCode"`
	AssetScale uint8  `json:"assetScale"`
}

// amountIn is an amount in a request: value, assetCode and assetScale
// required, other fields ignored, as the spec's amount (which does not
// close its properties, unlike the request bodies holding it).
type amountIn amountJSON

type ilpMethod struct {
	Type         string `json:"type"`
	ILPAddress   string `json:"ilpAddress"`
	SharedSecret string `json:"sharedSecret"`
}

type paymentJSON struct {
	ID             string          `json:"id"`
	WalletAddress  string          `json:"walletAddress"`
	Completed      bool            `json:"completed"`
	IncomingAmount *amountJSON     `json:"incomingAmount,omitempty"`
	ReceivedAmount amountJSON      `json:"receivedAmount"`
	ExpiresAt      string          `json:"expiresAt,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	CreatedAt      string          `json:"createdAt"`
	Methods        *[]ilpMethod    `json:"methods,omitempty"`
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// metadata is a payment's metadata on the wire: left out when it has none.
func metadata(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}

// paymentURL is an incoming payment's id on the wire.
func (s *IncomingPayments) paymentURL(tenantID, id string) string {
	return withSlash(s.cfg.OpenPaymentsURL) + tenantID + "/incoming-payments/" + id
}

func (s *IncomingPayments) create(w http.ResponseWriter, r *http.Request) {
	tenantID := chi.URLParam(r, "tenantID")
	var in struct {
		WalletAddress  string          `json:"walletAddress"`
		IncomingAmount *amountIn       `json:"incomingAmount"`
		ExpiresAt      *time.Time      `json:"expiresAt"`
		Metadata       json.RawMessage `json:"metadata"`
	}
	body, ok := readBody(w, r, &in, func() bool { return in.WalletAddress != "" })
	if !ok {
		return
	}
	if !signatureHeaders(w, r) {
		return
	}
	granted, err := s.guard.Authorize(r, body, Need{TenantID: tenantID, Type: grant.TypeIncomingPayment, Action: grant.ActionCreate, Identifier: in.WalletAddress})
	if err != nil {
		s.guard.WriteError(w, err)
		return
	}
	wa, err := s.read.WalletAddressByURL(r.Context(), strings.ToLower(in.WalletAddress), nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if wa == nil || wa.TenantID != tenantID {
		writeError(w, http.StatusBadRequest, "invalid wallet address")
		return
	}
	if deactivated(w, wa) {
		return
	}
	c := commands.CreateIncomingPayment{WalletAddressID: wa.ID, ExpiresAt: in.ExpiresAt, Metadata: in.Metadata,
		Client: granted.Client.WalletAddress, ClientKey: granted.ClientKey, InitiatedBy: events.InitiatedByOpenPayments}
	if in.IncomingAmount != nil {
		value, err := strconv.ParseUint(in.IncomingAmount.Value, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid incomingAmount")
			return
		}
		c.IncomingAmount = &commands.Amount{Value: value, AssetCode: in.IncomingAmount.AssetCode, AssetScale: in.IncomingAmount.AssetScale}
	}
	id := uuid.NewString()
	c.Meta = commands.Meta{ID: id, CorrelationID: id, Actor: commands.Actor{TenantID: tenantID}}
	paymentID, res, err := s.payments.Create(r.Context(), c)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	if s.cfg.IncomingPaymentVisible != nil {
		// The payment is stored: answered even when the read model is
		// late, since a client retrying would make another.
		if err := s.cfg.IncomingPaymentVisible(r.Context(), res.Sequence); err != nil {
			s.log.Warn("incoming payment answered before the read model shows it", "incomingPayment", paymentID, "err", err)
		}
	}
	s.answer(w, r, paymentID, true, http.StatusCreated)
}

// list answers a page of a wallet address's incoming payments, newest
// first: all of them for a list-all grant, its client's own for a list
// grant.
func (s *IncomingPayments) list(w http.ResponseWriter, r *http.Request) {
	tenantID := chi.URLParam(r, "tenantID")
	address, page, ok := listPage(w, r)
	if !ok {
		return
	}
	if !signatureHeaders(w, r) {
		return
	}
	granted, err := s.guard.Authorize(r, nil, Need{TenantID: tenantID, Type: grant.TypeIncomingPayment, Action: grant.ActionList, Identifier: address})
	if err != nil {
		s.guard.WriteError(w, err)
		return
	}
	wa, err := s.read.WalletAddressByURL(r.Context(), strings.ToLower(address), nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if wa == nil || wa.TenantID != tenantID {
		writeError(w, http.StatusNotFound, "wallet address does not exist")
		return
	}
	if deactivated(w, wa) {
		return
	}
	filter := readmodel.IncomingPaymentFilter{TenantScope: &tenantID, WalletAddressID: &wa.ID}
	switch {
	case granted.Action == grant.ActionListAll:
	case granted.Client.WalletAddress != "":
		filter.Client = &granted.Client.WalletAddress
	default:
		filter.ClientKey = &granted.ClientKey
	}
	rows, info, err := s.read.IncomingPayments(r.Context(), filter, page)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	result := make([]paymentJSON, 0, len(rows))
	for _, p := range rows {
		result = append(result, s.payment(wa.Address, incomingpayment.State{ID: p.ID, TenantID: p.TenantID, State: p.State,
			AssetCode: p.AssetCode, AssetScale: p.AssetScale, IncomingAmount: p.IncomingAmount, Received: p.ReceivedAmount,
			ExpiresAt: p.ExpiresAt, Metadata: p.Metadata, CreatedAt: p.CreatedAt}))
	}
	body, err := listBody(info, result)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, body)
}

func (s *IncomingPayments) get(w http.ResponseWriter, r *http.Request) {
	tenantID, id := chi.URLParam(r, "tenantID"), chi.URLParam(r, "id")
	p, ok := s.load(w, r, tenantID, id)
	if !ok {
		return
	}
	if r.Header.Get("Authorization") == "" {
		wa, err := s.read.WalletAddress(r.Context(), p.WalletAddressID, nil)
		if err != nil || wa == nil {
			s.fail(w, r, errors.Join(err, fmt.Errorf("wallet address %s of incoming payment %s", p.WalletAddressID, p.ID)))
			return
		}
		if deactivated(w, wa) {
			return
		}
		total, err := s.read.Received(r.Context(), p.ID, p.Received)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		received := amountJSON{Value: strconv.FormatUint(total, 10), AssetCode: p.AssetCode, AssetScale: p.AssetScale}
		body, _ := json.Marshal(struct {
			ReceivedAmount amountJSON `json:"receivedAmount"`
			AuthServer     string     `json:"authServer"`
		}{received, withSlash(s.cfg.AuthServerGrantURL) + tenantID})
		writeJSON(w, body)
		return
	}
	if !s.allowed(w, r, nil, p, grant.ActionRead) {
		return
	}
	s.answer(w, r, p.ID, true, http.StatusOK)
}

func (s *IncomingPayments) complete(w http.ResponseWriter, r *http.Request) {
	tenantID, id := chi.URLParam(r, "tenantID"), chi.URLParam(r, "id")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, requestBytesMax))
	if err != nil {
		writeError(w, http.StatusBadRequest, "could not read the request")
		return
	}
	if !signatureHeaders(w, r) {
		return
	}
	p, ok := s.load(w, r, tenantID, id)
	if !ok || !s.allowed(w, r, body, p, grant.ActionComplete) {
		return
	}
	cmd := uuid.NewString()
	if _, err := s.payments.Complete(r.Context(), commands.CompleteIncomingPayment{
		Meta: commands.Meta{ID: cmd, CorrelationID: cmd, Actor: commands.Actor{TenantID: tenantID}}, IncomingPaymentID: p.ID,
	}); err != nil {
		s.refuse(w, r, err)
		return
	}
	s.answer(w, r, p.ID, false, http.StatusOK)
}

// signatureHeaders refuses (400) a request to a route the spec has always
// signed that lacks Signature or Signature-Input, as Rafiki's request
// validation does before it looks at the token.
func signatureHeaders(w http.ResponseWriter, r *http.Request) bool {
	if len(r.Header.Values("Signature")) == 0 || len(r.Header.Values("Signature-Input")) == 0 {
		writeError(w, http.StatusBadRequest, "the Signature and Signature-Input headers are required")
		return false
	}
	return true
}

// load reads a live payment of the tenant from its events, so that a
// payment is seen the moment it was made.
func (s *IncomingPayments) load(w http.ResponseWriter, r *http.Request, tenantID, id string) (incomingpayment.State, bool) {
	p, found, err := s.payments.Load(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return p, false
	}
	if !found || !p.Live() || p.TenantID != tenantID {
		writeError(w, http.StatusNotFound, "incoming payment does not exist")
		return p, false
	}
	return p, true
}

// allowed checks the token for action on the payment's wallet address; a
// token granting read but not read-all reads only the payments its own
// client made, as Rafiki's, and only that client completes a payment.
// Rafiki lets any client complete any: a complete grant is given without
// interaction, so anyone could cut another's invoice short.
func (s *IncomingPayments) allowed(w http.ResponseWriter, r *http.Request, body []byte, p incomingpayment.State, action string) bool {
	wa, err := s.read.WalletAddress(r.Context(), p.WalletAddressID, nil)
	if err != nil || wa == nil {
		s.fail(w, r, errors.Join(err, fmt.Errorf("wallet address %s of incoming payment %s", p.WalletAddressID, p.ID)))
		return false
	}
	if deactivated(w, wa) {
		return false
	}
	granted, err := s.guard.Authorize(r, body, Need{TenantID: p.TenantID, Type: grant.TypeIncomingPayment, Action: action, Identifier: wa.Address})
	if err != nil {
		s.guard.WriteError(w, err)
		return false
	}
	owned := granted.Owns(p.Client, p.ClientKey)
	if action == grant.ActionRead && granted.Action != grant.ActionReadAll && !owned || action == grant.ActionComplete && !owned {
		writeError(w, http.StatusNotFound, "incoming payment does not exist")
		return false
	}
	return true
}

// payment is a payment on the wire, without its methods.
func (s *IncomingPayments) payment(walletAddress string, p incomingpayment.State) paymentJSON {
	out := paymentJSON{ID: s.paymentURL(p.TenantID, p.ID), WalletAddress: walletAddress, Completed: p.State == incomingpayment.StateCompleted,
		ReceivedAmount: amountJSON{Value: strconv.FormatUint(p.Received, 10), AssetCode: p.AssetCode, AssetScale: p.AssetScale},
		ExpiresAt:      timestamp(p.ExpiresAt), Metadata: metadata(p.Metadata), CreatedAt: timestamp(p.CreatedAt)}
	if p.IncomingAmount != nil {
		out.IncomingAmount = &amountJSON{Value: strconv.FormatUint(*p.IncomingAmount, 10), AssetCode: p.AssetCode, AssetScale: p.AssetScale}
	}
	return out
}

// answer writes the payment as its events leave it, with what the ledger
// holds as received, and its STREAM credentials when withMethods and it
// can still receive.
func (s *IncomingPayments) answer(w http.ResponseWriter, r *http.Request, id string, withMethods bool, status int) {
	p, found, err := s.payments.Load(r.Context(), id)
	if err != nil || !found {
		s.fail(w, r, errors.Join(err, fmt.Errorf("incoming payment %s not found after it was stored", id)))
		return
	}
	wa, err := s.read.WalletAddress(r.Context(), p.WalletAddressID, nil)
	if err != nil || wa == nil {
		s.fail(w, r, errors.Join(err, fmt.Errorf("wallet address %s", p.WalletAddressID)))
		return
	}
	if p.Received, err = s.read.Received(r.Context(), p.ID, p.Received); err != nil {
		s.fail(w, r, err)
		return
	}
	out := s.payment(wa.Address, p)
	if withMethods {
		methods := []ilpMethod{}
		if p.Open() {
			address, secret, err := STREAMCredentials(r.Context(), s.read, s.stream, s.cfg.ILPAddress, p.TenantID, p.ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			methods = append(methods, ilpMethod{Type: "ilp", ILPAddress: address, SharedSecret: base64.RawURLEncoding.EncodeToString(secret)})
		}
		out.Methods = &methods
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

// STREAMCredentials are the ILP payment method of the open incoming payment
// id of tenantID: a destination address under the tenant's ILP address
// (operatorAddress for a tenant without ILP_ADDRESS) and its shared secret.
func STREAMCredentials(ctx context.Context, read *readmodel.Reader, credentials *stream.Credentials, operatorAddress, tenantID, id string) (string, []byte, error) {
	base, err := tenantILPAddress(ctx, read, operatorAddress, tenantID)
	if err != nil {
		return "", nil, err
	}
	tag, err := uuid.Parse(id)
	if err != nil {
		return "", nil, fmt.Errorf("incoming payment id %q: %w", id, err)
	}
	return credentials.Generate(base, stream.Tag{ID: tag})
}

// refuse answers a command's refusal with its status from the error table.
func (s *IncomingPayments) refuse(w http.ResponseWriter, r *http.Request, err error) {
	kind := apperr.KindOf(err)
	if kind == apperr.Internal || kind == apperr.Unavailable {
		s.fail(w, r, err)
		return
	}
	writeError(w, apperr.Lookup(kind).HTTP, apperr.Message(err))
}

func (s *IncomingPayments) fail(w http.ResponseWriter, r *http.Request, err error) {
	fail(s.log, w, r, err)
}
