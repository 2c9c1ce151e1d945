// Package examplewallet is a small account servicing entity that integrates
// with rafiki-go the way a wallet or bank does: it receives the webhooks,
// checks their signature, funds each outgoing payment when it is created,
// decides the partial payments that bring their sender's data,
// withdraws what payments leave behind (money received, fees, what was not
// sent), creates the wallet addresses that were looked up and not found,
// tops up an asset whose liquidity runs low, and serves exchange rates. It
// talks to the backend only through the signed admin GraphQL API, as any
// wallet would. `rafiki dev` runs it beside the stack, seeded with two demo
// accounts, so that a payment completes with no manual step.
package examplewallet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
)

// Config is what the wallet needs.
type Config struct {
	// Admin signs the wallet's calls to the admin GraphQL API.
	Admin *adminclient.Client
	// SignatureSecret is SIGNATURE_SECRET: a webhook whose Rafiki-Signature
	// does not verify with it is refused. Empty: webhooks are not signed.
	SignatureSecret string
	// SignatureVersion is SIGNATURE_VERSION, the v<n>= the signatures carry;
	// 0 is 1.
	SignatureVersion int
	// Rates are the exchange rates served at /rates: for each base asset
	// code, what one unit is worth in others.
	Rates map[string]map[string]float64
	Log   *slog.Logger
}

// Wallet serves the webhook receiver (POST /webhooks) and the rates
// (GET /rates).
type Wallet struct {
	cfg Config
	mux *http.ServeMux
	now func() time.Time
	// assetID is the asset of the wallet addresses it creates when one is
	// looked up and not found; none are created without it.
	assetID atomic.Pointer[string]
}

// SetAssetID names the asset of the wallet addresses it creates.
func (w *Wallet) SetAssetID(id string) { w.assetID.Store(&id) }

// New builds the wallet.
func New(cfg Config) *Wallet {
	w := &Wallet{cfg: cfg, mux: http.NewServeMux(), now: time.Now}
	w.mux.HandleFunc("POST /webhooks", w.webhook)
	w.mux.HandleFunc("GET /rates", w.rates)
	return w
}

func (w *Wallet) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.mux.ServeHTTP(rw, r) }

// bodyBytesMax bounds a webhook's body.
const bodyBytesMax = 1 << 20

// signatureAgeMax is how old a signature may be: older ones may be replays.
const signatureAgeMax = 5 * time.Minute

// event is a webhook as Rafiki posts it.
type event struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// webhook acts on one event. It answers 200 only once the action is done,
// so that a failed one is delivered again; actions are keyed by the
// event's id, so that a repeated delivery does nothing twice.
func (w *Wallet) webhook(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, bodyBytesMax+1))
	if err != nil || len(body) > bodyBytesMax {
		http.Error(rw, "unreadable body", http.StatusBadRequest)
		return
	}
	if w.cfg.SignatureSecret != "" {
		if err := Verify(w.cfg.SignatureSecret, w.cfg.SignatureVersion, r.Header.Get("Rafiki-Signature"), body, w.now(), signatureAgeMax); err != nil {
			w.log().Warn("webhook refused", "err", err)
			http.Error(rw, "invalid signature", http.StatusUnauthorized)
			return
		}
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		http.Error(rw, "not a webhook event", http.StatusBadRequest)
		return
	}
	if err := w.act(r.Context(), ev); err != nil {
		w.log().Error("webhook not handled; it comes again", "id", ev.ID, "type", ev.Type, "err", err)
		http.Error(rw, "not handled", http.StatusInternalServerError)
		return
	}
	w.log().Info("webhook handled", "id", ev.ID, "type", ev.Type)
	rw.WriteHeader(http.StatusOK)
}

// Verify checks a Rafiki-Signature header, "t=<unix ms>, v<version>=<hex
// HMAC-SHA256 of "<t>.<body>">" (version 0 is 1), made at most ageMax
// before now.
func Verify(secret string, version int, header string, body []byte, now time.Time, ageMax time.Duration) error {
	if version == 0 {
		version = 1
	}
	key := "v" + strconv.Itoa(version)
	var t, mac string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			t = v
		case key:
			mac = v
		}
	}
	ms, err := strconv.ParseInt(t, 10, 64)
	if err != nil || mac == "" {
		return fmt.Errorf("no t= and %s= in the signature", key)
	}
	if age := now.Sub(time.UnixMilli(ms)); age > ageMax || age < -ageMax {
		return fmt.Errorf("signature made %s from now", age.Round(time.Second))
	}
	want := hmac.New(sha256.New, []byte(secret))
	want.Write([]byte(t + "."))
	want.Write(body)
	got, err := hex.DecodeString(mac)
	if err != nil || !hmac.Equal(got, want.Sum(nil)) {
		return errors.New("signature does not verify")
	}
	return nil
}

// act does what the event asks of a wallet.
func (w *Wallet) act(ctx context.Context, ev event) error {
	var data struct {
		ID                 string `json:"id"`
		PartialID          string `json:"partialIncomingPaymentId"`
		DataFromSender     string `json:"dataFromSender"`
		Balance            string `json:"balance"`
		WalletAddressURL   string `json:"walletAddressUrl"`
		LiquidityThreshold string `json:"liquidityThreshold"`
		ReceivedAmount     struct {
			Value string `json:"value"`
		} `json:"receivedAmount"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return fmt.Errorf("event %s data: %w", ev.ID, err)
	}
	switch ev.Type {
	case "outgoing_payment.created":
		// The wallet holds its user's money; here every payment is funded.
		return w.mutate(ctx, "depositOutgoingPaymentLiquidity", "DepositOutgoingPaymentLiquidityInput",
			map[string]any{"outgoingPaymentId": data.ID, "idempotencyKey": ev.ID}, "wrong state")
	case "outgoing_payment.completed", "outgoing_payment.failed":
		if data.Balance == "" || data.Balance == "0" {
			return nil
		}
		return w.mutate(ctx, "createOutgoingPaymentWithdrawal", "CreateOutgoingPaymentWithdrawalInput",
			map[string]any{"outgoingPaymentId": data.ID, "idempotencyKey": ev.ID, "timeoutSeconds": "0"}, "")
	case "incoming_payment.completed", "incoming_payment.expired":
		if data.ReceivedAmount.Value == "" || data.ReceivedAmount.Value == "0" {
			return nil
		}
		return w.mutate(ctx, "createIncomingPaymentWithdrawal", "CreateIncomingPaymentWithdrawalInput",
			map[string]any{"incomingPaymentId": data.ID, "idempotencyKey": ev.ID, "timeoutSeconds": "0"}, "")
	case "incoming_payment.partial_payment_received":
		// Where a wallet would check who pays (the data a sender's wallet
		// sent with the money), this one asks for a JSON object.
		input := map[string]any{"incomingPaymentId": data.ID, "partialIncomingPaymentId": data.PartialID}
		var object map[string]any
		if json.Unmarshal([]byte(data.DataFromSender), &object) != nil {
			input["reason"] = "the sender's data is not a JSON object"
			return w.mutate(ctx, "rejectPartialIncomingPayment", "RejectPartialIncomingPaymentInput", input, "")
		}
		return w.mutate(ctx, "confirmPartialIncomingPayment", "ConfirmPartialIncomingPaymentInput", input, "")
	case "wallet_address.not_found":
		assetID := w.assetID.Load()
		if assetID == nil || data.WalletAddressURL == "" {
			return nil
		}
		return w.mutate(ctx, "createWalletAddress", "CreateWalletAddressInput", map[string]any{"assetId": *assetID,
			"address": data.WalletAddressURL, "publicName": "Found " + data.WalletAddressURL, "idempotencyKey": ev.ID}, "")
	case "asset.liquidity_low":
		threshold, err := strconv.ParseUint(data.LiquidityThreshold, 10, 64)
		if err != nil || threshold == 0 {
			return nil
		}
		// Topped up to ten times its threshold, once per event.
		return w.mutate(ctx, "depositAssetLiquidity", "DepositAssetLiquidityInput", map[string]any{"assetId": data.ID,
			"amount": strconv.FormatUint(10*threshold, 10), "id": ev.ID, "idempotencyKey": ev.ID}, "")
	}
	return nil
}

// mutate calls one of the admin API's mutations; an error whose message
// holds done (when set) means the work was done before.
func (w *Wallet) mutate(ctx context.Context, name, inputType string, input map[string]any, done string) error {
	err := w.cfg.Admin.Do(ctx, fmt.Sprintf(`mutation($input: %s!) { %s(input: $input) { __typename } }`, inputType, name),
		map[string]any{"input": input}, nil)
	var errs adminclient.Errors
	if done != "" && errors.As(err, &errs) && len(errs) > 0 && errs[0].Message == done {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// rates answers the exchange rates of a base asset, as Rafiki's
// EXCHANGE_RATES_URL service does: {"base": …, "rates": {…}}.
func (w *Wallet) rates(rw http.ResponseWriter, r *http.Request) {
	base := r.URL.Query().Get("base")
	rates, ok := w.cfg.Rates[base]
	if !ok {
		http.Error(rw, "unknown base asset", http.StatusNotFound)
		return
	}
	body, err := json.Marshal(map[string]any{"base": base, "rates": rates})
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	_, _ = rw.Write(body)
}

func (w *Wallet) log() *slog.Logger {
	if w.cfg.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.cfg.Log
}
