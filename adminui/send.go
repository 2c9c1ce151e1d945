package adminui

import (
	"fmt"
	"net/http"

	"github.com/google/uuid"
)

// idempotencyKey is the key a form that makes a payment was rendered with,
// so that posting it twice makes one payment.
func (rq *request) idempotencyKey() (string, error) {
	key := rq.field("idempotencyKey")
	if _, err := uuid.Parse(key); err != nil {
		return "", fmt.Errorf("the form has no valid idempotency key: reload the page")
	}
	return key, nil
}

// walletAsset reads the asset of the wallet address a form posts to, whose
// code and scale its amounts are typed in.
func (rq *request) walletAsset(id string) (asset, error) {
	var out struct {
		WalletAddress *struct {
			Asset asset `json:"asset"`
		} `json:"walletAddress"`
	}
	if err := rq.gql(`query($id: String!) { walletAddress(id: $id) { asset { id code scale } } }`, map[string]any{"id": id}, &out); err != nil {
		return asset{}, err
	}
	if out.WalletAddress == nil {
		return asset{}, errNotFound
	}
	return out.WalletAddress.Asset, nil
}

// amountIn is an amount typed at the asset's scale as the API takes it; nil
// for an empty field.
func (rq *request) amountIn(name, label string, a asset) (map[string]any, error) {
	value, err := rq.optionalAmount(name, label, a.Scale)
	if err != nil || value == nil {
		return nil, err
	}
	return map[string]any{"value": *value, "assetCode": a.Code, "assetScale": a.Scale}, nil
}

// sendPayment pays an incoming payment, named by its URL, from the wallet
// address: a quote for the debit amount typed (or, with none, for what the
// incoming payment still expects) and its payment, which then waits for
// its liquidity on its own page.
func (u *UI) sendPayment(rq *request) {
	id := rq.r.PathValue("id")
	key, err := rq.idempotencyKey()
	if err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, err.Error())
		return
	}
	receiver := rq.field("receiver")
	if receiver == "" {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, "Receiver: enter the incoming payment's URL.")
		return
	}
	a, err := rq.walletAsset(id)
	if err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	input := map[string]any{"walletAddressId": id, "incomingPayment": receiver, "idempotencyKey": key}
	debit, err := rq.amountIn("debitAmount", "Debit amount", a)
	if err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if debit != nil {
		input["debitAmount"] = debit
	}
	var out struct {
		CreateOutgoingPaymentFromIncomingPayment struct {
			Payment *struct {
				ID string `json:"id"`
			} `json:"payment"`
		} `json:"createOutgoingPaymentFromIncomingPayment"`
	}
	if err := rq.gql(`mutation($input: CreateOutgoingPaymentFromIncomingPaymentInput!) {
  createOutgoingPaymentFromIncomingPayment(input: $input) { payment { id } } }`, map[string]any{"input": input}, &out); err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	p := out.CreateOutgoingPaymentFromIncomingPayment.Payment
	if p == nil {
		u.showWalletAddress(rq, http.StatusBadGateway, noObjectMessage)
		return
	}
	rq.done("/payments/outgoing/"+p.ID, "payment-created")
}

// requestPayment creates an incoming payment into the wallet address, for
// the amount typed or, with none, for any amount.
func (u *UI) requestPayment(rq *request) {
	id := rq.r.PathValue("id")
	key, err := rq.idempotencyKey()
	if err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, err.Error())
		return
	}
	a, err := rq.walletAsset(id)
	if err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	input := map[string]any{"walletAddressId": id, "idempotencyKey": key}
	amount, err := rq.amountIn("incomingAmount", "Incoming amount", a)
	if err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if amount != nil {
		input["incomingAmount"] = amount
	}
	var out struct {
		CreateIncomingPayment struct {
			Payment *struct {
				ID string `json:"id"`
			} `json:"payment"`
		} `json:"createIncomingPayment"`
	}
	if err := rq.gql(`mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": input}, &out); err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	p := out.CreateIncomingPayment.Payment
	if p == nil {
		u.showWalletAddress(rq, http.StatusBadGateway, noObjectMessage)
		return
	}
	rq.done("/payments/incoming/"+p.ID, "payment-requested")
}
