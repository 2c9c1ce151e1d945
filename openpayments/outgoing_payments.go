package openpayments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/valid"
)

// OutgoingPayments serves the outgoing payment routes of the resource
// server, under OPEN_PAYMENTS_URL/<tenant id>: create, list, read, and the
// spent amounts of a grant.
type OutgoingPayments struct {
	guard    *Guard
	payments *outgoingpayment.Handler
	read     *readmodel.Reader
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
}

// NewOutgoingPayments builds the routes. Payments are read from the read
// model, and from their events (payments) while the read model does not
// show them yet: a client reads a payment as soon as it was made.
func NewOutgoingPayments(guard *Guard, payments *outgoingpayment.Handler, read *readmodel.Reader, cfg Config, log *slog.Logger) *OutgoingPayments {
	return &OutgoingPayments{guard: guard, payments: payments, read: read, cfg: cfg, log: log, now: time.Now}
}

// Mount adds the routes to r.
func (s *OutgoingPayments) Mount(r chi.Router) {
	r.Post("/{tenantID}/outgoing-payments", s.create)
	r.Get("/{tenantID}/outgoing-payments", s.list)
	r.Get("/{tenantID}/outgoing-payments/{id}", s.get)
	r.Get("/{tenantID}/outgoing-payment-grant", s.grantSpent)
}

// OutgoingPaymentJSON is an outgoing payment on the wire: the spec's
// outgoing-payment.
type OutgoingPaymentJSON struct {
	ID            string          `json:"id"`
	WalletAddress string          `json:"walletAddress"`
	QuoteID       string          `json:"quoteId"`
	Receiver      string          `json:"receiver"`
	ReceiveAmount amountJSON      `json:"receiveAmount"`
	DebitAmount   amountJSON      `json:"debitAmount"`
	SentAmount    amountJSON      `json:"sentAmount"`
	Failed        bool            `json:"failed"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	CreatedAt     string          `json:"createdAt"`
}

// OutgoingPaymentWithSpentJSON is the spec's
// outgoing-payment-with-spent-amounts, which answers the creation of a
// payment: the payment with what its grant's payments spent.
type OutgoingPaymentWithSpentJSON struct {
	OutgoingPaymentJSON
	GrantSpentDebitAmount   amountJSON `json:"grantSpentDebitAmount"`
	GrantSpentReceiveAmount amountJSON `json:"grantSpentReceiveAmount"`
}

// OutgoingPaymentBody is p, from the wallet address walletAddress, as
// Rafiki answers it: its id and its quote's are URLs under
// openPaymentsURL; what it sent is in its debit asset; it failed when it
// failed or was cancelled.
func OutgoingPaymentBody(openPaymentsURL, walletAddress string, p outgoingpayment.State) OutgoingPaymentJSON {
	base := withSlash(openPaymentsURL) + p.TenantID
	debit := func(v uint64) amountJSON {
		return amountJSON{Value: strconv.FormatUint(v, 10), AssetCode: p.AssetCode, AssetScale: p.AssetScale}
	}
	return OutgoingPaymentJSON{ID: base + "/outgoing-payments/" + p.ID, WalletAddress: walletAddress, QuoteID: base + "/quotes/" + p.ID,
		Receiver: p.Receiver, DebitAmount: debit(p.DebitAmount), SentAmount: debit(p.Sent),
		ReceiveAmount: amountJSON{Value: strconv.FormatUint(p.ReceiveAmount, 10), AssetCode: p.ReceiveAssetCode, AssetScale: p.ReceiveAssetScale},
		Failed:        p.State == outgoingpayment.Failed || p.State == outgoingpayment.Cancelled,
		Metadata:      metadata(p.Metadata), CreatedAt: timestamp(p.CreatedAt)}
}

// OutgoingPaymentWithSpentBody is p as OutgoingPaymentBody renders it,
// with what its grant's payments spent (spentDebit in p's debit asset,
// spentReceive in its receive asset; both 0 without a grant), as Rafiki
// answers a payment's creation.
func OutgoingPaymentWithSpentBody(openPaymentsURL, walletAddress string, p outgoingpayment.State, spentDebit, spentReceive uint64) OutgoingPaymentWithSpentJSON {
	return OutgoingPaymentWithSpentJSON{OutgoingPaymentJSON: OutgoingPaymentBody(openPaymentsURL, walletAddress, p),
		GrantSpentDebitAmount: amountJSON{Value: strconv.FormatUint(spentDebit, 10), AssetCode: p.AssetCode, AssetScale: p.AssetScale},
		GrantSpentReceiveAmount: amountJSON{Value: strconv.FormatUint(spentReceive, 10), AssetCode: p.ReceiveAssetCode,
			AssetScale: p.ReceiveAssetScale}}
}

// stateOf is a read-model row as the payment's state.
func stateOf(p *readmodel.OutgoingPayment) outgoingpayment.State {
	s := outgoingpayment.State{Exists: true, ID: p.ID, TenantID: p.TenantID, CreatedAt: p.CreatedAt, State: p.State,
		StateAttempts: p.StateAttempts, Sent: p.Sent, Delivered: p.Delivered}
	s.WalletAddressID, s.AssetID, s.AssetCode, s.AssetScale = p.WalletAddressID, p.AssetID, p.AssetCode, p.AssetScale
	s.Receiver, s.DebitAmount, s.DebitAmountMinusFees, s.ReceiveAmount = p.Receiver, p.DebitAmount, p.DebitAmountMinusFees, p.ReceiveAmount
	s.ReceiveAssetCode, s.ReceiveAssetScale, s.Metadata, s.InitiatedBy = p.ReceiveAssetCode, p.ReceiveAssetScale, p.Metadata, p.InitiatedBy
	if p.Error != nil {
		s.Error = *p.Error
	}
	if p.Client != nil {
		s.Client = *p.Client
	}
	if p.GrantID != nil {
		s.GrantID = *p.GrantID
	}
	return s
}

// list answers a page of a wallet address's outgoing payments, newest
// first: only those its client made, whether the grant lists all or not,
// as Rafiki's.
func (s *OutgoingPayments) list(w http.ResponseWriter, r *http.Request) {
	tenantID := chi.URLParam(r, "tenantID")
	address, page, ok := listPage(w, r)
	if !ok || !signatureHeaders(w, r) {
		return
	}
	granted, err := s.guard.Authorize(r, nil, Need{TenantID: tenantID, Type: grant.TypeOutgoingPayment, Action: grant.ActionList, Identifier: address})
	if err != nil {
		s.guard.WriteError(w, err)
		return
	}
	wa, err := s.read.WalletAddressByURL(r.Context(), strings.ToLower(address), nil)
	if err != nil {
		fail(s.log, w, r, err)
		return
	}
	if wa == nil || wa.TenantID != tenantID {
		writeError(w, http.StatusNotFound, "wallet address does not exist")
		return
	}
	if deactivated(w, wa) {
		return
	}
	rows, info, err := s.read.OutgoingPayments(r.Context(), readmodel.OutgoingPaymentFilter{TenantScope: &tenantID,
		WalletAddressID: &wa.ID, Client: &granted.Client.WalletAddress}, page)
	if err != nil {
		refusePage(s.log, w, r, err)
		return
	}
	result := make([]OutgoingPaymentJSON, 0, len(rows))
	for i := range rows {
		result = append(result, OutgoingPaymentBody(s.cfg.OpenPaymentsURL, wa.Address, stateOf(&rows[i])))
	}
	body, err := listBody(info, result)
	if err != nil {
		fail(s.log, w, r, err)
		return
	}
	writeJSON(w, body)
}

// get answers a payment to a token for its wallet address: any of them with
// read-all, its own client's with read, as Rafiki's.
func (s *OutgoingPayments) get(w http.ResponseWriter, r *http.Request) {
	tenantID, id := chi.URLParam(r, "tenantID"), chi.URLParam(r, "id")
	if !signatureHeaders(w, r) {
		return
	}
	p, found, err := s.load(r.Context(), id)
	if err != nil {
		fail(s.log, w, r, err)
		return
	}
	if !found || p.TenantID != tenantID {
		writeError(w, http.StatusNotFound, "Outgoing payment does not exist")
		return
	}
	wa, err := s.read.WalletAddress(r.Context(), p.WalletAddressID, nil)
	if err != nil || wa == nil {
		fail(s.log, w, r, errors.Join(err, fmt.Errorf("wallet address %s of outgoing payment %s", p.WalletAddressID, p.ID)))
		return
	}
	if deactivated(w, wa) {
		return
	}
	granted, err := s.guard.Authorize(r, nil, Need{TenantID: tenantID, Type: grant.TypeOutgoingPayment, Action: grant.ActionRead, Identifier: wa.Address})
	if err != nil {
		s.guard.WriteError(w, err)
		return
	}
	if granted.Action != grant.ActionReadAll && !granted.Owns(p.Client, "") {
		writeError(w, http.StatusNotFound, "Outgoing payment does not exist")
		return
	}
	body, err := json.Marshal(OutgoingPaymentBody(s.cfg.OpenPaymentsURL, wa.Address, p))
	if err != nil {
		fail(s.log, w, r, err)
		return
	}
	writeJSON(w, body)
}

// load reads a payment from the read model, or from its events when the
// read model does not show it yet.
func (s *OutgoingPayments) load(ctx context.Context, id string) (outgoingpayment.State, bool, error) {
	row, err := s.read.OutgoingPayment(ctx, id, nil)
	if err != nil {
		return outgoingpayment.State{}, false, err
	}
	if row != nil {
		return stateOf(row), true, nil
	}
	return s.payments.Find(ctx, id)
}

// grantSpentJSON is what a grant's payments spent on the wire; null for
// nothing spent.
type grantSpentJSON struct {
	SpentDebitAmount   *amountJSON `json:"spentDebitAmount"`
	SpentReceiveAmount *amountJSON `json:"spentReceiveAmount"`
}

// grantSpent answers what the payments of the token's grant spent, in the
// current interval when its limits repeat, to a token that may create
// outgoing payments, as Rafiki's.
func (s *OutgoingPayments) grantSpent(w http.ResponseWriter, r *http.Request) {
	if !signatureHeaders(w, r) {
		return
	}
	granted, err := s.guard.Authorize(r, nil, Need{TenantID: chi.URLParam(r, "tenantID"), Type: grant.TypeOutgoingPayment, Action: grant.ActionCreate})
	if err != nil {
		s.guard.WriteError(w, err)
		return
	}
	var out grantSpentJSON
	repeating := granted.Limits != nil && granted.Limits.Interval != ""
	if repeating {
		// Limits whose interval cannot be read, or that holds no period
		// now (not begun, or over), have no current interval: null, as
		// Rafiki answers.
		iv, err := valid.ParseInterval(granted.Limits.Interval)
		if err != nil {
			s.answerSpent(w, r, out)
			return
		}
		if _, _, ok := iv.Period(s.now()); !ok {
			s.answerSpent(w, r, out)
			return
		}
	}
	spent, err := s.read.GrantSpent(r.Context(), granted.GrantID, repeating, s.now())
	if err != nil {
		fail(s.log, w, r, err)
		return
	}
	if spent != nil {
		out.SpentDebitAmount = &amountJSON{Value: strconv.FormatUint(spent.DebitAmount, 10), AssetCode: spent.DebitAssetCode,
			AssetScale: spent.DebitAssetScale}
		out.SpentReceiveAmount = &amountJSON{Value: strconv.FormatUint(spent.ReceiveAmount, 10), AssetCode: spent.ReceiveAssetCode,
			AssetScale: spent.ReceiveAssetScale}
	}
	s.answerSpent(w, r, out)
}

func (s *OutgoingPayments) answerSpent(w http.ResponseWriter, r *http.Request, out grantSpentJSON) {
	body, err := json.Marshal(out)
	if err != nil {
		fail(s.log, w, r, err)
		return
	}
	writeJSON(w, body)
}
