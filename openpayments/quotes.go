package openpayments

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/readmodel"
)

// Quotes serves the quote routes of the resource server, under
// OPEN_PAYMENTS_URL/<tenant id>: create and read.
type Quotes struct {
	guard  *Guard
	quotes *quote.Handler
	read   *readmodel.Reader
	cfg    Config
	log    *slog.Logger
}

// NewQuotes builds the routes.
func NewQuotes(guard *Guard, quotes *quote.Handler, read *readmodel.Reader, cfg Config, log *slog.Logger) *Quotes {
	return &Quotes{guard: guard, quotes: quotes, read: read, cfg: cfg, log: log}
}

// Mount adds the routes to r.
func (s *Quotes) Mount(r chi.Router) {
	r.Post("/{tenantID}/quotes", s.create)
	r.Get("/{tenantID}/quotes/{id}", s.get)
}

type quoteJSON struct {
	ID            string     `json:"id"`
	WalletAddress string     `json:"walletAddress"`
	Receiver      string     `json:"receiver"`
	DebitAmount   amountJSON `json:"debitAmount"`
	ReceiveAmount amountJSON `json:"receiveAmount"`
	Method        string     `json:"method"`
	ExpiresAt     string     `json:"expiresAt"`
	CreatedAt     string     `json:"createdAt"`
}

func (s *Quotes) create(w http.ResponseWriter, r *http.Request) {
	tenantID := chi.URLParam(r, "tenantID")
	var in struct {
		WalletAddress string    `json:"walletAddress"`
		Receiver      string    `json:"receiver"`
		Method        string    `json:"method"`
		DebitAmount   *amountIn `json:"debitAmount"`
		ReceiveAmount *amountIn `json:"receiveAmount"`
	}
	body, ok := readBody(w, r, &in, func() bool { return in.WalletAddress != "" && in.Receiver != "" && in.Method == "ilp" })
	if !ok {
		return
	}
	if !signatureHeaders(w, r) {
		return
	}
	granted, err := s.guard.Authorize(r, body, Need{TenantID: tenantID, Type: grant.TypeQuote, Action: grant.ActionCreate, Identifier: in.WalletAddress})
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
		writeError(w, http.StatusNotFound, "unknown wallet address")
		return
	}
	if deactivated(w, wa) {
		return
	}
	c := commands.CreateQuote{WalletAddressID: wa.ID, Receiver: in.Receiver, Client: granted.Client.WalletAddress, ClientKey: granted.ClientKey}
	for _, a := range []struct {
		in  *amountIn
		out **commands.Amount
	}{{in.DebitAmount, &c.DebitAmount}, {in.ReceiveAmount, &c.ReceiveAmount}} {
		if a.in == nil {
			continue
		}
		value, err := strconv.ParseUint(a.in.Value, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Could not parse amounts when creating quote")
			return
		}
		*a.out = &commands.Amount{Value: value, AssetCode: a.in.AssetCode, AssetScale: a.in.AssetScale}
	}
	id := uuid.NewString()
	c.Meta = commands.Meta{ID: id, CorrelationID: id, Actor: commands.Actor{TenantID: tenantID}}
	quoteID, _, err := s.quotes.Create(r.Context(), c)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	q, found, err := s.quotes.Load(r.Context(), quoteID)
	if err != nil || !found {
		fail(s.log, w, r, errors.Join(err, fmt.Errorf("quote %s not found after it was stored", quoteID)))
		return
	}
	s.answer(w, q, wa.Address, http.StatusCreated)
}

// get answers a quote to a token for its wallet address: any of them with
// read-all, its own client's with read, as Rafiki's.
func (s *Quotes) get(w http.ResponseWriter, r *http.Request) {
	if !signatureHeaders(w, r) {
		return
	}
	tenantID, id := chi.URLParam(r, "tenantID"), chi.URLParam(r, "id")
	q, found, err := s.quotes.Load(r.Context(), id)
	if err != nil {
		fail(s.log, w, r, err)
		return
	}
	if !found || q.TenantID != tenantID {
		writeError(w, http.StatusNotFound, "Quote does not exist")
		return
	}
	wa, err := s.read.WalletAddress(r.Context(), q.WalletAddressID, nil)
	if err != nil || wa == nil {
		fail(s.log, w, r, errors.Join(err, fmt.Errorf("wallet address %s of quote %s", q.WalletAddressID, q.ID)))
		return
	}
	if deactivated(w, wa) {
		return
	}
	granted, err := s.guard.Authorize(r, nil, Need{TenantID: tenantID, Type: grant.TypeQuote, Action: grant.ActionRead, Identifier: wa.Address})
	if err != nil {
		s.guard.WriteError(w, err)
		return
	}
	if granted.Action != grant.ActionReadAll && !granted.Owns(q.Client, q.ClientKey) {
		writeError(w, http.StatusNotFound, "Quote does not exist")
		return
	}
	s.answer(w, q, wa.Address, http.StatusOK)
}

func (s *Quotes) answer(w http.ResponseWriter, q quote.State, walletAddress string, status int) {
	body, err := json.Marshal(quoteJSON{ID: withSlash(s.cfg.OpenPaymentsURL) + q.TenantID + "/quotes/" + q.ID,
		WalletAddress: walletAddress, Receiver: q.Receiver, Method: "ilp",
		DebitAmount:   amountJSON{Value: strconv.FormatUint(q.DebitAmount, 10), AssetCode: q.AssetCode, AssetScale: q.AssetScale},
		ReceiveAmount: amountJSON{Value: strconv.FormatUint(q.ReceiveAmount, 10), AssetCode: q.ReceiveAssetCode, AssetScale: q.ReceiveAssetScale},
		ExpiresAt:     timestamp(q.ExpiresAt), CreatedAt: timestamp(q.CreatedAt)})
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// refuse answers a quote's refusal with Rafiki's statuses: every refusal
// of what was asked is 400, an unknown wallet address 404.
func (s *Quotes) refuse(w http.ResponseWriter, r *http.Request, err error) {
	switch kind := apperr.KindOf(err); kind {
	case apperr.Internal, apperr.Unavailable:
		fail(s.log, w, r, err)
	case apperr.NotFound:
		writeError(w, http.StatusNotFound, apperr.Message(err))
	default:
		writeError(w, http.StatusBadRequest, apperr.Message(err))
	}
}
