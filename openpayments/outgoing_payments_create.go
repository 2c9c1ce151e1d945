package openpayments

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// create makes an outgoing payment for a token that may create them on the
// wallet address: of a quote (quoteId, its URL), or of an incoming payment
// and a debit amount (a quote made on the way), within the grant's limits;
// the answer is the payment with what the grant's payments spent, as
// Rafiki's.
func (s *OutgoingPayments) create(w http.ResponseWriter, r *http.Request) {
	tenantID := chi.URLParam(r, "tenantID")
	var in struct {
		WalletAddress   string          `json:"walletAddress"`
		QuoteID         string          `json:"quoteId"`
		IncomingPayment string          `json:"incomingPayment"`
		DebitAmount     *amountIn       `json:"debitAmount"`
		Metadata        json.RawMessage `json:"metadata"`
	}
	body, ok := readBody(w, r, &in, func() bool {
		fromQuote := in.QuoteID != "" && in.IncomingPayment == "" && in.DebitAmount == nil
		fromIncoming := in.QuoteID == "" && in.IncomingPayment != "" && in.DebitAmount != nil
		return in.WalletAddress != "" && (fromQuote || fromIncoming)
	})
	if !ok || !signatureHeaders(w, r) {
		return
	}
	granted, err := s.guard.Authorize(r, body, Need{TenantID: tenantID, Type: grant.TypeOutgoingPayment, Action: grant.ActionCreate, Identifier: in.WalletAddress})
	if err != nil {
		s.guard.WriteError(w, err)
		return
	}
	wa, err := s.read.WalletAddressByURL(r.Context(), strings.ToLower(in.WalletAddress), nil)
	if err != nil {
		fail(s.log, w, r, err)
		return
	}
	if wa == nil || wa.TenantID != tenantID {
		writeError(w, http.StatusBadRequest, "invalid wallet address")
		return
	}
	if deactivated(w, wa) {
		return
	}
	limits, err := grantLimits(granted)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "invalid grant limits")
		return
	}
	id := uuid.NewString()
	m := commands.Meta{ID: id, CorrelationID: id, Actor: commands.Actor{TenantID: tenantID}}
	var paymentID string
	if in.QuoteID != "" {
		paymentID, _, err = s.payments.Create(r.Context(), commands.CreateOutgoingPayment{Meta: m, WalletAddressID: wa.ID,
			QuoteID: lastSegment(in.QuoteID), Metadata: in.Metadata, Client: granted.Client.WalletAddress, Grant: limits,
			InitiatedBy: events.InitiatedByOpenPayments})
	} else {
		value, perr := strconv.ParseUint(in.DebitAmount.Value, 10, 64)
		if perr != nil {
			writeError(w, http.StatusBadRequest, "invalid debitAmount")
			return
		}
		paymentID, _, _, err = s.payments.CreateFromIncomingPayment(r.Context(), commands.CreateOutgoingPaymentFromIncomingPayment{Meta: m,
			WalletAddressID: wa.ID, IncomingPayment: in.IncomingPayment, Metadata: in.Metadata, Client: granted.Client.WalletAddress,
			Grant: limits, InitiatedBy: events.InitiatedByOpenPayments,
			DebitAmount: &commands.Amount{Value: value, AssetCode: in.DebitAmount.AssetCode, AssetScale: in.DebitAmount.AssetScale}})
	}
	if err != nil {
		kind := apperr.KindOf(err)
		if kind == apperr.Internal || kind == apperr.Unavailable {
			fail(s.log, w, r, err)
			return
		}
		writeError(w, apperr.Lookup(kind).HTTP, apperr.Message(err))
		return
	}
	p, found, err := s.payments.Find(r.Context(), paymentID)
	if err != nil || !found {
		fail(s.log, w, r, errors.Join(err, fmt.Errorf("outgoing payment %s not found after it was stored", paymentID)))
		return
	}
	var debit, receive uint64
	if limits != nil {
		if debit, receive, _, err = s.payments.GrantSpent(r.Context(), tenantID, limits.ID, paymentID); err != nil {
			fail(s.log, w, r, err)
			return
		}
	}
	out := OutgoingPaymentWithSpentBody(s.cfg.OpenPaymentsURL, wa.Address, p, debit, receive)
	answer, err := json.Marshal(out)
	if err != nil {
		fail(s.log, w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(answer)
}

// grantLimits is what a payment spends of the token's grant: none when the
// granted access has no limits.
func grantLimits(g Granted) (*commands.OutgoingPaymentGrant, error) {
	if g.Limits == nil {
		return nil, nil
	}
	out := &commands.OutgoingPaymentGrant{ID: g.GrantID, Receiver: g.Limits.Receiver, Interval: g.Limits.Interval}
	for _, a := range []struct {
		in  *events.GrantAmount
		out **commands.Amount
	}{{g.Limits.DebitAmount, &out.DebitAmount}, {g.Limits.ReceiveAmount, &out.ReceiveAmount}} {
		if a.in == nil {
			continue
		}
		value, err := strconv.ParseUint(a.in.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("grant %s limit %q: %w", g.GrantID, a.in.Value, err)
		}
		*a.out = &commands.Amount{Value: value, AssetCode: a.in.AssetCode, AssetScale: a.in.AssetScale}
	}
	return out, nil
}

// lastSegment is the id at the end of a resource's URL, which may end in
// one slash, as Rafiki reads it.
func lastSegment(url string) string {
	url = strings.TrimSuffix(url, "/")
	return url[strings.LastIndex(url, "/")+1:]
}
